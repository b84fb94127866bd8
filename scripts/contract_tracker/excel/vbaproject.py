"""A deterministic writer of ``vbaProject.bin`` from VBA source, following MS-OVBA.

No Excel runs where the workbook is built, so the VBA project is written here from the
checked-in sources. The project is *source only*: the ``_VBA_PROJECT`` stream carries
version 0xFFFF and no performance cache, every module stream holds just its compressed
source (MODULEOFFSET 0), and no ``__SRP_*`` streams are written, so the host compiles the
project from source when it opens it (MS-OVBA 2.3.4.1). The layout follows what Excel
itself writes (checked against the Excel-made project in xlwings'
``quickstart_standalone.xlsm``):

- ``PROJECT`` (text, 2.3.1) and ``PROJECTwm`` (module name map, 2.3.3) at the root;
- storage ``VBA`` with ``_VBA_PROJECT`` (2.3.4.1), ``dir`` (compressed, 2.3.4.2) and one
  stream per module (2.3.4.3).

Everything is byte-reproducible: the project id is a name-based UUID of the project and
module names, the protection fields (CMG/DPB/GC, obfuscated per 2.4.3) use a seed derived
from that id, and the compound file (MS-CFB v3, 512-byte sectors) carries no timestamps.

The compound file writer is minimal (it writes, it never edits) and the compression
(2.4.1) is a greedy LZ77 over hash chains: any valid encoding decompresses to the same
source, and Excel reads the source, never the encoding choices.
"""

from __future__ import annotations

import enum
import hashlib
import re
import struct
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_REFERENCES",
    "CfbStorage",
    "DocumentBase",
    "ModuleKind",
    "Reference",
    "VbaModule",
    "build_vba_project",
    "compress",
    "decompress",
    "decrypt_project_data",
    "encrypt_project_data",
    "normalize_newlines",
    "write_compound_file",
]

# --------------------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,30}")
_VB_NAME = re.compile(r'Attribute VB_Name = "([^"]*)"')

#: VB_Base of a class module as the VBA editor stores it (MS-OVBA 2.3.4.2.3.2.8 and the
#: class modules in Excel-made projects).
CLASS_MODULE_BASE = "0{FCFB3D2A-A0FA-1068-A738-08002B3371B5}"


class ModuleKind(enum.Enum):
    """How a module is declared in the PROJECT stream (its value is the line's key)."""

    STANDARD = "Module"
    CLASS = "Class"
    DOCUMENT = "Document"


class DocumentBase(enum.Enum):
    """The host class a document module extends, as its ``VB_Base`` attribute names it."""

    WORKBOOK = "0{00020819-0000-0000-C000-000000000046}"
    WORKSHEET = "0{00020820-0000-0000-C000-000000000046}"


