"""A dataset version (an immutable snapshot of data) and how to find one: list, resolve."""

from __future__ import annotations

__all__ = [
    "DataFile",
    "DatasetVersion",
    "get_version",
    "list_versions",
    "load_version",
    "resolve_version",
]

import difflib
import re
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Row, select

from shipline.data.data_file import Column
from shipline.errors import NotFoundError, UsageError
from shipline.store import Database
from shipline.store.tables import dataset_files, dataset_versions, datasets
from shipline.types import check_name, parse_reference

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


def load_version(conn: Connection, version_id: int) -> DatasetVersion:
    """The version with database id ``version_id``."""
    row = conn.execute(_versions_query().where(dataset_versions.c.id == version_id)).one()
    return _from_row(conn, row)


def list_versions(db: Database, name: str | None = None) -> list[DatasetVersion]:
    """Every dataset version (of one dataset when ``name`` is given), oldest first."""
    query = _versions_query().order_by(datasets.c.name, dataset_versions.c.version)
    with db.read() as conn:
        if name is not None:
            check_name(name, "dataset name")
            if not _dataset_exists(conn, name):
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
    reference = parse_reference(ref, "dataset", dataset=True) if "@" in ref or ":" in ref else None
    if reference is not None and reference.version is not None:
        return _by_number(conn, reference.name, reference.version)
    if _dataset_exists(conn, ref):
        row = conn.execute(
            _versions_query()
            .where(datasets.c.name == ref)
            .order_by(dataset_versions.c.version.desc())
        ).first()
        if row is not None:
            return _from_row(conn, row)
    if _HEX.fullmatch(ref):
        rows = conn.execute(
            _versions_query().where(dataset_versions.c.digest.startswith(ref, autoescape=True))
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


def _dataset_exists(conn: Connection, name: str) -> bool:
    return conn.execute(select(datasets.c.id).where(datasets.c.name == name)).first() is not None


def _by_number(conn: Connection, name: str, number: int) -> DatasetVersion:
    row = conn.execute(
        _versions_query().where(datasets.c.name == name, dataset_versions.c.version == number)
    ).first()
    if row is not None:
        return _from_row(conn, row)
    if not _dataset_exists(conn, name):
        raise _unknown_dataset(conn, name)
    latest = conn.execute(
        select(dataset_versions.c.version)
        .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
        .where(datasets.c.name == name)
        .order_by(dataset_versions.c.version.desc())
    ).scalar()
    raise NotFoundError(f"dataset {name!r} has no version {number} (latest is v{latest})")


def _unknown_dataset(conn: Connection, name: str) -> NotFoundError:
    names = list(conn.execute(select(datasets.c.name)).scalars())
    close = difflib.get_close_matches(name, names, n=1)
    hint = (
        f"; did you mean {close[0]!r}?"
        if close
        else ("" if names else "; add one with 'shipline data add PATH'")
    )
    return NotFoundError(f"no dataset or version {name!r}{hint}")
