"""contract_tracker.cli: commands, exit codes, and no traceback ever reaching the user."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from contract_tracker.cli import BUNDLED_WORKBOOK, REPO_ROOT, main
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


def test_generate_writes_contracts_and_logs_each_with_hashes(
        mini_workbook: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import hashlib

    import docx
    import openpyxl

    out = tmp_path / "out"
    assert main(["generate", str(mini_workbook), "--contract", "HT-2026-001",
                 "--out", str(out)]) == 0
    [made] = sorted(out.glob("*.docx"))
    assert made.name == "HT-2026-001_杭州优品电子商务有限公司.docx"
    text = "\n".join(p.text for p in docx.Document(str(made)).paragraphs)
    assert "杭州优品电子商务有限公司" in text and "人民币壹拾万元整" in text
    log = [[c.value for c in row] for row in openpyxl.load_workbook(mini_workbook)["Log"]
           .iter_rows(min_row=2)]
    [entry] = [r for r in log if r[1] == "generate"]
    assert entry[4] == str(made)
    assert hashlib.sha256(made.read_bytes()).hexdigest() in entry[3]
    assert "template contract_zh.docx sha256 " in entry[3]


def test_generate_needs_a_selection(mini_workbook: Path) -> None:
    assert main(["generate", str(mini_workbook)]) == 1


def test_generate_refuses_signed_contract_unless_forced(
        mini_workbook: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["generate", str(mini_workbook), "--contract", "HT-2026-002",
                 "--out", str(out)]) == 0
    # The client moves: the contract's text changes, but it is signed.
    rewrite_part(mini_workbook, "xl/sharedStrings.xml",
                 lambda xml: xml.replace("深圳市南山区科技园", "深圳市南山区科技园一号", 1))
    capsys.readouterr()
    assert main(["generate", str(mini_workbook), "--contract", "HT-2026-002",
                 "--out", str(out)]) == 1
    assert "--force" in capsys.readouterr().out
    assert main(["generate", str(mini_workbook), "--contract", "HT-2026-002", "--force",
                 "--out", str(out)]) == 0
    assert len(list(out.glob("*.docx"))) == 2  # the new one and the old one, kept


def test_check_template_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from docx import Document

    assert main(["check-template", str(REPO_ROOT / "templates" / "contract_zh.docx")]) == 0
    bad = tmp_path / "bad.docx"
    doc = Document()
    doc.add_paragraph("{{ client.adress }} {{ contract.total_fee }}")
    doc.save(str(bad))
    capsys.readouterr()
    assert main(["check-template", str(bad), "--kind", "contract"]) == 1
    assert "client.adress" in capsys.readouterr().out
    junk = tmp_path / "junk.docx"
    junk.write_bytes(b"not a zip")
    assert main(["check-template", str(junk)]) == 2


def test_penalties_json_is_one_object_with_money_as_two_decimal_strings(
        mini_workbook: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import re

    assert main(["penalties", str(mini_workbook), "--as-of", "2026-06-30", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["as_of"] == "2026-06-30"
    assert set(data) >= {"late_fees", "sla", "availability", "totals", "problems"}
    # HT-2026-002-1: 240,000.50 due 2026-03-31, 100,000.00 paid 04-10 (no installment named),
    # but the contract is exempt: overdue, no fee.
    [inst] = [f for f in data["late_fees"] if f["installment_id"] == "HT-2026-002-1"]
    assert inst["due_date"] == "2026-03-31" and inst["fee"] == "0.00"
    assert inst["outstanding"] == "140000.50"
    for f in data["late_fees"]:
        for key in ("amount", "outstanding", "fee"):
            assert re.fullmatch(r"-?\d+\.\d{2}", f[key]), (key, f[key])


def test_penalties_write_fills_workings(mini_workbook: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    import openpyxl

    assert main(["penalties", str(mini_workbook), "--as-of", "2026-06-30", "--write"]) == 0
    ws = openpyxl.load_workbook(mini_workbook)["Workings"]
    assert ws["A1"].value.startswith("计算过程 Workings — 截至 as of 2026-06-30")
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    # The prepayment of HT-2026-001 is due 10 working days after 2026-01-05 (Mon), that is
    # 2026-01-19; paid on 01-20: one day late, 30,000.00 × 0.0005 × 1 = 15.00. HT-2026-002
    # is exempt: its late parts (paid 04-10: 10 days; open at 06-30: 91 days) cost 0.
    fees = [r for r in rows if r[0] == "滞纳金 late_fee"]
    assert [(r[2], r[4], r[7], r[9]) for r in fees] == [
        ("HT-2026-001-1", 30000, 1, 15), ("HT-2026-002-1", 100000, 10, 0),
        ("HT-2026-002-1", 140000.5, 91, 0)]
    assert "Receipts!E2" in fees[0][11]
    assert {"可用性 availability", "SLA 响应 response"} <= {r[0] for r in rows}
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


def test_build_workbook_command_reproduces_the_committed_workbook(tmp_path: Path) -> None:
    out = tmp_path / "contracts.xlsm"
    assert main(["build-workbook", "--out", str(out)]) == 0
    assert out.read_bytes() == (REPO_ROOT / "workbook" / "contracts.xlsm").read_bytes()


def test_sample_command_and_empty_workbook(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", "--size", "small", "--out", str(tmp_path / "s.xlsm")]) == 0
    assert "24 clients, 32 contracts" in capsys.readouterr().out
    assert main(["build-workbook", "--empty", "--out", str(tmp_path / "e.xlsm")]) == 0
    assert main(["validate", str(tmp_path / "e.xlsm")]) == 0  # empty is valid (warnings)


def test_demo_runs_refresh_generate_and_report_on_a_copy(tmp_path: Path) -> None:
    import docx
    import openpyxl

    from contract_tracker.reader import load_book

    bundled = (REPO_ROOT / "workbook" / "contracts.xlsm").read_bytes()
    assert main(["demo", "--out", str(tmp_path)]) == 0
    assert (REPO_ROOT / "workbook" / "contracts.xlsm").read_bytes() == bundled
    book, _ = load_book(tmp_path / "contracts.xlsm")
    assert book is not None
    dashboard = openpyxl.load_workbook(tmp_path / "contracts.xlsm", read_only=True)["Dashboard"]
    assert "2026-11-25" in str(dashboard["A1"].value) + str(dashboard["A2"].value)
    made = sorted((tmp_path / "contracts").glob("*.docx"))
    assert len(made) == len(book.contracts)
    first = book.contracts[0]
    client = next(c for c in book.clients if c.client_id == first.client_id)
    text = "\n".join(p.text for p in docx.Document(
        next(p for p in made if p.name.startswith(first.contract_id))).paragraphs)
    assert client.name in text and "{{" not in text
    week = tmp_path / "reports" / "2026-W47"
    assert (week / "overdue-report_2026-W47.xlsx").stat().st_size > 0
    assert list((week / "mail").glob("*.eml")) and list((week / "letters").glob("*.docx"))


def test_unexpected_failure_is_one_line_and_logged_beside_the_workbook(
        mini_workbook: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import contract_tracker.cli as cli

    def boom(args: object) -> int:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cli, "cmd_inspect", boom)
    assert main(["inspect", str(mini_workbook)]) == 2
    err = capsys.readouterr().err
    log = mini_workbook.parent / "contract-tracker-error.log"
    assert err.strip() == (f"contract-tracker failed: RuntimeError: disk on fire. "
                           f"Details were written to {log}")
    assert "Traceback" in log.read_text(encoding="utf-8")
    assert "disk on fire" in log.read_text(encoding="utf-8")


def test_penalties_table_lists_each_problem_once(
        mini_workbook: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rewrite_part(mini_workbook, sheet_part(mini_workbook, "Receipts"),
                 lambda xml: xml.replace("<v>30000</v>", "<v>3000000</v>", 1))
    main(["penalties", str(mini_workbook), "--as-of", "2026-06-30"])
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "Receipts!E2" in line]
    assert lines, out
    assert len(lines) == len({line.split("Receipts!E2", 1)[1] for line in lines}), lines


@pytest.mark.parametrize(("text", "said"), [
    ("2026-02-30", "2026-02-30 is not a day: 2026-02 has 28 days"),
    ("2028-02-30", "2028-02-30 is not a day: 2028-02 has 29 days"),
    ("30.11.2026", "'30.11.2026' is not a date: use YYYY-MM-DD, e.g. 2026-11-30"),
])
def test_a_bad_as_of_date_says_what_is_wrong(text: str, said: str, capsys: Any) -> None:
    """Found in review: --as-of 2026-02-30 answered 'invalid fromisoformat value'."""
    with pytest.raises(SystemExit) as exit_:
        main(["penalties", str(BUNDLED_WORKBOOK), "--as-of", text])
    assert exit_.value.code == 2
    assert said in capsys.readouterr().err


def test_an_as_of_date_after_today_is_allowed_with_a_warning(
        tmp_path: Path, capsys: Any) -> None:
    later = dt.date.today() + dt.timedelta(days=30)
    code = main(["penalties", str(BUNDLED_WORKBOOK), "--as-of", later.isoformat(), "--json"])
    out, err = capsys.readouterr()
    assert code in (0, 1) and json.loads(out)["as_of"] == later.isoformat()  # JSON stays clean
    assert f"warning: as of {later} is after today ({dt.date.today()})" in err
    main(["penalties", str(BUNDLED_WORKBOOK), "--as-of", dt.date.today().isoformat(), "--json"])
    assert "after today" not in capsys.readouterr().err


@pytest.mark.parametrize("command", ["generate", "report"])
def test_an_output_folder_that_is_a_file_is_refused_plainly(
        command: str, tmp_path: Path, capsys: Any) -> None:
    """Found in review: generate --out FILE crashed with FileExistsError and a traceback."""
    taken = tmp_path / "outfile"
    taken.write_text("not a folder")
    extra = ["--all"] if command == "generate" else ["--week", "2026-W47"]
    assert main([command, str(BUNDLED_WORKBOOK), *extra, "--out", str(taken / "sub")]) == 2
    err = capsys.readouterr().err
    assert f"nothing written: {taken} is a file, not a folder" in err and "Traceback" not in err
    assert taken.read_text() == "not a folder"


@pytest.mark.parametrize("command", ["penalties", "dashboard", "refresh", "report"])
def test_reading_errors_make_every_command_exit_1(
        command: str, tmp_path: Path, capsys: Any) -> None:
    """Found in review: an edit meant for report dropped reading errors from penalties'
    exit code, so a skipped receipt went unnoticed by scripts checking it."""
    import openpyxl

    book = tmp_path / "bad.xlsm"
    wb = openpyxl.load_workbook(BUNDLED_WORKBOOK, keep_vba=True)
    ws = wb["Receipts"]
    amount = next(c.column for c in ws[1] if str(c.value).endswith("(amount)"))
    ws.cell(2, amount).value = "abc"
    wb.save(book)
    extra = {"penalties": ["--as-of", "2026-11-22"], "dashboard": ["--as-of", "2026-11-22"],
             "refresh": ["--as-of", "2026-11-22"],
             "report": ["--week", "2026-W47", "--out", str(tmp_path / "out")]}[command]
    assert main([command, str(book), *extra]) == 1
    assert "Receipts!" in capsys.readouterr().out


def test_inspect_tells_late_fees_received_or_waived_from_money_received(
        capsys: pytest.CaptureFixture[str]) -> None:
    # The bundled workbook settles three fees: 1,197.00 + 661.50 received, 1,122.00 waived
    # (inspect only reads it).
    assert main(["inspect", str(BUNDLED_WORKBOOK)]) == 0
    out = capsys.readouterr().out
    assert "; late fees received ¥1,858.50, waived ¥1,122.00" in out
