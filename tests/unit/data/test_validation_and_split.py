"""The validate and split steps' rules on small frames."""

from __future__ import annotations

import pandas as pd

from shipline.config import parse_config
from shipline.data import split_frame, validate_data
from shipline.data.data_file import Column

CONFIG = """\
name: m
data:
  source: d.csv
  target: y
  checks: {max_missing: 0.25, min_rows: 4}
  split: {test_size: 0.25, seed: 1}
training: {task: classification}
"""


def _config(extra: str = ""):  # type: ignore[no-untyped-def]
    return parse_config((CONFIG + extra).encode(), environ={})


def _rules(report) -> set[tuple[str | None, str]]:  # type: ignore[no-untyped-def]
    return {(p["column"], p["rule"]) for p in report.problems}


def test_clean_data_passes() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3, 4], "y": [0, 1, 0, 1]})
    assert validate_data(_config(), frame, (), None).passed


def test_rows_missing_share_and_classes() -> None:
    frame = pd.DataFrame({"a": [1, None, None], "y": [1, 1, None]})
    rules = _rules(validate_data(_config(), frame, (), None))
    assert rules == {
        (None, "min_rows"),
        ("a", "max_missing"),
        ("y", "target_not_null"),
        ("y", "two_classes"),
    }


def test_schema_against_the_accepted_version() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3, 4], "y": [0, 1, 0, 1]})
    now = (Column("a", "string"), Column("c", "int64"), Column("y", "int64"))
    before = (Column("a", "int64"), Column("b", "double"), Column("y", "int64"))
    report = validate_data(_config(), frame, now, before)
    messages = {(p["column"], p["message"].split(" (exclude it")[0]) for p in report.problems}
    assert all("shipline data accept" in p["message"] for p in report.problems)
    assert messages == {
        ("b", "column disappeared since the last accepted version"),
        ("c", "new column since the last accepted version"),
        ("a", "type changed from int64 to string"),
    }
    widened = validate_data(
        _config(),
        frame,
        (Column("a", "double"), Column("y", "int64")),
        (Column("a", "int64"), Column("y", "int64")),
    )
    assert widened.passed  # int64 -> double is a widening, not a break
    assert validate_data(_config(), frame, now, before, schema_accepted=True).passed


def test_named_columns_must_exist() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3, 4], "y": [0, 1, 0, 1]})
    config = _config().model_copy(
        update={"data": _config().data.model_copy(update={"exclude": ["gone"]})}
    )
    assert ("gone", "present") in _rules(validate_data(config, frame, (), None))


def test_split_is_deterministic_stratified_and_time_ordered() -> None:
    frame = pd.DataFrame({"t": range(80), "a": range(80), "y": [0] * 60 + [1] * 20})
    _, test1 = split_frame(_config(), frame)
    _, test2 = split_frame(_config(), frame)
    assert list(test1.index) == list(test2.index)
    assert len(test1) == 20 and test1["y"].sum() == 5  # stratified: 25% positives both sides
    config = _config().model_copy(
        update={
            "data": _config().data.model_copy(
                update={"split": _config().data.split.model_copy(update={"by": "t"})}
            )
        }
    )
    train, test = split_frame(config, frame.sample(frac=1, random_state=3))
    assert list(test["t"]) == list(range(60, 80)) and train["t"].max() == 59
