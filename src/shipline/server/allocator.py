"""Which allocator Arrow uses in a serving process: chosen before pyarrow is first imported.

Capture's flushes build Arrow tables and a Parquet file every second or so. Arrow's default
allocator (mimalloc) hands freed pages back to the kernel between flushes, so each flush paid
for fresh zeroed pages: a third of its CPU, and a millisecond on the server's p99. The C
library's allocator keeps them. Arrow reads its choice from the environment once, when pyarrow
is imported (pandas imports it), so this runs first thing in the serving commands.
"""

from __future__ import annotations

__all__ = ["ARROW_POOL_VARIABLE", "prefer_system_allocator"]

import os
from collections.abc import MutableMapping

ARROW_POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"


def prefer_system_allocator(environ: MutableMapping[str, str] = os.environ) -> None:
    """Have Arrow use the C library's allocator, unless the operator chose one."""
    environ.setdefault(ARROW_POOL_VARIABLE, "system")
