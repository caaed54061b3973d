"""The runner: executes steps in order, reuses cached results, records everything."""

from __future__ import annotations

__all__ = ["Carried", "RunOutcome", "run_steps"]

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shipline.compute import Executor, InProcess
from shipline.pipeline.cluster_step import ClusterStep, require_same_code, run_cluster_step
from shipline.pipeline.code_fingerprint import deps_files, entrypoint_files, package_digest
from shipline.pipeline.run_record import StepRecord, StepStatus, find_cached, record_step
from shipline.pipeline.step import (
    Step,
    StepContext,
    StepInputs,
    cache_key,
    code_digest,
    encode,
)
from shipline.store import canonical_json, utc_now


@dataclass(frozen=True)
class RunOutcome:
    """How the run ended and what its steps produced (name → digest)."""

    status: str
    outputs: dict[str, str]
    error: str | None
    failed_step: str | None


StepWatcher = Callable[[str, str | None], None]


@dataclass(frozen=True)
class Carried:
    """Outputs of earlier steps of the same run, run elsewhere (a remote-mode client's
    machine), that the steps run here read: digests and kinds by output name, and the
    position the first step here takes."""

    digests: dict[str, str]
    kinds: dict[str, str]
    first_position: int


def run_steps(
    context: StepContext,
    steps: list[Step],
    environment: dict[str, Any],
    force: frozenset[str],
    on_step: StepWatcher | None = None,
    carried: Carried | None = None,
    executor: Executor | None = None,
) -> RunOutcome:
    """Run ``steps``; a step whose cache key was computed before is reused, not rerun.

    ``force`` names steps to rerun regardless of the cache ("*" for all of them).
    ``on_step(name, None)`` is called when a step starts, ``on_step(name, status)`` when it
    ends (progress for people watching a long run). Portable steps run on ``executor``'s
    workers when it is remote; the cache key does not depend on where a step ran.
    """
    executor = executor or InProcess()
    if executor.remote and any(step.portable for step in steps):
        require_same_code(executor)
    runner = _Runner(context, steps, cache_key(environment), executor)
    if carried is not None:
        runner.digests.update(carried.digests)
        runner.kinds = carried.kinds | runner.kinds
    start = 0 if carried is None else carried.first_position
    for position, step in enumerate(steps, start=start):
        forced = bool(force & {step.name, "*"})
        if on_step is not None:
            on_step(step.name, None)
        outcome = runner.step(position, step, forced)
        if on_step is not None:
            on_step(step.name, runner.last_status)
        if outcome is not None:
            return outcome
    return RunOutcome("succeeded", runner.digests, None, None)


