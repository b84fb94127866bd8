"""Safe file names from contract numbers and client names, always inside the output folder."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pathvalidate import is_valid_filename

from contract_tracker.docgen.filenames import (
    MAX_NAME_BYTES,
    clean_component,
    contract_stem,
    path_inside,
    plan_names,
    safe_filename,
)


def _valid_everywhere(name: str) -> bool:
    return all(is_valid_filename(name, platform=p) for p in ("windows", "linux", "macos"))


@pytest.mark.parametrize(("stem", "ext", "expected"), [
    ("CON", ".docx", "_CON.docx"),
    ("con", ".docx", "_con.docx"),
    ("AUX ", ".docx", "_AUX.docx"),
    ("AUX .docx", "", "_AUX .docx"),  # Windows opens the AUX device for "AUX .docx"
    ("nul.txt", ".docx", "_nul.txt.docx"),
    ("CONIN$", ".docx", "_CONIN$.docx"),
    ("conout$", ".docx", "_conout$.docx"),
    ("COM1", ".docx", "_COM1.docx"),
    ("LPT9", ".docx", "_LPT9.docx"),
    ("COM¹", ".docx", "_COM¹.docx"),
    ("CONSOLE", ".docx", "CONSOLE.docx"),
    ("COM10", ".docx", "COM10.docx"),
    ("~$合同", ".docx", "_~$合同.docx"),
])
def test_windows_reserved_names(stem: str, ext: str, expected: str) -> None:
    assert safe_filename(stem, ext) == expected


@pytest.mark.parametrize(("stem", "expected"), [
    ("a/b", "a_b.docx"),
    ("a\\b", "a_b.docx"),
    ("../../etc/passwd", "_.._etc_passwd.docx"),
    ('a:b*c?"d"<e>|f', "a_b_c__d__e__f.docx"),
    ("line\nbreak\ttab", "line break tab.docx"),
    ("ctl\x00\x07\x1fchars\x7f", "ctlchars.docx"),
    ("合同\u202excod.exe", "合同xcod.exe.docx"),  # right-to-left override removed
    ("zero\u200bwidth\ufeff", "zerowidth.docx"),
    ("  spaced   out  ", "spaced out.docx"),
    ("trailing. . ", "trailing.docx"),
    ("全角　空格", "全角 空格.docx"),
    ("R&D <Ltd>", "R&D _Ltd_.docx"),
    ("=HYPERLINK(\"x\")", "=HYPERLINK(_x_).docx"),
])
def test_separators_control_and_bidi_characters(stem: str, expected: str) -> None:
    name = safe_filename(stem)
    assert name == expected
    assert _valid_everywhere(name)


@pytest.mark.parametrize("blank", ["", " ", "   ", ".", "..", "...", " . . ", "\u202e", "\x00",
                                   "___", "\t\n"])
def test_blank_and_dot_names_get_a_fallback(blank: str) -> None:
    assert safe_filename(blank) == "unnamed.docx"
    assert safe_filename(blank, fallback="contract") == "contract.docx"


def test_length_is_limited_in_bytes_without_cutting_a_character() -> None:
    name = safe_filename("电子商务" * 200)
    stem = name.removesuffix(".docx")
    assert len(stem.encode("utf-8")) <= MAX_NAME_BYTES
    assert set(stem) <= set("电子商务")
    assert name.endswith(".docx")
    assert _valid_everywhere(name)
    assert len(safe_filename("x" * 500)) == MAX_NAME_BYTES + len(".docx")


def test_contract_stem_keeps_the_id_when_the_client_name_is_long() -> None:
    stem = contract_stem("HT-2026-001", "某某" * 300)
    assert stem.startswith("HT-2026-001_某某")
    assert len(stem.encode()) <= MAX_NAME_BYTES
    assert contract_stem("HT-2026-001", "") == "HT-2026-001"
    assert contract_stem("HT-2026-001", " \u202e ") == "HT-2026-001"


def test_collisions_get_a_hash_of_the_contract_id() -> None:
    pairs = [("HT/1", "客户"), ("HT_1", "客户"), ("HT-2", "客户"), ("ht-2", "客户"),
             ("HT-3", "客户")]
    names = plan_names(pairs)
    assert len({n.casefold() for n in names.values()}) == len(pairs)
    assert names["HT-3"] == "HT-3_客户.docx"  # no collision: no suffix
    for cid in ("HT/1", "HT_1", "HT-2", "ht-2"):
        assert names[cid].startswith(safe_filename(contract_stem(cid, "客户"), "")[:4])
        assert len(names[cid].removesuffix(".docx").rsplit("_", 1)[1]) == 8
    # independent of the order and of which other contracts are listed
    assert plan_names(list(reversed(pairs))) == names


def test_a_hashed_name_equal_to_another_name_is_numbered() -> None:
    first = plan_names([("A/1", "x"), ("A_1", "x")])
    taken = first["A/1"].removesuffix(".docx")
    cid, client = taken.split("_", 1)
    names = plan_names([("A/1", "x"), ("A_1", "x"), (taken, "")])
    assert len({n.casefold() for n in names.values()}) == 3
    assert cid and client


def test_path_inside(tmp_path: Path) -> None:
    assert path_inside(tmp_path, "a.docx") == (tmp_path / "a.docx").resolve()
    for bad in ("../a.docx", "a/b.docx", "a\\b.docx", "..", ".", "", "x\x00.docx"):
        with pytest.raises(ValueError):
            path_inside(tmp_path, bad)


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
def test_path_inside_refuses_a_symlink_leading_out(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere.docx"
    elsewhere.write_text("x")
    (out / "link.docx").symlink_to(elsewhere)
    with pytest.raises(ValueError, match="outside"):
        path_inside(out, "link.docx")


def test_clean_component_normalises_to_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Café")
    assert clean_component(decomposed) == "Café"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.text(max_size=40))
def test_any_client_name_gives_a_safe_name_inside_the_folder(client: str, cid: str) -> None:
    out = Path("/tmp/ct-names-out")
    name = plan_names([(cid, client)])[cid]
    assert _valid_everywhere(name)
    assert name.endswith(".docx")
    assert len(name.encode("utf-8")) <= 255
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name)
    assert name.split(".")[0].rstrip(" ").upper() not in ("CON", "PRN", "AUX", "NUL")
    assert (out / name).resolve().parent == out.resolve()
