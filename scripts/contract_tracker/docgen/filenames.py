"""Safe file names for generated documents, made from contract numbers and client names.

A client name is user text: it may hold separators (``a/b``), characters Windows refuses
(``:*?"<>|``), control and invisible characters (the right-to-left override U+202E turns
``合同‮xcod.exe`` into something that reads like ``合同exe.docx``), names Windows reserves
(``CON``, ``AUX .docx``, ``CONIN$``), names that are only dots or blanks, or be hundreds of
characters long. ``pathvalidate`` alone misses several of these (pitfalls.md), so the rules
are applied here explicitly and ``pathvalidate`` checks the result.

Names are ``{contract_id}_{client name}.docx``. Two contracts whose names clean to the same
text (``HT/1`` and ``HT_1``) get a short hash of their raw contract id appended; the
decision is made over every contract of the workbook, so a contract's file name does not
depend on which other contracts were generated with it. ``path_inside`` resolves the
final path and refuses anything that would land outside the output folder.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from pathvalidate import is_valid_filename

__all__ = [
    "MAX_NAME_BYTES",
    "WINDOWS_RESERVED",
    "clean_component",
    "contract_stem",
    "path_inside",
    "plan_names",
    "safe_filename",
    "truncate_bytes",
]

MAX_NAME_BYTES = 150
"""Upper bound for a stem in UTF-8 bytes. ext4 and APFS allow 255 bytes per name (a Chinese
character is 3 bytes); the rest is room for the extension and a ``.replaced-…`` suffix."""

_SUPERSCRIPTS = "¹²³"
WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"}
    | {f"COM{i}" for i in "0123456789" + _SUPERSCRIPTS}
    | {f"LPT{i}" for i in "0123456789" + _SUPERSCRIPTS}
)
"""Device names Windows reserves whatever the extension (``AUX .docx`` opens the device)."""

_WINDOWS_ILLEGAL = re.compile(r'[<>:"/\\|?*]')
_SPACES = re.compile(r"\s+")
_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def clean_component(text: str) -> str:
    """One path component's worth of ``text``: NFC-normalised, with control, format (bidi,
    zero-width), private-use and unassigned characters removed, every run of white space
    made one space, Windows-illegal characters and separators replaced by ``_``, and no
    leading or trailing spaces or dots. May return ``''``."""
    text = unicodedata.normalize("NFC", text)
    if not text.isprintable():  # printable: no Cc, Cf, Cs, Co, Cn, Zl, Zp, nor odd spaces
        kept: list[str] = []
        for ch in text:
            category = unicodedata.category(ch)
            if ch in "\t\n\r\x0b\x0c" or (ch.isspace() and category != "Cc"):
                kept.append(" ")
            elif category in _DROP_CATEGORIES:
                continue
            else:
                kept.append(ch)
        text = "".join(kept)
    text = _WINDOWS_ILLEGAL.sub("_", text)
    text = _SPACES.sub(" ", text)
    return text.strip(" .")


def truncate_bytes(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes at a character boundary, without
    trailing spaces or dots."""
    data = text.encode("utf-8")
    if len(data) > max_bytes:
        text = data[:max_bytes].decode("utf-8", errors="ignore")
    return text.rstrip(" .")


def _not_reserved(name: str) -> str:
    base = name.split(".", 1)[0].rstrip(" ").upper()
    if base in WINDOWS_RESERVED or name.startswith("~$"):
        return "_" + name
    return name


def safe_filename(stem: str, ext: str = ".docx", *, max_bytes: int = MAX_NAME_BYTES,
                  fallback: str = "unnamed") -> str:
    """A file name that is valid on Windows, macOS and Linux: ``stem`` cleaned, cut to
    ``max_bytes`` and never blank, a reserved device name or ``..``; then ``ext``."""
    if ext and not ext.startswith("."):
        ext = "." + ext
    name = truncate_bytes(clean_component(stem), max_bytes)
    if not name.strip(" ._"):
        name = fallback
    return _not_reserved(name) + ext


def contract_stem(contract_id: str, client_name: str, *,
                  max_bytes: int = MAX_NAME_BYTES) -> str:
    """``{contract_id}_{client name}``, cleaned; the id keeps up to 64 bytes, the client's
    name gets the rest of ``max_bytes``."""
    cid = truncate_bytes(clean_component(contract_id), 64) or "contract"
    name = truncate_bytes(clean_component(client_name), max(max_bytes - len(cid.encode()) - 1, 0))
    return f"{cid}_{name}" if name else cid


def _key(name: str) -> str:
    """Names equal on a case-insensitive file system (Windows, macOS) share a key."""
    return unicodedata.normalize("NFC", name).casefold()


def plan_names(pairs: Iterable[tuple[str, str]], ext: str = ".docx") -> dict[str, str]:
    """File names for ``(contract_id, client_name)`` pairs, unique even on a
    case-insensitive file system. Colliding names get ``_`` + 8 hex digits of the SHA-256 of
    the raw contract id, so the result does not depend on the order of ``pairs``."""
    items = list(pairs)
    first: dict[str, str] = {cid: safe_filename(contract_stem(cid, client), ext)
                             for cid, client in items}
    counts: dict[str, int] = {}
    for name in first.values():
        counts[_key(name)] = counts.get(_key(name), 0) + 1
    result: dict[str, str] = {}
    for cid, client in items:
        name = first[cid]
        if counts[_key(name)] > 1:
            tag = hashlib.sha256(cid.encode("utf-8")).hexdigest()[:8]
            stem = contract_stem(cid, client, max_bytes=MAX_NAME_BYTES - 9)
            name = safe_filename(f"{stem}_{tag}", ext)
        result[cid] = name
    seen: set[str] = set()
    for cid in sorted(result):  # a hashed name equal to another one: number it (never seen)
        name, n = result[cid], 2
        while _key(name) in seen:
            stem = truncate_bytes(Path(result[cid]).stem, MAX_NAME_BYTES - 4)
            name, n = safe_filename(f"{stem}_{n}", ext), n + 1
        seen.add(_key(name))
        result[cid] = name
    return result


def path_inside(out_dir: Path, name: str) -> Path:
    """``out_dir / name``, after checking that ``name`` is a valid Windows (hence also macOS
    and Linux) file name per ``pathvalidate`` and that the resolved path is a direct child
    of the resolved ``out_dir`` (no separator, ``..`` or symbolic link leads elsewhere)."""
    if name in ("", ".", "..") or not is_valid_filename(name, platform="windows"):
        raise ValueError(f"not a plain file name: {name!r}")
    base = out_dir.resolve()
    target = (base / name).resolve()
    if target.parent != base:
        raise ValueError(f"{name!r} would be written outside {base}")
    return target
