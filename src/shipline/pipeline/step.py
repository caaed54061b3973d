"""Pipeline steps: plain functions with declared inputs and outputs, and their cache keys."""

from __future__ import annotations

__all__ = ["Step", "StepContext", "StepInputs", "cache_key", "code_digest", "decode", "encode"]

import inspect
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3
import orjson

from shipline.artifacts import ContentStore
from shipline.config.schema import ModelConfig
from shipline.store import Database


@dataclass(frozen=True)
class StepContext:
    """What every step may use besides its inputs."""

    config: ModelConfig
    project_dir: Path
    db: Database
    store: ContentStore
    actor: str
    run_id: int
    lineage: dict[str, Any]
    # The team's private key (SHIPLINE_SIGNING_KEY of the registering process), if any.
    signing_key: Path | None = None


class StepInputs(Mapping[str, Any]):
    """A step's inputs, decoded from the store only when the running step asks for one."""

    def __init__(
        self,
        store: ContentStore,
        kinds: dict[str, str],
        digests: dict[str, str],
        live: dict[str, Any],
        db: Database | None = None,
        verified_models: frozenset[str] = frozenset(),
    ):
        self._store, self._kinds, self._digests, self._live = store, kinds, digests, live
        self._db, self._verified_models = db, verified_models

    def digest(self, name: str) -> str:
        """The content digest of input ``name``."""
        return self._digests[name]

    def __getitem__(self, name: str) -> Any:
        if name not in self._live:
            kind, digest = self._kinds[name], self._digests[name]
            if kind == "model" and digest in self._verified_models:
                from shipline.training.bundle import load_bundle

                self._live[name] = load_bundle(self._store, digest)
            else:
                self._live[name] = decode(kind, self._store, digest, self._db)
        return self._live[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._digests)

    def __len__(self) -> int:
        return len(self._digests)


@dataclass(frozen=True)
class Step:
    """One step: ``run(context, inputs) -> outputs``.

    ``reads`` picks the part of the configuration the step depends on; ``facts`` gives the
    outside facts it depends on (the production model, the last accepted schema), given the
    digests of the step's inputs; both enter the key.
    ``verdict`` may end the run after the step: ``"rejected"`` (a gate) or ``"failed"``.
    ``portable`` steps need no database and run on a cluster worker when compute is Dask.
    """

    name: str
    run: Callable[[StepContext, StepInputs], dict[str, Any]]
    inputs: tuple[str, ...]
    outputs: dict[str, str]
    reads: Callable[[ModelConfig], Any]
    facts: Callable[[StepContext, dict[str, str]], dict[str, Any]] = field(
        default=lambda context, inputs: {}
    )
    cacheable: bool = True
    verdict: Callable[[Mapping[str, Any]], str | None] = field(default=lambda outputs: None)
    portable: bool = False


def code_digest(step: Step) -> str:
    """A digest of the step function's source: editing the code invalidates its cache."""
    return blake3.blake3(inspect.getsource(step.run).encode()).hexdigest()


def cache_key(parts: dict[str, Any]) -> str:
    """The digest of the canonical JSON of every key part."""
    return blake3.blake3(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()


def encode(kind: str, value: Any) -> bytes:
    """Bytes for an output of ``kind`` (frame → Parquet, json → canonical JSON, model → bundle)."""
    if kind == "frame":
        import pyarrow as pa
        from pyarrow import parquet

        buffer = io.BytesIO()
        parquet.write_table(pa.Table.from_pandas(value, preserve_index=False), buffer)
        return buffer.getvalue()
    if kind == "json":
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    if kind == "model":
        return bytes(value.to_bytes())
    raise ValueError(f"unknown artifact kind {kind!r}")


def decode(kind: str, store: ContentStore, digest: str, db: Database | None = None) -> Any:
    """Load an output of ``kind`` back from verified bytes; a model only from a digest the
    metadata store records as a model bundle (``db`` is required for models)."""
    if kind == "model":
        from shipline.errors import NotAModelError
        from shipline.store.blob_kinds import has_kind
        from shipline.training.bundle import load_bundle

        if db is None:
            raise ValueError("decoding a model needs the metadata store to check its kind")
        with db.read() as conn:
            if not has_kind(conn, digest, "model"):
                raise NotAModelError(digest)
        return load_bundle(store, digest)
    raw = store.read_bytes(digest)
    if kind == "frame":
        from pyarrow import parquet

        return parquet.read_table(io.BytesIO(raw)).to_pandas()
    if kind == "json":
        return orjson.loads(raw)
    raise ValueError(f"unknown artifact kind {kind!r}")
