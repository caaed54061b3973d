#!/usr/bin/env bash
# Evidently for bench/drift.py, in an environment of its own: evidently 0.7.23 does not import
# with pandas 3, which shipline uses.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python3 -m venv .venv-drift
.venv-drift/bin/pip install --quiet --disable-pip-version-check "evidently==0.7.23" "pandas<3" pyarrow
