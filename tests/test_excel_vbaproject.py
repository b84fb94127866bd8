"""contract_tracker.excel.vbaproject: MS-OVBA compression, obfuscation, CFB and project.

The writer is checked against three independent readers (oletools' olevba and its
decompressor, olefile) and against the Excel-made project shipped in xlwings'
``quickstart_standalone.xlsm`` (record order and values of its dir stream, the stored
form of its document and class modules, its obfuscated protection fields).
"""

from __future__ import annotations

import random
import re
import struct
import zipfile
from pathlib import Path

import olefile
import pytest
import xlwings
from hypothesis import given, settings
from hypothesis import strategies as st
from oletools.olevba import VBA_Parser, decompress_stream

from contract_tracker.excel.vbaproject import (
    DEFAULT_REFERENCES,
    CfbStorage,
    DocumentBase,
    ModuleKind,
    VbaModule,
    build_vba_project,
    compress,
    decompress,
    decrypt_project_data,
    encrypt_project_data,
    normalize_newlines,
    write_compound_file,
)

XLWINGS_DIR = Path(xlwings.__file__).parent
XLWINGS_BAS = (XLWINGS_DIR / "xlwings.bas").read_bytes()
DICTIONARY_CLS = (XLWINGS_DIR / "addin" / "Dictionary.cls").read_bytes().decode("cp1252")


def excel_made_project() -> bytes:
    """The vbaProject.bin of xlwings' standalone quickstart workbook (made by Excel)."""
    with zipfile.ZipFile(XLWINGS_DIR / "quickstart_standalone.xlsm") as zf:
        return zf.read("xl/vbaProject.bin")


def streams(project: bytes) -> dict[str, bytes]:
    with olefile.OleFileIO(project) as ole:
        return {"/".join(p): ole.openstream(p).read() for p in ole.listdir()}


def dir_records(project: bytes) -> list[tuple[int, bytes]]:
    """The records of the decompressed dir stream as (id, payload)."""
    data = decompress(streams(project)["VBA/dir"])
    records = []
    pos = 0
    while pos < len(data):
        record_id, size = struct.unpack_from("<HI", data, pos)
        if record_id == 0x0009:  # PROJECTVERSION: Reserved=4, then 4 + 2 bytes
            records.append((record_id, data[pos + 6:pos + 12]))
            pos += 12
            continue
        records.append((record_id, data[pos + 6:pos + 6 + size]))
        pos += 6 + size
    assert pos == len(data)
    return records


def read_back(project: bytes) -> dict[str, str]:
    """Module name -> source, as olevba reads them."""
    parser = VBA_Parser("vbaProject.bin", data=project)
    try:
        return {path.split("/")[-1]: code for _, path, _, code in parser.extract_macros()}
    finally:
        parser.close()


def sample_modules() -> list[VbaModule]:
    return [
        VbaModule.document("ThisWorkbook", DocumentBase.WORKBOOK),
        VbaModule.document("shData", DocumentBase.WORKSHEET,
                           "Private Sub Worksheet_Activate()\r\nEnd Sub\r\n"),
        VbaModule.from_bas('Attribute VB_Name = "Tools"\nSub Hello()\n  MsgBox "hi"\nEnd Sub\n'),
        VbaModule.from_bas(XLWINGS_BAS.decode("cp1252")),
        VbaModule.from_cls(DICTIONARY_CLS),
    ]


# --- compression -------------------------------------------------------------------------

SPEC_EXAMPLES = [  # MS-OVBA 3.2.1, 3.2.2 and 3.2.3
    (b"abcdefghijklmnopqrstuv.",
     "01 19 B0 00 61 62 63 64 65 66 67 68 00 69 6A 6B 6C 6D 6E 6F 70 00 71 72 73 74 75 76 2E"),
    (b"#aaabcdefaaaaghijaaaaaklaaamnopqaaaaaaaaaaaarstuvwxyzaaa",
     "01 2F B0 00 23 61 61 61 62 63 64 65 82 66 00 70 61 67 68 69 6A 01 38 08 61 6B 6C 00 20"
     " 6D 6E 6F 70 06 71 02 70 04 00 72 73 74 75 76 10 77 78 79 7A 00 2C"),
    (b"a" * 73, "01 03 B0 02 61 45 00"),
]


@pytest.mark.parametrize(("plain", "packed"), SPEC_EXAMPLES)
def test_compression_reproduces_the_spec_examples(plain: bytes, packed: str) -> None:
    assert compress(plain) == bytes.fromhex(packed)
    assert decompress(bytes.fromhex(packed)) == plain


def round_trips(data: bytes) -> None:
    packed = compress(data)
    assert decompress(packed) == data
    assert bytes(decompress_stream(bytearray(packed))) == data


