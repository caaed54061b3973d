#!/usr/bin/env bash
# A separate virtual environment for benchmarks: shipline plus the tools it is compared with
# (mlflow, dvc), kept apart so their dependencies never change what the tests run against.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python="${PYTHON:-python3}"
.venv-bench/bin/python -c '' 2>/dev/null || { rm -rf .venv-bench; "$python" -m venv .venv-bench; }
.venv-bench/bin/python -m pip install --quiet --disable-pip-version-check -e ".[bench,dask]"
# As pip does for a wheel: without it an editable install compiles shipline's modules on every
# start under PYTHONDONTWRITEBYTECODE=1, and the benchmarks would time the compiler.
.venv-bench/bin/python -m compileall -q src/shipline
