"""``shipline controller`` in remote mode: the same reconcile logic, its shared state through
the team server's API (a ``controller`` token), pipelines trained on this machine and
uploaded like ``shipline run``, monitoring run by the server."""

from __future__ import annotations

__all__ = ["RemoteState"]

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from shipline.errors import NotFoundError
from shipline.project.api_client import segment

if TYPE_CHECKING:
    from shipline.config import ModelConfig
    from shipline.controller.trigger_event import TriggerEvent
    from shipline.monitoring.alarm import Alarm
    from shipline.monitoring.monitor_report import MonitorSummary
    from shipline.monitoring.rollout_evidence import RolloutEvidence
    from shipline.monitoring.traffic import TimeWindow
    from shipline.pipeline import RunRecord
    from shipline.project.api_client import ApiClient
    from shipline.project.remote import RemoteProject
    from shipline.registry import ModelVersion, Promotion
    from shipline.registry.applied_config import AppliedConfig
    from shipline.registry.rollout import Rollout


T = TypeVar("T")


@dataclass
class RemoteState:
    """The controller's shared state, through the API."""

    project: RemoteProject

    @property
    def api(self) -> ApiClient:
        """The API client of the project."""
        return self.project.api

    @cached_property
    def actor(self) -> str:
        """The principal behind the token."""
        return str(self.project.whoami()["name"])

    def applied(self) -> list[AppliedConfig]:
        """Every model's latest applied config."""
        from shipline.registry.applied_config import AppliedConfig

        return self.api.typed(list[AppliedConfig], "GET", "/controller/configs")

    def watched(self, model: str, name: str) -> Any:
        """A remembered value."""
        return self.api.call("GET", f"/controller/{segment(model)}/watch/{segment(name)}")["value"]

    def watch(self, model: str, name: str, value: Any) -> None:
        """Remember a value."""
        path = f"/controller/{segment(model)}/watch/{segment(name)}"
        self.api.call("PUT", path, json={"value": value})

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
        from shipline.controller.trigger_event import TriggerEvent

        body = {"kind": kind, "key": key, "evidence": evidence, "status": status, "detail": detail}
        answer = self.api.call("POST", f"/controller/{segment(model)}/events", json=body)
        return None if answer is None else self._typed(TriggerEvent, answer)

    def set_status(
        self, ids: list[int], status: str, run_id: int | None = None, detail: str | None = None
    ) -> None:
        """Move events to a status."""
        if ids:
            body = {"ids": ids, "status": status, "run_id": run_id, "detail": detail}
            self.api.call("POST", "/controller/events/status", json=body)

    def events(self, model: str, statuses: tuple[str, ...] = ("pending",)) -> list[TriggerEvent]:
        """The model's events in these statuses."""
        from shipline.controller.trigger_event import TriggerEvent

        path = f"/controller/{segment(model)}/events"
        return self.api.typed(list[TriggerEvent], "GET", path, params={"status": list(statuses)})

    def acquire(self, name: str, holder: str, ttl: timedelta) -> str | None:
        """Take or renew a lease on the server."""
        body = {"holder": holder, "ttl_s": ttl.total_seconds()}
        taken = self.api.call("POST", f"/controller/leases/{segment(name)}", json=body)["holder"]
        return None if taken is None else str(taken)

    def release(self, name: str, holder: str) -> None:
        """Give a lease up."""
        self.api.call("DELETE", f"/controller/leases/{segment(name)}", params={"holder": holder})

    def versions(self, model: str) -> list[ModelVersion]:
        """A model's versions (none if never registered)."""
        try:
            return self.project.versions(model)
        except NotFoundError:
            return []

    def open_alarms(self, model: str) -> list[Alarm]:
        """A model's open alarms."""
        return self.project.alarms(False, model)

    def runs(self, model: str, limit: int) -> list[RunRecord]:
        """A model's newest runs."""
        return self.project.runs(limit, model)

    def get_run(self, run_id: int) -> RunRecord:
        """One run."""
        return self.project.get_run(run_id)

    def fail_run(self, run_id: int, reason: str) -> None:
        """Close a run its controller left running."""
        self.api.call("POST", f"/controller/runs/{run_id}/fail", json={"problem": reason})

    def train(
        self,
        config: ModelConfig,
        project_dir: Path,
        trigger: str,
        on_start: Callable[[int], None],
    ) -> RunRecord:
        """Train here and upload; the server gates and registers. The run gets its id on the
        server only once it is uploaded, so ``on_start`` is not called."""
        from shipline.project import Project
        from shipline.project.run_upload import train_and_upload

        settings = self.project.scratch_settings(project_dir)
        with Project.with_settings(settings) as scratch:
            return train_and_upload(scratch, self.api, config, frozenset(), trigger, None)

    def monitor(
        self, version: ModelVersion, config: ModelConfig, window: TimeWindow
    ) -> MonitorSummary:
        """The server monitors the version over the window (with the applied settings)."""
        from shipline.monitoring.monitor_report import MonitorSummary

        since, until = window.bounds
        body = {"ref": version.ref, "since": since, "until": until}
        return self._typed(MonitorSummary, self.api.call("POST", "/monitor", json=body)["summary"])

    def promote(self, model: str, version: int, alias: str, reason: str) -> Promotion:
        """Move or request, under the server's applied policy."""
        return self.project.promote(model, version, alias, reason)

    def active_rollouts(self, model: str) -> list[Rollout]:
        """The model's running or paused rollouts, as the server holds them."""
        from shipline.registry.rollout import Rollout

        found = self.api.call("GET", f"/controller/{segment(model)}/rollouts")
        return self._typed(list[Rollout], found)

    def rollout_evidence(self, rollout: Rollout, now: datetime) -> RolloutEvidence:
        """Computed by the server, which holds the captures and the servers' reports."""
        from shipline.monitoring.rollout_evidence import RolloutEvidence

        found = self.api.call("GET", f"/controller/rollouts/{rollout.id}/evidence")
        return self._typed(RolloutEvidence, found)

    def conclude_rollout_step(
        self, rollout: Rollout, outcome: str, verdict: dict[str, Any]
    ) -> Rollout:
        """The server records the verdict on the step judged here and acts on it."""
        from shipline.registry.rollout import Rollout

        body = {
            "phase": rollout.phase,
            "step": rollout.step,
            "outcome": outcome,
            "verdict": verdict,
        }
        found = self.api.call("POST", f"/controller/rollouts/{rollout.id}/verdicts", json=body)
        return self._typed(Rollout, found)

    def record_problem(self, model: str, problem: str) -> None:
        """Audit a controller problem on the server."""
        self.api.call("POST", f"/controller/{segment(model)}/problem", json={"problem": problem})

    @staticmethod
    def _typed(kind: type[T], value: Any) -> T:
        from pydantic import TypeAdapter

        return TypeAdapter(kind).validate_python(value)