def normalize_newlines(text: str) -> str:
    """``text`` with every line ending as CRLF and a final CRLF, as VBA stores source."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return "".join(line + "\r\n" for line in lines)


@dataclass(frozen=True)
class VbaModule:
    """One module: its name, its kind and its source exactly as the project stores it.

    ``code`` starts with ``Attribute VB_Name = "<name>"`` (the stored form, not the
    exported .cls form: no ``VERSION``/``BEGIN`` header). Line endings are normalised to
    CRLF. Build modules with :meth:`from_bas`, :meth:`from_cls` or :meth:`document`.
    """

    name: str
    kind: ModuleKind
    code: str

    def __post_init__(self) -> None:
        if not _IDENTIFIER.fullmatch(self.name):
            raise ValueError(
                f"VBA module name {self.name!r} is not an ASCII identifier of at most "
                "31 characters (letter first, then letters, digits or _)")
        object.__setattr__(self, "code", normalize_newlines(self.code))
        first = self.code.split("\r\n", 1)[0]
        match = _VB_NAME.fullmatch(first)
        if match is None or match.group(1) != self.name:
            raise ValueError(
                f"module {self.name!r}: source must start with "
                f'Attribute VB_Name = "{self.name}", found {first!r}')

    @classmethod
    def from_bas(cls, text: str) -> VbaModule:
        """A standard module from the text of an exported ``.bas`` file."""
        code = normalize_newlines(text)
        match = _VB_NAME.fullmatch(code.split("\r\n", 1)[0])
        if match is None:
            raise ValueError('a .bas file must start with Attribute VB_Name = "..."')
        return cls(match.group(1), ModuleKind.STANDARD, code)

    @classmethod
    def from_cls(cls, text: str) -> VbaModule:
        """A class module from an exported ``.cls`` file, stored as the VBA editor does.

        Importing a class drops the ``VERSION 1.0 CLASS`` / ``BEGIN``...``END`` header and
        adds ``VB_Base``, ``VB_TemplateDerived`` and ``VB_Customizable`` to the leading
        attributes, in the order an Excel-made project shows them.
        """
        lines = normalize_newlines(text).split("\r\n")[:-1]
        if lines and lines[0].startswith("VERSION "):
            try:
                end = next(i for i, line in enumerate(lines) if line.strip() == "END")
            except StopIteration:
                raise ValueError(".cls header has VERSION/BEGIN but no END") from None
            lines = lines[end + 1:]
        attrs: dict[str, str] = {}
        extra: list[str] = []
        index = 0
        while index < len(lines) and lines[index].startswith("Attribute "):
            key, _, value = lines[index][len("Attribute "):].partition(" = ")
            if key in _CLASS_HEADER_ORDER:
                attrs[key] = value
            else:
                extra.append(lines[index])
            index += 1
        if "VB_Name" not in attrs:
            raise ValueError('a .cls file must declare Attribute VB_Name = "..."')
        defaults = {"VB_Base": f'"{CLASS_MODULE_BASE}"', "VB_GlobalNameSpace": "False",
                    "VB_Creatable": "False", "VB_PredeclaredId": "False",
                    "VB_Exposed": "False", "VB_TemplateDerived": "False",
                    "VB_Customizable": "False"}
        header = [f"Attribute {key} = {attrs.get(key, defaults.get(key, ''))}"
                  for key in _CLASS_HEADER_ORDER]
        name = attrs["VB_Name"].strip('"')
        return cls(name, ModuleKind.CLASS, "\r\n".join([*header, *extra, *lines[index:]]))

    @classmethod
    def document(cls, name: str, base: DocumentBase, body: str = "") -> VbaModule:
        """A document module (ThisWorkbook or a sheet) named by its codeName."""
        header = (f'Attribute VB_Name = "{name}"\r\n'
                  f'Attribute VB_Base = "{base.value}"\r\n'
                  "Attribute VB_GlobalNameSpace = False\r\n"
                  "Attribute VB_Creatable = False\r\n"
                  "Attribute VB_PredeclaredId = True\r\n"
                  "Attribute VB_Exposed = True\r\n"
                  "Attribute VB_TemplateDerived = False\r\n"
                  "Attribute VB_Customizable = True\r\n")
        return cls(name, ModuleKind.DOCUMENT, header + body)


_CLASS_HEADER_ORDER = ("VB_Name", "VB_Base", "VB_GlobalNameSpace", "VB_Creatable",
                       "VB_PredeclaredId", "VB_Exposed", "VB_TemplateDerived",
                       "VB_Customizable")


@dataclass(frozen=True)
class Reference:
    """A registered type library reference (REFERENCEREGISTERED, MS-OVBA 2.3.4.2.2.5)."""

    name: str
    libid: str


#: The references of a new Excel workbook's project (besides VBA and Excel, which the
#: host supplies): OLE Automation and the Office library, which defines IRibbonControl.
#: The Office libid is the one an Excel 365 project carries; the host resolves a
#: registered reference by its GUID, the path is informative.
DEFAULT_REFERENCES: tuple[Reference, ...] = (
    Reference("stdole", "*\\G{00020430-0000-0000-C000-000000000046}#2.0#0#"
                        "C:\\Windows\\System32\\stdole2.tlb#OLE Automation"),
    Reference("Office", "*\\G{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}#2.0#0#"
                        "C:\\Program Files\\Common Files\\Microsoft Shared\\OFFICE16\\MSO.DLL"
                        "#Microsoft Office 16.0 Object Library"),
)

# --------------------------------------------------------------------------------------
# Compression (MS-OVBA 2.4.1)
# --------------------------------------------------------------------------------------

_CHUNK = 4096
_MAX_CANDIDATES = 256  # hash-chain entries tried per position: bounds the work, not validity


def _copy_token_bits(difference: int) -> int:
    """Bits of a copy token's offset at ``difference`` bytes into the chunk (2.4.1.3.19.1)."""
    return max((difference - 1).bit_length(), 4)


