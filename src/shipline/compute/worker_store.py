"""The content store as a worker process opens it: one instance per store URL per process."""

from __future__ import annotations

__all__ = ["worker_store"]

import functools
import tempfile
from pathlib import Path

from shipline.artifacts import ContentStore, open_content_store


@functools.lru_cache(maxsize=8)
def worker_store(url: str) -> ContentStore:
    """The store at ``url``, its download cache in the worker's temporary folder."""
    return open_content_store(url, Path(tempfile.gettempdir()) / "shipline-worker-cache")
