"""What the controller reads and changes outside itself, as one small interface: the
database and store directly (``LocalState``), or the team server's API with a controller
token (``shipline.project.remote_controller.RemoteState``). The reconcile logic is the same
for both."""

from __future__ import annotations

__all__ = ["ControllerState", "LocalState"]

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shipline.artifacts import ContentStore
    from shipline.config import ModelConfig
    from shipline.controller.trigger_event import TriggerEvent
    from shipline.monitoring.alarm import Alarm
    from shipline.monitoring.monitor_report import MonitorSummary
    from shipline.monitoring.rollout_evidence import RolloutEvidence
    from shipline.monitoring.traffic import TimeWindow
    from shipline.pipeline import RunRecord
    from shipline.registry import ModelVersion, Promotion
    from shipline.registry.applied_config import AppliedConfig
    from shipline.registry.rollout import Rollout
    from shipline.store import Database


class ControllerState(Protocol):
    """Shared state and the operations a controller pass uses."""

    @property
    def actor(self) -> str:
        """Who the controller acts as."""
        ...

    def applied(self) -> list[AppliedConfig]:
        """Every model's latest applied config."""
        ...

    def watched(self, model: str, name: str) -> Any:
        """A remembered value (JSON), or None."""
        ...

    def watch(self, model: str, name: str, value: Any) -> None:
        """Remember a value."""
        ...

    def record_event(
        self,
        model: str,
        kind: str,
        key: str,
        evidence: dict[str, Any],
        status: str,
        detail: str | None,
    ) -> TriggerEvent | None:
        """Record a trigger event unless its key was seen; the new event, or None."""
        ...

    def set_status(
        self, ids: list[int], status: str, run_id: int | None = None, detail: str | None = None
    ) -> None:
        """Move events to a status (with the run that served them)."""
        ...

    def events(self, model: str, statuses: tuple[str, ...] = ("pending",)) -> list[TriggerEvent]:
        """The model's events in these statuses, oldest first."""
        ...

    def acquire(self, name: str, holder: str, ttl: timedelta) -> str | None:
        """Take or renew a lease: None if taken, else its live holder."""
        ...

    def release(self, name: str, holder: str) -> None:
        """Give a lease up."""
        ...

    def versions(self, model: str) -> list[ModelVersion]:
        """A model's versions (none if never registered)."""
        ...

    def open_alarms(self, model: str) -> list[Alarm]:
        """A model's open alarms."""
        ...

    def runs(self, model: str, limit: int) -> list[RunRecord]:
        """A model's newest runs."""
        ...

    def get_run(self, run_id: int) -> RunRecord:
        """One run."""
        ...

    def fail_run(self, run_id: int, reason: str) -> None:
        """Close a run its controller left running."""
        ...

    def train(
        self,
        config: ModelConfig,
        project_dir: Path,
        trigger: str,
        on_start: Callable[[int], None],
    ) -> RunRecord:
        """Run the pipeline for ``config`` in ``project_dir``."""
        ...

    def monitor(
        self, version: ModelVersion, config: ModelConfig, window: TimeWindow
    ) -> MonitorSummary:
        """Monitor a version's served traffic over a window (stored, alarms updated)."""
        ...

    def promote(self, model: str, version: int, alias: str, reason: str) -> Promotion:
        """Move an alias or ask for approval, under the applied policy."""
        ...

    def active_rollouts(self, model: str) -> list[Rollout]:
        """The model's running or paused rollouts."""
        ...

    def rollout_evidence(self, rollout: Rollout, now: datetime) -> RolloutEvidence:
        """The evidence of the rollout's current step until ``now``."""
        ...

    def conclude_rollout_step(
        self, rollout: Rollout, outcome: str, verdict: dict[str, Any]
    ) -> Rollout:
        """Record the step's verdict and act on it (advance, promote, roll back + alarm)."""
        ...

    def record_problem(self, model: str, problem: str) -> None:
        """Put a controller problem in the audit log."""
        ...


