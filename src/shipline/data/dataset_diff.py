"""What changed between two dataset versions: schema, row counts, files."""

from __future__ import annotations

__all__ = ["DatasetDiff", "diff_versions"]

from dataclasses import dataclass
from typing import Any

from shipline.data.dataset_version import DatasetVersion


@dataclass(frozen=True)
class DatasetDiff:
    """The differences from version ``a`` to version ``b``."""

    a: str
    b: str
    same_content: bool
    columns_added: tuple[str, ...]
    columns_removed: tuple[str, ...]
    dtypes_changed: tuple[tuple[str, str, str], ...]
    rows_a: int
    rows_b: int
    files_added: tuple[str, ...]
    files_removed: tuple[str, ...]
    files_changed: tuple[str, ...]

    @property
    def schema_changed(self) -> bool:
        """True when columns were added, removed or retyped."""
        return bool(self.columns_added or self.columns_removed or self.dtypes_changed)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "a": self.a,
            "b": self.b,
            "same_content": self.same_content,
            "schema": {
                "added": list(self.columns_added),
                "removed": list(self.columns_removed),
                "dtype_changed": [{"column": c, "a": x, "b": y} for c, x, y in self.dtypes_changed],
            },
            "rows": {"a": self.rows_a, "b": self.rows_b, "delta": self.rows_b - self.rows_a},
            "files": {
                "added": list(self.files_added),
                "removed": list(self.files_removed),
                "changed": list(self.files_changed),
            },
        }


def diff_versions(a: DatasetVersion, b: DatasetVersion) -> DatasetDiff:
    """Compare two versions column by column and file by file."""
    types_a = {c.name: c.dtype for c in a.columns}
    types_b = {c.name: c.dtype for c in b.columns}
    files_a = {f.path: f.digest for f in a.files}
    files_b = {f.path: f.digest for f in b.files}
    if a.kind == "file" and b.kind == "file":
        # One file each: a changed file is just changed content, reported by same_content.
        files_a, files_b = {}, {}
    return DatasetDiff(
        a=a.ref,
        b=b.ref,
        same_content=a.digest == b.digest,
        columns_added=tuple(n for n in types_b if n not in types_a),
        columns_removed=tuple(n for n in types_a if n not in types_b),
        dtypes_changed=tuple(
            (n, types_a[n], types_b[n])
            for n in types_a
            if n in types_b and types_a[n] != types_b[n]
        ),
        rows_a=a.rows,
        rows_b=b.rows,
        files_added=tuple(sorted(p for p in files_b if p not in files_a)),
        files_removed=tuple(sorted(p for p in files_a if p not in files_b)),
        files_changed=tuple(
            sorted(p for p in files_a if p in files_b and files_a[p] != files_b[p])
        ),
    )
