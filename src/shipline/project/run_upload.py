"""Remote mode's ``run``: the training steps run on this machine in a scratch workspace, their
outputs and the data snapshot are uploaded (only what the server lacks), and the team server
records the run as the caller's, gates it against its champions and registers it under the
model's applied policy."""

from __future__ import annotations

__all__ = ["train_and_upload", "upload_missing"]

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shipline.artifacts import ContentStore
    from shipline.config import ModelConfig
    from shipline.pipeline import RunRecord
    from shipline.project import Project
    from shipline.project.api_client import ApiClient


def train_and_upload(
    scratch: Project,
    api: ApiClient,
    config: ModelConfig,
    force: frozenset[str],
    trigger: str,
    on_step: Callable[[str, str | None], None] | None,
) -> RunRecord:
    """Run the training steps of ``config`` in ``scratch``, upload, and return the server's
    run."""
    from dataclasses import asdict

    from shipline.pipeline import RunRecord
    from shipline.pipeline.run_process import this_host
    from shipline.pipeline.training_pipeline import TRAINING_STEPS
    from shipline.pipeline.training_run import run_training

    local = run_training(
        scratch.db(),
        scratch.store(),
        config,
        scratch.settings.project_dir,
        scratch.settings.actor,
        trigger,
        force,
        on_step=on_step,
        steps=TRAINING_STEPS,
    )
    dataset = _dataset(scratch, local)
    _upload_missing(scratch, api, local, dataset)
    body = {
        "config": local.config,
        "trigger": trigger,
        "lineage": {**local.lineage, "trained_on": this_host()},
        "params": local.params,
        "steps": [asdict(step) for step in local.steps],
        "dataset": None if dataset is None else asdict(dataset),
        "error": local.error,
    }
    if on_step is not None:
        on_step("gate", None)  # the server's part, in one request
    record = api.typed(RunRecord, "POST", "/runs/import", json=body)
    if on_step is not None:
        for step in record.steps[len(local.steps) :]:
            on_step(step.step, step.status)
    return record


def _dataset(scratch: Project, run: RunRecord) -> Any:
    """The dataset version the run's ingest step snapshotted (None if it did not)."""
    from shipline.pipeline.step import decode

    ingest = next((s for s in run.steps if s.step == "ingest" and s.outputs), None)
    if ingest is None:
        return None
    ref = decode("json", scratch.store(), ingest.outputs["dataset"])["ref"]
    return scratch.dataset(ref)


def _upload_missing(scratch: Project, api: ApiClient, run: RunRecord, dataset: Any) -> None:
    """Upload every blob the run refers to that the server does not hold yet."""
    from shipline.pipeline.step import decode

    store = scratch.store()
    digests = {d for step in run.steps for d in step.outputs.values()}
    if dataset is not None:
        digests |= {f.digest for f in dataset.files} | {dataset.digest}
    evaluation = next(
        (s.outputs.get("evaluation") for s in run.steps if s.step == "evaluate"), None
    )
    if evaluation:
        onnx = decode("json", store, evaluation).get("serving_forms", {}).get("onnx") or {}
        if onnx.get("digest"):
            digests.add(onnx["digest"])
    upload_missing(store, api, digests)


def upload_missing(store: ContentStore, api: ApiClient, digests: set[str]) -> None:
    """Upload the blobs among ``digests`` that the server does not hold yet (it re-hashes)."""
    missing = api.call("POST", "/blobs/missing", json={"digests": sorted(digests)})["missing"]
    for digest in missing:
        with store.fetch(digest).open("rb") as blob:
            api.call("PUT", f"/blobs/{digest}", content=blob)
