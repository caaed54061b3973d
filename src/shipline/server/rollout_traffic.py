"""Traffic during a rollout: which version answers a request, and mirroring to the shadow.

A request's place is a sticky hash of its client key (the ``x-shipline-client`` header, else
the request id) and the rollout's id, in [0, 1): in the canary phase the candidate answers
the requests whose place is below its share, so a client keeps one version within a step and,
as the share only grows, stays with the candidate once it got it. In the shadow phase the
stable version answers every request and the requests placed below the shadow share are
mirrored to the candidate off the request path: its answer is captured (under its own
version) and counted, never returned, and a mirror that fails or finds no room never touches
the user's request.
"""

from __future__ import annotations

__all__ = ["CLIENT_KEY_HEADER", "MAX_MIRRORS_IN_FLIGHT", "Candidate", "place"]

import hashlib
from dataclasses import dataclass

from shipline.scoring.loaded_model import LoadedModel
from shipline.scoring.serving_source import RolloutView
from shipline.server.batcher import MicroBatcher

CLIENT_KEY_HEADER = "x-shipline-client"
# Mirrored requests waiting for the candidate beyond this are dropped (and counted).
MAX_MIRRORS_IN_FLIGHT = 256


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

    def answers(self, key: str) -> bool:
        """Whether the candidate answers this client (canary phase, inside its share)."""
        rollout = self.rollout
        return rollout.phase == "canary" and place(rollout.id, key) < rollout.share

    def mirrors(self, key: str) -> bool:
        """Whether this request is mirrored to the candidate (shadow phase, inside its share)."""
        rollout = self.rollout
        return rollout.phase == "shadow" and place(rollout.id, key) < rollout.share
