#!/usr/bin/env bash
# A separate virtual environment for benchmarks: shipline plus the tools it is compared with
# (mlflow, dvc), kept apart so their dependencies never change what the tests run against.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python="${PYTHON:-python3}"
.venv-bench/bin/python -c '' 2>/dev/null || { rm -rf .venv-bench; "$python" -m venv .venv-bench; }
.venv-bench/bin/python -m pip install --quiet --disable-pip-version-check -e ".[bench,dask]"
