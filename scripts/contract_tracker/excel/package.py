"""Put the Excel front end into the master workbook: its VBA project and its ribbon.

The VBA project is built from source on every build (see :mod:`.vbaproject`):

- ``ThisWorkbook`` and one document module per sheet, named by the codeNames that
  XlsxWriter writes with ``set_vba_name``;
- ``ContractTracker`` from the checked-in ``vba/ContractTracker.bas`` (the ribbon callback);
- the standalone xlwings modules, read from the installed, pinned xlwings package: the
  ``xlwings`` module (``xlwings/xlwings.bas``) and the ``Dictionary`` class
  (``xlwings/addin/Dictionary.cls``, which ``xlwings.bas`` uses on macOS) -- the same
  two modules that ``xlwings quickstart --standalone`` ships in its workbook.

The ribbon is the checked-in ``vba/customUI.xml`` (2006 schema), added to the finished
package as ``customUI/customUI.xml`` with a root relationship of the 2006 type.

Use from a build with XlsxWriter::

    workbook = xlsxwriter.Workbook(target, {"in_memory": True, ...})
    ...  # add every worksheet
    attach_vba_project(workbook, [(sheet_name, code_name), ...])
    workbook.close()
    data = with_custom_ui(target.getvalue())   # or add_custom_ui(path) on a file
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import importlib.util
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol
from xml.etree import ElementTree

from contract_tracker.excel.vbaproject import (
    DEFAULT_REFERENCES,
    DocumentBase,
    VbaModule,
    build_vba_project,
)

__all__ = [
    "CUSTOM_UI_NAMESPACE",
    "CUSTOM_UI_PART",
    "CUSTOM_UI_REL_TYPE",
    "INTERPRETER_KEYS",
    "RIBBON_TAGS",
    "VBA_PROJECT_NAME",
    "WORKBOOK_CODE_NAME",
    "XLWINGS_CONF",
    "ConfRefused",
    "RibbonButton",
    "add_custom_ui",
    "attach_vba_project",
    "contract_tracker_module",
    "custom_ui_xml",
    "package_root",
    "project_modules",
    "read_xlwings_conf",
    "ribbon_buttons",
    "vba_project_bytes",
    "vba_source_text",
    "with_custom_ui",
    "write_xlwings_conf",
    "xlwings_conf_text",
    "xlwings_modules",
]

VBA_PROJECT_NAME: Final = "VBAProject"
WORKBOOK_CODE_NAME: Final = "ThisWorkbook"
CUSTOM_UI_PART: Final = "customUI/customUI.xml"
CUSTOM_UI_NAMESPACE: Final = "http://schemas.microsoft.com/office/2006/01/customui"
CUSTOM_UI_REL_TYPE: Final = (
    "http://schemas.microsoft.com/office/2006/relationships/ui/extensibility")
_RELS_PART = "_rels/.rels"
_RELS_NAMESPACE = "http://schemas.openxmlformats.org/package/2006/relationships"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

#: Names the codeNames must not take: the project, its modules and its libraries.
_RESERVED_NAMES = frozenset({"vba", "excel", VBA_PROJECT_NAME.lower(),
                             *(ref.name.lower() for ref in DEFAULT_REFERENCES)})


def vba_source_text(name: str) -> str:
    """A checked-in file of the package's ``vba`` folder (UTF-8 text)."""
    resource = importlib.resources.files("contract_tracker").joinpath("vba", name)
    return resource.read_bytes().decode("utf-8")


def custom_ui_xml() -> bytes:
    """The checked-in ribbon, ``vba/customUI.xml``, as stored in the package."""
    return importlib.resources.files("contract_tracker").joinpath(
        "vba", "customUI.xml").read_bytes()


@dataclass(frozen=True)
class RibbonButton:
    """A button of the ribbon tab, as declared in customUI.xml."""

    id: str
    tag: str
    label: str
    on_action: str
    image_mso: str
    size: str
    screentip: str
    group: str


def ribbon_buttons(xml: bytes | None = None) -> tuple[RibbonButton, ...]:
    """The buttons of ``xml`` (default: the checked-in customUI.xml), in ribbon order."""
    root = ElementTree.fromstring(custom_ui_xml() if xml is None else xml)
    ns = f"{{{CUSTOM_UI_NAMESPACE}}}"
    if root.tag != f"{ns}customUI":
        raise ValueError(f"customUI root must be {ns}customUI, found {root.tag}")
    buttons = []
    for group in root.iter(f"{ns}group"):
        for button in group.iter(f"{ns}button"):
            buttons.append(RibbonButton(
                id=button.get("id", ""), tag=button.get("tag", ""),
                label=button.get("label", ""), on_action=button.get("onAction", ""),
                image_mso=button.get("imageMso", ""), size=button.get("size", "normal"),
                screentip=button.get("screentip", ""), group=group.get("label", "")))
    return tuple(buttons)


