"""Dataset versions on both ends of the deployment range (SQLite + local, PostgreSQL + S3)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from shipline.artifacts import open_content_store, read_manifest
from shipline.audit import list_events, verify_chain
from shipline.data import add_version, diff_versions, list_versions, resolve_version
from shipline.errors import DataFileError, NotFoundError, UsageError
from shipline.store import open_database
from shipline.store.tables import dataset_versions
from tests.conftest import Backend


@pytest.fixture
def env(backend: Backend, tmp_path: Path):  # type: ignore[no-untyped-def]
    db = open_database(backend.db_url)
    store = open_content_store(backend.store_url, tmp_path / "cache")
    yield db, store
    db.close()


def _csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_add_records_digest_size_rows_columns_and_dtypes(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, store = env
    path = _csv(
        tmp_path / "churn.csv", "id,tenure,plan,churned\n1,3.5,basic,0\n2,10,pro,1\n3,1,basic,0\n"
    )
    result = add_version(db, store, path, "alice")
    version = result.version
    assert result.created
    assert version.ref == "churn@v1"
    assert (version.rows, version.size, version.kind, version.format) == (
        3,
        path.stat().st_size,
        "file",
        "csv",
    )
    assert [(c.name, c.dtype) for c in version.columns] == [
        ("id", "int64"),
        ("tenure", "double"),
        ("plan", "string"),
        ("churned", "int64"),
    ]
    assert store.read_bytes(version.digest) == path.read_bytes()
    events = list_events(db)
    assert [e.action for e in events] == ["dataset.create", "dataset.version.add"]
    assert events[1].actor == "alice" and events[1].target == "dataset:churn@v1"
    assert verify_chain(db).ok


def test_same_bytes_return_the_same_version(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, store = env
    path = _csv(tmp_path / "churn.csv", "a,b\n1,2\n")
    first = add_version(db, store, path, "alice")
    copy = _csv(tmp_path / "elsewhere" / "churn.csv", "a,b\n1,2\n")
    again = add_version(db, store, copy, "bob")
    assert not again.created
    assert again.version == first.version
    assert len(list_events(db)) == 2  # nothing changed, nothing audited


def test_versions_number_up_and_old_bytes_keep_their_version(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, store = env
    path = tmp_path / "d.csv"
    _csv(path, "a,b\n1,2\n")
    v1 = add_version(db, store, path, "alice").version
    _csv(path, "a,b,c\n1,2,3\n4,5,6\n")
    v2 = add_version(db, store, path, "alice").version
    _csv(path, "a,b\n1,2\n")
    back = add_version(db, store, path, "alice")
    assert (v1.version, v2.version) == (1, 2)
    assert not back.created and back.version.version == 1
    assert [v.ref for v in list_versions(db)] == ["d@v1", "d@v2"]


def test_directory_dataset_is_a_manifest(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, store = env
    folder = tmp_path / "events"
    _csv(folder / "2026-01.csv", "ts,value\n1,2\n2,3\n")
    _csv(folder / "2026-02.csv", "ts,value\n3,4.5\n")
    (folder / "sub").mkdir()
    pq.write_table(pa.table({"ts": [4, 5], "value": [1.0, 2.0]}), folder / "sub" / "x.parquet")
    version = add_version(db, store, folder, "alice").version
    assert (version.kind, version.format, version.rows) == ("directory", "mixed", 5)
    assert [f.path for f in version.files] == ["2026-01.csv", "2026-02.csv", "sub/x.parquet"]
    assert [(c.name, c.dtype) for c in version.columns] == [("ts", "int64"), ("value", "double")]
    manifest = read_manifest(store, version.digest)
    assert {e.path: e.digest for e in manifest.entries} == {f.path: f.digest for f in version.files}


def test_directory_files_must_share_columns(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, store = env
    folder = tmp_path / "events"
    _csv(folder / "a.csv", "ts,value\n1,2\n")
    _csv(folder / "b.csv", "ts,amount\n1,2\n")
    with pytest.raises(
        DataFileError, match=r"b\.csv: columns differ .* missing \['value'\], extra \['amount'\]"
    ):
        add_version(db, store, folder, "alice")
    _assert_nothing_recorded(db)


def test_references(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, store = env
    path = tmp_path / "churn.csv"
    _csv(path, "a\n1\n")
    v1 = add_version(db, store, path, "alice").version
    _csv(path, "a\n2\n")
    v2 = add_version(db, store, path, "alice").version
    assert resolve_version(db, "churn") == v2
    assert resolve_version(db, "churn@v1") == v1
    assert resolve_version(db, "churn@1") == v1
    assert resolve_version(db, v1.digest[:10]) == v1
    with pytest.raises(NotFoundError, match="no version 7 \\(latest is v2\\)"):
        resolve_version(db, "churn@v7")
    with pytest.raises(NotFoundError, match="did you mean 'churn'"):
        resolve_version(db, "chrun")
    for bad in ("../x", "a/b", "x" * 300, "a\x00b", "../x@v1"):
        with pytest.raises(UsageError):
            resolve_version(db, bad)


def test_diff_reports_schema_rows_and_files(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, store = env
    folder = tmp_path / "events"
    _csv(folder / "a.csv", "id,x,y\n1,2,a\n")
    _csv(folder / "b.csv", "id,x,y\n2,3,b\n")
    v1 = add_version(db, store, folder, "alice").version
    (folder / "b.csv").unlink()
    _csv(folder / "a.csv", "id,x,z\n1,2.5,1\n7,1,1\n")
    _csv(folder / "c.csv", "id,x,z\n3,3,3\n")
    v2 = add_version(db, store, folder, "alice").version
    diff = diff_versions(v1, v2)
    assert (diff.columns_added, diff.columns_removed) == (("z",), ("y",))
    assert diff.dtypes_changed == (("x", "int64", "double"),)
    assert (diff.rows_a, diff.rows_b) == (2, 3)
    assert (diff.files_added, diff.files_removed, diff.files_changed) == (
        ("c.csv",),
        ("b.csv",),
        ("a.csv",),
    )
    same = diff_versions(v2, v2)
    assert same.same_content and not same.schema_changed


@pytest.mark.parametrize("name", ["../x", "a/b", "x" * 300, "a\x00b", "", "-dash", "a b"])
def test_bad_names_are_refused_before_anything_is_written(env, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    db, store = env
    path = _csv(tmp_path / "d.csv", "a\n1\n")
    with pytest.raises(UsageError, match="dataset name"):
        add_version(db, store, path, "alice", name=name)
    _assert_nothing_recorded(db)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b"a,b\n", "no data rows"),
        (b"a,b\n" + b"1,2\n" * 100 + b"3,\xff\n", "line 102 .* not valid UTF-8"),
        # Past the first MiB: found by the streaming pass, which aborts the write.
        (b"a,b\n" + b"1,2\n" * 400_000 + b"3,\xff\n", "line 400002 .* not valid UTF-8"),
        # A row with too many fields past the first MiB (the schema's sample).
        (
            b"a,b,c\n" + b"1,2,3\n" * 250_000 + b"4,5,6,7\n" + b"1,2,3\n" * 10,
            "line 250002 has 4 fields, expected 3",
        ),
        (b"a,b,c\n" + b"1,2,3\n" * 250_000 + b"4,5", "line 250002 has 2 fields, expected 3"),
    ],
    ids=[
        "empty",
        "header-only",
        "latin1-in-head",
        "latin1-in-stream",
        "extra-field-past-head",
        "short-last-line",
    ],
)
def test_bad_files_write_nothing(env, tmp_path: Path, content: bytes, message: str) -> None:  # type: ignore[no-untyped-def]
    db, store = env
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=message):
        add_version(db, store, path, "alice")
    _assert_nothing_recorded(db)
    assert not store.fs.exists(f"{store.root}/objects")


def _assert_nothing_recorded(db) -> None:  # type: ignore[no-untyped-def]
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(dataset_versions)).scalar() == 0
    assert list_events(db) == []


def test_malformed_quoted_csv_past_the_head_is_refused(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, store = env
    path = tmp_path / "quoted.csv"
    path.write_bytes(b"a,b\n" + b'"x, y",2\n' * 200_000 + b'"z",3,4\n')
    with pytest.raises(DataFileError, match=r"quoted.csv: cannot be read as CSV: .*Expected 2"):
        add_version(db, store, path, "alice")
    _assert_nothing_recorded(db)


def test_recorded_facts_come_from_the_stored_bytes_when_the_file_changes(  # type: ignore[no-untyped-def]
    env,
    tmp_path: Path,
) -> None:
    import pandas as pd

    db, store = env
    path = tmp_path / "moving.csv"
    path.write_bytes(b"a,b\n" + b"1,2\n" * 1_000_000)  # several chunks

    def rewrite_once(total: int):  # type: ignore[no-untyped-def]
        state = {"done": False}

        def advance(count: int) -> None:
            if not state["done"]:  # mid-read, the file is rewritten in place
                state["done"] = True
                with path.open("r+b") as handle:
                    handle.write(b"x,y,z\n" + b"7,8,9\n" * 10)
                    handle.truncate()

        return advance

    version = add_version(db, store, path, "alice", progress=rewrite_once).version
    stored = pd.read_csv(store.fetch(version.digest))
    assert version.rows == len(stored)
    assert [c.name for c in version.columns] == list(stored.columns)
