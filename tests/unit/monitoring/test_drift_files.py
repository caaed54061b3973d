"""Two Parquet files are compared a column at a time, with the verdicts of the whole files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipline.errors import DataFileError
from shipline.monitoring import compare_columns, compare_files, read_columns
from shipline.monitoring.drift_files import ParquetColumns


def _write(path: Path, seed: int, shift: float, rows: int = 3000) -> Path:
    rng = np.random.default_rng(seed)
    words = rng.choice(["a", "b", "c"], rows).astype(object)
    words[::7] = None
    frame = pd.DataFrame(
        {
            "x": rng.normal(shift, 1, rows),
            "n": rng.integers(0, 3, rows),
            "w": words,
            "t": pd.to_datetime(rng.integers(1_600_000_000, 1_700_000_000, rows), unit="s"),
        }
    )
    frame.index = frame.index + 100  # saved by pandas as an index column: not data
    frame.to_parquet(path)
    return path


def test_streamed_comparison_equals_the_whole_files(tmp_path: Path) -> None:
    reference = _write(tmp_path / "ref.parquet", 1, 0.0)
    current = _write(tmp_path / "cur.parquet", 2, 0.5)
    streamed = compare_files(reference, current)
    whole = compare_columns(read_columns(reference), read_columns(current))
    assert streamed == whole
    assert [c.column for c in streamed.columns] == ["x", "n", "w", "t"]
    assert streamed.columns[0].drifted is True
    columns = ParquetColumns(reference)
    assert list(columns) == ["x", "n", "w", "t"] and len(columns) == 4
    assert columns.text_columns == {"w"}
    text = columns["w"]
    assert isinstance(text, np.ndarray) and text.dtype == object and text[0] is None
    with pytest.raises(KeyError):
        columns["__index_level_0__"]


def test_bad_parquet_files_are_named(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.parquet", 1, 0.0)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataFileError, match=r"broken\.parquet: cannot be read"):
        compare_files(good, broken)
    empty = tmp_path / "empty.parquet"
    pd.DataFrame({"x": pd.Series([], dtype=float)}).to_parquet(empty)
    with pytest.raises(DataFileError, match=r"empty\.parquet: has columns but no rows"):
        compare_files(empty, good)
    other = tmp_path / "other.parquet"
    pd.DataFrame({"x": [1.0], "y": [2.0]}).to_parquet(other)
    with pytest.raises(DataFileError, match="missing column 'n' that"):
        compare_files(good, other)