#: The action tags of the ribbon's buttons, in ribbon order: the names the Python
#: dispatcher must provide (parsed from customUI.xml, the one place they are declared).
RIBBON_TAGS: Final[tuple[str, ...]] = tuple(b.tag for b in ribbon_buttons())


def contract_tracker_module() -> VbaModule:
    """The checked-in ribbon callback module, ``vba/ContractTracker.bas``."""
    return VbaModule.from_bas(vba_source_text("ContractTracker.bas"))


def _xlwings_dir() -> Path:
    spec = importlib.util.find_spec("xlwings")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("xlwings is not installed: pip install -r requirements.txt")
    return Path(next(iter(spec.submodule_search_locations)))


def xlwings_modules() -> tuple[VbaModule, VbaModule]:
    """The standalone xlwings VBA: module ``xlwings`` and class ``Dictionary``.

    Read from the installed xlwings; the module's ``'Version:`` line must match the
    installed version (the VBA and the Python side of xlwings go together).
    """
    folder = _xlwings_dir()
    bas = (folder / "xlwings.bas").read_bytes().decode("cp1252")
    version = importlib.metadata.version("xlwings")
    stated = re.search(r"^'Version: (\S+)", bas, re.MULTILINE)
    if stated is None or stated.group(1) != version:
        raise RuntimeError(f"xlwings.bas states version {stated and stated.group(1)!r}, "
                           f"installed xlwings is {version}")
    cls = (folder / "addin" / "Dictionary.cls").read_bytes().decode("cp1252")
    return VbaModule.from_bas(bas), VbaModule.from_cls(cls)


def project_modules(sheet_code_names: Sequence[tuple[str, str]]) -> list[VbaModule]:
    """The modules of the workbook's project, in project order.

    ``sheet_code_names`` pairs each sheet name with its codeName, in sheet order.
    """
    code_names = [code for _, code in sheet_code_names]
    for code in code_names:
        if code.lower() in _RESERVED_NAMES or code.lower() == WORKBOOK_CODE_NAME.lower():
            raise ValueError(f"codeName {code!r} is reserved in the VBA project")
    modules = [VbaModule.document(WORKBOOK_CODE_NAME, DocumentBase.WORKBOOK)]
    modules += [VbaModule.document(code, DocumentBase.WORKSHEET) for code in code_names]
    modules.append(contract_tracker_module())
    modules.extend(xlwings_modules())
    return modules


def vba_project_bytes(sheet_code_names: Sequence[tuple[str, str]]) -> bytes:
    """The workbook's ``vbaProject.bin``; byte-identical for the same inputs.

    ``sheet_code_names``: ``(sheet name, codeName)`` for every worksheet in sheet order;
    the codeNames must be the ones given to XlsxWriter's ``set_vba_name``.
    """
    return build_vba_project(VBA_PROJECT_NAME, project_modules(sheet_code_names))


class _XlsxWorkbook(Protocol):
    def worksheets(self) -> Sequence[Any]: ...

    def set_vba_name(self, name: str | None = None) -> None: ...

    def add_vba_project(self, vba_project: Any, is_stream: bool = False) -> int: ...


def attach_vba_project(workbook: _XlsxWorkbook,
                       sheet_code_names: Sequence[tuple[str, str]]) -> bytes:
    """Give an XlsxWriter workbook (before ``close``) its codeNames and VBA project.

    Every worksheet must be named in ``sheet_code_names`` and no other sheet: a sheet
    without a document module would leave the workbook and the project out of step.
    Chartsheets are refused (no document module kind for them here). Returns the bytes
    of the project that was added.
    """
    mapping = dict(sheet_code_names)
    if len(mapping) != len(sheet_code_names):
        raise ValueError("a sheet is named twice in sheet_code_names")
    sheets = list(workbook.worksheets())
    for sheet in sheets:
        if getattr(sheet, "is_chartsheet", False):
            raise ValueError(f"chartsheet {sheet.get_name()!r} is not supported")
    names = [sheet.get_name() for sheet in sheets]
    missing = [n for n in names if n not in mapping]
    unknown = [n for n in mapping if n not in names]
    if missing or unknown:
        raise ValueError(f"codeNames must cover exactly the workbook's sheets; "
                         f"missing {missing}, unknown {unknown}")
    ordered = [(name, mapping[name]) for name in names]
    data = vba_project_bytes(ordered)
    workbook.set_vba_name(WORKBOOK_CODE_NAME)
    for sheet in sheets:
        sheet.set_vba_name(mapping[sheet.get_name()])
    if workbook.add_vba_project(io.BytesIO(data), is_stream=True) != 0:
        raise RuntimeError("XlsxWriter refused the VBA project")
    return data


