"""Prometheus metrics of the prediction service."""

from __future__ import annotations

__all__ = ["RoleMetrics", "ServiceMetrics"]

from functools import cached_property
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BATCH = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class RoleMetrics:
    """One model and rollout role's series (requests answered, failed, dropped; latency),
    each made on first use, so /metrics shows only outcomes that happened."""

    def __init__(self, requests: Counter, latency: Histogram, model: str, role: str) -> None:
        self._requests, self._latency, self._labels = requests, latency, (model, role)

    @cached_property
    def ok(self) -> Any:
        """Requests this role answered."""
        return self._requests.labels(*self._labels, "ok")

    @cached_property
    def error(self) -> Any:
        """Requests this role failed."""
        return self._requests.labels(*self._labels, "error")

    @cached_property
    def dropped(self) -> Any:
        """Copies dropped before this role saw them (the shadow's full queue)."""
        return self._requests.labels(*self._labels, "dropped")

    @cached_property
    def latency(self) -> Any:
        """This role's latency histogram."""
        return self._latency.labels(*self._labels)


class ServiceMetrics:
    """Requests, errors, latency, batch sizes, served versions and capture backlog."""

    def __init__(self) -> None:
        self._roles: dict[tuple[str, str], RoleMetrics] = {}
        self._answers: dict[tuple[str, str], tuple[Any, Any]] = {}
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "shipline_requests",
            "Prediction requests",
            ["model", "protocol", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "shipline_request_errors",
            "Rejected or failed requests",
            ["model", "protocol", "reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "shipline_request_seconds",
            "Request latency",
            ["model", "protocol"],
            buckets=_LATENCY,
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "shipline_batch_rows",
            "Rows per predicted batch",
            ["model"],
            buckets=_BATCH,
            registry=self.registry,
        )
        self.served = Gauge(
            "shipline_model_version",
            "Version served per model and form",
            ["model", "alias", "form"],
            registry=self.registry,
        )
        self.capture_backlog = Gauge(
            "shipline_capture_backlog_rows", "Captured rows not yet written", registry=self.registry
        )
        self.captured = Counter(
            "shipline_captured_rows", "Captured rows written", registry=self.registry
        )
        self.capture_dropped = Counter(
            "shipline_capture_dropped_rows",
            "Captured rows dropped because the backlog was full (the store could not be written)",
            registry=self.registry,
        )
        self.swaps = Counter(
            "shipline_model_swaps",
            "Hot swaps of a served version",
            ["model"],
            registry=self.registry,
        )

        self.rollout_requests = Counter(
            "shipline_rollout_requests",
            "Requests by the role of the version that took them: stable, canary or shadow",
            ["model", "role", "outcome"],
            registry=self.registry,
        )
        self.rollout_latency = Histogram(
            "shipline_rollout_request_seconds",
            "Latency by the role of the version that answered: stable, canary or shadow",
            ["model", "role"],
            buckets=_LATENCY,
            registry=self.registry,
        )

    def role(self, model: str, role: str) -> RoleMetrics:
        """The rollout series of one model and role, resolved once (labels() is a locked
        lookup: this is on the request path while a rollout runs)."""
        found = self._roles.get((model, role))
        if found is None:
            found = RoleMetrics(self.rollout_requests, self.rollout_latency, model, role)
            self._roles[(model, role)] = found
        return found

    def answered(self, model: str, protocol: str, seconds: float) -> None:
        """Count a successful answer and time it, through series resolved once per model and
        protocol (every request takes this path)."""
        found = self._answers.get((model, protocol))
        if found is None:
            found = (
                self.requests.labels(model, protocol, "200"),
                self.latency.labels(model, protocol),
            )
            self._answers[(model, protocol)] = found
        found[0].inc()
        found[1].observe(seconds)

    def render(self) -> bytes:
        """The text exposition format."""
        return bytes(generate_latest(self.registry))
