#!/usr/bin/env bash
# The main job, end to end on the zero-set-up defaults (SQLite + local files): scaffold a
# project with a real scikit-learn dataset, train, gate, register, stage, re-run from cache,
# approve to production as a second person; then version the churn example's data.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
root="$(pwd)"
export PATH="$root/.venv/bin:$PATH"
rm -rf .demo && mkdir -p .demo && cd .demo
set -x
shipline init cancer
cd cancer
shipline validate
shipline run
shipline run                                   # again: every step is reused from the cache
shipline runs show 2
shipline models show cancer@staging
shipline promote cancer 1 --to production      # production is manual: opens approval 1
SHIPLINE_USER=reviewer shipline approve 1      # a second person approves; the alias moves
shipline models list
shipline audit verify
cd ..
cp -r "$root/examples/churn" churn && cd churn
shipline data add data/churn.csv
cp updates/churn.csv data/churn.csv            # a month later: more customers, a new column
shipline data add data/churn.csv
shipline data diff churn@v1 churn@v2
shipline run                                   # the churn model, with a bias gate on gender