def _rels_with_custom_ui(rels: bytes) -> bytes:
    """The package's root relationships with the customUI relationship added once."""
    root = ElementTree.fromstring(rels)
    ns = f"{{{_RELS_NAMESPACE}}}"
    ids = set()
    for rel in root.iter(f"{ns}Relationship"):
        ids.add(rel.get("Id"))
        if rel.get("Type") == CUSTOM_UI_REL_TYPE:
            if rel.get("Target", "").lstrip("/") != CUSTOM_UI_PART:
                raise ValueError(f"package already has a ribbon at {rel.get('Target')}")
            return rels
    number = 1
    while f"rId{number}" in ids:
        number += 1
    element = (f'<Relationship Id="rId{number}" Type="{CUSTOM_UI_REL_TYPE}" '
               f'Target="{CUSTOM_UI_PART}"/>').encode("ascii")
    closing = b"</Relationships>"
    at = rels.rfind(closing)
    if at < 0:
        raise ValueError("root relationships part has no closing </Relationships>")
    return rels[:at] + element + rels[at:]


def with_custom_ui(package: bytes, xml: bytes | None = None) -> bytes:
    """``package`` (an .xlsm's bytes) with the ribbon part and its root relationship.

    The zip is rewritten deterministically: parts keep their order (the ribbon part is
    added last, or replaced in place), every entry is deflated with a fixed timestamp,
    so the same input gives the same bytes. Running it twice changes nothing more.
    """
    ui = custom_ui_xml() if xml is None else xml
    ribbon_buttons(ui)  # refuses a document that is not a 2006 customUI
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        names = [info.filename for info in src.infolist()]
        if _RELS_PART not in names:
            raise ValueError("not an OPC package: no _rels/.rels")
        if CUSTOM_UI_PART not in names:
            names.append(CUSTOM_UI_PART)
        for name in names:
            if name == CUSTOM_UI_PART:
                data = ui
            elif name == _RELS_PART:
                data = _rels_with_custom_ui(src.read(name))
            else:
                data = src.read(name)
            entry = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, data)
    return out.getvalue()


def add_custom_ui(xlsm_path: Path) -> None:
    """Add the ribbon to the .xlsm at ``xlsm_path`` (see :func:`with_custom_ui`).

    The new package is written beside the file and moved over it, so an interrupted
    run leaves the original intact.
    """
    data = with_custom_ui(xlsm_path.read_bytes())
    temporary = xlsm_path.with_name(xlsm_path.name + ".tmp")
    temporary.write_bytes(data)
    temporary.replace(xlsm_path)


# --- xlwings.conf: which Python the buttons start ------------------------------------------

XLWINGS_CONF: Final = "xlwings.conf"
"""The settings file xlwings' VBA reads from the workbook's folder (after a sheet of the
same name, before ``%USERPROFILE%\\.xlwings\\xlwings.conf``)."""
INTERPRETER_KEYS: Final = {"win": "INTERPRETER_WIN", "mac": "INTERPRETER_MAC"}


class ConfRefused(Exception):
    """xlwings.conf was not written; the message says why and what to do."""


def package_root() -> Path:
    """The folder that holds the ``contract_tracker`` package (``scripts/`` of a checkout)."""
    return Path(__file__).resolve().parents[2]


def read_xlwings_conf(text: str) -> list[tuple[str, str]]:
    """The (key, value) pairs of an xlwings.conf, read the way xlwings' VBA reads them
    (``Input #file, name, value``): comma- or line-separated fields, each either quoted
    (up to the next ``"``, no escapes) or bare (trimmed)."""
    fields: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            break
        if text[i] == '"':
            end = text.find('"', i + 1)
            end = n if end < 0 else end
            fields.append(text[i + 1:end])
            i = end + 1
            while i < n and text[i] not in ",\r\n":
                i += 1
        else:
            start = i
            while i < n and text[i] not in ",\r\n":
                i += 1
            fields.append(text[start:i].strip())
        if i < n and text[i] == ",":
            i += 1
    return [(fields[k], fields[k + 1] if k + 1 < len(fields) else "")
            for k in range(0, len(fields), 2)]


