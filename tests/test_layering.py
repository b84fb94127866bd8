"""The engine and the core it stands on are pure: no Excel, no files, no I/O modules.

Each module of ``contract_tracker.engine`` and the core (schema, records, money, terms,
creditcode, gcpause) is parsed and its imports checked, relative ones resolved; ``open(`` is
not called anywhere in them. A fresh interpreter importing the engine must not load
any Excel or Word library, nor a reader, writer or CLI module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "scripts" / "contract_tracker"
CORE = ("schema", "records", "money", "terms", "creditcode", "gcpause")
ALLOWED_INTERNAL = {f"contract_tracker.{m}" for m in CORE} | {"contract_tracker"}
BANNED = {
    "xlwings", "openpyxl", "docxtpl", "docx", "python_calamine", "xlsxwriter", "pandas",
    "os", "pathlib", "io", "zipfile", "shutil", "tempfile", "subprocess", "socket",
}

MODULES = sorted([*(PACKAGE / "engine").glob("*.py"), *(PACKAGE / f"{m}.py" for m in CORE)])


def _dotted(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _dotted(path) if path.name == "__init__.py" else _dotted(path).rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append(module)
            found += [f"{module}.{alias.name}" for alias in node.names
                      if module == "contract_tracker" or module.startswith("contract_tracker.")]
    return found


def test_the_modules_under_test_were_found() -> None:
    names = {_dotted(p) for p in MODULES}
    assert {"contract_tracker.engine.penalties", "contract_tracker.engine.latefees",
            "contract_tracker.engine.calendar", "contract_tracker.records"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _dotted(p))
def test_engine_and_core_import_no_io_excel_or_word_library(path: Path) -> None:
    for name in _imports(path):
        assert name.split(".")[0] not in BANNED, f"{_dotted(path)} imports {name}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _dotted(p))
def test_engine_and_core_import_no_reader_writer_or_cli_module(path: Path) -> None:
    core_modules = ALLOWED_INTERNAL - {"contract_tracker"}
    for name in _imports(path):
        if not name.startswith("contract_tracker"):
            continue
        ok = (name in ALLOWED_INTERNAL
              or name.startswith("contract_tracker.engine")
              or name.rpartition(".")[0] in core_modules)  # a name from a core module
        assert ok, f"{_dotted(path)} imports {name}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _dotted(p))
def test_engine_and_core_never_call_open(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            assert name != "open", f"{_dotted(path)} calls open() on line {node.lineno}"


def test_importing_the_engine_loads_no_excel_word_or_io_module_of_ours() -> None:
    code = (
        "import sys, contract_tracker.engine\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    loaded = set(subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True,
        cwd=PACKAGE.parent,
    ).stdout.split())
    # numpy too: the engine imports it when it first computes (commands that do not compute
    # do not pay for it)
    third_party = {"xlwings", "openpyxl", "docxtpl", "docx", "python_calamine", "xlsxwriter",
                   "pandas", "numpy"}
    assert not loaded & third_party
    ours = {m for m in loaded if m.startswith("contract_tracker.")}
    assert all(m in ALLOWED_INTERNAL or m.startswith("contract_tracker.engine") for m in ours), ours
