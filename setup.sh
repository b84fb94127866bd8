#!/usr/bin/env bash
# Set up Contract Tracker on a fresh Linux or macOS machine.
#   ./setup.sh           virtualenv in .venv with the pinned requirements and the package
#   ./setup.sh --system  the same, plus the system packages the tests and PDF output need
#                        (LibreOffice, poppler's pdftotext/pdftoppm, CJK fonts, python3-venv)
#   ./setup.sh --which-python   only print the Python it would use (or why none fits)
# The pinned requirements need Python 3.11 or later. PYTHON=/path/to/python overrides the
# choice; otherwise the first of python3.13, python3.12, python3.11, python3 that is new
# enough is used.
set -euo pipefail
cd "$(dirname "$0")"

MIN_MAJOR=3
MIN_MINOR=11

system=0
which_only=0
for arg in "$@"; do
  case "$arg" in
    --system) system=1 ;;
    --which-python) which_only=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg (use --system, --which-python or --help)" >&2; exit 2 ;;
  esac
done

install_system_packages() {
  if command -v apt-get >/dev/null 2>&1; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      libreoffice-calc libreoffice-writer fonts-noto-cjk fonts-wqy-zenhei poppler-utils \
      fontconfig python3-venv >/dev/null
  elif command -v brew >/dev/null 2>&1; then
    brew list --cask libreoffice >/dev/null 2>&1 || brew install --cask libreoffice
    brew list poppler >/dev/null 2>&1 || brew install poppler
  else
    echo "setup.sh: install LibreOffice, poppler (pdftotext, pdftoppm) and a CJK font by hand" >&2
    exit 1
  fi
}

# "3.12" for a Python that runs, nothing otherwise.
python_version() {
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true
}

new_enough() {
  local major="${1%%.*}" minor="${1#*.}"
  [ -n "$1" ] && { [ "$major" -gt "$MIN_MAJOR" ] ||
    { [ "$major" -eq "$MIN_MAJOR" ] && [ "$minor" -ge "$MIN_MINOR" ]; }; }
}

no_python() {
  {
    echo "setup.sh: Contract Tracker needs Python $MIN_MAJOR.$MIN_MINOR or later ($1)."
    echo "  macOS:          brew install python@3.12   (or the installer from python.org)"
    echo "  Debian 12:      sudo apt-get install python3 python3-venv"
    echo "  Ubuntu 22.04:   sudo add-apt-repository ppa:deadsnakes/ppa &&"
    echo "                  sudo apt-get install python3.12 python3.12-venv"
    echo "  then run ./setup.sh again (or PYTHON=/path/to/python3.12 ./setup.sh)."
  } >&2
  exit 1
}

pick_python() {
  local candidate version found=""
  if [ -n "${PYTHON:-}" ]; then
    version="$(python_version "$PYTHON")"
    new_enough "$version" || no_python "PYTHON=$PYTHON is ${version:-not a working Python}"
    echo "$PYTHON"
    return
  fi
  for candidate in python3.13 python3.12 python3.11 python3; do
    command -v "$candidate" >/dev/null 2>&1 || continue
    version="$(python_version "$candidate")"
    if new_enough "$version"; then
      echo "$candidate"
      return
    fi
    found="${found:+$found, }$candidate is ${version:-broken}"
  done
  no_python "${found:-no python3 found on PATH}"
}

# Debian and Ubuntu ship venv/ensurepip separately (python3-venv, python3.X-venv).
has_venv() {
  "$1" -c 'import ensurepip, venv' >/dev/null 2>&1
}

[ "$system" -eq 1 ] && [ "$which_only" -eq 0 ] && install_system_packages

PY="$(pick_python)"
VERSION="$(python_version "$PY")"
if ! has_venv "$PY"; then
  if [ "$system" -eq 1 ] && [ "$which_only" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "python$VERSION-venv" >/dev/null || true
  fi
  if ! has_venv "$PY"; then
    {
      echo "setup.sh: $PY (Python $VERSION) cannot create a virtual environment: its venv /"
      echo "  ensurepip module is missing. On Debian/Ubuntu: sudo apt-get install python$VERSION-venv"
      echo "  (or run ./setup.sh --system, which installs it), then run ./setup.sh again."
    } >&2
    exit 1
  fi
fi
if [ "$which_only" -eq 1 ]; then
  echo "$PY (Python $VERSION)"
  exit 0
fi

if [ -x .venv/bin/python ]; then
  venv_version="$(python_version .venv/bin/python)"
  if ! new_enough "$venv_version"; then
    echo "setup.sh: .venv uses Python ${venv_version:-that no longer runs}; Contract Tracker" \
         "needs $MIN_MAJOR.$MIN_MINOR or later. Delete .venv (rm -rf .venv) and run" \
         "./setup.sh again." >&2
    exit 1
  fi
else
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
echo "setup.sh: ready with Python $(python_version .venv/bin/python) (.venv/bin/contract-tracker --help)"