@pytest.mark.parametrize("length", [1, 2, 3, 8, 9, 4093, 4095, 4096, 4097, 8192, 8193, 12345])
def test_compression_round_trips_across_chunk_boundaries(length: int) -> None:
    text = (XLWINGS_BAS * 2)[:length]
    round_trips(text)
    round_trips(b"x" * length)


def test_the_xlwings_module_round_trips() -> None:
    assert len(XLWINGS_BAS) > 40_000  # many 4 KB chunks
    round_trips(XLWINGS_BAS)
    assert len(compress(XLWINGS_BAS)) < len(XLWINGS_BAS) / 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"b", b" ", b"\r\n", b"Dim ", b"End Sub", b"\x00",
                                 b"\xe9"]), max_size=3000).map(b"".join))
def test_compression_round_trips_any_text(data: bytes) -> None:
    round_trips(data)


def test_incompressible_full_chunks_are_stored_raw() -> None:
    data = random.Random(6).randbytes(8192)
    packed = compress(data)
    assert int.from_bytes(packed[1:3], "little") == 0x3FFF  # raw chunk header
    round_trips(data)


def test_an_incompressible_short_final_chunk_is_refused() -> None:
    # Neither tokens (4000 literals need 4500 bytes) nor a raw chunk (always 4096
    # bytes) can hold it; VBA source never comes near this.
    with pytest.raises(ValueError, match="cannot be encoded"):
        compress(random.Random(6).randbytes(4000))


@pytest.mark.parametrize("bad", [b"", b"\x02abc", b"\x01\x00\x00", b"\x01\x02\xb0\x01\x00\x00",
                                 b"\x01\xff\x3f" + b"x" * 10])
def test_decompress_refuses_malformed_containers(bad: bytes) -> None:
    with pytest.raises(ValueError):
        decompress(bad)


# --- obfuscation of CMG / DPB / GC -------------------------------------------------------

def test_decryption_reads_what_excel_wrote() -> None:
    text = streams(excel_made_project())["PROJECT"].decode("cp1252")
    project_id = re.search(r'^ID="(\{[0-9A-F-]+\})"', text, re.MULTILINE)
    assert project_id is not None

    def field(key: str) -> str:
        match = re.search(rf'^{key}="([0-9A-F]+)"', text, re.MULTILINE)
        assert match is not None
        return match.group(1)

    assert decrypt_project_data(project_id.group(1), field("CMG")) == bytes(4)
    assert decrypt_project_data(project_id.group(1), field("DPB")) == b"\x00"
    assert decrypt_project_data(project_id.group(1), field("GC")) == b"\xff"


@pytest.mark.parametrize("seed", range(0, 256, 7))
def test_obfuscation_round_trips(seed: int) -> None:
    project_id = "{12345678-ABCD-4EF0-8123-456789ABCDEF}"
    for data in (bytes(4), b"\x00", b"\xff"):
        text = encrypt_project_data(project_id, data, seed, b"\x11\x22\x33")
        assert decrypt_project_data(project_id, text) == data
        with pytest.raises(ValueError):
            decrypt_project_data("{00000000-0000-0000-0000-000000000001}", text)


# --- compound file -----------------------------------------------------------------------

RED, BLACK = 0, 1  # MS-CFB 2.6.1 colour flags


def cfb_key(name: str) -> tuple[int, str]:
    return (len(name), name.upper())


def check_sibling_trees(ole: olefile.OleFileIO) -> None:
    """MS-CFB 2.6.4: sorted binary trees, no red-red, equal black heights, black root."""
    entries = ole.direntries

    def walk(sid: int, parent_red: bool) -> tuple[int, list[str]]:
        if sid == olefile.NOSTREAM:
            return 0, []
        entry = entries[sid]
        red = entry.color == RED
        assert not (red and parent_red)
        left_height, left = walk(entry.sid_left, red)
        right_height, right = walk(entry.sid_right, red)
        assert left_height == right_height
        assert all(cfb_key(n) < cfb_key(entry.name) for n in left)
        assert all(cfb_key(n) > cfb_key(entry.name) for n in right)
        return left_height + (0 if red else 1), [*left, entry.name, *right]

    for entry in entries:
        if entry is not None and entry.sid_child != olefile.NOSTREAM:
            assert entries[entry.sid_child].color == BLACK
            walk(entry.sid_child, False)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 8, 40])
