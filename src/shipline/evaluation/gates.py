"""Gates: the rules a candidate must pass to be registered."""

from __future__ import annotations

__all__ = ["LOWER_IS_BETTER", "GateOutcome", "apply_gates"]

from dataclasses import dataclass
from typing import Any

from shipline.config.schema import Gate

LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae", "mape"})


@dataclass(frozen=True)
class GateOutcome:
    """Each rule with its measured value, and whether all passed."""

    passed: bool
    rules: tuple[dict[str, Any], ...]

    def failures(self) -> list[dict[str, Any]]:
        """The rules that failed."""
        return [r for r in self.rules if not r["passed"]]


def apply_gates(
    gates: list[Gate],
    metrics: dict[str, float],
    champions: dict[str, dict[str, float] | None],
    bias: dict[str, Any] | None,
) -> GateOutcome:
    """Check absolute bounds, comparisons with the alias holders, and the bias limit."""
    rules: list[dict[str, Any]] = []
    for gate in gates:
        value = metrics.get(gate.metric)
        rule: dict[str, Any] = {"metric": gate.metric, "value": value}
        if value is None:
            rules.append({**rule, "rule": "metric must be computable", "passed": False})
            continue
        if gate.min is not None:
            rules.append({**rule, "rule": f">= {gate.min}", "passed": value >= gate.min})
        if gate.max is not None:
            rules.append({**rule, "rule": f"<= {gate.max}", "passed": value <= gate.max})
        if gate.vs is not None and gate.max_drop is not None:
            rules.append(_comparison(gate, value, champions.get(gate.vs)))
    for column, result in ((bias or {}).get("columns") or {}).items():
        rules.append(
            {
                "metric": f"{result['metric']}[{column}]",
                "value": result["value"],
                "rule": f"<= {result['max']}",
                "passed": bool(result["passed"]),
            }
        )
    return GateOutcome(all(r["passed"] for r in rules), tuple(rules))


def _comparison(gate: Gate, value: float, champion: dict[str, float] | None) -> dict[str, Any]:
    rule: dict[str, Any] = {"metric": gate.metric, "value": value, "vs": gate.vs}
    if champion is None or gate.metric not in champion:
        return {**rule, "rule": f"no {gate.vs} version to compare with", "passed": True}
    reference = champion[gate.metric]
    drop = (value - reference) if gate.metric in LOWER_IS_BETTER else (reference - value)
    return {
        **rule,
        "reference": reference,
        "drop": drop,
        "rule": f"drop vs {gate.vs} <= {gate.max_drop}",
        "passed": drop <= (gate.max_drop or 0.0),
    }