def _compress_chunk(data: bytes, start: int, end: int) -> bytes:
    out = bytearray()
    chains: dict[bytes, list[int]] = {}
    pos = start

    indexed = start

    def remember(upto: int) -> None:
        """Enter the 3-byte prefixes of every position before ``upto`` in the chains."""
        nonlocal indexed
        while indexed < upto and indexed + 3 <= end:
            chains.setdefault(data[indexed:indexed + 3], []).append(indexed)
            indexed += 1

    while pos < end:
        flag_at = len(out)
        out.append(0)
        flags = 0
        for bit in range(8):
            if pos >= end:
                break
            best_len = 0
            best_at = 0
            if pos + 3 <= end:
                bit_count = _copy_token_bits(pos - start)
                max_len = min((0xFFFF >> bit_count) + 3, end - pos)
                candidates = chains.get(data[pos:pos + 3], ())
                for tried, cand in enumerate(reversed(candidates)):
                    if tried == _MAX_CANDIDATES or best_len == max_len:
                        break
                    if best_len and data[cand + best_len] != data[pos + best_len]:
                        continue
                    length = 3
                    while length < max_len and data[cand + length] == data[pos + length]:
                        length += 1
                    if length > best_len:
                        best_len, best_at = length, cand
            if best_len >= 3:
                bit_count = _copy_token_bits(pos - start)
                token = ((pos - best_at - 1) << (16 - bit_count)) | (best_len - 3)
                out += token.to_bytes(2, "little")
                flags |= 1 << bit
                pos += best_len
            else:
                out.append(data[pos])
                pos += 1
            remember(pos)
        out[flag_at] = flags
    if len(out) <= _CHUNK:
        header = 0xB000 | (len(out) + 2 - 3)
        return header.to_bytes(2, "little") + bytes(out)
    if end - start == _CHUNK:  # incompressible: a raw chunk (never happens for source text)
        return (0x3000 | (_CHUNK + 2 - 3)).to_bytes(2, "little") + data[start:end]
    raise ValueError("a final chunk this incompressible cannot be encoded (MS-OVBA 2.4.1)")


def compress(data: bytes) -> bytes:
    """``data`` as an MS-OVBA CompressedContainer (2.4.1.1.1)."""
    out = bytearray(b"\x01")
    for start in range(0, len(data), _CHUNK):
        out += _compress_chunk(data, start, min(start + _CHUNK, len(data)))
    return bytes(out)


def decompress(data: bytes) -> bytes:
    """The bytes of an MS-OVBA CompressedContainer; ValueError when it is malformed."""
    if not data or data[0] != 0x01:
        raise ValueError("not a compressed container: signature byte is not 0x01")
    out = bytearray()
    pos = 1
    while pos < len(data):
        if pos + 2 > len(data):
            raise ValueError(f"truncated chunk header at {pos}")
        header = int.from_bytes(data[pos:pos + 2], "little")
        if (header >> 12) & 0x7 != 0b011:
            raise ValueError(f"bad chunk signature at {pos}")
        chunk_end = min(pos + (header & 0x0FFF) + 3, len(data))
        pos += 2
        chunk_start = len(out)
        if not header & 0x8000:
            if pos + _CHUNK > len(data):
                raise ValueError("truncated raw chunk")
            out += data[pos:pos + _CHUNK]
            pos += _CHUNK
            continue
        while pos < chunk_end:
            flags = data[pos]
            pos += 1
            for bit in range(8):
                if pos >= chunk_end:
                    break
                if not flags >> bit & 1:
                    out.append(data[pos])
                    pos += 1
                    continue
                if pos + 2 > chunk_end:
                    raise ValueError(f"truncated copy token at {pos}")
                token = int.from_bytes(data[pos:pos + 2], "little")
                pos += 2
                bit_count = _copy_token_bits(len(out) - chunk_start)
                length = (token & (0xFFFF >> bit_count)) + 3
                offset = (token >> (16 - bit_count)) + 1
                source = len(out) - offset
                if source < chunk_start:
                    raise ValueError(f"copy token reaches before its chunk at {pos - 2}")
                for i in range(length):
                    out.append(out[source + i])
    return bytes(out)


