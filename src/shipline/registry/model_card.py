"""Model cards: what a version is, how it was made and how good it is, as Markdown and JSON."""

from __future__ import annotations

__all__ = ["render_card"]

from typing import Any

import orjson

from shipline.registry.version_details import VersionDetails


def _gate_line(rule: dict[str, Any]) -> str:
    verdict = "pass" if rule["passed"] else "FAIL"
    return f"- {verdict}: {rule['metric']} {rule['rule']} (value {rule.get('value')})"


def render_card(name: str, details: dict[str, Any]) -> tuple[str, bytes]:
    """The Markdown card and its JSON twin for a version about to be registered."""
    facts = VersionDetails.model_validate(details)
    lines = [
        f"# Model card: {name}",
        "",
        facts.description or "",
        "",
        *_training(facts),
        "",
        *_signature(facts),
        "",
        *_quality(facts),
        *_bias(facts),
        *_explanations(facts),
        *_forms(facts),
        "",
        *_environment(facts),
    ]
    card = {"name": name, **details}
    return "\n".join(lines) + "\n", orjson.dumps(
        card, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2
    )


def _training(facts: VersionDetails) -> list[str]:
    lineage = facts.lineage
    return [
        "## Intended use and training",
        f"- Task: {facts.task}; target: `{facts.target}`",
        f"- Trained by run {lineage.run} from dataset `{lineage.dataset}` "
        f"(blake3 {str(lineage.dataset_digest)[:16]}…)",
        f"- Code: git {lineage.git_commit or 'not a git repository'}"
        + (" (uncommitted changes)" if lineage.git_dirty else ""),
        f"- Config digest: {str(lineage.config_digest)[:16]}…",
        f"- Estimator: `{facts.estimator}`; serialised as {facts.format}",
    ]


def _signature(facts: VersionDetails) -> list[str]:
    return [
        "## Inputs (signature)",
        "",
        "| column | dtype |",
        "| --- | --- |",
        *[f"| {c.name} | {c.dtype} |" for c in facts.signature.inputs],
    ]


def _quality(facts: VersionDetails) -> list[str]:
    return [
        "## Held-out metrics",
        "",
        "| metric | value |",
        "| --- | --- |",
        *[f"| {k} | {v:.4f} |" for k, v in sorted(facts.metrics.items())],
        "",
        "## Gates",
        "",
        *[_gate_line(r) for r in (facts.gates.rules if facts.gates else [])],
    ]


def _bias(facts: VersionDetails) -> list[str]:
    if not facts.bias:
        return []
    return [
        "",
        "## Bias",
        "",
        *[
            f"- {col}: {r['metric']} = {r['value']:.4f} (limit {r['max']})"
            for col, r in facts.bias["columns"].items()
        ],
    ]


def _explanations(facts: VersionDetails) -> list[str]:
    explain = facts.explain
    if not explain:
        return []
    return [
        "",
        f"## Most important features ({explain['method']} importance)",
        "",
        *[
            f"{i}. {f['feature']}: {f['importance']:.4f}"
            for i, f in enumerate(explain["features"], 1)
        ],
    ]


def _forms(facts: VersionDetails) -> list[str]:
    onnx = facts.serving_forms.onnx
    if onnx is None:
        return []
    if onnx.available:
        line = (
            f"- ONNX, verified on {onnx.rows_checked} held-out rows "
            f"within {onnx.tolerance} (blake3 {str(onnx.digest)[:16]}…); "
            "served by default"
        )
    else:
        line = f"- native only: {onnx.reason}"
    return ["", "## Serving forms", "", line]


def _environment(facts: VersionDetails) -> list[str]:
    environment = facts.lineage.environment
    return [
        "## Environment",
        "",
        f"- Python {environment.python}",
        *[f"- {p} {v}" for p, v in sorted(environment.packages.items())],
    ]
