"""Partitioned data: the CSV and Parquet files under a folder or matching a glob, local or on
an object store (``s3://``), read with fsspec."""

from __future__ import annotations

__all__ = [
    "PARTITION_FORMATS",
    "absolute",
    "filesystem",
    "find_partitions",
    "is_partitioned",
    "partition_format",
]

import os
from pathlib import PurePosixPath
from typing import Any

from shipline.errors import DataFileError

PARTITION_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem and path of ``url`` (a plain path is a local file)."""
    import fsspec

    from shipline.artifacts.content_store import remote_options

    protocol = url.split("://", 1)[0] if "://" in url else "file"
    fs, path = fsspec.core.url_to_fs(url, **remote_options(protocol))
    return fs, path


def absolute(location: str) -> str:
    """A local path made absolute (a worker's working folder is not ours); URLs as they are."""
    return location if "://" in location else os.path.abspath(location)


def is_partitioned(location: str) -> bool:
    """A folder, a glob or a URL: data read partition by partition, not one local file."""
    return "://" in location or any(c in location for c in "*?[") or os.path.isdir(location)


def partition_format(path: str) -> str | None:
    """``csv`` or ``parquet`` from the name."""
    return PARTITION_FORMATS.get(PurePosixPath(path).suffix.lower())


def find_partitions(spec: str, option: str = "--input") -> list[str]:
    """The CSV and Parquet files named by ``spec``: a folder (every file under it, hidden and
    ``_``-prefixed ones left out) or a glob, sorted by name, as absolute paths or URLs."""
    fs, path = filesystem(spec)
    if any(c in spec for c in "*?["):
        found = fs.glob(path)
    elif fs.isdir(path):
        found = fs.find(path)
    elif fs.isfile(path):
        found = [path]  # one file is one partition
    else:
        raise DataFileError(f"{option} {spec}: no such file, folder or glob")
    files = sorted(
        f
        for f in found
        if partition_format(f) is not None and not PurePosixPath(f).name.startswith((".", "_"))
    )
    if not files:
        raise DataFileError(f"{option} {spec}: no .csv or .parquet files there")
    return [fs.unstrip_protocol(f) if "://" in spec else absolute(f) for f in files]
