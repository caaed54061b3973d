"""Taking a snapshot: a CSV/Parquet file or folder becomes an immutable dataset version.

Order of work in ``add_version``: every file is checked, hashed and stored first (blobs before
rows), then one serialized transaction creates the dataset if needed, assigns the next
version number, writes the version, its files and the audit events. A crash before the
commit leaves at most unreferenced blobs; a crash after it leaves the whole version.
"""

from __future__ import annotations

__all__ = [
    "AddResult",
    "add_version",
    "import_version",
    "snapshot_digest",
]

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
from sqlalchemy import Connection, select

from shipline.artifacts import (
    ContentStore,
    Manifest,
    ManifestEntry,
    file_digest,
    store_manifest,
)
from shipline.data.data_file import (
    CSV_HEAD_BYTES,
    Column,
    CsvScan,
    FileSchema,
    count_csv_rows,
    csv_head_schema,
    data_format,
    find_data_files,
    read_parquet_footer,
)
from shipline.data.dataset_version import DataFile, DatasetVersion, load_version
from shipline.errors import DataFileError
from shipline.store import Database, next_value, utc_now
from shipline.store.blob_kinds import record_kinds
from shipline.store.tables import dataset_files, dataset_versions, datasets
from shipline.types import check_name


@dataclass(frozen=True)
class AddResult:
    """The version that holds the added bytes, and whether this call created it."""

    version: DatasetVersion
    created: bool


ProgressStart = Callable[[int], Callable[[int], None]]


def add_version(
    db: Database,
    store: ContentStore,
    path: Path,
    actor: str,
    name: str | None = None,
    progress: ProgressStart | None = None,
    source: str | None = None,
) -> AddResult:
    """Snapshot ``path`` as a version of dataset ``name`` (default: the file or folder name);
    ``source`` is recorded as where the data came from when ``path`` is a local copy."""
    name = check_name(name if name is not None else _default_name(path), "dataset name")
    files = find_data_files(path)
    total = sum(f.stat().st_size for f in files)
    advance = progress(total) if progress else None
    stored: list[tuple[DataFile, tuple[Column, ...], str]] = []
    for file in files:
        relative = file.name if file == path else file.relative_to(path).as_posix()
        stored.append(_store_file(store, file, relative, advance))
    columns = _unified_columns(path, [(f.path, cols) for f, cols, _ in stored])
    formats = {fmt for _, _, fmt in stored}
    if path.is_dir():
        entries = [ManifestEntry(f.path, f.digest, f.size) for f, _, _ in stored]
        digest, kind = store_manifest(store, entries).digest, "directory"
    else:
        digest, kind = stored[0][0].digest, "file"
    candidate = DatasetVersion(
        name=name,
        version=0,
        digest=digest,
        kind=kind,
        format=formats.pop() if len(formats) == 1 else "mixed",
        size=total,
        rows=sum(f.rows for f, _, _ in stored),
        columns=columns,
        files=tuple(f for f, _, _ in stored),
        source=source or str(path.resolve()),
        created_at=utc_now(),
        created_by=actor,
    )
    return _record(db, candidate, actor)


def import_version(
    db: Database, store: ContentStore, uploaded: DatasetVersion, actor: str
) -> AddResult:
    """Record a dataset version snapshotted elsewhere (a remote-mode client) whose files were
    uploaded: every file must be in the store, and the version's digest must be its file's
    (a file) or a stored manifest listing exactly its files (a folder)."""
    from shipline.artifacts import read_manifest
    from shipline.errors import NotFoundError, StorageError

    check_name(uploaded.name, "dataset name")
    missing = [f.path for f in uploaded.files if not store.exists(f.digest)]
    if missing or not uploaded.files:
        raise NotFoundError(f"dataset {uploaded.name}: files not uploaded: {missing[:5]}")
    if uploaded.kind == "file":
        consistent = len(uploaded.files) == 1 and uploaded.files[0].digest == uploaded.digest
    else:
        try:
            entries = read_manifest(store, uploaded.digest).entries
        except (StorageError, NotFoundError):
            raise DataFileError(f"dataset {uploaded.name}: no manifest {uploaded.digest}") from None
        listed = {(e.path, e.digest, e.size) for e in entries}
        consistent = listed == {(f.path, f.digest, f.size) for f in uploaded.files}
    if not consistent or uploaded.size != sum(f.size for f in uploaded.files):
        raise DataFileError(f"dataset {uploaded.name}: the digest does not match its files")
    candidate = DatasetVersion(
        **{**uploaded.__dict__, "version": 0, "created_at": utc_now(), "created_by": actor}
    )
    return _record(db, candidate, actor)


def snapshot_digest(path: Path) -> str:
    """The digest ``add_version`` gives the data at ``path`` (a file's bytes, or a folder's
    manifest of files), computed without storing anything: the one content digest of a source."""
    import blake3

    files = find_data_files(path)
    if not path.is_dir():
        return file_digest(files[0])
    entries = [
        ManifestEntry(f.relative_to(path).as_posix(), file_digest(f), f.stat().st_size)
        for f in files
    ]
    return str(blake3.blake3(Manifest(tuple(entries)).to_bytes()).hexdigest())


def _default_name(path: Path) -> str:
    stem = path.resolve().name if path.is_dir() else path.stem
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-_") or "dataset"


