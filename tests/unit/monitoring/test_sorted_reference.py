"""A reference stored sorted at training gives exactly the verdicts of the rows themselves."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pyarrow import parquet

from shipline.config.schema import DriftConfig, DriftOverride
from shipline.data.frame import column_array
from shipline.data.profile import sorted_columns
from shipline.monitoring import compare_columns
from shipline.monitoring.column_sample import sorted_tally, tally


def _frame(rows: int, seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    numbers = rng.normal(shift, 1, rows)
    numbers[rng.random(rows) < 0.05] = np.nan
    numbers[:3] = [np.inf, -np.inf, np.nan]
    words = rng.choice(["red", "green", "blue", "cyan"], rows).astype(object)
    words[rng.random(rows) < 0.1] = None
    if shift:
        words[:5] = "magenta"  # unseen in the reference
    return pd.DataFrame(
        {
            "numbers": numbers,
            "few_ints": rng.integers(0, 4 + int(shift), rows),
            "many_ints": rng.integers(0, 1000, rows),
            "flags": rng.random(rows) < 0.3 + shift / 10,
            "words": words,
            "two_words": rng.choice(["yes", "no"], rows),
            "same": np.full(rows, 7.0),
            "when": pd.to_datetime(
                rng.integers(1_600_000_000, 1_700_000_000 + int(shift * 1e7), rows), unit="s"
            ),
            "free_text": [f"note {i} {seed}" for i in range(rows)],
        }
    )


def _as_stored(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The columns as monitoring reads them back from the Parquet the pipeline writes."""
    buffer = io.BytesIO()
    parquet.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    table = parquet.read_table(io.BytesIO(buffer.getvalue()))
    return {name: column_array(table.column(name)) for name in table.column_names}


@pytest.mark.parametrize("rows", [400, 5000])
@pytest.mark.parametrize("strict", [False, True])
def test_sorted_reference_gives_identical_verdicts(rows: int, strict: bool) -> None:
    reference, current = _frame(rows, 1, 0.0), _as_stored(_frame(rows - 37, 2, 0.4))
    rules = DriftConfig(strict=strict)
    as_rows = compare_columns(_as_stored(reference), current, rules)
    as_sorted = compare_columns(
        _as_stored(sorted_columns(reference)), current, rules, reference_sorted=True
    )
    assert as_sorted == as_rows
    assert as_rows.drifted > 0 and as_rows.compared >= 7  # the comparison is not vacuous
    methods = {c.method for c in as_rows.columns}
    assert methods >= ({"ks", "chisquare", "z"} if rows < 1000 else {"wasserstein"})


def test_sorted_reference_with_forced_methods() -> None:
    reference, current = _frame(3000, 3, 0.0), _as_stored(_frame(2000, 4, 0.3))
    rules = DriftConfig(
        columns={
            "numbers": DriftOverride(method="psi", threshold=0.1),
            "words": DriftOverride(method="hellinger", threshold=0.05),
            "few_ints": DriftOverride(method="chisquare", threshold=0.05),
            "many_ints": DriftOverride(method="ks", threshold=0.05),
        }
    )
    as_rows = compare_columns(_as_stored(reference), current, rules)
    as_sorted = compare_columns(
        _as_stored(sorted_columns(reference)), current, rules, reference_sorted=True
    )
    assert as_sorted == as_rows


def test_sorted_tally_counts_like_hashing() -> None:
    values = np.array(["b", "a", None, "b", 3, "3", 3, None, "a"], dtype=object)
    stored = sorted_columns(pd.DataFrame({"v": values}))["v"].to_numpy(dtype=object)
    assert stored[-2:].tolist() == [None, None]  # missing values last
    assert sorted_tally(stored) == tally(values) == {"a": 2, "b": 2, 3: 2, "3": 1}
    assert sorted_tally(np.array([None, None], dtype=object)) == {}
    assert sorted_tally(np.array([], dtype=object)) == {}


def test_text_is_read_as_one_object_per_distinct_value() -> None:
    column = pa.chunked_array([["x", "y", None], ["y", "x", None, "z"]])
    text = column_array(column)
    assert text.tolist() == ["x", "y", None, "y", "x", None, "z"]
    assert text[0] is text[4] and text[1] is text[3]
    assert column_array(pa.chunked_array([], type=pa.string())).size == 0
    assert column_array(pa.array(["w", None], type=pa.large_string())).tolist() == ["w", None]
