"""Runs trained elsewhere: a remote-mode client runs the training steps where it is and
uploads their outputs; the team server records them under the uploader's identity, then runs
the deciding steps itself (the gate against its champions, registration under the applied
policy), so no client decides what is good enough or where it goes.

The client's outputs are content-addressed and were re-hashed on upload. Its metrics are its
own report (the server never loads an uploaded model: that would run the uploader's code on
the server); the audit trail names who reported them, and production still needs another
person's approval.
"""

from __future__ import annotations

__all__ = ["UploadedRun", "import_run"]

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from shipline.artifacts import ContentStore
from shipline.config import ModelConfig, config_digest
from shipline.data.dataset_version import DatasetVersion
from shipline.data.snapshot import import_version
from shipline.errors import NotFoundError, UsageError
from shipline.pipeline.lineage import environment
from shipline.pipeline.run_record import (
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
    find_cached,
    finish_run,
    get_run,
    record_step,
    start_run,
)
from shipline.pipeline.runner import Carried, run_steps
from shipline.pipeline.step import StepContext, decode, encode
from shipline.pipeline.training_pipeline import DECISION_STEPS, STEPS, TRAINING_STEPS
from shipline.store import Database

_DONE = {StepStatus.SUCCEEDED, StepStatus.CACHED}


@dataclass(frozen=True)
class UploadedRun:
    """What a client reports of the training steps it ran."""

    config: ModelConfig
    trigger: str
    lineage: dict[str, Any]
    params: dict[str, Any]
    steps: tuple[StepRecord, ...]
    dataset: DatasetVersion | None
    error: str | None


def import_run(
    db: Database,
    store: ContentStore,
    uploaded: UploadedRun,
    actor: str,
    signing_key: Path | None = None,
) -> RunRecord:
    """Record an uploaded run as ``actor``'s, then gate and register it here."""
    config = uploaded.config
    _check_steps(store, uploaded)
    kinds = {name: kind for step in STEPS for name, kind in step.outputs.items()}
    digests: dict[str, str] = {}
    steps = list(uploaded.steps)
    if uploaded.dataset is not None and steps and "dataset" in steps[0].outputs:
        if uploaded.dataset.name != config.name:
            raise UsageError(
                f"the uploaded dataset is {uploaded.dataset.name!r}, not {config.name!r}"
            )
        steps[0] = _ingest_here(db, store, uploaded.dataset, steps[0], actor)
    lineage = {**uploaded.lineage, "config_digest": config_digest(config)}
    run_id = start_run(
        db,
        actor,
        config.name,
        uploaded.trigger,
        config.model_dump(mode="json"),
        lineage["config_digest"],
        lineage,
        uploaded.params,
    )
    for step in steps:
        # A step the client reused from its own cache: name the run here that made it, if any.
        earlier = (
            find_cached(db, config.name, step.step, step.cache_key) if step.cached_from else None
        )
        here = replace(step, cached_from=None if earlier is None else earlier[0])
        record_step(db, actor, run_id, here, {d: kinds[n] for n, d in step.outputs.items()})
        digests.update(step.outputs)
    metrics = (
        decode("json", store, digests["evaluation"])["metrics"] if "evaluation" in digests else {}
    )
    if len(steps) < len(TRAINING_STEPS) or any(s.status not in _DONE for s in steps):
        status = next((s.status for s in steps if s.status not in _DONE), RunStatus.FAILED)
        finish_run(db, actor, run_id, str(status), metrics, uploaded.error or "not trained")
        return get_run(db, run_id)
    project_dir = Path(str(uploaded.lineage.get("project_dir", ".")))
    context = StepContext(config, project_dir, db, store, actor, run_id, lineage, signing_key)
    carried = Carried(digests, kinds, len(TRAINING_STEPS))
    outcome = run_steps(context, DECISION_STEPS, environment(), frozenset(), carried=carried)
    version = None
    if outcome.status == "succeeded":
        version = int(decode("json", store, outcome.outputs["registration"])["version"])
    finish_run(db, actor, run_id, outcome.status, metrics, outcome.error, version)
    return get_run(db, run_id)


def _check_steps(store: ContentStore, uploaded: UploadedRun) -> None:
    """The training steps in order, each with exactly its declared outputs, all uploaded."""
    if not uploaded.steps:
        raise UsageError("an uploaded run has at least its first step")
    for position, (step, expected) in enumerate(zip(uploaded.steps, TRAINING_STEPS, strict=False)):
        if step.step != expected.name or step.position != position:
            raise UsageError(f"uploaded step {position} is {step.step!r}; expected {expected.name}")
        if step.status in _DONE and set(step.outputs) != set(expected.outputs):
            raise UsageError(f"step {step.step}: outputs must be {sorted(expected.outputs)}")
        missing = [d for d in step.outputs.values() if not store.exists(d)]
        if missing:
            raise NotFoundError(f"step {step.step}: outputs not uploaded: {missing}")
    if len(uploaded.steps) > len(TRAINING_STEPS):
        raise UsageError(f"a client runs at most {len(TRAINING_STEPS)} steps; the server decides")


def _ingest_here(
    db: Database, store: ContentStore, dataset: DatasetVersion, ingest: StepRecord, actor: str
) -> StepRecord:
    """The uploaded snapshot as a dataset version here; the ingest step's output names it."""
    reported = decode("json", store, ingest.outputs["dataset"])
    if dataset.digest != reported["digest"]:
        raise UsageError("the uploaded dataset is not the one the run's ingest step read")
    version = import_version(db, store, dataset, actor).version
    named = {"ref": version.ref, "digest": version.digest, "rows": version.rows}
    digest = store.put_bytes(encode("json", named)).digest
    return replace(ingest, outputs={"dataset": digest})
