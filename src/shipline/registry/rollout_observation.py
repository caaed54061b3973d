"""What prediction servers observe of each version's traffic during a rollout: requests,
failures and a latency histogram per role (stable, canary, shadow), reported every few seconds
by every server and summed by the controller over a step's window."""

from __future__ import annotations

__all__ = [
    "LATENCY_BOUNDS_MS",
    "RoleTraffic",
    "RolloutObservation",
    "bucket",
    "observed_traffic",
    "record_observations",
]

import bisect
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, select

from shipline.store import Database, utc_now
from shipline.store.tables import rollout_observations

# Upper bounds of the latency buckets, milliseconds: 0.25 ms to ~33 s, each 1.25x the last,
# so a p99 read from the histogram is within 25% (both versions are read the same way).
LATENCY_BOUNDS_MS: tuple[float, ...] = tuple(round(0.25 * 1.25**i, 4) for i in range(54))
ROLES = ("stable", "canary", "shadow")


def bucket(seconds: float) -> int:
    """The latency bucket of one request (the last bucket holds anything slower)."""
    index = bisect.bisect_left(LATENCY_BOUNDS_MS, seconds * 1000)
    return min(index, len(LATENCY_BOUNDS_MS) - 1)


@dataclass(frozen=True)
class RolloutObservation:
    """One server's count of one role's traffic in one rollout since its previous report."""

    rollout_id: int
    role: str
    requests: int
    errors: int
    latency: tuple[int, ...]


@dataclass(frozen=True)
class RoleTraffic:
    """One role's traffic summed over every report in a window."""

    requests: int = 0
    errors: int = 0
    latency: tuple[int, ...] = ()

    @property
    def error_rate(self) -> float | None:
        """Failed requests / requests (None without requests)."""
        return self.errors / self.requests if self.requests else None

    @property
    def p99_ms(self) -> float | None:
        """The bucket bound under which 99% of the answered requests fell."""
        total = sum(self.latency)
        if not total:
            return None
        running = 0
        for bound, count in zip(LATENCY_BOUNDS_MS, self.latency, strict=False):
            running += count
            if running >= 0.99 * total:
                return bound
        return LATENCY_BOUNDS_MS[-1]


def record_observations(db: Database, observations: list[RolloutObservation], actor: str) -> int:
    """Store a server's reports (no audit event: they are measurements, not changes)."""
    if not observations:
        return 0
    now = utc_now()
    for observation in observations:
        if observation.role not in ROLES or len(observation.latency) != len(LATENCY_BOUNDS_MS):
            raise ValueError(
                f"an observation needs a role of {', '.join(ROLES)} and "
                f"{len(LATENCY_BOUNDS_MS)} latency counts"
            )
    with db.write(actor) as tx:
        tx.conn.execute(
            rollout_observations.insert(),
            [
                {
                    "rollout_id": o.rollout_id,
                    "role": o.role,
                    "at": now,
                    "requests": o.requests,
                    "errors": o.errors,
                    "latency": orjson.dumps(list(o.latency)).decode(),
                }
                for o in observations
            ],
        )
    return len(observations)


def observed_traffic(conn: Connection, rollout_id: int, since: str) -> dict[str, RoleTraffic]:
    """Every role's traffic in the rollout reported at or after ``since``."""
    rows = conn.execute(
        select(
            rollout_observations.c.role,
            rollout_observations.c.requests,
            rollout_observations.c.errors,
            rollout_observations.c.latency,
        ).where(rollout_observations.c.rollout_id == rollout_id, rollout_observations.c.at >= since)
    ).all()
    sums: dict[str, list[int]] = {}
    counts: dict[str, list[int]] = {}
    for role, requests, errors, latency in rows:
        total = sums.setdefault(role, [0, 0])
        total[0] += requests
        total[1] += errors
        merged = counts.setdefault(role, [0] * len(LATENCY_BOUNDS_MS))
        for index, count in enumerate(orjson.loads(latency)):
            merged[index] += count
    return {
        role: RoleTraffic(total[0], total[1], tuple(counts[role])) for role, total in sums.items()
    }
