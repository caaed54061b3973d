"""``shipline cache explain``: why a step of a run ran, or why it was reused."""

from __future__ import annotations

__all__ = ["explain_step"]

from typing import Any

import orjson

from shipline.errors import NotFoundError
from shipline.pipeline.run_record import get_run, previous_step
from shipline.store import Database


def explain_step(db: Database, run_id: int | str, step: str) -> dict[str, Any]:
    """The reason, and which key parts changed compared with the step's previous run."""
    run = get_run(db, run_id)
    record = next((s for s in run.steps if s.step == step), None)
    if record is None:
        names = ", ".join(s.step for s in run.steps) or "none"
        raise NotFoundError(f"run {run.id} has no step {step!r} (its steps: {names})")
    answer: dict[str, Any] = {
        "run": run.id,
        "step": step,
        "status": record.status,
        "cache_key": record.cache_key,
    }
    if record.status == "cached":
        answer["reason"] = (
            f"reused the outputs of run {record.cached_from}: code, configuration, inputs and "
            "environment all matched"
        )
        answer["changed"] = []
        return answer
    earlier = previous_step(db, run.model, step, run.id)
    if orjson.loads(record.key_parts.get("forced", "false")):
        answer["reason"] = "ran because it was forced (--force)"
    elif earlier is None:
        answer["reason"] = "ran because no earlier run of this model reached this step"
    else:
        answer["reason"] = f"ran because its cache key differs from run {earlier[0]}'s"
    answer["changed"] = _changes(record.key_parts, earlier[1].key_parts) if earlier else []
    if earlier:
        answer["compared_with_run"] = earlier[0]
    return answer


def _changes(now: dict[str, str], before: dict[str, str]) -> list[dict[str, Any]]:
    """Which parts of the key differ, down to the input names and configuration keys."""
    changes: list[dict[str, Any]] = []
    for part in ("code", "config", "inputs", "environment", "facts"):
        new, old = orjson.loads(now.get(part, "null")), orjson.loads(before.get(part, "null"))
        if new == old:
            continue
        if isinstance(new, dict) and isinstance(old, dict):
            for path in _differing_paths(old, new, ""):
                changes.append({"part": part, "key": path})
        else:
            changes.append({"part": part, "key": None})
    return changes


def _differing_paths(old: dict[str, Any], new: dict[str, Any], prefix: str) -> list[str]:
    paths = []
    for key in sorted(set(old) | set(new)):
        a, b, path = old.get(key), new.get(key), f"{prefix}{key}"
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            paths += _differing_paths(a, b, path + ".")
        else:
            paths.append(path)
    return paths
