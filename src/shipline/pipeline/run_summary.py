"""Why a run ended as it did, in lines a person reads: failed gates, broken data rules, errors."""

from __future__ import annotations

__all__ = ["failure_reasons"]

from collections.abc import Callable
from typing import Any

from shipline.pipeline.run_record import RunRecord


def failure_reasons(read_json: Callable[[str], Any], run: RunRecord) -> list[str]:
    """The error's first line, then each failed gate rule and each broken validation rule
    (``read_json`` gives a step's JSON output by digest: from the store, or the team server)."""
    lines = [(run.error or "").splitlines()[0]] if run.error else []
    for step in run.steps:
        if step.step == "gate" and "gate" in step.outputs:
            gate = read_json(step.outputs["gate"])
            lines += [
                f"  failed gate: {r['metric']} {r['rule']} (value {r.get('value')})"
                for r in gate["rules"]
                if not r["passed"]
            ]
        if step.step == "validate" and "validation" in step.outputs:
            report = read_json(step.outputs["validation"])
            lines += [
                f"  {p['column'] or '(data)'}: {p['rule']}: {p['message']}"
                for p in report["problems"]
            ]
    return lines