# --------------------------------------------------------------------------------------
# Data obfuscation of the PROJECT stream's CMG, DPB and GC (MS-OVBA 2.4.3)
# --------------------------------------------------------------------------------------

def encrypt_project_data(project_id: str, data: bytes, seed: int, ignored: bytes) -> str:
    """``data`` obfuscated with the project id's key, as the hex text PROJECT stores.

    ``seed`` decides how many of the ``ignored`` filler bytes are used ((seed & 6) / 2).
    """
    version = 2
    key = sum(project_id.encode("ascii")) & 0xFF
    out = bytearray([seed & 0xFF, (seed ^ version) & 0xFF, (seed ^ key) & 0xFF])
    plain_1, enc_1, enc_2 = key, out[2], out[1]
    ignored_length = (seed & 6) // 2
    if len(ignored) < ignored_length:
        raise ValueError(f"need {ignored_length} filler bytes")
    for byte in (*ignored[:ignored_length], *len(data).to_bytes(4, "little"), *data):
        encrypted = byte ^ ((enc_2 + plain_1) & 0xFF)
        out.append(encrypted)
        enc_2, enc_1, plain_1 = enc_1, encrypted, byte
    return out.hex().upper()


def decrypt_project_data(project_id: str, text: str) -> bytes:
    """The data of an obfuscated CMG/DPB/GC value; ValueError if the key or length is off."""
    raw = bytes.fromhex(text)
    seed = raw[0]
    if raw[1] ^ seed != 2:
        raise ValueError("obfuscation version is not 2")
    key = raw[2] ^ seed
    if key != sum(project_id.encode("ascii")) & 0xFF:
        raise ValueError("obfuscated with another project id's key")
    plain_1, enc_1, enc_2 = key, raw[2], raw[1]
    plain = bytearray()
    for encrypted in raw[3:]:
        byte = encrypted ^ ((enc_2 + plain_1) & 0xFF)
        plain.append(byte)
        enc_2, enc_1, plain_1 = enc_1, encrypted, byte
    body = plain[(seed & 6) // 2:]
    length = int.from_bytes(body[:4], "little")
    if length != len(body) - 4:
        raise ValueError("obfuscated data length does not match")
    return bytes(body[4:])


# --------------------------------------------------------------------------------------
# Compound File Binary writer (MS-CFB, version 3)
# --------------------------------------------------------------------------------------

_SECTOR = 512
_MINI_SECTOR = 64
_MINI_CUTOFF = 4096
_ENTRIES_PER_FAT = _SECTOR // 4
_HEADER_DIFAT = 109
_FREESECT = 0xFFFFFFFF
_ENDOFCHAIN = 0xFFFFFFFE
_FATSECT = 0xFFFFFFFD
_NOSTREAM = 0xFFFFFFFF
_STORAGE, _STREAM, _ROOT = 1, 2, 5
_RED, _BLACK = 0, 1


@dataclass
class CfbStorage:
    """A storage of a compound file: named streams (bytes) and sub-storages."""

    children: dict[str, bytes | CfbStorage] = field(default_factory=dict)


@dataclass
class _Entry:
    name: str
    kind: int
    data: bytes = b""
    left: int = _NOSTREAM
    right: int = _NOSTREAM
    child: int = _NOSTREAM
    color: int = _BLACK
    start: int = _ENDOFCHAIN
    size: int = 0


def _cfb_key(name: str) -> tuple[int, str]:
    """The sibling order of MS-CFB 2.6.4: shorter names first, then by upper case."""
    return (len(name.encode("utf-16-le")), name.upper())


def _sibling_tree(entries: list[_Entry], ids: list[int]) -> int:
    """Link ``ids`` (sorted) as a balanced red-black tree; return the root's id.

    The tree is built by middle split, so all empty links lie on the last two levels;
    colouring the deepest level red when it is not full gives every path from the root
    the same number of black nodes, and no red node has a red child.
    """
    depth: dict[int, int] = {}

    def build(lo: int, hi: int, level: int) -> int:
        if lo > hi:
            return _NOSTREAM
        mid = (lo + hi) // 2
        node = ids[mid]
        depth[node] = level
        entries[node].left = build(lo, mid - 1, level + 1)
        entries[node].right = build(mid + 1, hi, level + 1)
        return node

    root = build(0, len(ids) - 1, 0)
    if not ids:
        return root
    deepest = max(depth.values())
    full = len(ids) == 2 ** (deepest + 1) - 1
    for node, level in depth.items():
        entries[node].color = _RED if level == deepest and not full else _BLACK
    _check_red_black(entries, root)
    return root


def _check_red_black(entries: list[_Entry], root: int) -> None:
    def black_height(node: int, parent_red: bool) -> int:
        if node == _NOSTREAM:
            return 0
        red = entries[node].color == _RED
        if red and parent_red:
            raise AssertionError("two consecutive red nodes")
        left = black_height(entries[node].left, red)
        if left != black_height(entries[node].right, red):
            raise AssertionError("unequal black heights")
        return left + (0 if red else 1)

    if entries[root].color != _BLACK:
        raise AssertionError("the root of a sibling tree must be black")
    black_height(root, False)


def _chain(fat: list[int], sectors: int) -> int:
    """Append a contiguous chain of ``sectors`` to ``fat``; return its first sector."""
    if sectors == 0:
        return _ENDOFCHAIN
    first = len(fat)
    fat.extend(range(first + 1, first + sectors))
    fat.append(_ENDOFCHAIN)
    return first


def _pad(data: bytes, unit: int) -> bytes:
    return data + b"\0" * (-len(data) % unit)


def write_compound_file(root: CfbStorage) -> bytes:
    """A version 3 compound file holding ``root``'s streams and storages.

    Streams under 4096 bytes go to the mini stream. Directory entry ids follow a
    pre-order walk with siblings in MS-CFB order, so the output depends only on the
    tree. Files needing more than 109 FAT sectors (about 6.8 MB) are refused.
    """
    entries: list[_Entry] = [_Entry("Root Entry", _ROOT)]

    def add(storage: CfbStorage, parent: int) -> None:
        names = sorted(storage.children, key=_cfb_key)
        ids: list[int] = []
        for name in names:
            if not 0 < len(name) <= 31 or any(c in name for c in "/\\:!"):
                raise ValueError(f"invalid compound file entry name {name!r}")
            child = storage.children[name]
            if isinstance(child, CfbStorage):
                entries.append(_Entry(name, _STORAGE))
            else:
                entries.append(_Entry(name, _STREAM, bytes(child), size=len(child)))
            ids.append(len(entries) - 1)
            if isinstance(child, CfbStorage):
                add(child, ids[-1])
        if len({_cfb_key(n) for n in names}) != len(names):
            raise ValueError("sibling names differ only in case")
        entries[parent].child = _sibling_tree(entries, ids)

    add(root, 0)

    fat: list[int] = []
    body: list[bytes] = []
    for entry in entries:
        if entry.kind == _STREAM and entry.size >= _MINI_CUTOFF:
            entry.start = _chain(fat, -(-entry.size // _SECTOR))
            body.append(_pad(entry.data, _SECTOR))

    mini_fat: list[int] = []
    mini_stream = bytearray()
    for entry in entries:
        if entry.kind == _STREAM and 0 < entry.size < _MINI_CUTOFF:
            entry.start = _chain(mini_fat, -(-entry.size // _MINI_SECTOR))
            mini_stream += _pad(entry.data, _MINI_SECTOR)
    entries[0].size = len(mini_stream)
    entries[0].start = _chain(fat, -(-len(mini_stream) // _SECTOR))
    body.append(_pad(bytes(mini_stream), _SECTOR))

    per_sector = _SECTOR // 128
    unused = -len(entries) % per_sector
    directory = b"".join(_directory_entry(e) for e in entries) + _unused_entry() * unused
    first_directory = _chain(fat, len(directory) // _SECTOR)
    body.append(directory)

    mini_fat += [_FREESECT] * (-len(mini_fat) % _ENTRIES_PER_FAT)
    mini_fat_bytes = b"".join(struct.pack("<I", v) for v in mini_fat)
    first_mini_fat = _chain(fat, len(mini_fat_bytes) // _SECTOR)
    body.append(mini_fat_bytes)

    fat_sectors = 0
    while fat_sectors * _ENTRIES_PER_FAT < len(fat) + fat_sectors:
        fat_sectors += 1
    if fat_sectors > _HEADER_DIFAT:
        raise ValueError("compound file too large for a FAT without DIFAT sectors")
    first_fat = len(fat)
    fat.extend([_FATSECT] * fat_sectors)
    fat.extend([_FREESECT] * (fat_sectors * _ENTRIES_PER_FAT - len(fat)))
    body.append(b"".join(struct.pack("<I", v) for v in fat))

    difat = [first_fat + i for i in range(fat_sectors)]
    difat += [_FREESECT] * (_HEADER_DIFAT - len(difat))
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\0" * 16, 0x003E, 0x0003, 0xFFFE, 9, 6,
        b"\0" * 6, 0, fat_sectors, first_directory, 0, _MINI_CUTOFF,
        first_mini_fat, len(mini_fat_bytes) // _SECTOR, _ENDOFCHAIN, 0,
    ) + b"".join(struct.pack("<I", v) for v in difat)
    return header + b"".join(body)


def _directory_entry(entry: _Entry) -> bytes:
    name = entry.name.encode("utf-16-le") + b"\0\0"
    return struct.pack(
        "<64sHBBIII16sIQQIQ", name, len(name), entry.kind, entry.color, entry.left,
        entry.right, entry.child, b"\0" * 16, 0, 0, 0,
        entry.start if entry.kind != _STORAGE else 0, entry.size)


def _unused_entry() -> bytes:
    return struct.pack("<64sHBBIII16sIQQIQ", b"", 0, 0, 0, _NOSTREAM, _NOSTREAM,
                       _NOSTREAM, b"\0" * 16, 0, 0, 0, 0, 0)


# --------------------------------------------------------------------------------------
# The VBA project
# --------------------------------------------------------------------------------------

_ID_NAMESPACE = uuid.UUID("6f1d3c52-8a1e-5b7e-9c4d-2a0b1e3f4c5d")
_HOST_EXTENDER = "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000"


def _record(record_id: int, payload: bytes) -> bytes:
    return struct.pack("<HI", record_id, len(payload)) + payload


def _u16(value: int) -> bytes:
    return struct.pack("<H", value)


def _u32(value: int) -> bytes:
    return struct.pack("<I", value)


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


def _dir_stream(project_name: str, modules: Sequence[VbaModule],
                references: Sequence[Reference], codepage: int, version: int) -> bytes:
    """The decompressed ``dir`` stream (MS-OVBA 2.3.4.2), records in Excel's order."""
    enc = f"cp{codepage}"
    out = bytearray()
    out += _record(0x0001, _u32(3))  # PROJECTSYSKIND: 64-bit Windows, as Excel 365 writes
    out += _record(0x0002, _u32(0x0409))  # PROJECTLCID
    out += _record(0x0014, _u32(0x0409))  # PROJECTLCIDINVOKE
    out += _record(0x0003, _u16(codepage))  # PROJECTCODEPAGE
    out += _record(0x0004, project_name.encode(enc))  # PROJECTNAME
    out += _record(0x0005, b"") + _record(0x0040, b"")  # PROJECTDOCSTRING
    out += _record(0x0006, b"") + _record(0x003D, b"")  # PROJECTHELPFILEPATH
    out += _record(0x0007, _u32(0))  # PROJECTHELPCONTEXT
    out += _record(0x0008, _u32(0))  # PROJECTLIBFLAGS
    out += struct.pack("<HIIH", 0x0009, 4, version, 0)  # PROJECTVERSION (fixed 12 bytes)
    out += _record(0x000C, b"") + _record(0x003C, b"")  # PROJECTCONSTANTS
    for ref in references:
        libid = ref.libid.encode(enc)
        out += _record(0x0016, ref.name.encode(enc)) + _record(0x003E, _utf16(ref.name))
        out += _record(0x000D, _u32(len(libid)) + libid + _u32(0) + _u16(0))
    out += _record(0x000F, _u16(len(modules)))  # PROJECTMODULES
    out += _record(0x0013, _u16(0xFFFF))  # PROJECTCOOKIE
    for module in modules:
        name = module.name.encode(enc)
        out += _record(0x0019, name) + _record(0x0047, _utf16(module.name))
        out += _record(0x001A, name) + _record(0x0032, _utf16(module.name))
        out += _record(0x001C, b"") + _record(0x0048, b"")  # MODULEDOCSTRING
        out += _record(0x0031, _u32(0))  # MODULEOFFSET: the source starts the stream
        out += _record(0x001E, _u32(0))  # MODULEHELPCONTEXT
        out += _record(0x002C, _u16(0xFFFF))  # MODULECOOKIE
        out += _record(0x0021 if module.kind is ModuleKind.STANDARD else 0x0022, b"")
        out += _record(0x002B, b"")  # MODULE terminator
    out += _record(0x0010, b"")  # dir terminator
    return bytes(out)


def _project_stream(project_id: str, project_name: str, modules: Sequence[VbaModule],
                    codepage: int) -> bytes:
    """The PROJECT stream (MS-OVBA 2.3.1): declarations, properties, protection, host."""
    seed_source = hashlib.sha256(project_id.encode("ascii")).digest()

    def obfuscate(label: int, data: bytes) -> str:
        return encrypt_project_data(project_id, data, seed_source[label],
                                    seed_source[8 + 4 * label:12 + 4 * label])

    lines = [f'ID="{project_id}"']
    for module in modules:
        if module.kind is ModuleKind.DOCUMENT:
            lines.append(f"Document={module.name}/&H00000000")
        else:
            lines.append(f"{module.kind.value}={module.name}")
    lines += [
        f'Name="{project_name}"',
        'HelpContextID="0"',
        'VersionCompatible32="393222000"',
        f'CMG="{obfuscate(0, bytes(4))}"',  # not protected
        f'DPB="{obfuscate(1, bytes(1))}"',  # no password
        f'GC="{obfuscate(2, bytes([0xFF]))}"',  # visible
        "",
        "[Host Extender Info]",
        _HOST_EXTENDER,
        "",
        "[Workspace]",
        *(f"{module.name}=0, 0, 0, 0, C" for module in modules),
        "",
    ]
    return "".join(line + "\r\n" for line in lines).encode(f"cp{codepage}")


def _name_map(modules: Iterable[VbaModule], codepage: int) -> bytes:
    """The PROJECTwm stream (MS-OVBA 2.3.3): each module name in MBCS and UTF-16."""
    out = bytearray()
    for module in modules:
        out += module.name.encode(f"cp{codepage}") + b"\0" + _utf16(module.name) + b"\0\0"
    return bytes(out + b"\0\0")


def build_vba_project(project_name: str, modules: Sequence[VbaModule], *,
                      references: Sequence[Reference] = DEFAULT_REFERENCES,
                      codepage: int = 1252) -> bytes:
    """The bytes of a source-only ``vbaProject.bin`` holding ``modules`` in this order.

    Byte-reproducible: the same arguments always give the same bytes. Raises ValueError
    for an invalid project name, duplicate names (VBA names are case-insensitive) or
    source that the code page cannot encode.
    """
    if not _IDENTIFIER.fullmatch(project_name):
        raise ValueError(f"VBA project name {project_name!r} is not an ASCII identifier")
    seen: dict[str, str] = {project_name.lower(): f"project {project_name!r}"}
    for module in modules:
        clash = seen.get(module.name.lower())
        if clash is not None:
            raise ValueError(f"module {module.name!r} clashes with {clash}")
        seen[module.name.lower()] = f"module {module.name!r}"
    names = [project_name, *(m.name for m in modules)]
    project_id = "{" + str(uuid.uuid5(_ID_NAMESPACE, "\n".join(names))).upper() + "}"

    sources: list[bytes] = []
    for module in modules:
        try:
            sources.append(module.code.encode(f"cp{codepage}"))
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"module {module.name!r}: {exc.object[exc.start:exc.end]!r} cannot be "
                f"stored in code page {codepage}; keep VBA source ASCII") from None
    digest = hashlib.sha256(b"\0".join([project_id.encode(), *sources])).digest()
    version = int.from_bytes(digest[:4], "little")

    vba = CfbStorage()
    vba.children["_VBA_PROJECT"] = b"\xcc\x61\xff\xff\x00\x01\x00"
    vba.children["dir"] = compress(_dir_stream(project_name, modules, references, codepage,
                                               version))
    for module, source in zip(modules, sources, strict=True):
        vba.children[module.name] = compress(source)
    root = CfbStorage({
        "VBA": vba,
        "PROJECT": _project_stream(project_id, project_name, modules, codepage),
        "PROJECTwm": _name_map(modules, codepage),
    })
    return write_compound_file(root)
