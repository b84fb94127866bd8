"""contract_tracker.excel.package: the .xlsm with its VBA project and its ribbon.

A small workbook is built the way build.py builds the master one (XlsxWriter, codeNames
via ``set_vba_name``, the project from source, the ribbon added to the package), then
read back: the VBA with olevba, the parts with zipfile, and the whole file by LibreOffice.
The RunPython command that the VBA builds is reproduced from xlwings' own VBA (Windows)
and AppleScript (macOS) and run in a subprocess.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import posixpath
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
import xlsxwriter
import xlwings
from oletools.olevba import VBA_Parser

from contract_tracker.excel.package import (
    CUSTOM_UI_PART,
    CUSTOM_UI_REL_TYPE,
    RIBBON_TAGS,
    attach_vba_project,
    custom_ui_xml,
    ribbon_buttons,
    vba_project_bytes,
    vba_source_text,
    with_custom_ui,
)
from contract_tracker.excel.vbaproject import VbaModule, normalize_newlines

from .lo import convert_with_libreoffice

SHEETS = [("Dashboard", "Dashboard"), ("合同", "shContracts"), ("Log", "Log")]
ISSUE_TAGS = ("generate_selected", "generate_pending", "penalties", "refresh",
              "weekly_report", "validate", "open_output", "help")
XLWINGS_DIR = Path(xlwings.__file__).parent
NS_CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"
NS_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def build_xlsm(sheets: list[tuple[str, str]] = SHEETS) -> bytes:
    target = io.BytesIO()
    workbook = xlsxwriter.Workbook(target, {"in_memory": True})
    workbook.set_properties({"created": dt.datetime(2026, 1, 1)})
    for name, _ in sheets:
        workbook.add_worksheet(name).write_string(0, 0, f"{name} 合同管理")
    attach_vba_project(workbook, sheets)
    workbook.close()
    return with_custom_ui(target.getvalue())


@pytest.fixture(scope="module")
def xlsm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("xlsm") / "contracts.xlsm"
    path.write_bytes(build_xlsm())
    return path


@pytest.fixture(scope="module")
def vba(xlsm: Path) -> dict[str, tuple[str, str]]:
    """Module name -> (olevba's file name, source) of the built workbook's project."""
    parser = VBA_Parser(str(xlsm))
    try:
        return {path.split("/")[-1]: (filename, code)
                for _, path, filename, code in parser.extract_macros()}
    finally:
        parser.close()


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


# --- the VBA in the workbook -------------------------------------------------------------

def test_vba_equals_the_checked_in_and_the_pinned_xlwings_sources(
        vba: dict[str, tuple[str, str]]) -> None:
    assert list(vba) == ["ThisWorkbook", "Dashboard", "shContracts", "Log",
                         "ContractTracker", "xlwings", "Dictionary"]
    assert vba["ContractTracker"][1] == normalize_newlines(vba_source_text("ContractTracker.bas"))
    bas = (XLWINGS_DIR / "xlwings.bas").read_bytes().decode("cp1252")
    assert vba["xlwings"][1] == normalize_newlines(bas)
    assert f"'Version: {xlwings.__version__}\r\n" in vba["xlwings"][1]
    cls = (XLWINGS_DIR / "addin" / "Dictionary.cls").read_bytes().decode("cp1252")
    assert vba["Dictionary"][1] == VbaModule.from_cls(cls).code


def test_checked_in_vba_is_ascii_with_crlf() -> None:
    raw = (Path(__file__).parents[1] / "scripts" / "contract_tracker" / "vba"
           / "ContractTracker.bas").read_bytes()
    raw.decode("ascii")
    assert raw.count(b"\r\n") == raw.count(b"\n") and raw.endswith(b"\r\n")


def test_document_modules_match_the_codenames_in_the_workbook(
        xlsm: Path, vba: dict[str, tuple[str, str]]) -> None:
    package = parts(xlsm)
    workbook = ElementTree.fromstring(package["xl/workbook.xml"])
    book_pr = workbook.find(f"{NS_MAIN}workbookPr")
    assert book_pr is not None and book_pr.get("codeName") == "ThisWorkbook"
    rels = relationships(package, "xl/workbook.xml")
    names = {}
    for sheet in workbook.iter(f"{NS_MAIN}sheet"):
        rid = sheet.get("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id")
        assert rid is not None
        sheet_xml = ElementTree.fromstring(package[rels[rid][1]])
        sheet_pr = sheet_xml.find(f"{NS_MAIN}sheetPr")
        assert sheet_pr is not None
        names[sheet.get("name")] = sheet_pr.get("codeName")
    assert names == dict(SHEETS)
    documents = [n for n, (filename, code) in vba.items()
                 if "Attribute VB_PredeclaredId = True" in code]
    assert documents == ["ThisWorkbook", *(code for _, code in SHEETS)]


def test_attach_refuses_codenames_that_do_not_cover_the_sheets() -> None:
    workbook = xlsxwriter.Workbook(io.BytesIO(), {"in_memory": True})
    workbook.add_worksheet("A")
    workbook.add_worksheet("B")
    with pytest.raises(ValueError, match="missing"):
        attach_vba_project(workbook, [("A", "shA")])
    with pytest.raises(ValueError, match="unknown"):
        attach_vba_project(workbook, [("A", "shA"), ("B", "shB"), ("C", "shC")])
    with pytest.raises(ValueError):  # a codeName equal to a module of the project
        attach_vba_project(workbook, [("A", "xlwings"), ("B", "shB")])
    with pytest.raises(ValueError):  # the Office library the ribbon callback needs
        attach_vba_project(workbook, [("A", "Office"), ("B", "shB")])


# --- the ribbon --------------------------------------------------------------------------

RIBBON_SUB = re.compile(
    r"^(?P<scope>Public |Private )?Sub (?P<name>\w+)\((?:ByVal |ByRef )?\w+ As IRibbonControl\)",
    re.MULTILINE | re.IGNORECASE)


def test_every_button_calls_a_ribbon_callback_sub(vba: dict[str, tuple[str, str]]) -> None:
    callbacks: dict[str, str] = {}
    for module, (filename, code) in vba.items():
        for match in RIBBON_SUB.finditer(code):
            if filename.endswith(".bas") and (match["scope"] or "").strip().lower() != "private":
                callbacks[match["name"].lower()] = module
    buttons = ribbon_buttons()
    assert buttons
    for button in buttons:
        module, _, sub = button.on_action.rpartition(".")
        assert sub.lower() in callbacks, button
        assert module in ("", callbacks[sub.lower()])
    assert {b.on_action for b in buttons} == {"OnRibbonAction"}


def test_ribbon_tags_are_the_actions_of_the_issue() -> None:
    assert tuple(b.tag for b in ribbon_buttons()) == RIBBON_TAGS
    assert sorted(RIBBON_TAGS) == sorted(ISSUE_TAGS)
    assert len(set(RIBBON_TAGS)) == len(RIBBON_TAGS)
    for tag in RIBBON_TAGS:  # what OnRibbonAction accepts: Like "*[!a-z0-9_]*" fails
        assert re.fullmatch(r"[a-z0-9_]+", tag)


def test_ribbon_buttons_are_labelled_and_iconed() -> None:
    buttons = ribbon_buttons()
    ids = [b.id for b in buttons]
    assert len(set(ids)) == len(ids)
    for button in buttons:
        assert re.search(r"[\u4e00-\u9fff]", button.label), button
        assert button.screentip and button.screentip.isascii(), button
        assert re.fullmatch(r"[A-Za-z]+", button.image_mso), button
        assert button.size in ("normal", "large")
    root = ElementTree.fromstring(custom_ui_xml())
    assert root.tag == "{http://schemas.microsoft.com/office/2006/01/customui}customUI"
    tabs = root.findall(".//{http://schemas.microsoft.com/office/2006/01/customui}tab")
    assert [t.get("label") for t in tabs] == ["合同管理"]


def test_ribbon_part_is_the_checked_in_xml(xlsm: Path) -> None:
    assert parts(xlsm)[CUSTOM_UI_PART] == custom_ui_xml()


# --- the package -------------------------------------------------------------------------

def relationships(package: dict[str, bytes], source: str) -> dict[str, tuple[str, str]]:
    """Id -> (type, resolved part name) of the relationships of ``source`` ("" = root)."""
    folder, name = posixpath.split(source)
    rels_name = posixpath.join(folder, "_rels", f"{name}.rels")
    result = {}
    for rel in ElementTree.fromstring(package[rels_name]).iter(f"{NS_REL}Relationship"):
        assert rel.get("TargetMode") != "External"
        target = rel.get("Target", "")
        resolved = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
            posixpath.join(folder, target))
        result[rel.get("Id", "")] = (rel.get("Type", ""), resolved)
    return result


def content_type(package: dict[str, bytes], part: str) -> str | None:
    types = ElementTree.fromstring(package["[Content_Types].xml"])
    for override in types.iter(f"{NS_CT}Override"):
        if override.get("PartName") == "/" + part:
            return override.get("ContentType")
    extension = part.rsplit(".", 1)[-1].lower()
    for default in types.iter(f"{NS_CT}Default"):
        if default.get("Extension", "").lower() == extension:
            return default.get("ContentType")
    return None


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The master workbook as build-workbook builds it (sample data, every sheet)."""
    from contract_tracker.build import build_workbook
    from contract_tracker.sample import sample_book

    return build_workbook(sample_book("small"),
                          tmp_path_factory.mktemp("master") / "contracts.xlsm")


@pytest.mark.parametrize("which", ["test workbook", "master"])
def test_relationships_and_content_types_are_valid(which: str, request: pytest.FixtureRequest
                                                   ) -> None:
    xlsm = request.getfixturevalue("xlsm" if which == "test workbook" else "master")
    package = parts(xlsm)
    for rels_part in (p for p in package if p.endswith(".rels")):
        folder = posixpath.dirname(posixpath.dirname(rels_part))
        source = posixpath.join(folder, posixpath.basename(rels_part)[:-len(".rels")])
        for rel_type, target in relationships(package, source).values():
            assert target in package, (rels_part, rel_type, target)
    for part in package:
        if part != "[Content_Types].xml":
            assert content_type(package, part), part
    root = {t: target for t, target in relationships(package, "").values()}
    assert root[CUSTOM_UI_REL_TYPE] == CUSTOM_UI_PART
    assert root["http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
                "officeDocument"] == "xl/workbook.xml"
    book = {t: target for t, target in relationships(package, "xl/workbook.xml").values()}
    assert book["http://schemas.microsoft.com/office/2006/relationships/vbaProject"] == \
        "xl/vbaProject.bin"
    assert content_type(package, "xl/vbaProject.bin") == "application/vnd.ms-office.vbaProject"
    assert content_type(package, "xl/workbook.xml") == \
        "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
    assert content_type(package, CUSTOM_UI_PART) == "application/xml"
    if which == "master":  # every sheet, its table, comments and drawing resolve
        from contract_tracker import schema

        workbook = ElementTree.fromstring(package["xl/workbook.xml"])
        assert [s.get("name") for s in workbook.iter(f"{NS_MAIN}sheet")] == list(
            schema.SHEET_ORDER)
        targets = [target for t, target in relationships(package, "xl/workbook.xml").values()
                   if t.endswith("/worksheet")]
        assert len(targets) == len(schema.SHEET_ORDER)
        tables = [target for sheet in targets
                  if posixpath.join("xl/worksheets/_rels", posixpath.basename(sheet) + ".rels")
                  in package
                  for t, target in relationships(package, sheet).values()
                  if t.endswith("/table")]
        assert len(tables) == len(schema.USER_TABLES)
        for table in tables:
            assert content_type(package, table) == (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.table+xml")


def test_two_builds_are_byte_identical(xlsm: Path) -> None:
    assert build_xlsm() == xlsm.read_bytes()
    assert with_custom_ui(xlsm.read_bytes()) == xlsm.read_bytes()  # idempotent
    assert vba_project_bytes(SHEETS) == parts(xlsm)["xl/vbaProject.bin"]


def test_adding_the_ribbon_keeps_the_other_parts(tmp_path: Path) -> None:
    target = io.BytesIO()
    workbook = xlsxwriter.Workbook(target, {"in_memory": True})
    workbook.add_worksheet("A")
    attach_vba_project(workbook, [("A", "shA")])
    workbook.close()
    before = zipfile.ZipFile(io.BytesIO(target.getvalue()))
    after = zipfile.ZipFile(io.BytesIO(with_custom_ui(target.getvalue())))
    assert after.namelist() == [*before.namelist(), CUSTOM_UI_PART]
    for name in before.namelist():
        if name != "_rels/.rels":
            assert after.read(name) == before.read(name)
    assert {i.date_time for i in after.infolist()} == {(1980, 1, 1, 0, 0, 0)}


# --- the RunPython command ---------------------------------------------------------------

VBA_STRING = re.compile(r'"((?:[^"]|"")*)"')


def runpython_command(tag: str, vba: dict[str, tuple[str, str]]) -> str:
    """The PythonCommand that OnRibbonAction passes to RunPython for a button's tag.

    Evaluates the VBA expression after ``RunPython`` (string literals, ``&`` and
    ``control.Tag``) from the source read back out of the workbook.
    """
    code = vba["ContractTracker"][1]
    match = re.search(r"^\s*RunPython (.+)$", code, re.MULTILINE)
    assert match is not None
    value = []
    for piece in (p.strip() for p in match.group(1).split(" & ")):
        literal = VBA_STRING.fullmatch(piece)
        if literal:
            value.append(literal.group(1).replace('""', '"'))
        else:
            assert piece == "control.Tag", piece
            value.append(tag)
    return "".join(value)


def windows_argv(command_line: str) -> list[str]:
    """What cmd.exe /C and the MSVC runtime make of ``command_line`` (no redirections).

    cmd removes the ^ escapes outside double quotes (its quote state flips at every ");
    the C runtime then splits arguments: 2n backslashes + " give n backslashes and a
    quote toggle, 2n+1 give n backslashes and a literal ".
    """
    unescaped = []
    quoted = False
    chars = iter(command_line)
    for char in chars:
        if char == '"':
            quoted = not quoted
        elif char == "^" and not quoted:
            char = next(chars)
        unescaped.append(char)
    text = "".join(unescaped)
    args: list[str] = []
    current: list[str] = []
    in_arg = quoted = False
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            j = i
            while j < len(text) and text[j] == "\\":
                j += 1
            if j < len(text) and text[j] == '"':
                current.append("\\" * ((j - i) // 2))
                if (j - i) % 2:
                    current.append('"')
                    j += 1
            else:
                current.append("\\" * (j - i))
            i, in_arg = j, True
            continue
        if char == '"':
            if quoted and text[i + 1:i + 2] == '"':
                current.append('"')
                i += 1
            else:
                quoted = not quoted
            in_arg = True
        elif char in " \t" and not quoted:
            if in_arg:
                args.append("".join(current))
                current, in_arg = [], False
        else:
            current.append(char)
            in_arg = True
        i += 1
    if in_arg:
        args.append("".join(current))
    return args


PROBE = textwrap.dedent('''
    """Test probe: record the call of contract_tracker.excel.macros.run_action."""
    import importlib.util
    import json
    import os
    import sys
    from importlib.abc import MetaPathFinder

    TARGET = "contract_tracker.excel.macros"


    class Probe(MetaPathFinder):
        def find_spec(self, fullname, path, target=None):
            if fullname != TARGET:
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(fullname)
            real_exec = spec.loader.exec_module

            def exec_module(module):
                real_exec(module)
                real = module.run_action

                def run_action(tag):
                    with open(os.environ["CT_PROBE_OUT"], "w", encoding="utf-8") as out:
                        json.dump({"tag": tag, "callable": callable(real),
                                   "file": module.__file__, "argv": sys.argv,
                                   "path": sys.path}, out)

                module.run_action = run_action

            spec.loader.exec_module = exec_module
            return spec


    sys.meta_path.insert(0, Probe())
''')


@pytest.fixture
def probe(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    """(environment with the probe, its output file, a workbook in an awkward folder)."""
    site = tmp_path / "probe"
    site.mkdir()
    (site / "sitecustomize.py").write_text(PROBE, encoding="utf-8")
    out = tmp_path / "probe.json"
    folder = tmp_path / "合同 R&D's files"
    folder.mkdir()
    book = folder / "contracts.xlsm"
    book.write_bytes(build_xlsm())
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "CT_PROBE_OUT": str(out),
           "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    return env, out, book


def check_probe(out: Path, tag: str, book: Path, extra_args: list[str]) -> None:
    seen = json.loads(out.read_text(encoding="utf-8"))
    assert seen["tag"] == tag
    assert seen["callable"]
    assert Path(seen["file"]).name == "macros.py"
    assert seen["argv"] == ["-c", f"--wb={book.name}", "--from_xl=1", *extra_args]
    assert str(book.parent) in seen["path"]  # prepare_sys_path read the workbook's path


@pytest.mark.parametrize("tag", ISSUE_TAGS)
def test_the_windows_runpython_command_reaches_the_dispatcher(
        tag: str, vba: dict[str, tuple[str, str]],
        probe: tuple[dict[str, str], Path, Path]) -> None:
    env, out, book = probe
    # xlwings.bas ExecuteWindows with the default settings (interpreter "python",
    # ADD_WORKBOOK_TO_PYTHONPATH true, no OneDrive/SharePoint/PYTHONPATH settings).
    pythonpath = f"true;{book};{book};;;;"
    pythonpath = pythonpath.replace("&", "^&").replace("\\", "\\\\")
    run_command = ('python -B -c "import xlwings.utils;xlwings.utils.prepare_sys_path(\\"'
                   + pythonpath + '\\"); ' + runpython_command(tag, vba) + '" ')
    app = "C:\\Program Files\\Microsoft Office\\root\\Office16\\Microsoft Excel"
    command = (run_command + ' --wb="' + book.name + '" --from_xl=1' + ' --app="' + app
               + '" --hwnd="' + "1234" + '"')
    argv = windows_argv(command)
    assert argv[:3] == ["python", "-B", "-c"]
    result = subprocess.run([sys.executable, *argv[1:]], cwd=book.parent, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    check_probe(out, tag, book, [f"--app={app}", "--hwnd=1234"])


@pytest.mark.parametrize("tag", ["generate_selected", "help"])
def test_the_macos_runpython_command_reaches_the_dispatcher(
        tag: str, vba: dict[str, tuple[str, str]], tmp_path: Path,
        probe: tuple[dict[str, str], Path, Path]) -> None:
    env, out, book = probe
    app = "/Applications/Microsoft Excel.app"
    run_mac_shell(sys.executable, "", runpython_command(tag, vba), book, app, env,
                  tmp_path / "xlwings.log")
    check_probe(out, tag, book, [f"--app={app}"])


def run_mac_shell(interpreter: str, pythonpath: str, command: str, book: Path, app: str,
                  env: dict[str, str], log: Path) -> None:
    """xlwings.bas ExecuteMac + xlwings-<version>.applescript VbaHandler, run by /bin/sh
    like "do shell script" (without the trailing "&" that detaches it); nothing may reach
    the log xlwings shows as an error."""
    sys_path = f"true;{book};{book};;;;{pythonpath}".replace("'", "\\'") + ";"
    shell = (f"{interpreter} -B -u -W ignore -c \"import xlwings.utils;"
             f"xlwings.utils.prepare_sys_path('{sys_path}');"
             f"{command} \" \"--wb={book.name}\" \"--from_xl=1\" "
             f"\"--app={app}\" > /dev/null 2>\"{log}\"")
    result = subprocess.run(["/bin/sh", "-c", shell], cwd=book.parent, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, log.read_text()
    assert log.read_text() == ""


def test_the_applescript_still_builds_the_command_this_test_reproduces() -> None:
    script = (XLWINGS_DIR / f"xlwings-{xlwings.__version__}.applescript").read_text()
    assert ('set ShellCommand to PythonInterpreter & " -B -u -W ignore -c \\"import '
            "xlwings.utils;xlwings.utils.prepare_sys_path('\" & PYTHONPATH & \"');\" & ¬"
            ) in script
    bas = (XLWINGS_DIR / "xlwings.bas").read_text()
    assert ('RunCommand = CondaCmd & PythonInterpreter & " -B -c ""import xlwings.utils;'
            'xlwings.utils.prepare_sys_path(\\""" & PYTHONPATH & "\\""); " & PythonCommand'
            ' & """ "') in bas


# --- LibreOffice -------------------------------------------------------------------------

@pytest.mark.libreoffice
def test_libreoffice_opens_the_workbook_and_reads_its_vba(xlsm: Path, tmp_path: Path) -> None:
    pdf = convert_with_libreoffice(xlsm, tmp_path, "pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    # LibreOffice's own MS-OVBA reader: the modules it imports into Basic, with the
    # kinds it read from the dir and PROJECT streams.
    ods = convert_with_libreoffice(xlsm, tmp_path, "ods")
    with zipfile.ZipFile(ods) as zf:
        basic = {Path(n).stem: zf.read(n).decode("utf-8") for n in zf.namelist()
                 if n.startswith("Basic/VBAProject/") and not n.endswith("script-lb.xml")}
    kinds = {name: re.search(r'script:moduleType="(\w+)"', xml).group(1)  # type: ignore[union-attr]
             for name, xml in basic.items()}
    assert kinds == {"ThisWorkbook": "document", "Dashboard": "document",
                     "shContracts": "document", "Log": "document",
                     "ContractTracker": "normal", "xlwings": "normal", "Dictionary": "class"}
    body = ElementTree.fromstring(basic["ContractTracker"]).text or ""
    source = [line for line in normalize_newlines(vba_source_text("ContractTracker.bas"))
              .split("\r\n") if line and not line.startswith("Attribute ")]
    imported = [line for line in body.split("\n") if line and not line.startswith(
        ("Rem Attribute", "Option VBASupport"))]
    assert imported == source


# --- xlwings.conf: the interpreter the buttons start ---------------------------------------

CONF_LINE = re.compile(r'"([^"]*)","([^"]*)"')


def vba_write_lines(data: bytes, newline: str) -> list[tuple[str, str]]:
    """The pairs of a file in the exact form VBA's ``Write #file, name, value`` writes
    and ``Input #file, name, value`` (xlwings' GetConfigFromFile) reads back: one
    ``"name","value"`` per line, no quotes inside."""
    text = data.decode("utf-8")
    assert text.endswith(newline)
    lines = text[:-len(newline)].split(newline)
    pairs = []
    for line in lines:
        match = CONF_LINE.fullmatch(line)
        assert match is not None, line
        pairs.append((match.group(1), match.group(2)))
    return pairs


def test_conf_reader_reads_like_vba_input() -> None:
    from contract_tracker.excel.package import read_xlwings_conf

    assert read_xlwings_conf('"INTERPRETER_WIN","C:\\a b\\python.exe"\r\n"PYTHONPATH",""\r\n') == [
        ("INTERPRETER_WIN", "C:\\a b\\python.exe"), ("PYTHONPATH", "")]
    assert read_xlwings_conf("  CONDA PATH , C:\\conda \nUSE UDF SERVER,False") == [
        ("CONDA PATH", "C:\\conda"), ("USE UDF SERVER", "False")]


@pytest.fixture
def scripts_dir() -> Path:
    import contract_tracker

    return Path(contract_tracker.__file__).resolve().parent.parent


def test_excel_setup_writes_the_running_interpreter_beside_the_workbook(
        probe: tuple[dict[str, str], Path, Path], scripts_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from contract_tracker.cli import main

    _, _, book = probe
    assert main(["excel-setup", str(book), "--platform", "mac"]) == 0
    conf = book.parent / "xlwings.conf"
    interpreter = str(Path(sys.executable).absolute())
    assert vba_write_lines(conf.read_bytes(), "\n") == [
        ("INTERPRETER_MAC", interpreter), ("PYTHONPATH", str(scripts_dir))]
    assert str(conf) in capsys.readouterr().out
    # never over an existing file without --force
    before = conf.read_bytes()
    assert main(["excel-setup", str(book), "--platform", "win"]) == 2
    assert capsys.readouterr().err == (
        f"not written: {conf} already exists; it was not changed. Use --force to set its "
        f"INTERPRETER_WIN and PYTHONPATH (its other lines are kept).\n")
    assert conf.read_bytes() == before
    # --force sets this platform's keys and keeps the others
    assert main(["excel-setup", str(book.parent), "--platform", "win", "--force"]) == 0
    assert vba_write_lines(conf.read_bytes(), "\r\n") == [
        ("INTERPRETER_MAC", interpreter), ("INTERPRETER_WIN", interpreter),
        ("PYTHONPATH", str(scripts_dir))]


def test_excel_setup_needs_a_workbook(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    from contract_tracker.cli import main

    assert main(["excel-setup", str(tmp_path / "nope.xlsm")]) == 2
    assert capsys.readouterr().err == f"not written: there is no workbook at {tmp_path}/nope.xlsm\n"
    assert not (tmp_path / "xlwings.conf").exists()


def test_excel_setup_refuses_what_is_not_a_workbook_or_its_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from contract_tracker.cli import main

    letter = tmp_path / "contract.docx"
    letter.write_bytes(b"PK")
    assert main(["excel-setup", str(letter)]) == 2
    assert "is not a macro-enabled workbook (.xlsm)" in capsys.readouterr().err
    assert main(["excel-setup", str(tmp_path)]) == 2  # a folder with no .xlsm in it
    assert "holds no .xlsm workbook" in capsys.readouterr().err
    assert not (tmp_path / "xlwings.conf").exists()


def _conf(book: Path, platform: str) -> dict[str, str]:
    from contract_tracker.cli import main

    assert main(["excel-setup", str(book), "--platform", platform, "--force"]) == 0
    newline = "\r\n" if platform == "win" else "\n"
    return dict(vba_write_lines((book.parent / "xlwings.conf").read_bytes(), newline))


def test_the_windows_command_runs_with_the_configured_interpreter(
        vba: dict[str, tuple[str, str]], probe: tuple[dict[str, str], Path, Path],
        scripts_dir: Path) -> None:
    env, out, book = probe
    conf = _conf(book, "win")
    # xlwings.bas RunPython + ExecuteWindows with the settings of the file: the quoted
    # interpreter and the PYTHONPATH setting after the six fixed fields.
    pythonpath = f"true;{book};{book};;;;{conf['PYTHONPATH']}"
    pythonpath = pythonpath.replace("&", "^&").replace("\\", "\\\\")
    run_command = ('"' + conf["INTERPRETER_WIN"] + '" -B -c "import xlwings.utils;'
                   'xlwings.utils.prepare_sys_path(\\"' + pythonpath + '\\"); '
                   + runpython_command("validate", vba) + '" ')
    command = run_command + ' --wb="' + book.name + '" --from_xl=1 --app="Excel" --hwnd="1"'
    argv = windows_argv(command)
    assert argv[0] == conf["INTERPRETER_WIN"] == str(Path(sys.executable).absolute())
    result = subprocess.run(argv, cwd=book.parent, env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    check_probe(out, "validate", book, ["--app=Excel", "--hwnd=1"])
    seen = json.loads(out.read_text(encoding="utf-8"))
    assert str(scripts_dir) in seen["path"]
    assert Path(seen["file"]).is_relative_to(scripts_dir)


def test_the_macos_command_runs_with_the_configured_interpreter(
        vba: dict[str, tuple[str, str]], probe: tuple[dict[str, str], Path, Path],
        scripts_dir: Path, tmp_path: Path) -> None:
    env, out, book = probe
    conf = _conf(book, "mac")
    run_mac_shell(conf["INTERPRETER_MAC"], conf["PYTHONPATH"],
                  runpython_command("refresh", vba), book, "Excel", env,
                  tmp_path / "xlwings.log")
    check_probe(out, "refresh", book, ["--app=Excel"])
    assert str(scripts_dir) in json.loads(out.read_text(encoding="utf-8"))["path"]


def test_a_mac_interpreter_path_with_a_space_runs_through_a_plain_launcher(
        vba: dict[str, tuple[str, str]], probe: tuple[dict[str, str], Path, Path],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """Found in review: xlwings' AppleScript pastes INTERPRETER_MAC into a shell line
    unquoted, so '~/Contract Tracker/.venv/bin/python3' failed on every click with
    'sh: .../Contract: not found'."""
    from contract_tracker.cli import main

    env, out, book = probe
    spaced = tmp_path / "Contract Tracker (o'neil)" / "python3"  # a space, ( and '
    spaced.parent.mkdir()
    spaced.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
    spaced.chmod(0o755)
    home = tmp_path / "home"
    monkeypatch.setattr(sys, "executable", str(spaced))
    monkeypatch.setenv("HOME", str(home))
    assert main(["excel-setup", str(book), "--platform", "mac", "--force"]) == 0
    conf = dict(vba_write_lines((book.parent / "xlwings.conf").read_bytes(), "\n"))
    launcher = Path(conf["INTERPRETER_MAC"])
    assert launcher.parent == home / ".contract-tracker" and " " not in str(launcher)
    assert f"wrote {launcher}: it starts {spaced}" in capsys.readouterr().out
    run_mac_shell(conf["INTERPRETER_MAC"], conf["PYTHONPATH"],
                  runpython_command("refresh", vba), book, "Excel", env,
                  tmp_path / "xlwings.log")
    check_probe(out, "refresh", book, ["--app=Excel"])
    # The path itself, unquoted as the AppleScript pastes it, is split by the shell.
    split = subprocess.run(["/bin/sh", "-c", f"{spaced} -c 'print(1)'"],
                           capture_output=True, text=True, check=False)
    assert split.returncode != 0


def test_a_plain_mac_interpreter_path_is_written_as_it_is(tmp_path: Path) -> None:
    from contract_tracker.excel.package import mac_interpreter

    assert mac_interpreter("/Users/li/ContractTracker/.venv/bin/python3", tmp_path) == (
        "/Users/li/ContractTracker/.venv/bin/python3", None)
    assert not (tmp_path / ".contract-tracker").exists()


def test_no_plain_launcher_path_is_a_refusal_saying_what_to_do(tmp_path: Path) -> None:
    from contract_tracker.excel.package import ConfRefused, mac_interpreter

    with pytest.raises(ConfRefused, match=r"move Contract Tracker to a folder with a plain name"):
        mac_interpreter("/Users/li/Contract Tracker/.venv/bin/python3", tmp_path / "my home")
    assert not (tmp_path / "my home").exists()


def test_a_vba_error_in_runpython_becomes_a_message_not_the_debugger(
        vba: dict[str, tuple[str, str]]) -> None:
    """Found in review: an error inside xlwings' VBA (an odd xlwings.conf, a blocked
    shell) reached the user as 'Run-time error ... [End] [Debug]'."""
    code = [line.strip() for line in vba["ContractTracker"][1].split("\r\n")]
    run = next(i for i, line in enumerate(code) if line.startswith("RunPython "))
    assert "On Error GoTo Failed" in code[:run]
    assert code[run + 1] == "Exit Sub" and code[run + 2] == "Failed:"
    message = " ".join(code[run + 3:code.index("End Sub", run)])
    assert message.startswith("MsgBox ") and "Err.Description" in message
    assert "excel-setup" in message and "vbCritical" in message


def test_a_conf_in_another_code_page_is_left_alone_not_garbled(tmp_path: Path) -> None:
    """Found in review: a Chinese Windows xlwings.conf (cp936) rewritten from a Mac turned
    C:\\Users\\张三 into C:\\Users\\���� without a word."""
    from contract_tracker.excel.package import ConfRefused, write_xlwings_conf

    conf = tmp_path / "xlwings.conf"
    original = '"INTERPRETER_WIN","C:\\Users\\张三\\ct\\.venv\\Scripts\\python.exe"\r\n'.encode(
        "cp936")
    conf.write_bytes(original)
    with pytest.raises(ConfRefused, match=r"another code page.*was not changed"):
        write_xlwings_conf(tmp_path, "/Users/li/ct/.venv/bin/python3", "/Users/li/ct/scripts",
                           "mac", force=True)
    assert conf.read_bytes() == original
