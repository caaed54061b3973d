"""Directory artifacts: a manifest of (relative path, digest, size), itself an object."""

from __future__ import annotations

__all__ = ["Manifest", "ManifestEntry", "read_manifest", "store_manifest"]

from dataclasses import dataclass
from pathlib import PurePosixPath

import orjson

from shipline.artifacts.content_store import ContentStore, StoredObject
from shipline.errors import StorageError

_KIND = "shipline.manifest/1"


@dataclass(frozen=True)
class ManifestEntry:
    """One file of a directory artifact."""

    path: str
    digest: str
    size: int


@dataclass(frozen=True)
class Manifest:
    """The files of a directory artifact, sorted by path."""

    entries: tuple[ManifestEntry, ...]

    def to_bytes(self) -> bytes:
        """Canonical JSON: the same manifest always has the same digest."""
        files = [
            {"path": e.path, "digest": e.digest, "size": e.size}
            for e in sorted(self.entries, key=lambda e: e.path)
        ]
        return orjson.dumps({"kind": _KIND, "files": files}, option=orjson.OPT_SORT_KEYS)

    @property
    def size(self) -> int:
        """Total bytes of the files."""
        return sum(e.size for e in self.entries)


def _check_relative(path: str) -> str:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or "\x00" in path or not path:
        raise ValueError(f"manifest path must be relative and inside the artifact, got {path!r}")
    return path


def store_manifest(store: ContentStore, entries: list[ManifestEntry]) -> StoredObject:
    """Store the manifest of already-stored files (blobs first, then the manifest)."""
    for entry in entries:
        _check_relative(entry.path)
    return store.put_bytes(Manifest(tuple(entries)).to_bytes())


def read_manifest(store: ContentStore, digest: str) -> Manifest:
    """Load and verify a manifest by digest."""
    raw = store.read_bytes(digest)
    try:
        document = orjson.loads(raw)
        if document.get("kind") != _KIND:
            raise ValueError("not a manifest")
        entries = tuple(
            ManifestEntry(_check_relative(f["path"]), f["digest"], int(f["size"]))
            for f in document["files"]
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise StorageError(f"object blake3:{digest} is not a valid manifest: {error}") from None
    return Manifest(entries)
