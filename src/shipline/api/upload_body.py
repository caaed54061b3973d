"""Request bodies that are files: streamed to a temporary file under a size limit, never held
in memory whole."""

from __future__ import annotations

__all__ = ["received_file"]

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Request

from shipline.errors import UsageError


@asynccontextmanager
async def received_file(request: Request, name: str, limit: int) -> AsyncIterator[Path]:
    """The body, written to a temporary file called ``name`` (removed afterwards); over
    ``limit`` bytes it is refused with a clear error."""
    with tempfile.TemporaryDirectory(prefix="shipline-upload-") as folder:
        path = Path(folder) / name
        received = 0
        with path.open("wb") as out:
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise UsageError(f"the upload is over the {limit // 2**20} MiB limit")
                out.write(chunk)
        yield path
