#!/usr/bin/env bash
# Create .venv and install shipline (with the extras named in $1, e.g. "dev"), pinned by
# constraints.txt. Safe to run again: an existing, working .venv is reused.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
extras="${1:-}"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "shipline needs Python 3.11 or newer; '$python' is missing or older" >&2
  exit 2
fi
if ! .venv/bin/python -c '' 2>/dev/null; then
  rm -rf .venv
  if ! "$python" -m venv .venv 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      # Debian splits venv out of the interpreter package.
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      rm -rf .venv && "$python" -m venv .venv
    else
      echo "'$python -m venv' failed: install your distribution's python3-venv package" >&2
      exit 2
    fi
  fi
fi
target="."
[ -n "$extras" ] && target=".[$extras]"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e "$target"
# pip compiles a wheel's modules when it installs it; an editable install leaves shipline's to be
# compiled on first import, and under PYTHONDONTWRITEBYTECODE=1 on every start (~0.1 s a command).
.venv/bin/python -m compileall -q src/shipline