def test_compound_file_opens_in_olefile(count: int) -> None:
    sizes = [0, 1, 63, 64, 65, 4095, 4096, 4097, 20_000]
    root = CfbStorage()
    inner = CfbStorage()
    expected: dict[str, bytes] = {}
    for i in range(count):
        data = bytes([i % 251]) * sizes[i % len(sizes)]
        inner.children[f"S{i}"] = data
        expected[f"Store/S{i}"] = data
    root.children["Store"] = inner
    root.children["top"] = b"top level"
    expected["top"] = b"top level"
    blob = write_compound_file(root)
    assert len(blob) % 512 == 0
    assert olefile.isOleFile(data=blob)
    with olefile.OleFileIO(blob, raise_defects=olefile.DEFECT_INCORRECT) as ole:
        assert {"/".join(p): ole.openstream(p).read() for p in ole.listdir()} == expected
        check_sibling_trees(ole)


def test_compound_file_refuses_what_needs_difat_sectors() -> None:
    with pytest.raises(ValueError, match="DIFAT"):
        write_compound_file(CfbStorage({"big": bytes(7_200_000)}))


def test_compound_file_refuses_bad_names() -> None:
    with pytest.raises(ValueError):
        write_compound_file(CfbStorage({"a/b": b"x"}))
    with pytest.raises(ValueError):
        write_compound_file(CfbStorage({"abc": b"x", "ABC": b"y"}))


# --- modules -----------------------------------------------------------------------------

def test_document_modules_are_stored_as_excel_stores_them() -> None:
    excel = read_back(excel_made_project())
    assert VbaModule.document("ThisWorkbook", DocumentBase.WORKBOOK).code == excel["ThisWorkbook"]
    assert VbaModule.document("Sheet1", DocumentBase.WORKSHEET).code == excel["Sheet1"]


def test_class_import_gives_the_header_excel_stores() -> None:
    ours = VbaModule.from_cls(DICTIONARY_CLS).code.split("\r\n")
    excel = read_back(excel_made_project())["Dictionary"].split("\r\n")
    attributes = excel[:next(i for i, line in enumerate(excel)
                             if not line.startswith("Attribute "))]
    assert len(attributes) == 9  # VB_Name, VB_Base, ..., VB_Customizable, VB_Description
    assert ours[:len(attributes)] == attributes
    # Excel's copy differs only in identifier case, which the VBA editor normalises
    # (err.Raise -> Err.Raise) when it compiles.
    assert [line.lower() for line in ours] == [line.lower() for line in excel]


def test_module_sources_are_normalised_to_crlf() -> None:
    module = VbaModule.from_bas('Attribute VB_Name = "M"\nSub A()\rEnd Sub')
    assert module.code == 'Attribute VB_Name = "M"\r\nSub A()\r\nEnd Sub\r\n'
    assert normalize_newlines("a\r\n\r\n") == "a\r\n\r\n"


@pytest.mark.parametrize(("name", "code"), [
    ("1abc", 'Attribute VB_Name = "1abc"\r\n'),
    ("a" * 32, f'Attribute VB_Name = "{"a" * 32}"\r\n'),
    ("合同", 'Attribute VB_Name = "合同"\r\n'),
    ("Good", 'Attribute VB_Name = "Other"\r\n'),
    ("Good", "Sub A()\r\nEnd Sub\r\n"),
])
def test_invalid_modules_are_refused(name: str, code: str) -> None:
    with pytest.raises(ValueError):
        VbaModule(name, ModuleKind.STANDARD, code)


# --- the project -------------------------------------------------------------------------

def test_olevba_reads_every_module_back_exactly() -> None:
    modules = sample_modules()
    assert read_back(build_vba_project("VBAProject", modules)) == {
        m.name: m.code for m in modules}


def test_builds_are_byte_identical_and_depend_on_the_sources() -> None:
    modules = sample_modules()
    first = build_vba_project("VBAProject", modules)
    assert build_vba_project("VBAProject", sample_modules()) == first
    changed = [*modules[:2], VbaModule.from_bas('Attribute VB_Name = "Tools"\r\n'),
               *modules[3:]]
    assert build_vba_project("VBAProject", changed) != first


def test_the_project_is_source_only() -> None:
    project = build_vba_project("VBAProject", sample_modules())
    parts = streams(project)
    assert sorted(parts) == sorted(["PROJECT", "PROJECTwm", "VBA/_VBA_PROJECT", "VBA/dir",
                                    *(f"VBA/{m.name}" for m in sample_modules())])
    # MS-OVBA 2.3.4.1: version 0xFFFF and no performance cache; so is Excel's sample.
    assert parts["VBA/_VBA_PROJECT"] == bytes.fromhex("cc61ffff000100")
    assert streams(excel_made_project())["VBA/_VBA_PROJECT"] == parts["VBA/_VBA_PROJECT"]
    offsets = [payload for record_id, payload in dir_records(project) if record_id == 0x0031]
    assert offsets == [bytes(4)] * len(sample_modules())
    for module in sample_modules():
        assert decompress(parts[f"VBA/{module.name}"]).decode("cp1252") == module.code


