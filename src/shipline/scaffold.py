"""``shipline init``: a working project with a real dataset that ships with scikit-learn."""

from __future__ import annotations

__all__ = ["TASKS", "create_project"]

from pathlib import Path

from shipline.errors import ConflictError, UsageError

TASKS = ("classification", "regression")

_CLASSIFICATION = """\
# A classifier on scikit-learn's breast cancer dataset (569 tumours, 30 measurements).
name: cancer
owner: {owner}
description: Predicts whether a breast tumour is benign from cell-nucleus measurements.
data:
  source: data/breast_cancer.csv
  target: benign
  id_column: sample_id
  split: {{test_size: 0.25, seed: 42}}
  checks: {{max_missing: 0.0, min_rows: 100}}
training:
  task: classification
  estimator: sklearn.ensemble.HistGradientBoostingClassifier
  params: {{max_iter: 200, learning_rate: 0.1}}
evaluation:
  metrics: [roc_auc, f1, accuracy]
  gates:
    - {{metric: roc_auc, min: 0.90}}
    - {{metric: roc_auc, vs: production, max_drop: 0.01}}
  explain: {{method: permutation, top: 10}}
deployment:
  approval: {{staging: auto, production: manual}}
"""

_REGRESSION = """\
# A regressor on scikit-learn's diabetes dataset (442 patients, disease progression).
name: diabetes
owner: {owner}
description: Predicts disease progression one year after baseline.
data:
  source: data/diabetes.csv
  target: progression
  id_column: patient_id
  split: {{test_size: 0.25, seed: 42}}
  checks: {{max_missing: 0.0, min_rows: 100}}
training:
  task: regression
  estimator: sklearn.linear_model.Ridge
  params: {{alpha: 1.0}}
evaluation:
  metrics: [rmse, mae, r2]
  gates:
    - {{metric: r2, min: 0.30}}
    - {{metric: rmse, vs: production, max_drop: 2.0}}
  explain: {{method: permutation, top: 5}}
deployment:
  approval: {{staging: auto, production: manual}}
"""

_README = """\
# {name}

Created by `shipline init`. The data in `data/` is scikit-learn's {dataset} dataset.

```bash
shipline validate                 # check shipline.yaml
shipline run                      # ingest → validate → split → train → evaluate → gate → register
shipline runs show 1              # what happened, step by step
shipline models show {name}@staging
shipline promote {name} 1 --to production   # opens an approval (production is manual)
SHIPLINE_USER=reviewer shipline approve 1   # someone else approves; the alias moves
```
"""


_CI_WORKFLOW = """\
# Runs on every push: validates shipline.yaml, trains on a sample of the data in a throwaway
# store, prints the gates and the comparison with production, and fails when a gate fails.
# Set the SHIPLINE_DB (and SHIPLINE_STORE) secrets to compare with the team's registry.
name: shipline
on: [push, pull_request]
jobs:
  model:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: pip install shipline
      - run: shipline ci --sample 5000
        env:
          SHIPLINE_DB: ${{ secrets.SHIPLINE_DB }}
          SHIPLINE_STORE: ${{ secrets.SHIPLINE_STORE }}
"""


def create_project(
    folder: Path, task: str = "classification", owner: str = "data-science"
) -> list[Path]:
    """Write shipline.yaml, the dataset as CSV, a README and a .gitignore into ``folder``."""
    if task not in TASKS:
        raise UsageError(f"--task must be one of {', '.join(TASKS)}, got {task!r}")
    if (folder / "shipline.yaml").exists():
        raise ConflictError(f"{folder / 'shipline.yaml'} already exists; not overwriting it")
    from sklearn import datasets

    if task == "classification":
        frame = datasets.load_breast_cancer(as_frame=True).frame.rename(
            columns={"target": "benign"}
        )
        frame.insert(0, "sample_id", [f"S{i:04d}" for i in range(len(frame))])
        name, dataset, config, csv = "cancer", "breast cancer", _CLASSIFICATION, "breast_cancer.csv"
    else:
        frame = datasets.load_diabetes(as_frame=True, scaled=False).frame.rename(
            columns={"target": "progression"}
        )
        frame.insert(0, "patient_id", [f"P{i:04d}" for i in range(len(frame))])
        name, dataset, config, csv = "diabetes", "diabetes", _REGRESSION, "diabetes.csv"
    (folder / "data").mkdir(parents=True, exist_ok=True)
    written = [
        folder / "shipline.yaml",
        folder / "data" / csv,
        folder / "README.md",
        folder / ".gitignore",
        folder / ".github" / "workflows" / "shipline.yml",
    ]
    frame.to_csv(written[1], index=False)
    written[0].write_text(config.format(owner=owner))
    if not written[2].exists():
        written[2].write_text(_README.format(name=name, dataset=dataset))
    written[3].write_text(".shipline/\n")
    written[4].parent.mkdir(parents=True, exist_ok=True)
    written[4].write_text(_CI_WORKFLOW)
    return written
