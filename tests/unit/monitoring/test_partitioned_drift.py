"""Drift over partitioned data: the verdicts and statistics of one file holding the same rows."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipline.compute import InProcess
from shipline.config.schema import DriftConfig
from shipline.errors import DataFileError
from shipline.monitoring.drift_files import compare_files
from shipline.monitoring.partitioned_drift import compare_partitions


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    generator = np.random.default_rng(7)
    rows = 6000

    def frame(shift: float, seed_rows: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "age": generator.normal(40 + shift, 10, seed_rows),
                "income": generator.lognormal(10, 1, seed_rows),
                "visits": generator.integers(0, 50, seed_rows),  # integers: numerical
                "plan": generator.choice(["a", "b", "c"], seed_rows, p=[0.5, 0.3, 0.2]),
                "rating": generator.integers(1, 6, seed_rows),  # few integers: categorical
                "signup": pd.Timestamp("2024-01-01")
                + pd.to_timedelta(generator.integers(0, 300, seed_rows), unit="D"),
            }
        )

    reference = frame(0.0, rows)
    current = frame(6.0, rows)
    current.loc[current.index[:40], "income"] = np.nan  # missing values in one partition
    return reference, current


def _split(frame: pd.DataFrame, folder: Path, parts: int) -> None:
    folder.mkdir()
    for index in range(parts):
        piece = frame.iloc[index::parts]
        if index % 2:
            piece.to_csv(folder / f"p{index}.csv", index=False)
        else:
            piece.to_parquet(folder / f"p{index}.parquet", index=False)


def test_partitioned_drift_equals_single_file_drift(tmp_path: Path) -> None:
    reference, current = _frames()
    _split(reference, tmp_path / "ref", 3)
    _split(current, tmp_path / "cur", 4)
    # The single-machine path over one file per side holding the same rows in the same order.
    pd.concat([reference.iloc[i::3] for i in range(3)]).to_parquet(tmp_path / "ref.parquet")
    pd.concat([current.iloc[i::4] for i in range(4)]).to_parquet(tmp_path / "cur.parquet")
    rules = DriftConfig(share=0.3)
    partitioned = compare_partitions(
        str(tmp_path / "ref"), str(tmp_path / "cur" / "p*"), InProcess(), rules
    )
    single = compare_files(tmp_path / "ref.parquet", tmp_path / "cur.parquet", rules)
    assert [c.column for c in partitioned.columns] == [c.column for c in single.columns]
    for mine, theirs in zip(partitioned.columns, single.columns, strict=True):
        assert (mine.kind, mine.method, mine.drifted) == (
            theirs.kind,
            theirs.method,
            theirs.drifted,
        )
        assert (mine.reference_rows, mine.current_rows) == (
            theirs.reference_rows,
            theirs.current_rows,
        )
        assert mine.statistic is not None and theirs.statistic is not None
        assert math.isclose(mine.statistic, theirs.statistic, rel_tol=1e-9, abs_tol=1e-12)
    assert partitioned.dataset_drift == single.dataset_drift
    assert {c.column for c in partitioned.columns if c.drifted} >= {"age"}


def test_partitions_with_other_columns_are_named(tmp_path: Path) -> None:
    reference, current = _frames()
    _split(reference, tmp_path / "ref", 2)
    (tmp_path / "cur").mkdir()
    current.iloc[:100].to_parquet(tmp_path / "cur" / "a.parquet", index=False)
    current.iloc[100:].drop(columns=["plan"]).to_parquet(tmp_path / "cur" / "b.parquet")
    with pytest.raises(DataFileError) as caught:
        compare_partitions(str(tmp_path / "ref"), str(tmp_path / "cur"), InProcess())
    assert "b.parquet" in str(caught.value) and "'plan'" in str(caught.value)
    with pytest.raises(DataFileError, match="no such file, folder or glob"):
        compare_partitions(str(tmp_path / "nowhere"), str(tmp_path / "cur"), InProcess())
