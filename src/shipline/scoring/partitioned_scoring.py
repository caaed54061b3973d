"""``shipline predict --input DIR_OR_GLOB --output DIR``: score partitioned data larger than
memory, one partition (file) per task, here or on the Dask cluster.

Each task streams its file chunk by chunk through the same validation and model code as the
server, so a worker holds one chunk, not one file. Each output partition appears whole or not
at all: a local file is written beside its final name, fsynced and renamed; an object store
publishes an object only when its upload completes. ``_manifest.json`` (written last, the same
way) lists the partitions, their rows and the version that scored them.
"""

from __future__ import annotations

__all__ = [
    "PartitionScored",
    "ScoredPartitions",
    "score_partitions",
]

import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import orjson

from shipline.compute import Executor
from shipline.compute.worker_memory import release_memory
from shipline.data.partitions import absolute, filesystem, partition_format
from shipline.errors import UsageError
from shipline.scoring.batch_scoring import ScoringOutput, read_chunks, score_table
from shipline.scoring.shipped_model import ShippedModel, loaded_on_worker

_PART = re.compile(r"part-\d{5}\.parquet")
MANIFEST = "_manifest.json"


@dataclass(frozen=True)
class PartitionTask:
    """One input file and where its scored rows go."""

    index: int
    source: str
    output_dir: str
    output: ScoringOutput


@dataclass(frozen=True)
class PartitionScored:
    """What one task wrote."""

    index: int
    source: str
    output: str | None
    rows: int


@dataclass(frozen=True)
class ScoredPartitions:
    """A finished partitioned scoring job."""

    model: str
    version: int
    rows: int
    partitions: int
    output_dir: str
    ran_on: str


def score_partitions(
    model: ShippedModel,
    sources: list[str],
    output_dir: str,
    executor: Executor,
    output: ScoringOutput = ScoringOutput(),  # noqa: B008 (frozen)
    on_rows: Callable[[int], None] | None = None,
) -> ScoredPartitions:
    """Score every source into ``output_dir``/part-NNNNN.parquet and write the manifest."""
    version = model.version
    output.check(version.ref, str(version.facts.task))
    fs, out_path = filesystem(output_dir)
    _prepare_output(fs, out_path, output_dir)
    tasks = [
        PartitionTask(i, absolute(s), absolute(output_dir), output) for i, s in enumerate(sources)
    ]

    def done(result: PartitionScored) -> None:
        if on_rows is not None:
            on_rows(result.rows)

    results = executor.map(_score_partition, tasks, shared=model, on_done=done)
    rows = sum(r.rows for r in results)
    manifest = {
        "model": version.name,
        "version": version.version,
        "bundle_digest": version.bundle_digest,
        "rows": rows,
        "partitions": [{"source": r.source, "output": r.output, "rows": r.rows} for r in results],
    }
    _publish(fs, f"{out_path.rstrip('/')}/{MANIFEST}", orjson.dumps(manifest))
    return ScoredPartitions(
        version.name,
        version.version,
        rows,
        len(results),
        output_dir,
        executor.description,
    )


def _prepare_output(fs: Any, path: str, shown: str) -> None:
    """Create the folder; refuse one holding anything but an earlier job's partitions."""
    if fs.exists(path) and not fs.isdir(path):
        raise UsageError(f"--output {shown}: exists and is not a folder")
    fs.makedirs(path, exist_ok=True)
    foreign = [
        name
        for name in (PurePosixPath(p).name for p in fs.ls(path, detail=False))
        if not (_PART.fullmatch(name) or name.startswith((MANIFEST, ".part-")))
    ]
    if foreign:
        raise UsageError(
            f"--output {shown}: holds {foreign[0]!r}, which is not scoring output; "
            "give an empty or new folder"
        )
    # An earlier job's output, and the temporary files of one that was killed, go first.
    for old in fs.ls(path, detail=False):
        fs.rm(old)


def _is_local(fs: Any) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocols


def _score_partition(task: PartitionTask, shared: ShippedModel) -> PartitionScored:
    """Run on a worker: stream one file through the model into one output partition."""
    from pyarrow import parquet

    model = loaded_on_worker(shared)
    in_fs, in_path = filesystem(task.source)
    out_fs, out_dir = filesystem(task.output_dir)
    name = f"part-{task.index:05d}.parquet"
    final = f"{out_dir.rstrip('/')}/{name}"
    local = _is_local(out_fs)
    target = f"{out_dir.rstrip('/')}/.{name}.{uuid.uuid4().hex}" if local else final
    fmt = partition_format(in_path)
    rows, writer = 0, None
    try:
        opened = open(target, "wb") if local else out_fs.open(final, "wb")  # noqa: SIM115
        with in_fs.open(in_path, "rb") as source, opened as sink:
            for chunk in read_chunks(source, fmt, task.source):
                table = score_table(model, chunk, task.output, task.source)
                if writer is None:
                    writer = parquet.ParquetWriter(sink, table.schema)
                writer.write_table(table)
                rows += chunk.num_rows
            if writer is not None:
                writer.close()
            if local:
                sink.flush()
                os.fsync(sink.fileno())
        if writer is None:
            out_fs.rm(target)
            return PartitionScored(task.index, task.source, None, 0)
        if local:
            os.replace(target, final)
    except BaseException:
        if local and os.path.exists(target):
            os.unlink(target)
        raise
    finally:
        release_memory()
    return PartitionScored(task.index, task.source, name, rows)


def _publish(fs: Any, path: str, data: bytes) -> None:
    """Write ``data`` whole or not at all."""
    if _is_local(fs):
        temporary = f"{path}.{uuid.uuid4().hex}.partial"
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    else:
        fs.pipe_file(path, data)
