"""Reading CSV and Parquet files: schema, exact row counts, and refusals of bad files."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipline.data.data_file import (
    CSV_HEAD_BYTES,
    CsvScan,
    count_csv_rows,
    find_data_files,
    read_csv_head,
    read_parquet_footer,
)
from shipline.errors import DataFileError


def _scan(data: bytes, chunk: int = 7) -> CsvScan:
    scan = CsvScan(Path("x.csv"))
    stream = io.BytesIO(data)
    while block := stream.read(chunk):
        scan.update(memoryview(block))
    scan.finish()
    return scan


@pytest.mark.parametrize(
    ("data", "rows"),
    [
        (b"a,b\n1,2\n3,4\n", 2),
        (b"a,b\n1,2\n3,4", 2),
        (b"a,b\r\n1,2\r\n3,4\r\n", 2),
        (b"a,b\n" + b"1,2\n" * 1000, 1000),
        (b"a,b\r\n1,\r\n,2\r\n\r3,4\r\n", 3),  # short lines and stray CR are not blank
        (b"a\n1\n2\n3\n", 3),  # one-byte lines are not blank
    ],
)
def test_scan_counts_rows_by_newlines(data: bytes, rows: int) -> None:
    for chunk in (*range(1, 16), 4096):
        assert _scan(data, chunk).rows == rows, chunk


@pytest.mark.parametrize(
    "data",
    [b'a,b\n"multi\nline",2\n3,4\n', b"a,b\n1,2\n\n3,4\n", b"a,b\r\n1,2\r\n\r\n3,4\r\n"],
)
def test_scan_defers_to_a_parser_when_newlines_may_lie(data: bytes, tmp_path: Path) -> None:
    for chunk in range(1, 16):  # every way a chunk boundary can split the blank line
        assert _scan(data, chunk).rows is None, chunk
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    assert count_csv_rows(path) == 2


def test_scan_reports_invalid_utf8_with_line_and_byte() -> None:
    data = b"a,b\n" + b"1,2\n" * 10 + b"3,caf\xe9\n"
    with pytest.raises(DataFileError, match=r"line 12 \(byte 49\) is not valid UTF-8"):
        _scan(data)


def test_scan_accepts_utf8_split_across_chunks() -> None:
    data = "a,b\n1,café\n2,naïve\n".encode()
    for chunk in range(1, 8):
        assert _scan(data, chunk).rows == 2


def test_scan_refuses_a_file_cut_inside_a_character() -> None:
    with pytest.raises(DataFileError, match="not valid UTF-8"):
        _scan("a,b\n1,é".encode()[:-1])


def test_csv_head_gives_schema_and_rows(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("id,score,name,flag\n1,0.5,x,true\n2,1.5,y,false\n")
    schema = read_csv_head(path)
    assert [(c.name, c.dtype) for c in schema.columns] == [
        ("id", "int64"),
        ("score", "double"),
        ("name", "string"),
        ("flag", "bool"),
    ]
    assert schema.rows == 2


def test_csv_head_of_a_large_file_leaves_rows_to_the_scan(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    line = b"1,2.5,abcdefghij\n"
    path.write_bytes(b"a,b,c\n" + line * (CSV_HEAD_BYTES // len(line) + 10))
    schema = read_csv_head(path)
    assert schema.rows is None
    assert [c.dtype for c in schema.columns] == ["int64", "double", "string"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b"\n\n", "file is empty"),
        (b"a,b,c\n", r"has a header \(3 columns\) but no data rows"),
        (b"a,b,a\n1,2,3\n", "duplicate column name 'a' \\(columns 1 and 3\\)"),
        (b"a,b\n1,2,3\n", "cannot be read as CSV"),
        (b"a,b\n1,caf\xe9\n", "line 2 .* is not valid UTF-8"),
        ("a,b\n1,2\n".encode("utf-16"), "not valid UTF-8"),
    ],
)
def test_bad_csv_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=message) as caught:
        read_csv_head(path)
    assert str(path) in str(caught.value)


def test_parquet_footer(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"a": [1, 2, 3], "b": ["x", "y", None]}), path)
    schema = read_parquet_footer(path)
    assert schema.rows == 3
    assert [(c.name, c.dtype) for c in schema.columns] == [("a", "int64"), ("b", "string")]


def test_truncated_and_empty_parquet(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"a": list(range(100))}), path)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataFileError, match="not a readable Parquet file"):
        read_parquet_footer(path)
    path.write_bytes(b"")
    with pytest.raises(DataFileError, match="file is empty"):
        read_parquet_footer(path)
    empty = tmp_path / "rows0.parquet"
    pq.write_table(pa.table({"a": pa.array([], pa.int64())}), empty)
    with pytest.raises(DataFileError, match="no rows"):
        read_parquet_footer(empty)


def test_finding_data_files(tmp_path: Path) -> None:
    (tmp_path / "part").mkdir()
    (tmp_path / "part" / "b.csv").write_text("a\n1\n")
    (tmp_path / "a.parquet").write_bytes(b"x")
    (tmp_path / "README.md").write_text("notes")
    (tmp_path / ".hidden.csv").write_text("a\n1\n")
    found = [p.relative_to(tmp_path).as_posix() for p in find_data_files(tmp_path)]
    assert found == ["a.parquet", "part/b.csv"]


def test_folder_without_data_files_and_wrong_extensions(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(
        DataFileError, match=r"holds no \.csv or \.parquet files \(found notes\.txt\)"
    ):
        find_data_files(tmp_path)
    with pytest.raises(DataFileError, match=r"expected a \.csv or \.parquet file, found '\.txt'"):
        find_data_files(tmp_path / "notes.txt")
    with pytest.raises(DataFileError, match="no such file"):
        find_data_files(tmp_path / "missing.csv")
