"""A worker process giving back the memory its finished task freed."""

from __future__ import annotations

__all__ = ["release_memory"]


def release_memory() -> None:
    """Give the memory Arrow's allocator and the C heap keep for reuse back to the system: a
    worker that holds on to it after a task sits near its memory limit, where Dask pauses it
    (and a paused worker starts nothing: a job needing every worker waits for ever)."""
    import ctypes
    import ctypes.util
    import sys

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        # numpy's and pandas' freed buffers stay in glibc's arenas until trimmed.
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
