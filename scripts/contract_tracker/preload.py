"""Import the modules a command needs next on a background thread, while it waits for the
workbook to be read.

The read spends much of its time where the GIL is free (python-calamine parsing the XML,
the parser waiting for the next sheet), and the refresh command's numpy, engine and
Dashboard imports took about 0.15 s after it. Imported beside the read, they cost next
to nothing. The caller waits for the thread (``join``, or the end of a ``with`` block)
before it goes on, so that no module is used while another thread is still importing it.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from types import TracebackType


class Preload:
    """Imports ``modules``, in order, on a daemon thread started at once. A module that
    fails to import is only noted in ``failed``: the step that needs it imports it again
    and reports the error where it always did."""

    def __init__(self, modules: Sequence[str]) -> None:
        self.modules = tuple(modules)
        self.failed: list[str] = []
        self._thread: threading.Thread | None = None
        if self.modules:
            self._thread = threading.Thread(target=self._run, name="preload", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        for name in self.modules:
            try:
                importlib.import_module(name)
            except Exception:  # the real import, later, says what is wrong
                self.failed.append(name)

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> Preload:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.join()
