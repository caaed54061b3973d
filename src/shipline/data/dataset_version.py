"""Immutable dataset versions: snapshot a CSV/Parquet file or folder, list, resolve, show.

Order of work in ``add_version``: every file is checked, hashed and stored first (blobs before
rows), then one serialized transaction creates the dataset if needed, assigns the next
version number, writes the version, its files and the audit events. A crash before the
commit leaves at most unreferenced blobs; a crash after it leaves the whole version.
"""

from __future__ import annotations

__all__ = [
    "AddResult",
    "DataFile",
    "DatasetVersion",
    "add_version",
    "get_version",
    "list_versions",
    "resolve_version",
]

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Row, select

from shipline.artifacts import ContentStore, ManifestEntry, store_manifest
from shipline.data.data_file import (
    Column,
    CsvScan,
    FileSchema,
    count_csv_rows,
    data_format,
    find_data_files,
    read_csv_head,
    read_parquet_footer,
)
from shipline.errors import DataFileError, NotFoundError, UsageError
from shipline.store import Database, next_value, utc_now
from shipline.store.tables import dataset_files, dataset_versions, datasets
from shipline.types import check_name

_REF = re.compile(r"(?P<name>[^@]+)@v?(?P<version>\d+)")
_HEX = re.compile(r"[0-9a-f]{6,64}")


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset version."""

    path: str
    digest: str
    size: int
    rows: int


@dataclass(frozen=True)
class DatasetVersion:
    """An immutable snapshot of training data."""

    name: str
    version: int
    digest: str
    kind: str
    format: str
    size: int
    rows: int
    columns: tuple[Column, ...]
    files: tuple[DataFile, ...]
    source: str
    created_at: str
    created_by: str

    @property
    def ref(self) -> str:
        """``name@vN``, the reference people type."""
        return f"{self.name}@v{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "ref": self.ref,
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "kind": self.kind,
            "format": self.format,
            "size_bytes": self.size,
            "rows": self.rows,
            "columns": [{"name": c.name, "dtype": c.dtype} for c in self.columns],
            "files": [
                {"path": f.path, "digest": f.digest, "size_bytes": f.size, "rows": f.rows}
                for f in self.files
            ],
            "source": self.source,
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


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
) -> AddResult:
    """Snapshot ``path`` as a version of dataset ``name`` (default: the file or folder name)."""
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
        source=str(path.resolve()),
        created_at=utc_now(),
        created_by=actor,
    )
    return _record(db, candidate, actor)


def _default_name(path: Path) -> str:
    stem = path.resolve().name if path.is_dir() else path.stem
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-_") or "dataset"


def _store_file(
    store: ContentStore, file: Path, relative: str, advance: Callable[[int], None] | None
) -> tuple[DataFile, tuple[Column, ...], str]:
    fmt = data_format(file)
    schema: FileSchema
    if fmt == "parquet":
        schema = read_parquet_footer(file)
        stored = store.put_file(file, _Progress(advance))
        rows = schema.rows or 0
    else:
        schema = read_csv_head(file)
        scan = CsvScan(file, advance)
        stored = store.put_file(file, scan)
        counted = schema.rows if schema.rows is not None else scan.rows
        rows = counted if counted is not None else count_csv_rows(file)
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
    with db.write(actor) as tx:
        conn = tx.conn
        dataset_id = conn.execute(
            select(datasets.c.id).where(datasets.c.name == candidate.name)
        ).scalar()
        if dataset_id is not None:
            existing = conn.execute(
                select(dataset_versions.c.id).where(
                    dataset_versions.c.dataset_id == dataset_id,
                    dataset_versions.c.digest == candidate.digest,
                )
            ).scalar()
            if existing is not None:
                return AddResult(_load(conn, existing), created=False)
        else:
            dataset_id = conn.execute(
                datasets.insert()
                .values(name=candidate.name, created_at=candidate.created_at, created_by=actor)
                .returning(datasets.c.id)
            ).scalar_one()
            tx.record("dataset.create", f"dataset:{candidate.name}", None, {"name": candidate.name})
        number = next_value(conn, f"dataset_version:{candidate.name}")
        version_id = conn.execute(
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
                created_by=actor,
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
        version = _load(conn, version_id)
        tx.record(
            "dataset.version.add",
            f"dataset:{version.ref}",
            None,
            {
                "digest": version.digest,
                "rows": version.rows,
                "size_bytes": version.size,
                "columns": len(version.columns),
                "files": len(version.files),
            },
        )
    return AddResult(version, created=True)


def _versions_query() -> Any:
    return select(dataset_versions, datasets.c.name).join(
        datasets, datasets.c.id == dataset_versions.c.dataset_id
    )


def _from_row(conn: Connection, row: Row[Any]) -> DatasetVersion:
    files = conn.execute(
        select(dataset_files)
        .where(dataset_files.c.version_id == row.id)
        .order_by(dataset_files.c.path)
    ).all()
    return DatasetVersion(
        name=row.name,
        version=row.version,
        digest=row.digest,
        kind=row.kind,
        format=row.format,
        size=row.size_bytes,
        rows=row.rows,
        columns=tuple(Column(n, t) for n, t in orjson.loads(row.columns)),
        files=tuple(DataFile(f.path, f.digest, f.size_bytes, f.rows) for f in files),
        source=row.source,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _load(conn: Connection, version_id: int) -> DatasetVersion:
    row = conn.execute(_versions_query().where(dataset_versions.c.id == version_id)).one()
    return _from_row(conn, row)


def list_versions(db: Database, name: str | None = None) -> list[DatasetVersion]:
    """Every dataset version (of one dataset when ``name`` is given), oldest first."""
    query = _versions_query().order_by(datasets.c.name, dataset_versions.c.version)
    with db.read() as conn:
        if name is not None:
            check_name(name, "dataset name")
            if conn.execute(select(datasets.c.id).where(datasets.c.name == name)).first() is None:
                raise _unknown_dataset(conn, name)
            query = query.where(datasets.c.name == name)
        return [_from_row(conn, row) for row in conn.execute(query).all()]


def resolve_version(db: Database, ref: str) -> DatasetVersion:
    """Find a version by ``name@vN``, ``name`` (latest) or a digest prefix (6+ hex digits)."""
    with db.read() as conn:
        return _resolve(conn, ref)


def get_version(conn: Connection, ref: str) -> DatasetVersion:
    """Resolve ``ref`` on an open connection (see ``resolve_version``)."""
    return _resolve(conn, ref)


def _resolve(conn: Connection, ref: str) -> DatasetVersion:
    if not ref or len(ref) > 200 or "\x00" in ref:
        raise UsageError(f"expected a dataset reference such as 'churn@v2', got {ref[:60]!r}")
    match = _REF.fullmatch(ref)
    query = _versions_query()
    if match:
        name = check_name(match.group("name"), "dataset name")
        row = conn.execute(
            query.where(
                datasets.c.name == name, dataset_versions.c.version == int(match.group("version"))
            )
        ).first()
        if row is None:
            if conn.execute(select(datasets.c.id).where(datasets.c.name == name)).first() is None:
                raise _unknown_dataset(conn, name)
            latest = conn.execute(
                select(dataset_versions.c.version)
                .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
                .where(datasets.c.name == name)
                .order_by(dataset_versions.c.version.desc())
            ).scalar()
            raise NotFoundError(
                f"dataset {name!r} has no version {match.group('version')} (latest is v{latest})"
            )
        return _from_row(conn, row)
    if conn.execute(select(datasets.c.id).where(datasets.c.name == ref)).first() is not None:
        row = conn.execute(
            query.where(datasets.c.name == ref).order_by(dataset_versions.c.version.desc())
        ).first()
        if row is not None:
            return _from_row(conn, row)
    if _HEX.fullmatch(ref):
        rows = conn.execute(
            query.where(dataset_versions.c.digest.startswith(ref, autoescape=True))
        ).all()
        if len(rows) == 1:
            return _from_row(conn, rows[0])
        if len(rows) > 1:
            refs = ", ".join(f"{r.name}@v{r.version}" for r in rows[:5])
            raise UsageError(
                f"digest prefix {ref!r} matches {len(rows)} versions ({refs}); give more digits"
            )
    check_name(ref, "dataset reference")
    raise _unknown_dataset(conn, ref)


def _unknown_dataset(conn: Connection, name: str) -> NotFoundError:
    names = list(conn.execute(select(datasets.c.name)).scalars())
    close = difflib.get_close_matches(name, names, n=1)
    hint = (
        f"; did you mean {close[0]!r}?"
        if close
        else ("" if names else "; add one with 'shipline data add PATH'")
    )
    return NotFoundError(f"no dataset or version {name!r}{hint}")