def xlwings_conf_text(pairs: Sequence[tuple[str, str]], newline: str = "\r\n") -> str:
    """``"KEY","value"`` lines, as VBA's ``Write #`` writes them."""
    for key, value in pairs:
        if '"' in key or '"' in value or "\n" in value or "\r" in value:
            raise ConfRefused(f"{key} {value!r} contains a double quote or a line break, "
                              "which xlwings.conf cannot hold")
    return "".join(f'"{key}","{value}"{newline}' for key, value in pairs)


def conf_encoding(platform: str) -> str:
    """The encoding VBA reads the file in: Windows' ANSI code page (cp936 on Chinese
    Windows) when run on Windows; UTF-8 otherwise."""
    import locale
    import sys

    return locale.getencoding() if platform == "win" and sys.platform == "win32" else "utf-8"


_SHELL_SAFE = re.compile(r"[A-Za-z0-9_./+@%:,=-]+")
"""A path the shell takes as one word without quotes."""


def mac_interpreter(interpreter: str, home: Path) -> tuple[str, Path | None]:
    """The INTERPRETER_MAC value for ``interpreter``. xlwings' AppleScript pastes it into a
    ``do shell script`` line unquoted, so a path with a space (``~/Contract Tracker/``), a
    quote, ``(`` or ``&`` would be split by the shell and every button would fail. Such a
    path is reached through a small launcher script under ``home/.contract-tracker/``
    (one per interpreter), whose own path is plain; returns the value and the launcher
    written, if any. Refuses when even that path is not plain."""
    if _SHELL_SAFE.fullmatch(interpreter):
        return interpreter, None
    digest = hashlib.sha256(interpreter.encode("utf-8")).hexdigest()[:10]
    launcher = home / ".contract-tracker" / f"python-{digest}"
    if not _SHELL_SAFE.fullmatch(str(launcher)):
        raise ConfRefused(
            f"the Python path {interpreter} has a space or a sign the Mac's shell splits, "
            f"and so has {launcher}, where a launcher would go: move Contract Tracker to a "
            "folder with a plain name, e.g. ~/ContractTracker, and run setup there")
    quoted = "'" + interpreter.replace("'", "'\\''") + "'"
    try:
        launcher.parent.mkdir(parents=True, exist_ok=True)
        launcher.write_text(f'#!/bin/sh\nexec {quoted} "$@"\n', encoding="utf-8")
        launcher.chmod(0o755)
    except OSError as exc:
        raise ConfRefused(f"cannot write the launcher {launcher} ({exc.strerror or exc})"
                          ) from None
    return str(launcher), launcher


def write_xlwings_conf(folder: Path, interpreter: str, pythonpath: str, platform: str,
                       force: bool = False) -> tuple[Path, list[tuple[str, str]]]:
    """Write ``folder/xlwings.conf`` so that the buttons start ``interpreter`` with
    ``pythonpath`` on ``sys.path``; ``platform`` is ``win`` or ``mac`` (which
    ``INTERPRETER_*`` key). An existing file is changed only with ``force``, and then
    only these keys: its other lines (say, the other platform's interpreter) stay.
    Returns the file and the pairs written."""
    key = INTERPRETER_KEYS[platform]
    path = folder / XLWINGS_CONF
    encoding = conf_encoding(platform)
    pairs: list[tuple[str, str]] = []
    if path.exists():
        if not force:
            raise ConfRefused(f"{path} already exists; it was not changed. Use --force to set "
                              f"its {key} and PYTHONPATH (its other lines are kept).")
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfRefused(f"{path} cannot be read ({exc.strerror or exc})") from None
        try:
            old = raw.decode(encoding)
        except UnicodeDecodeError:
            # Written on another computer in another code page (a Chinese Windows path read
            # on a Mac): rewriting it would turn that path into question marks (found in
            # review), so it is left alone.
            raise ConfRefused(
                f"{path} holds text this computer cannot read in {encoding} (it was written "
                f"on a computer with another code page, e.g. Chinese Windows), so it was not "
                f"changed: give each computer a copy of the workbook in a folder of its own, "
                f"or set {key} in the file by hand") from None
        pairs = [(k, v) for k, v in read_xlwings_conf(old)
                 if k.upper() not in (key, "PYTHONPATH")]
    pairs += [(key, interpreter), ("PYTHONPATH", pythonpath)]
    text = xlwings_conf_text(pairs, "\r\n" if platform == "win" else "\n")
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        raise ConfRefused(
            f"the path {interpreter} or {pythonpath} has characters that Windows' code page "
            f"({encoding}) cannot write, and xlwings reads the file in that code page: move "
            f"Contract Tracker to a folder with a plain name, e.g. C:\\ContractTracker") from None
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise ConfRefused(f"cannot write {path} ({exc.strerror or exc})") from None
    return path, pairs
