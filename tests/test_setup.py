"""setup.sh and pyproject.toml: the Python version the pinned requirements need.

setup.sh is run with ``--which-python`` (it only picks the interpreter) against fake
``python3.x`` commands on a PATH of their own, so each case runs without installing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUP = ROOT / "setup.sh"


def fake_python(folder: Path, name: str, version: str, venv: bool = True) -> None:
    """A command ``name`` that answers setup.sh's two probes like Python ``version``."""
    script = folder / name
    script.write_text(
        "#!/bin/sh\n"
        'case "$2" in\n'
        f'  *version_info*) echo "{version}" ;;\n'
        f"  *ensurepip*) exit {0 if venv else 1} ;;\n"
        "  *) exit 3 ;;\n"
        "esac\n", encoding="utf-8")
    script.chmod(0o755)


def run_setup(path: Path, *args: str, python: str | None = None
              ) -> subprocess.CompletedProcess[str]:
    tools = path / "tools"
    tools.mkdir(exist_ok=True)
    for tool in ("sh", "bash", "dirname", "sed"):  # what setup.sh itself calls
        found = shutil.which(tool)
        assert found is not None
        (tools / tool).symlink_to(found)
    env = {"PATH": f"{path}:{tools}", "HOME": str(path), "LANG": "C.UTF-8"}
    if python:
        env["PYTHON"] = python
    return subprocess.run(["bash", str(SETUP), "--which-python", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    return folder


def test_setup_picks_the_newest_python_that_is_new_enough(bin_dir: Path) -> None:
    fake_python(bin_dir, "python3", "3.10")
    fake_python(bin_dir, "python3.11", "3.11")
    fake_python(bin_dir, "python3.12", "3.12")
    result = run_setup(bin_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "python3.12 (Python 3.12)"


def test_setup_takes_python3_when_it_is_new_enough(bin_dir: Path) -> None:
    fake_python(bin_dir, "python3", "3.13")
    assert run_setup(bin_dir).stdout.strip() == "python3 (Python 3.13)"


def test_setup_stops_with_instructions_when_python_is_too_old(bin_dir: Path) -> None:
    fake_python(bin_dir, "python3", "3.10")
    result = run_setup(bin_dir)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "needs Python 3.11 or later (python3 is 3.10)" in result.stderr
    assert "brew install python@3.12" in result.stderr
    assert "apt-get install python3.12 python3.12-venv" in result.stderr


def test_setup_stops_when_there_is_no_python_at_all(bin_dir: Path) -> None:
    result = run_setup(bin_dir)
    assert result.returncode == 1
    assert "needs Python 3.11 or later (no python3 found on PATH)" in result.stderr


def test_setup_checks_the_python_named_by_the_user(bin_dir: Path) -> None:
    fake_python(bin_dir, "python3.12", "3.12")
    fake_python(bin_dir, "oldpython", "3.9")
    result = run_setup(bin_dir, python="oldpython")
    assert result.returncode == 1
    assert "PYTHON=oldpython is 3.9" in result.stderr


def test_setup_names_the_missing_venv_package(bin_dir: Path) -> None:
    fake_python(bin_dir, "python3", "3.11", venv=False)
    result = run_setup(bin_dir)
    assert result.returncode == 1
    assert "venv /" in result.stderr and "ensurepip module is missing" in result.stderr
    assert "sudo apt-get install python3.11-venv" in result.stderr


def test_setup_accepts_the_python_running_the_tests() -> None:
    result = subprocess.run(["bash", str(SETUP), "--which-python"],
                            env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{sys.executable} (Python 3.")


def test_python_version_is_the_same_everywhere() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["requires-python"] == ">=3.11"
    assert project["tool"]["ruff"]["target-version"] == "py311"
    assert project["tool"]["mypy"]["python_version"] == "3.11"
    assert "MIN_MINOR=11" in SETUP.read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert set(re.findall(r"Python 3\.(\d+) or later", readme)) == {"11"}
    assert "3.10" not in readme


def test_readme_says_where_the_command_is_after_the_first_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    top = readme.split("\n---\n")[0]
    assert "./setup.sh && .venv/bin/contract-tracker demo" in top
    assert "`contract-tracker …` means `.venv/bin/contract-tracker …`" in top
    assert "source .venv/bin/activate" in top and ".venv\\Scripts\\activate" in top
