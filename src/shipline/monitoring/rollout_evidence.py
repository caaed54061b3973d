"""The evidence a rollout step is judged on, over the step's window: each role's traffic as the
prediction servers reported it (requests, failures, latency), and, from the captured rows, how
often the candidate agrees with the stable version on the same request and whether its
predictions drifted from the stable version's."""

from __future__ import annotations

__all__ = ["RolloutEvidence", "conclude_step", "gather_evidence"]

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from shipline.artifacts import ContentStore
from shipline.errors import NotFoundError
from shipline.monitoring.traffic import (
    TimeWindow,
    Traffic,
    capture_digests,
    in_window,
    no_traffic,
)
from shipline.registry import ModelVersion, resolve_model_version
from shipline.registry.rollout import Rollout
from shipline.registry.rollout_observation import RoleTraffic, observed_traffic
from shipline.store import Database
from shipline.store.audit_log import parse_stamp


@dataclass(frozen=True)
class RolloutEvidence:
    """What a step's window shows of both versions."""

    since: str
    until: str
    traffic: dict[str, RoleTraffic] = field(default_factory=dict)
    paired_rows: int = 0
    agreement: float | None = None
    prediction_drift: float | None = None
    # metric, then per role ("stable", "candidate"): its value and labelled rows
    quality: dict[str, Any] | None = None

    @property
    def candidate(self) -> RoleTraffic:
        """The candidate's traffic: its canary answers, else its shadow answers."""
        return self.traffic.get("canary") or self.traffic.get("shadow") or RoleTraffic()

    @property
    def stable(self) -> RoleTraffic:
        """The stable version's traffic."""
        return self.traffic.get("stable") or RoleTraffic()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (what a verdict records)."""
        roles = {
            role: {
                "requests": t.requests,
                "errors": t.errors,
                "error_rate": t.error_rate,
                "p99_ms": t.p99_ms,
            }
            for role, t in self.traffic.items()
        }
        return {
            "window": {"since": self.since, "until": self.until},
            "traffic": roles,
            "paired_rows": self.paired_rows,
            "agreement": self.agreement,
            "prediction_drift": self.prediction_drift,
            "quality": self.quality,
        }


def gather_evidence(
    db: Database, store: ContentStore, rollout: Rollout, now: datetime
) -> RolloutEvidence:
    """The evidence of the rollout's current step, from its start until ``now``."""
    since = rollout.step_started_at
    window = TimeWindow(parse_stamp(since), now)
    until = window.bounds[1]
    with db.read() as conn:
        traffic = observed_traffic(conn, rollout.id, since)
        stable = resolve_model_version(conn, f"{rollout.model}:{rollout.stable}")
        candidate = resolve_model_version(conn, f"{rollout.model}:{rollout.candidate}")
    try:
        ours = _answers(db, store, stable, window)
        theirs = _answers(db, store, candidate, window)
    except NotFoundError:  # nothing captured yet for one of them
        return RolloutEvidence(since, until, traffic)
    paired, agreement = _agreement(ours, theirs)
    rule = rollout.plan.guardrails.quality
    quality = None
    if rule is not None:
        quality = {
            "metric": rule.metric,
            "stable": _labelled_metric(db, stable, ours, rule.metric),
            "candidate": _labelled_metric(db, candidate, theirs, rule.metric),
        }
    drift = _drift(ours, theirs)
    return RolloutEvidence(since, until, traffic, paired, agreement, drift, quality)


def _answers(
    db: Database, store: ContentStore, version: ModelVersion, window: TimeWindow
) -> Traffic:
    """What a version answered inside the window: request keys, predictions, probabilities.

    Only those columns are read: the inputs (and an id column) may differ in type from one
    partition to the next, and the verdict does not need them.
    """
    import io

    import pyarrow as pa
    from pyarrow import parquet

    wanted = ("request_id", "row", "prediction", "probabilities", "captured_at")
    tables = []
    for digest in capture_digests(db, version, window):
        source = parquet.ParquetFile(io.BytesIO(store.read_bytes(digest)))
        present = [c for c in wanted if c in source.schema_arrow.names]
        tables.append(source.read(columns=present))
    table = in_window(pa.concat_tables(tables, promote_options="permissive"), window)
    if table.num_rows == 0:
        raise no_traffic(version, window)
    probabilities = None
    if "probabilities" in table.column_names and table.column("probabilities").null_count == 0:
        probabilities = np.asarray(table.column("probabilities").to_pylist(), dtype=float)
    return Traffic(
        {},
        np.asarray(table.column("prediction").to_pylist()),
        f"captures {window.describe()}",
        (table.column("request_id").to_pylist(), table.column("row").to_pylist()),
        probabilities,
    )


def _labelled_metric(
    db: Database, version: ModelVersion, traffic: Traffic, metric: str
) -> dict[str, Any]:
    """The metric on the rows of ``traffic`` whose labels have arrived, and how many they are."""
    from shipline.monitoring.quality import labelled_quality, labelled_rows

    assert traffic.keys is not None  # captured traffic always has its keys
    labelled = labelled_rows(db, *traffic.keys)
    facts = version.facts
    found = labelled_quality(
        str(facts.task),
        labelled,
        traffic.predictions,
        None,
        {},
        traffic.probabilities,
        facts.signature.output.classes,
    )
    return {"value": found.get("metrics", {}).get(metric), "labelled": len(labelled.truth)}


def _agreement(stable: Traffic, candidate: Traffic) -> tuple[int, float | None]:
    """Rows both versions predicted for the same request (shadow), and the share equal."""
    if stable.keys is None or candidate.keys is None:
        return 0, None
    theirs = {
        (request, row): value
        for request, row, value in zip(*candidate.keys, candidate.predictions, strict=True)
    }
    same = paired = 0
    for request, row, value in zip(*stable.keys, stable.predictions, strict=True):
        other = theirs.get((request, row))
        if other is None:
            continue
        paired += 1
        same += int(_equal(value, other))
    return paired, (same / paired if paired else None)


def _equal(left: Any, right: Any) -> bool:
    """Equal predictions: the same label, or values within 1e-6 relative for regression."""
    if isinstance(left, float) or isinstance(right, float):
        return bool(np.isclose(float(left), float(right), rtol=1e-6, atol=1e-9))
    return bool(left == right)


def _drift(stable: Traffic, candidate: Traffic) -> float | None:
    """The share of the candidate's outputs that drifted from the stable version's (one
    output: 0.0 or 1.0); None until both have enough rows for a verdict."""
    from shipline.config.schema import DriftConfig
    from shipline.monitoring.drift import compare_column

    verdict = compare_column("prediction", stable.predictions, candidate.predictions, DriftConfig())
    return None if verdict.drifted is None else float(verdict.drifted)


def conclude_step(
    db: Database, rollout: Rollout, outcome: str, verdict: dict[str, Any], actor: str
) -> Rollout:
    """Record a verdict and act on it; a rollback opens a ``rollout`` alarm on the candidate
    with the evidence, in the same transaction."""
    from shipline.monitoring.alarm import update_alarms
    from shipline.registry.rollout import record_verdict

    with db.write(actor) as tx:
        done = record_verdict(tx, rollout, verdict, outcome)
        if outcome == "rollback":
            evidence = {"rollout": rollout.id, **verdict}
            update_alarms(tx, rollout.model, rollout.candidate, {"rollout": (True, evidence)})
        return done