def record_shape(records: list[tuple[int, bytes]]) -> tuple[list[int], list[list[int]]]:
    """(ids of the PROJECTINFORMATION records, ids of each MODULE record)."""
    ids = [record_id for record_id, _ in records]
    info = ids[:ids.index(0x0016)]  # up to the first reference name
    modules: list[list[int]] = []
    for record_id in ids[ids.index(0x0013) + 1:]:
        if record_id == 0x0019:
            modules.append([])
        if modules:
            modules[-1].append(record_id)
    return info, modules


def test_dir_stream_follows_the_excel_made_project() -> None:
    ours = dir_records(build_vba_project("VBAProject", sample_modules()))
    excel = dir_records(excel_made_project())
    our_info, our_modules = record_shape(ours)
    excel_info, excel_modules = record_shape(excel)
    assert our_info == excel_info
    assert ours[-1] == excel[-1] == (0x0010, b"")

    def shapes(modules: list[list[int]]) -> set[tuple[int, ...]]:
        return {tuple(m) for m in modules}

    assert shapes(our_modules) == shapes(excel_modules)  # standard (0x21) and other (0x22)
    values = {0x0001, 0x0002, 0x0014, 0x0003, 0x0004}  # syskind, lcids, code page, name
    assert [r for r in ours if r[0] in values] == [r for r in excel if r[0] in values]
    office = [payload for record_id, payload in excel if record_id == 0x000D]
    assert [p for i, p in ours if i == 0x000D][-1] == office[-1]  # the Office reference
    names = [p.decode("cp1252") for i, p in ours if i == 0x0016]
    assert names == [ref.name for ref in DEFAULT_REFERENCES]
    module_types = [i for i, _ in ours if i in (0x0021, 0x0022)]
    assert module_types == [0x0022, 0x0022, 0x0021, 0x0021, 0x0022]


def test_project_stream_declares_the_modules_and_is_unprotected() -> None:
    project = build_vba_project("VBAProject", sample_modules())
    text = streams(project)["PROJECT"].decode("cp1252")
    lines = text.split("\r\n")
    project_id = lines[0].removeprefix('ID="').removesuffix('"')
    assert re.fullmatch(r"\{[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}\}", project_id)
    assert lines[1:6] == ["Document=ThisWorkbook/&H00000000", "Document=shData/&H00000000",
                          "Module=Tools", "Module=xlwings", "Class=Dictionary"]
    assert 'Name="VBAProject"' in lines
    fields = dict(line.split("=", 1) for line in lines if line[:4] in ("CMG=", "DPB=", "GC=\""))
    assert decrypt_project_data(project_id, fields["CMG"].strip('"')) == bytes(4)
    assert decrypt_project_data(project_id, fields["DPB"].strip('"')) == b"\x00"
    assert decrypt_project_data(project_id, fields["GC"].strip('"')) == b"\xff"
    excel = streams(excel_made_project())["PROJECT"].decode("cp1252").split("\r\n")
    host = excel.index("[Host Extender Info]")
    assert lines[lines.index("[Host Extender Info]"):][:2] == excel[host:host + 2]
    assert text.endswith("\r\n\r\n")
    name_map = streams(project)["PROJECTwm"]
    assert name_map == b"".join(
        m.name.encode() + b"\0" + m.name.encode("utf-16-le") + b"\0\0"
        for m in sample_modules()) + b"\0\0"


def test_project_id_stays_when_only_the_sources_change() -> None:
    def project_id(modules: list[VbaModule]) -> bytes:
        return streams(build_vba_project("VBAProject", modules))["PROJECT"].split(b"\r\n")[0]

    modules = sample_modules()
    edited = [*modules[:2], VbaModule.from_bas('Attribute VB_Name = "Tools"\r\n'),
              *modules[3:]]
    assert project_id(edited) == project_id(modules)
    assert project_id(modules[:-1]) != project_id(modules)


@pytest.mark.parametrize(("project_name", "names"), [
    ("VBAProject", ["Tools", "TOOLS"]),
    ("Tools", ["Tools"]),
    ("VBA Project", ["Tools"]),
])
def test_clashing_names_are_refused(project_name: str, names: list[str]) -> None:
    modules = [VbaModule.from_bas(f'Attribute VB_Name = "{n}"\r\n') for n in names]
    with pytest.raises(ValueError):
        build_vba_project(project_name, modules)


def test_source_outside_the_code_page_is_refused() -> None:
    module = VbaModule.from_bas(
        'Attribute VB_Name = "Tools"\r\nSub A()\r\n  MsgBox "合同"\r\nEnd Sub')
    with pytest.raises(ValueError, match="keep VBA source ASCII"):
        build_vba_project("VBAProject", [module])
