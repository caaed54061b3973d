"""One run of the training pipeline for a model: record it, run the steps, close it."""

from __future__ import annotations

__all__ = ["run_training"]

from collections.abc import Callable
from pathlib import Path

from shipline.artifacts import ContentStore
from shipline.compute import Executor
from shipline.config import ModelConfig, config_digest
from shipline.errors import ConflictError, UsageError
from shipline.pipeline.lineage import environment, git_state
from shipline.pipeline.run_process import close_orphaned_runs
from shipline.pipeline.run_record import RunRecord, finish_run, get_run, start_run
from shipline.pipeline.runner import StepWatcher, run_steps
from shipline.pipeline.step import Step, StepContext, decode
from shipline.pipeline.training_pipeline import STEPS, step_names
from shipline.store import Database


def run_training(
    db: Database,
    store: ContentStore,
    config: ModelConfig | None,
    project_dir: Path,
    actor: str,
    trigger: str = "manual",
    force: frozenset[str] = frozenset(),
    resume: int | None = None,
    on_start: Callable[[int], None] | None = None,
    on_step: StepWatcher | None = None,
    steps: list[Step] | None = None,
    executor: Executor | None = None,
    signing_key: Path | None = None,
) -> RunRecord:
    """Run the pipeline and return the finished run (status succeeded, rejected or failed).

    ``resume`` reruns a failed run with the configuration it was started with; the steps that
    succeeded before are reused from the cache, so it continues at the step that failed.
    ``on_start`` learns the run id as soon as the run is recorded. ``steps`` runs only the
    first steps (a remote-mode client trains; the team server gates and registers).
    ``executor`` runs the portable steps (train, evaluate) on a cluster's workers.
    ``signing_key`` signs the version registered (the team's PEM private key).
    """
    unknown = force - {*step_names(), "*"}
    if unknown:
        raise UsageError(
            f"--force: no step {sorted(unknown)[0]!r}; steps are {', '.join(step_names())}"
        )
    if resume is not None:
        earlier = get_run(db, resume)
        if earlier.status == "succeeded":
            raise ConflictError(f"run {resume} succeeded; there is nothing to resume")
        config = ModelConfig.model_validate(earlier.config)
        trigger = f"resume of run {resume}"
    if config is None:
        raise UsageError("run_training needs a configuration unless it resumes a run")
    close_orphaned_runs(db, actor)
    env = environment()
    lineage = {**git_state(project_dir), "config_digest": config_digest(config), "environment": env}
    params = {
        "estimator": config.training.entrypoint or config.training.estimator or "default",
        **config.training.params,
        "test_size": config.data.split.test_size,
        "seed": config.data.split.seed,
    }
    run_id = start_run(
        db,
        actor,
        config.name,
        trigger,
        config.model_dump(mode="json"),
        lineage["config_digest"],
        lineage,
        params,
        resume,
    )
    if on_start is not None:
        on_start(run_id)
    context = StepContext(config, project_dir, db, store, actor, run_id, lineage, signing_key)
    chosen = STEPS if steps is None else steps
    outcome = run_steps(context, chosen, env, force, on_step, executor=executor)
    metrics: dict[str, float] = {}
    if "evaluation" in outcome.outputs:
        metrics = decode("json", store, outcome.outputs["evaluation"])["metrics"]
    version = None
    if outcome.status == "succeeded" and "registration" in outcome.outputs:
        version = int(decode("json", store, outcome.outputs["registration"])["version"])
    finish_run(db, actor, run_id, outcome.status, metrics, outcome.error, version)
    return get_run(db, run_id)
