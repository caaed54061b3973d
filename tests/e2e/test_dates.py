"""Date and time columns: numeric features (never one-hot), a signature that takes the type it
was trained on (online, batch, monitoring), drift that treats them as numbers."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.conftest import Cli
from tests.served import start_server

CONFIG = """\
name: visits
data:
  source: data/visits.{suffix}
  target: busy
  split: {{test_size: 0.25, seed: 3}}
training:
  task: classification
  estimator: sklearn.ensemble.RandomForestClassifier
  params: {{n_estimators: 30}}
evaluation:
  metrics: [accuracy]
  gates:
    - {{metric: accuracy, min: 0.7}}
"""


def _visits(rows: int = 1600) -> pd.DataFrame:
    """Busy on weekends: the signal is in the day of week of a date column."""
    rng = np.random.default_rng(0)
    days = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 1600, rows), unit="D")
    stamps = days + pd.to_timedelta(rng.integers(0, 24 * 60, rows), unit="min")
    busy = (days.day_of_week >= 5).astype(int)
    return pd.DataFrame(
        {"day": days, "at": stamps, "visitors": rng.normal(100, 10, rows), "busy": busy}
    )


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_date_columns_train_as_numbers_and_score_everywhere(
    local_cli: Cli, project: Path, suffix: str
) -> None:
    frame = _visits()
    (project / "data").mkdir()
    source = project / "data" / f"visits.{suffix}"
    if suffix == "csv":
        written = frame.assign(day=frame["day"].dt.strftime("%d/%m/%Y"))  # not ISO 8601
        written.to_csv(source, index=False)
    else:
        frame.to_parquet(source)
    (project / "shipline.yaml").write_text(CONFIG.format(suffix=suffix))
    run = json.loads(local_cli("run", "--json", check=True).out)
    assert run["status"] == "succeeded" and run["metrics"]["accuracy"] > 0.9

    shown = json.loads(local_cli("models", "show", "visits:1", "--json", check=True).out)
    dtypes = {c["name"]: c["dtype"] for c in shown["signature"]["inputs"]}
    assert dtypes["day"].startswith("datetime64") and dtypes["at"].startswith("datetime64")
    card = local_cli("models", "card", "visits:1", check=True).out
    assert "| day | datetime" in card and "| at | datetime" in card

    from shipline.project import Project

    with Project.open(project) as opened:
        model = opened.load_model("visits@staging").model
        names = list(model.named_steps["features"].get_feature_names_out())
    assert len(names) < 20, names  # a handful of date parts, not one column per date
    assert "day__dayofweek" in names and "at__hour" in names

    scored = local_cli(
        "predict", "visits@staging", "--input", str(source), "--output", "scored.csv"
    )
    assert scored.code == 0, scored.err
    predictions = pd.read_csv(project / "scored.csv")["prediction"]
    assert (predictions == frame["busy"]).mean() > 0.9

    server = start_server(project, "visits@staging")
    try:
        rows = frame.head(3).drop(columns="busy")
        records = [
            {**r, "day": r["day"].strftime("%Y-%m-%d"), "at": r["at"].isoformat()}
            for r in rows.to_dict("records")
        ]
        answer = httpx.post(
            f"{server.url}/invocations", json={"dataframe_records": records}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == frame["busy"].head(3).tolist()
        bad = httpx.post(
            f"{server.url}/invocations",
            json={"dataframe_records": [{**records[0], "day": "not a date"}]},
            timeout=30,
        )
        assert bad.status_code == 422 and "day: row 0: expected a date or time (" in bad.text
        if suffix == "csv":  # the training file's own format, then ISO 8601
            assert "(%d/%m/%Y or ISO 8601)" in bad.text
    finally:
        server.stop()

    monitored = local_cli("monitor", "visits@staging", "--current", str(source), "--json")
    assert monitored.code == 0, monitored.err
    verdicts = {c["column"]: c for c in json.loads(monitored.out)["features"]["columns"]}
    assert verdicts["day"]["kind"] == "numerical" and verdicts["day"]["drifted"] is False

    drift = json.loads(local_cli("drift", str(source), str(source), "--json").out)
    assert {c["column"]: c["drifted"] for c in drift["columns"]}["day"] is False
