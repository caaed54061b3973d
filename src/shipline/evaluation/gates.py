"""Gates: the rules a candidate must pass to be registered."""

from __future__ import annotations

__all__ = ["LOWER_IS_BETTER", "GateOutcome", "GateVerdict", "apply_gates"]

from dataclasses import dataclass, fields
from typing import Any

from shipline.config.schema import Gate

LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae", "mape"})


@dataclass(frozen=True)
class GateVerdict:
    """One rule with its measured value: an absolute bound, a comparison with an alias holder
    (``vs``, the holder's ``reference`` value and the ``drop``) or a bias limit."""

    metric: str
    value: float | None
    rule: str
    passed: bool
    vs: str | None = None
    reference: float | None = None
    drop: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The stored JSON form (a comparison's keys only on comparisons)."""
        shown = {"metric": self.metric, "value": self.value}
        for name in ("vs", "reference", "drop"):
            if getattr(self, name) is not None:
                shown[name] = getattr(self, name)
        return {**shown, "rule": self.rule, "passed": self.passed}

    def __getitem__(self, key: str) -> Any:
        """Read like the stored JSON: ``verdict["metric"]``."""
        if key not in {f.name for f in fields(self)}:
            raise KeyError(key)
        return getattr(self, key)


@dataclass(frozen=True)
class GateOutcome:
    """Each rule with its measured value, and whether all passed."""

    passed: bool
    rules: tuple[GateVerdict, ...]

    def failures(self) -> list[GateVerdict]:
        """The rules that failed."""
        return [r for r in self.rules if not r.passed]

    def to_dicts(self) -> list[dict[str, Any]]:
        """Every rule in its stored JSON form."""
        return [r.to_dict() for r in self.rules]


def apply_gates(
    gates: list[Gate],
    metrics: dict[str, float],
    champions: dict[str, dict[str, float] | None],
    bias: dict[str, Any] | None,
) -> GateOutcome:
    """Check absolute bounds, comparisons with the alias holders, and the bias limit."""
    rules: list[GateVerdict] = []
    for gate in gates:
        value = metrics.get(gate.metric)
        if value is None:
            rules.append(GateVerdict(gate.metric, None, "metric must be computable", False))
            continue
        if gate.min is not None:
            rules.append(GateVerdict(gate.metric, value, f">= {gate.min}", value >= gate.min))
        if gate.max is not None:
            rules.append(GateVerdict(gate.metric, value, f"<= {gate.max}", value <= gate.max))
        if gate.vs is not None and gate.max_drop is not None:
            rules.append(_comparison(gate, value, champions.get(gate.vs)))
    for column, result in ((bias or {}).get("columns") or {}).items():
        rules.append(
            GateVerdict(
                f"{result['metric']}[{column}]",
                result["value"],
                f"<= {result['max']}",
                bool(result["passed"]),
            )
        )
    return GateOutcome(all(r.passed for r in rules), tuple(rules))


def _comparison(gate: Gate, value: float, champion: dict[str, float] | None) -> GateVerdict:
    if champion is None or gate.metric not in champion:
        return GateVerdict(
            gate.metric, value, f"no {gate.vs} version to compare with", True, gate.vs
        )
    reference = champion[gate.metric]
    drop = (value - reference) if gate.metric in LOWER_IS_BETTER else (reference - value)
    return GateVerdict(
        gate.metric,
        value,
        f"drop vs {gate.vs} <= {gate.max_drop}",
        drop <= (gate.max_drop or 0.0),
        gate.vs,
        reference,
        drop,
    )
