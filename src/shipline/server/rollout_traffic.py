"""Traffic during a rollout: which version answers a request, and mirroring to the shadow.

A request's place is a sticky hash of its client key (the ``x-shipline-client`` header, else
the request id) and the rollout's id, in [0, 1): in the canary phase the candidate answers
the requests whose place is below its share, so a client keeps one version within a step and,
as the share only grows, stays with the candidate once it got it. In the shadow phase the
stable version answers every request and the requests placed below the shadow share are
mirrored to the candidate off the request path (``shadow_mirror``): its answer is captured
(under its own version) and counted, never returned, and a mirror that fails or finds no room
never touches the user's request.
"""

from __future__ import annotations

__all__ = [
    "CLIENT_KEY_HEADER",
    "Candidate",
    "TrafficTally",
    "place",
]

import hashlib
import threading
from dataclasses import dataclass, field

from shipline.registry.rollout_observation import (
    LATENCY_BOUNDS_MS,
    RolloutObservation,
    bucket,
)
from shipline.scoring.loaded_model import LoadedModel
from shipline.scoring.serving_source import RolloutView
from shipline.server.batcher import MicroBatcher

CLIENT_KEY_HEADER = "x-shipline-client"


def place(rollout_id: int, key: str) -> float:
    """Where a client falls in [0, 1) for this rollout (the same key, the same place)."""
    digest = hashlib.blake2b(f"{rollout_id}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass
class Candidate:
    """The version a rollout brings in, loaded beside the stable one, and its batcher."""

    rollout: RolloutView
    model: LoadedModel
    batcher: MicroBatcher | None = None
    _inputs_checked_for: LoadedModel | None = field(default=None, repr=False, compare=False)
    _same_inputs: bool = field(default=False, repr=False, compare=False)

    def role(self, key: str) -> str | None:
        """What the candidate does with this client's request: ``canary`` (it answers: canary
        phase, inside its share), ``shadow`` (it gets a copy: shadow phase, inside its share),
        or None."""
        rollout = self.rollout
        if rollout.share < 1.0 and place(rollout.id, key) >= rollout.share:
            return None
        return rollout.phase if rollout.phase in ("canary", "shadow") else None

    def takes_inputs_of(self, stable: LoadedModel) -> bool:
        """Whether a request validated for ``stable`` is valid, unchanged, for the candidate
        (decided once per stable version)."""
        if self._inputs_checked_for is not stable:
            one, other = stable.signature, self.model.signature
            self._same_inputs = one.inputs == other.inputs and one.id_column == other.id_column
            self._inputs_checked_for = stable
        return self._same_inputs


class TrafficTally:
    """Requests, failures and latency per (rollout, role) since the last report."""

    def __init__(self) -> None:
        self._counts: dict[tuple[int, str], list[int]] = {}
        self._lock = threading.Lock()

    def add(self, rollout_id: int, role: str, ok: bool, seconds: float) -> None:
        """Count one request (its latency only when it was answered)."""
        size = len(LATENCY_BOUNDS_MS)
        with self._lock:
            counts = self._counts.setdefault((rollout_id, role), [0] * (size + 2))
            counts[0] += 1
            if ok:
                counts[2 + bucket(seconds)] += 1
            else:
                counts[1] += 1

    def drain(self) -> list[RolloutObservation]:
        """Everything counted since the last drain, as reports; the tally starts again."""
        with self._lock:
            taken, self._counts = self._counts, {}
        return [
            RolloutObservation(rollout_id, role, counts[0], counts[1], tuple(counts[2:]))
            for (rollout_id, role), counts in taken.items()
        ]

    def restore(self, observations: list[RolloutObservation]) -> None:
        """Put reports that could not be sent back (they go with the next report)."""
        with self._lock:
            for o in observations:
                counts = self._counts.setdefault(
                    (o.rollout_id, o.role), [0] * (len(LATENCY_BOUNDS_MS) + 2)
                )
                counts[0] += o.requests
                counts[1] += o.errors
                for index, count in enumerate(o.latency):
                    counts[2 + index] += count
