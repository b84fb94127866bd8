#!/usr/bin/env bash
# Set up Contract Tracker on a fresh Linux or macOS machine.
#   ./setup.sh           virtualenv in .venv with the pinned requirements and the package
#   ./setup.sh --system  the same, plus the system packages the tests and PDF output need
#                        (LibreOffice, poppler's pdftotext/pdftoppm, CJK fonts)
set -euo pipefail
cd "$(dirname "$0")"

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

if [ "${1:-}" = "--system" ]; then
  install_system_packages
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
echo "setup.sh: ready (.venv/bin/contract-tracker --help)"