class _Runner:
    """The state of one run as it moves through the steps."""

    def __init__(
        self, context: StepContext, steps: list[Step], environment: str, executor: Executor
    ) -> None:
        self.context = context
        self.environment = environment
        self.executor = executor
        self.kinds = {name: kind for step in steps for name, kind in step.outputs.items()}
        self.digests: dict[str, str] = {}
        self.live: dict[str, Any] = {}
        self.last_status = ""

    def step(self, position: int, step: Step, forced: bool) -> RunOutcome | None:
        """Reuse or run one step; an outcome when the run ends here."""
        context = self.context
        started, clock = utc_now(), time.perf_counter()
        inputs = {name: self.digests[name] for name in step.inputs}
        try:
            facts = step.facts(context, inputs)
        except Exception as error:  # an outside fact cannot be read: the step fails, recorded
            return self._unkeyable(step, position, started, error)
        parts = {
            "step": step.name,
            "code": {"step": code_digest(step), "shipline": package_digest()},
            "config": step.reads(context.config),
            "inputs": inputs,
            "environment": self.environment,
            "facts": facts,
        }
        key = cache_key(parts)
        stored = {k: canonical_json(v) for k, v in parts.items()} | {
            "forced": canonical_json(forced)
        }

        def record(
            status: StepStatus, outputs: dict[str, str], origin: int | None, error: str | None
        ) -> None:
            seconds = round(time.perf_counter() - clock, 4)
            entry = StepRecord(
                step.name, position, status, key, stored, outputs, origin, started, seconds, error
            )
            self.last_status = status
            kinds = {digest: self.kinds[name] for name, digest in outputs.items()}
            record_step(context.db, context.actor, context.run_id, entry, kinds)

        hit = self._cached(step, key) if step.cacheable and not forced else None
        if hit is not None:
            origin, outputs = hit
            self.digests.update(outputs)
            verdict = step.verdict(StepInputs(context.store, self.kinds, outputs, {}, context.db))
            record(StepStatus(verdict or StepStatus.CACHED), outputs, origin, None)
        else:
            try:
                produced, outputs = self._execute(step, inputs)
                if produced is None:  # where it ran is recorded beside the key, not in it
                    stored["ran_on"] = canonical_json(self.executor.description)
            except Exception as error:
                detail = "".join(traceback.format_exception(error))
                record(StepStatus.FAILED, {}, None, detail)
                return RunOutcome(
                    "failed", self.digests, f"{step.name}: {error}\n{detail}", step.name
                )
            self.digests.update(outputs)
            if produced is not None:
                self.live.update({name: produced[name] for name in step.outputs})
            judged = produced or StepInputs(context.store, self.kinds, outputs, {}, context.db)
            verdict = step.verdict(judged)
            # A step whose verdict ends the run is shown as what it decided, never "succeeded".
            record(StepStatus(verdict or StepStatus.SUCCEEDED), outputs, None, None)
        if verdict is not None:
            return RunOutcome(verdict, self.digests, f"{step.name}: {verdict}", step.name)
        return None

    def _execute(
        self, step: Step, inputs: dict[str, str]
    ) -> tuple[dict[str, Any] | None, dict[str, str]]:
        """Run the step here (its values and digests) or on a worker (its digests only)."""
        context = self.context
        if step.portable and self.executor.remote:
            return None, self.executor.call(run_cluster_step, self._cluster_step(step, inputs))
        produced = step.run(
            context, StepInputs(context.store, self.kinds, inputs, self.live, context.db)
        )
        outputs = {
            name: context.store.put_bytes(encode(kind, produced[name])).digest
            for name, kind in step.outputs.items()
        }
        return produced, outputs

    def _cluster_step(self, step: Step, inputs: dict[str, str]) -> ClusterStep:
        """The task a worker runs: models among the inputs are checked here, where the
        metadata store is, and the project files the training code imports travel along."""
        from shipline.errors import NotAModelError
        from shipline.store.blob_kinds import has_kind

        context = self.context
        models = {d for n, d in inputs.items() if self.kinds[n] == "model"}
        with context.db.read() as conn:
            for digest in models:
                if not has_kind(conn, digest, "model"):
                    raise NotAModelError(digest)
        project, training = context.project_dir.resolve(), context.config.training
        files = deps_files(project, training.deps)
        if training.entrypoint:
            entry = project / training.entrypoint.partition(":")[0]
            files += entrypoint_files(project, entry)
        return ClusterStep(
            step.name,
            step.run,
            step.outputs,
            context.config,
            context.store.url,
            inputs,
            {name: self.kinds[name] for name in inputs},
            frozenset(models),
            {p.relative_to(project).as_posix(): p.read_bytes() for p in sorted(set(files))},
            context.actor,
            context.run_id,
            context.lineage,
        )

    def _unkeyable(self, step: Step, position: int, started: str, error: Exception) -> RunOutcome:
        """A step whose cache key cannot be computed (its data source is unreadable, say)."""
        detail = "".join(traceback.format_exception(error))
        self.last_status = "failed"
        failed = StepStatus.FAILED
        entry = StepRecord(step.name, position, failed, "", {}, {}, None, started, 0.0, detail)
        record_step(self.context.db, self.context.actor, self.context.run_id, entry)
        return RunOutcome("failed", self.digests, f"{step.name}: {error}\n{detail}", step.name)

    def _cached(self, step: Step, key: str) -> tuple[int, dict[str, str]] | None:
        """The outputs of an earlier identical step, if they are all still in the store."""
        hit = find_cached(self.context.db, self.context.config.name, step.name, key)
        if hit is None or set(hit[1].outputs) != set(step.outputs):
            return None  # an earlier release's step, without an output this one adds
        if not all(self.context.store.exists(d) for d in hit[1].outputs.values()):
            return None
        return hit[0], hit[1].outputs