def _store_file(
    store: ContentStore, file: Path, relative: str, advance: Callable[[int], None] | None
) -> tuple[DataFile, tuple[Column, ...], str]:
    """Check, hash and store one file. What is recorded (columns, rows) is computed from the
    bytes that were hashed and stored, never from a second read of the source, so a file
    that changes meanwhile cannot pair one version's facts with another's bytes."""
    fmt = data_format(file)
    schema: FileSchema
    if fmt == "parquet":
        read_parquet_footer(file)  # refuse a bad file before anything is stored
        stored = store.put_file(file, _Progress(advance))
        schema = read_parquet_footer(store.fetch(stored.digest))
        rows = schema.rows or 0
    else:
        with file.open("rb") as handle:
            head = handle.read(CSV_HEAD_BYTES + 1)
        checked = csv_head_schema(head, file)  # refuse a bad file before anything is stored
        scan = CsvScan(file, advance)
        stored = store.put_file(file, scan)
        # The facts come from the stored bytes: read again only if they are not those checked.
        schema = checked if scan.head == head else csv_head_schema(bytes(scan.head), file)
        counted = schema.rows if schema.rows is not None else scan.rows
        rows = counted if counted is not None else count_csv_rows(store.fetch(stored.digest), file)
    return DataFile(relative, stored.digest, stored.size, rows), schema.columns, fmt or "csv"


class _Progress:
    """A stream check that only reports progress."""

    def __init__(self, advance: Callable[[int], None] | None) -> None:
        self.advance = advance

    def update(self, chunk: memoryview) -> None:
        """Report the bytes of one chunk."""
        if self.advance is not None:
            self.advance(len(chunk))

    def finish(self) -> None:
        """Nothing to check at the end."""


def _unified_columns(root: Path, files: list[tuple[str, tuple[Column, ...]]]) -> tuple[Column, ...]:
    """The one schema of all files; numeric types widen, anything else must agree."""
    first_path, first = files[0]
    names = [c.name for c in first]
    dtypes = {c.name: c.dtype for c in first}
    for relative, columns in files[1:]:
        other = [c.name for c in columns]
        if other != names:
            missing = [n for n in names if n not in other]
            extra = [n for n in other if n not in names]
            raise DataFileError(
                f"{root / relative}: columns differ from {root / first_path}: "
                f"missing {missing or 'none'}, extra {extra or 'none'}"
                + ("" if missing or extra else ", order differs")
            )
        for column in columns:
            dtypes[column.name] = _widen(
                dtypes[column.name], column.dtype, root / relative, column.name
            )
    return tuple(Column(n, dtypes[n]) for n in names)


def _widen(a: str, b: str, file: Path, column: str) -> str:
    if a == b:
        return a
    if {a, b} <= {"int64", "double"}:
        return "double"
    if "null" in (a, b):
        return b if a == "null" else a
    raise DataFileError(f"{file}: column {column!r} is {b} here but {a} in earlier files")


def _record(db: Database, candidate: DatasetVersion, actor: str) -> AddResult:
    """One transaction: the dataset if new, the next number, the version, its files, audit."""
    with db.write(actor) as tx:
        conn = tx.conn
        dataset_id = conn.execute(
            select(datasets.c.id).where(datasets.c.name == candidate.name)
        ).scalar()
        if dataset_id is None:
            dataset_id = conn.execute(
                datasets.insert()
                .values(name=candidate.name, created_at=candidate.created_at, created_by=actor)
                .returning(datasets.c.id)
            ).scalar_one()
            tx.record("dataset.create", f"dataset:{candidate.name}", None, {"name": candidate.name})
        else:
            existing = conn.execute(
                select(dataset_versions.c.id).where(
                    dataset_versions.c.dataset_id == dataset_id,
                    dataset_versions.c.digest == candidate.digest,
                )
            ).scalar()
            if existing is not None:
                return AddResult(load_version(conn, existing), created=False)
        record_kinds(conn, {f.digest: "dataset" for f in candidate.files})
        version = load_version(conn, _insert_version(conn, dataset_id, candidate))
        summary = {
            "digest": version.digest,
            "rows": version.rows,
            "size_bytes": version.size,
            "columns": len(version.columns),
            "files": len(version.files),
        }
        tx.record("dataset.version.add", f"dataset:{version.ref}", None, summary)
    return AddResult(version, created=True)


def _insert_version(conn: Connection, dataset_id: int, candidate: DatasetVersion) -> int:
    """Insert the version under the next number, and its files; returns the version's id."""
    number = next_value(conn, f"dataset_version:{candidate.name}")
    version_id: int = conn.execute(
        dataset_versions.insert()
        .values(
            dataset_id=dataset_id,
            version=number,
            digest=candidate.digest,
            kind=candidate.kind,
            format=candidate.format,
            size_bytes=candidate.size,
            rows=candidate.rows,
            columns=orjson.dumps([[c.name, c.dtype] for c in candidate.columns]).decode(),
            source=candidate.source,
            created_at=candidate.created_at,
            created_by=candidate.created_by,
        )
        .returning(dataset_versions.c.id)
    ).scalar_one()
    conn.execute(
        dataset_files.insert(),
        [
            {
                "version_id": version_id,
                "path": f.path,
                "digest": f.digest,
                "size_bytes": f.size,
                "rows": f.rows,
            }
            for f in candidate.files
        ],
    )
    return version_id
