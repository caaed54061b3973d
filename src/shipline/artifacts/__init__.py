"""The content-addressed store and directory manifests."""

from shipline.artifacts.content_store import (
    BlobReader,
    ContentStore,
    StoredObject,
    StreamCheck,
    file_digest,
    open_content_store,
    require_digest,
)
from shipline.artifacts.manifest import Manifest, ManifestEntry, read_manifest, store_manifest

__all__ = [
    "BlobReader",
    "ContentStore",
    "Manifest",
    "ManifestEntry",
    "StoredObject",
    "StreamCheck",
    "file_digest",
    "open_content_store",
    "read_manifest",
    "require_digest",
    "store_manifest",
]
