"""Text read as Arrow dictionary codes gives exactly the verdicts of the text itself."""

from __future__ import annotations

from pathlib import Path

import blake3
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pyarrow import parquet

from shipline.artifacts import file_digest
from shipline.config.schema import DriftConfig, DriftOverride
from shipline.data.frame import CodedText, ColumnValues, column_codes
from shipline.data.profile import sorted_columns
from shipline.errors import DataFileError
from shipline.monitoring import compare_columns
from shipline.monitoring.column_sample import tally
from shipline.monitoring.drift import column_kind
from shipline.monitoring.drift_files import ParquetColumns
from tests.unit.monitoring.test_sorted_reference import _frame


def _written(frame: pd.DataFrame, path: Path) -> Path:
    parquet.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    return path


def _sides(tmp_path: Path, rows: int, sort: bool = False) -> tuple[Path, Path]:
    reference = _frame(rows, 1, 0.0)
    return (
        _written(sorted_columns(reference) if sort else reference, tmp_path / "reference.parquet"),
        _written(_frame(rows - 37, 2, 0.4), tmp_path / "current.parquet"),
    )


def _read(path: Path, coded: bool) -> dict[str, ColumnValues]:
    columns = ParquetColumns(path, coded_text=coded)
    return {name: columns[name] for name in columns}


@pytest.mark.parametrize("rows", [400, 5000])
@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("sort", [False, True])
def test_coded_text_gives_identical_verdicts(
    tmp_path: Path, rows: int, strict: bool, sort: bool
) -> None:
    reference, current = _sides(tmp_path, rows, sort)
    rules = DriftConfig(strict=strict)
    as_text = compare_columns(_read(reference, False), _read(current, False), rules, sort)
    coded = _read(reference, True)
    assert isinstance(coded["words"], CodedText) and isinstance(coded["free_text"], CodedText)
    as_codes = compare_columns(coded, _read(current, True), rules, sort)
    mixed = compare_columns(coded, _read(current, False), rules, sort)
    assert as_codes == as_text == mixed
    assert as_codes.drifted > 0 and as_codes.compared >= 7  # the comparison is not vacuous
    assert next(c for c in as_codes.columns if c.column == "words").unseen == ("magenta",)
    assert next(c for c in as_codes.columns if c.column == "free_text").kind == "text"


def test_coded_text_with_forced_methods(tmp_path: Path) -> None:
    reference, current = _sides(tmp_path, 3000)
    for method in ("psi", "hellinger", "jensenshannon", "chisquare", "z"):
        rules = DriftConfig(
            columns={
                "words": DriftOverride(method=method, threshold=0.05),
                "two_words": DriftOverride(method=method, threshold=0.05),
            }
        )
        as_text = compare_columns(_read(reference, False), _read(current, False), rules)
        as_codes = compare_columns(_read(reference, True), _read(current, True), rules)
        assert as_codes == as_text, method


def test_tally_of_codes_equals_hashing_the_text() -> None:
    first = pa.array(["b", "a", None, "b"]).dictionary_encode()
    second = pa.array(["c", "b", "b", None, "c"]).dictionary_encode()  # its own dictionary
    coded = column_codes(pa.chunked_array([first, second]))
    rows = np.array(["b", "a", None, "b", "c", "b", "b", None, "c"], dtype=object)
    assert coded.size == 9
    assert coded.to_array().tolist() == rows.tolist()
    assert coded.tally() == tally(rows) == {"a": 1, "b": 4, "c": 2}
    # A dictionary may hold a word no row uses, or the same word twice.
    repeated = CodedText(np.array(["x", "y", "x", "z"], dtype=object), np.array([0, 2, -1, 1]))
    assert repeated.tally() == {"x": 2, "y": 1}
    empty = column_codes(pa.array([None, None], type=pa.string()))
    assert empty.tally() == {} and empty.to_array().tolist() == [None, None]


def test_kind_of_coded_text() -> None:
    categories = column_codes(pa.array(["a", "b"] * 50))
    free = column_codes(pa.array([f"note {i}" for i in range(100)]))
    assert column_kind(categories) == "categorical"
    assert column_kind(free) == "text"


def test_named_columns_must_exist(tmp_path: Path) -> None:
    path = _written(pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}), tmp_path / "f.parquet")
    assert list(ParquetColumns(path, ["b"])) == ["b"]
    with pytest.raises(DataFileError, match=r"f.parquet: has no column 'c'"):
        ParquetColumns(path, ["b", "c"])


def test_file_digest_reads_in_chunks(tmp_path: Path) -> None:
    data = np.random.default_rng(0).bytes(20 * 1024 * 1024 + 3)  # more than two chunks
    (tmp_path / "big").write_bytes(data)
    (tmp_path / "empty").write_bytes(b"")
    assert file_digest(tmp_path / "big") == blake3.blake3(data).hexdigest()
    assert file_digest(tmp_path / "empty") == blake3.blake3(b"").hexdigest()
