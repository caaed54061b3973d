"""Pipeline overhead on the `shipline init` example (breast cancer, HistGradientBoosting).

1. A fully cached re-run of `shipline run` (target: under 1.5 s wall).
2. A full, uncached `shipline run` against a plain script doing the same work in one process:
   read the CSV, stratified split with the same seed, the same preprocessing and estimator, the
   same metrics and permutation importance, the ONNX form converted with skl2onnx and checked
   with onnxruntime against the model's answers (shipline's default), the model saved (target:
   overhead under 10%). The same script without the ONNX form and the save is timed too (the
   comparison earlier results used).
Each sample is a fresh process, as a user runs it.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compiled_modules import compile_shipline

ROUNDS = 5
PLAIN = """
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn import metrics as m
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

frame = pd.read_csv("data/breast_cancer.csv")
train, test = train_test_split(frame, test_size=0.25, random_state=42, stratify=frame["benign"])
features = [c for c in frame.columns if c not in ("benign", "sample_id")]
model = Pipeline([
    ("features", ColumnTransformer(
        [("numeric", Pipeline([("impute", SimpleImputer(strategy="median"))]), features)]
    )),
    ("model", HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1)),
]).fit(train[features], train["benign"])
x, y = test[features], test["benign"]
predicted, proba = model.predict(x), model.predict_proba(x)[:, 1]
metrics = dict(accuracy=m.accuracy_score(y, predicted), precision=m.precision_score(y, predicted),
               recall=m.recall_score(y, predicted), f1=m.f1_score(y, predicted),
               roc_auc=m.roc_auc_score(y, proba), log_loss=m.log_loss(y, model.predict_proba(x)))
permutation_importance(model, x, y, scoring="accuracy", n_repeats=5, random_state=42, n_jobs=1)
print(metrics)
"""
# What `shipline run` also delivers by default (serving.onnx: true): the ONNX form, converted
# and checked against the model's own answers on the held-out rows, and the model saved.
SERVING_FORMS = """
import joblib
import numpy as np
import onnxruntime
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType

onnx_model = to_onnx(model, initial_types=[(f, FloatTensorType([None, 1])) for f in features],
                     options={"zipmap": False})
session = onnxruntime.InferenceSession(onnx_model.SerializeToString())
# skl2onnx makes the names ONNX-safe ("mean radius" -> "mean_radius"): fed in order.
labels, probabilities = session.run(None, {
    i.name: x[[f]].to_numpy(dtype=np.float32) for i, f in zip(session.get_inputs(), features)})
assert (labels == predicted).all()
assert np.abs(probabilities - model.predict_proba(x)).max() <= 1e-4
joblib.dump(model, "model.joblib")
"""


def _time(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    return time.perf_counter() - start


def main() -> None:
    """Print medians and the two verdicts."""
    compile_shipline()
    shipline = str(Path(sys.executable).parent / "shipline")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPLINE_")}
    work = Path(tempfile.mkdtemp(prefix="shipline-bench-"))
    try:
        cached_project = work / "cached"
        subprocess.run(
            [shipline, "init", str(cached_project)], check=True, capture_output=True, env=env
        )
        _time([shipline, "run"], cached_project, env)
        cached = [_time([shipline, "run"], cached_project, env) for _ in range(ROUNDS)]
        interpreter = [_time([sys.executable, "-c", "pass"], work, env) for _ in range(ROUNDS)]
        full, plain, same = [], [], []
        for index in range(ROUNDS):
            project = work / f"full{index}"
            subprocess.run(
                [shipline, "init", str(project)], check=True, capture_output=True, env=env
            )
            (project / "plain.py").write_text(PLAIN)
            (project / "same.py").write_text(PLAIN + SERVING_FORMS)
            plain.append(_time([sys.executable, "plain.py"], project, env))
            same.append(_time([sys.executable, "same.py"], project, env))
            full.append(_time([shipline, "run"], project, env))
        c, i, f, p, w = (statistics.median(v) for v in (cached, interpreter, full, plain, same))
        print(
            f"cached re-run: median {c:.2f} s (min {min(cached):.2f}); interpreter start {i:.3f} s"
        )
        print(f"  target < 1.5 s: {'met' if c < 1.5 else 'MISSED'}")
        print(f"full run: shipline {f:.2f} s (medians of {ROUNDS})")
        print(f"  vs the plain script training and evaluating only: {p:.2f} s, {(f - p) / p:+.1%}")
        overhead = (f - w) / w
        verdict = "met" if overhead < 0.10 else "MISSED"
        print(
            f"  vs the plain script doing the same work (also the ONNX form converted and"
            f" checked, the model saved): {w:.2f} s,"
            f" pipeline overhead {overhead:+.1%} (target < 10%: {verdict})"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
