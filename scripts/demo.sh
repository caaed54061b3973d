#!/usr/bin/env bash
# The main job, end to end on the zero-set-up defaults (SQLite + local files): version the
# bundled example dataset, take a second snapshot, compare them, and verify the audit chain.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
root="$(pwd)"
rm -rf .demo && mkdir -p .demo && cp -r examples/churn .demo/churn
cd .demo/churn
export PATH="$root/.venv/bin:$PATH"
set -x
shipline validate
shipline data add data/churn.csv
cp updates/churn.csv data/churn.csv        # a month later: more customers, a new column
shipline data add data/churn.csv
shipline data add data/churn.csv           # same bytes again: same version
shipline data list
shipline data diff churn@v1 churn@v2
shipline audit log
shipline audit verify
