"""Captured traffic written as the prediction server writes it, with labels for some rows."""

from __future__ import annotations

import pandas as pd

from shipline.project import Project
from shipline.scoring import load_version
from shipline.scoring.capture import CaptureBuffer, StoreCaptureSink
from shipline.scoring.labels import add_labels


def capture_partition(
    project: Project, ref: str, frame: pd.DataFrame, prefix: str, target: str, label_every: int
) -> None:
    """Capture what ``ref`` predicts (with class probabilities) for ``frame`` as one
    partition, one request a row, then label every ``label_every``-th row from ``target``."""
    version = project.version(ref)
    model = load_version(project.store(), version)
    inputs = {c: frame[c].to_numpy() for c in model.input_names}
    predicted = model.predict(model.frame(inputs, len(frame)), probabilities=True)
    assert predicted.probabilities is not None
    buffer = CaptureBuffer(StoreCaptureSink(project.db(), project.store()))
    ids = [f"{prefix}-{index}" for index in range(len(frame))]
    for index, request_id in enumerate(ids):
        columns = {c: [frame[c].iloc[index]] for c in model.input_names}
        probabilities = [list(map(float, predicted.probabilities[index]))]
        value = [predicted.values[index]]
        buffer.add(version.name, version.version, request_id, columns, value, 1, probabilities)
    buffer.flush()
    path = project.settings.config_path.parent / f"labels-{prefix}.csv"
    labels = {"request_id": ids[::label_every], "label": frame[target].iloc[::label_every]}
    pd.DataFrame(labels).to_csv(path, index=False)
    add_labels(project.db(), project.store(), path, "labeller")