@dataclass(frozen=True)
class LocalState:
    """The controller on the database and store this process opened."""

    db: Database
    store: ContentStore
    actor: str
    # SHIPLINE_DASK of the controller's environment: where triggered runs train.
    dask: str = ""
    # SHIPLINE_SIGNING_KEY of the controller's environment: signs the versions it registers.
    signing_key: Path | None = None

    def applied(self) -> list[AppliedConfig]:
        """Every model's latest applied config."""
        from shipline.registry.applied_config import list_applied

        return list_applied(self.db)

    def watched(self, model: str, name: str) -> Any:
        """A remembered value."""
        from shipline.controller.trigger_watch import get_watch

        return get_watch(self.db, model, name)

    def watch(self, model: str, name: str, value: Any) -> None:
        """Remember a value."""
        from shipline.controller.trigger_watch import set_watch

        set_watch(self.db, model, name, value)

    def record_event(
        self,
        model: str,
        kind: str,
        key: str,
        evidence: dict[str, Any],
        status: str,
        detail: str | None,
    ) -> TriggerEvent | None:
        """Record a trigger event once per key."""
        from shipline.controller.trigger_event import record_event

        return record_event(self.db, "controller", model, kind, key, evidence, status, detail)

    def set_status(
        self, ids: list[int], status: str, run_id: int | None = None, detail: str | None = None
    ) -> None:
        """Move events to a status."""
        from shipline.controller.trigger_event import set_status

        set_status(self.db, self.actor, ids, status, run_id, detail)

    def events(self, model: str, statuses: tuple[str, ...] = ("pending",)) -> list[TriggerEvent]:
        """The model's events in these statuses."""
        from shipline.controller.trigger_event import pending_events

        return pending_events(self.db, model, statuses)

    def acquire(self, name: str, holder: str, ttl: timedelta) -> str | None:
        """Take or renew a lease."""
        from shipline.controller.lease import acquire

        return acquire(self.db, name, holder, ttl)

    def release(self, name: str, holder: str) -> None:
        """Give a lease up."""
        from shipline.controller.lease import release

        release(self.db, name, holder)

    def versions(self, model: str) -> list[ModelVersion]:
        """A model's versions."""
        from shipline.registry import versions_of

        return versions_of(self.db, model)

    def open_alarms(self, model: str) -> list[Alarm]:
        """A model's open alarms."""
        from shipline.monitoring.alarm import list_alarms

        return list_alarms(self.db, False, model)

    def runs(self, model: str, limit: int) -> list[RunRecord]:
        """A model's newest runs."""
        from shipline.pipeline.run_record import list_runs

        return list_runs(self.db, model, limit)

    def get_run(self, run_id: int) -> RunRecord:
        """One run."""
        from shipline.pipeline.run_record import get_run

        return get_run(self.db, run_id)

    def fail_run(self, run_id: int, reason: str) -> None:
        """Close a run left running."""
        from shipline.pipeline.run_record import finish_run

        finish_run(self.db, self.actor, run_id, "failed", {}, reason, None)

    def train(
        self,
        config: ModelConfig,
        project_dir: Path,
        trigger: str,
        on_start: Callable[[int], None],
    ) -> RunRecord:
        """Run the whole pipeline, its portable steps on the model's compute (a Dask cluster
        when the applied config or ``SHIPLINE_DASK`` says so)."""
        from shipline.compute import open_executor
        from shipline.compute.cluster import compute_target
        from shipline.pipeline.training_run import run_training

        target = compute_target(config.compute, self.dask)
        with open_executor(target, self.store.url) as executor:
            return run_training(
                self.db,
                self.store,
                config,
                project_dir,
                self.actor,
                trigger,
                on_start=on_start,
                executor=executor,
                signing_key=self.signing_key,
            )

    def monitor(
        self, version: ModelVersion, config: ModelConfig, window: TimeWindow
    ) -> MonitorSummary:
        """Monitor the window on the model's compute (partition by partition on a cluster)."""
        from shipline.compute import open_executor
        from shipline.compute.cluster import compute_target
        from shipline.monitoring.monitor_report import monitor_version

        target = compute_target(config.compute, self.dask)
        with open_executor(target, self.store.url) as executor:
            summary, _ = monitor_version(
                self.db,
                self.store,
                version,
                config.monitoring,
                self.actor,
                window,
                config.notifications,
                executor=executor,
            )
        return summary

    def promote(self, model: str, version: int, alias: str, reason: str) -> Promotion:
        """Move or request, under the applied policy."""
        from shipline.registry import promote

        return promote(self.db, model, version, alias, self.actor, None, reason)

    def active_rollouts(self, model: str) -> list[Rollout]:
        """The model's running or paused rollouts."""
        from shipline.registry.rollout import list_rollouts

        return [r for r in list_rollouts(self.db, model) if r.active]

    def rollout_evidence(self, rollout: Rollout, now: datetime) -> RolloutEvidence:
        """From the servers' reports and the captured rows."""
        from shipline.monitoring.rollout_evidence import gather_evidence

        return gather_evidence(self.db, self.store, rollout, now)

    def conclude_rollout_step(
        self, rollout: Rollout, outcome: str, verdict: dict[str, Any]
    ) -> Rollout:
        """Record and act, in one transaction."""
        from shipline.monitoring.rollout_evidence import conclude_step

        return conclude_step(self.db, rollout, outcome, verdict, self.actor)

    def record_problem(self, model: str, problem: str) -> None:
        """Audit a controller problem."""
        with self.db.write("controller") as tx:
            tx.record("controller.problem", f"model:{model}", None, {"problem": problem})
