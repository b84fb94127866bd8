"""contract_tracker.cli: commands, exit codes, and no traceback ever reaching the user."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from contract_tracker.cli import REPO_ROOT, main
from contract_tracker.schemadoc import schema_markdown

from .test_reader import rewrite_part, sheet_part

VENV_BIN = Path(sys.executable).parent


@pytest.mark.parametrize("command", [
    [str(VENV_BIN / "contract-tracker"), "--help"],
    [sys.executable, "-m", "contract_tracker", "--help"],
])
def test_help_works_both_ways(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    for name in ("validate", "build-workbook", "sample", "inspect", "demo"):
        assert name in result.stdout


def test_validate_clean_workbook_exits_0(mini_workbook: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(mini_workbook)]) == 0
    out = capsys.readouterr().out
    assert "contracts.xlsm: 0 errors, 0 warnings; 2 clients, 2 contracts" in out


def test_validate_with_errors_exits_1_and_prints_cells(
        mini_workbook: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rewrite_part(mini_workbook, sheet_part(mini_workbook, "Receipts"),
                 lambda xml: xml.replace("<v>30000</v>", '<v>-30000</v>', 1))
    assert main(["validate", str(mini_workbook)]) == 1
    out = capsys.readouterr().out
    assert ("ERROR: Receipts!E2: 金额 -30000 is negative: amounts and counts must be 0 or more"
            in out)


def test_validate_unreadable_file_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xlsm"
    bad.write_bytes(b"\x00\x01 not a zip")
    result = subprocess.run([sys.executable, "-m", "contract_tracker", "validate", str(bad)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert "bad.xlsm: cannot be read as an Excel workbook" in result.stdout


def test_validate_missing_file_exits_2(tmp_path: Path) -> None:
    assert main(["validate", str(tmp_path / "none.xlsm")]) == 2


def test_inspect_summarises(mini_workbook: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(mini_workbook)]) == 0
    out = capsys.readouterr().out
    assert "上海云维信息技术有限公司" in out
    assert "total contracted ¥340,000.50, received ¥130,000.00" in out


def test_docs_schema_page_is_current() -> None:
    page = (REPO_ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    assert page == schema_markdown(), "run: contract-tracker schema-doc --out docs/schema.md"


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_command() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0].strip() for b in readme.split("```sh\n")[1:3]]
    assert blocks[0].startswith("./setup.sh && ") and "demo" in blocks[0]
    assert blocks[1].startswith("./setup.sh --system && ")
    test_command = blocks[1].split("&& ", 1)[1]
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "./setup.sh --system" in ci
    assert test_command in ci.splitlines()


def test_built_workbook_is_a_zip_with_workbook_part(mini_workbook: Path) -> None:
    with zipfile.ZipFile(mini_workbook) as zf:
        assert zf.testzip() is None
        assert "xl/workbook.xml" in zf.namelist()


def test_validate_write_fills_problems_with_links_and_logs(
        mini_workbook: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import openpyxl

    rewrite_part(mini_workbook, sheet_part(mini_workbook, "Receipts"),
                 lambda xml: xml.replace("<v>30000</v>", '<v>-30000</v>', 1))
    before = {n: d for n, d in _parts(mini_workbook).items() if "sheet" not in n or
              n.endswith(("sheet2.xml", "sheet6.xml"))}
    assert main(["validate", str(mini_workbook), "--write"]) == 1
    wb = openpyxl.load_workbook(mini_workbook)
    problems = wb["Problems"]
    assert problems["A1"].value.startswith("数据问题 Problems — 1 个错误 errors, 0 个警告")
    assert [c.value for c in problems[3]] == [
        "错误 error", "Receipts!E2",
        "金额 -30000 is negative: amounts and counts must be 0 or more"]
    assert problems["B3"].hyperlink.location == "'Receipts'!E2"
    log_rows = [[c.value for c in row] for row in wb["Log"].iter_rows(min_row=2)]
    assert any(r[1] == "validate" and r[3] == "1 errors, 0 warnings" for r in log_rows)
    after = _parts(mini_workbook)
    for name in ("xl/worksheets/sheet2.xml", "xl/worksheets/sheet6.xml", "xl/vbaProject.bin",
                 "customUI/customUI.xml", "xl/sharedStrings.xml"):
        assert after[name] == before[name], name
    assert (mini_workbook.parent / ".backups").is_dir()


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i.filename) for i in zf.infolist()}
