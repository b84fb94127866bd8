"""Pause Python's cyclic garbage collector while a phase builds large acyclic structures.

Reading the workbook, computing the workings and writing the sheets each create
hundreds of thousands of tuples and lists and free few of them: the collector, run every
700 allocations, keeps re-scanning the growing heap for cycles that are not there (a
fifth of the parse time on the large sample). Reference counting still frees everything
as usual while the collector waits; it runs again as soon as the phase ends.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No automatic cycle collection inside the block (nesting and a collector already
    switched off are fine: only the outermost pause switches it back on)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
