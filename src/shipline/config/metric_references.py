"""Where a raw shipline.yaml names a metric (evaluation, monitoring, rollout guardrails), so
that every name can be checked against the task's metrics with the other problems."""

from __future__ import annotations

__all__ = ["Loc", "metric_references"]

from typing import Any

# A place in the raw document: keys and list positions from the top.
Loc = tuple[str | int, ...]


def metric_references(data: dict[str, Any]) -> list[tuple[Loc, Any]]:
    """Every place in the raw config that names a metric."""
    found: list[tuple[Loc, Any]] = []
    evaluation = data.get("evaluation")
    if isinstance(evaluation, dict):
        metrics = evaluation.get("metrics")
        if isinstance(metrics, list):
            found += [(("evaluation", "metrics", i), m) for i, m in enumerate(metrics)]
        gates = evaluation.get("gates")
        if isinstance(gates, list):
            found += [
                (("evaluation", "gates", i, "metric"), g.get("metric"))
                for i, g in enumerate(gates)
                if isinstance(g, dict)
            ]
    monitoring = data.get("monitoring")
    if isinstance(monitoring, dict):
        for section in ("quality", "estimated_quality"):
            rule = monitoring.get(section)
            if isinstance(rule, dict):
                found.append(((("monitoring", section, "metric")), rule.get("metric")))
    found += _rollout_metric_references(data.get("deployment"))
    return found


def _rollout_metric_references(deployment: Any) -> list[tuple[Loc, Any]]:
    """``deployment.rollout.ALIAS.guardrails.quality.metric`` for every alias."""
    rollout = deployment.get("rollout") if isinstance(deployment, dict) else None
    if not isinstance(rollout, dict):
        return []
    found: list[tuple[Loc, Any]] = []
    for alias, plan in rollout.items():
        guardrails = plan.get("guardrails") if isinstance(plan, dict) else None
        quality = guardrails.get("quality") if isinstance(guardrails, dict) else None
        if isinstance(quality, dict):
            loc: Loc = ("deployment", "rollout", alias, "guardrails", "quality", "metric")
            found.append((loc, quality.get("metric")))
    return found
