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
shipline models show cancer@production
shipline models list
shipline predict cancer@production --input data/breast_cancer.csv --output scored.csv
shipline serve cancer@production --port 8765 &
server=$!
python - <<'PY'
import json, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen("http://127.0.0.1:8765/ping", timeout=1)
        break
    except OSError:
        time.sleep(0.3)
row = {"mean radius": 14.1, "mean texture": 19.3, "mean perimeter": 92.0, "mean area": 655.0,
       "mean smoothness": 0.096, "mean compactness": 0.104, "mean concavity": 0.089,
       "mean concave points": 0.049, "mean symmetry": 0.181, "mean fractal dimension": 0.063,
       "radius error": 0.405, "texture error": 1.217, "perimeter error": 2.866, "area error": 40.3,
       "smoothness error": 0.007, "compactness error": 0.025, "concavity error": 0.032,
       "concave points error": 0.012, "symmetry error": 0.021, "fractal dimension error": 0.004,
       "worst radius": 16.3, "worst texture": 25.7, "worst perimeter": 107.3, "worst area": 880.6,
       "worst smoothness": 0.132, "worst compactness": 0.254, "worst concavity": 0.272,
       "worst concave points": 0.115, "worst symmetry": 0.290, "worst fractal dimension": 0.084}
request = urllib.request.Request(
    "http://127.0.0.1:8765/invocations?probabilities=true",
    data=json.dumps({"dataframe_records": [row]}).encode(),
    headers={"Content-Type": "application/json"},
)
with urllib.request.urlopen(request) as answer:
    print(answer.headers["X-Model-Version"], answer.read().decode())
PY
kill -TERM "$server" && wait "$server"        # drains, writes the captured request, exits 0
shipline audit verify
cd ..
cp -r "$root/examples/churn" churn && cd churn
shipline data add data/churn.csv
cp updates/churn.csv data/churn.csv            # a month later: more customers, a new column
shipline data add data/churn.csv
shipline data diff churn@v1 churn@v2
shipline run                                   # the churn model, with a bias gate on gender
