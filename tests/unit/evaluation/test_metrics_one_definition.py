"""Training-time evaluation and monitoring compute the task's metrics one way: the same labels
and predictions give the same numbers, with the model's last class as the positive one."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from shipline.evaluation import compute_metrics
from shipline.monitoring.quality import LabelledRows, labelled_quality


def test_evaluation_and_monitoring_agree_and_the_positive_class_is_the_models_last() -> None:
    rng = np.random.default_rng(3)
    x = pd.DataFrame({"a": rng.normal(size=400)})
    # Classes 9 and 10: sorted as text "10" < "9", sorted as numbers 10 is the larger.
    y = pd.Series(np.where(x["a"] + rng.normal(0, 0.8, 400) > 0.3, 10, 9))
    model = LogisticRegression().fit(x, y)
    at_training = compute_metrics("classification", model, x, y)
    predicted = model.predict(x)
    # Labels arrive from files as JSON values: text here.
    labelled = LabelledRows(np.arange(400), [str(v) for v in y], 400)
    classes = model.classes_.tolist()
    monitored = labelled_quality(
        "classification", labelled, predicted, None, {}, model.predict_proba(x), classes
    )["metrics"]
    assert monitored.keys() == at_training.keys()
    for name, value in at_training.items():
        assert monitored[name] == np.float64(value), name
    positive = (y == 10).to_numpy()
    hits = (predicted == 10) & positive
    assert at_training["recall"] == hits.sum() / positive.sum()
