"""Where heavy work runs: in shipline's own process, or on a Dask cluster."""

from __future__ import annotations

__all__ = ["ComputeError", "Executor", "InProcess", "open_executor"]

from shipline.compute.cluster import open_executor
from shipline.compute.executor import ComputeError, Executor, InProcess
