"""Model cards: what a version is, how it was made and how good it is, as Markdown and JSON."""

from __future__ import annotations

__all__ = ["render_card"]

from typing import Any

import orjson


def _gate_line(rule: dict[str, Any]) -> str:
    verdict = "pass" if rule["passed"] else "FAIL"
    return f"- {verdict}: {rule['metric']} {rule['rule']} (value {rule.get('value')})"


def render_card(name: str, details: dict[str, Any]) -> tuple[str, bytes]:
    """The Markdown card and its JSON twin for a version about to be registered."""
    lines = [
        f"# Model card: {name}",
        "",
        details.get("description") or "",
        "",
        *_training(details),
        "",
        *_signature(details),
        "",
        *_quality(details),
        *_bias(details),
        *_explanations(details),
        *_forms(details),
        "",
        *_environment(details),
    ]
    card = {"name": name, **details}
    return "\n".join(lines) + "\n", orjson.dumps(
        card, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2
    )


def _training(details: dict[str, Any]) -> list[str]:
    lineage = details.get("lineage", {})
    return [
        "## Intended use and training",
        f"- Task: {details.get('task')}; target: `{details.get('target')}`",
        f"- Trained by run {lineage.get('run')} from dataset `{lineage.get('dataset')}` "
        f"(blake3 {str(lineage.get('dataset_digest'))[:16]}…)",
        f"- Code: git {lineage.get('git_commit') or 'not a git repository'}"
        + (" (uncommitted changes)" if lineage.get("git_dirty") else ""),
        f"- Config digest: {str(lineage.get('config_digest'))[:16]}…",
        f"- Estimator: `{details.get('estimator')}`; serialised as {details.get('format')}",
    ]


def _signature(details: dict[str, Any]) -> list[str]:
    inputs = details.get("signature", {}).get("inputs", [])
    return [
        "## Inputs (signature)",
        "",
        "| column | dtype |",
        "| --- | --- |",
        *[f"| {c['name']} | {c['dtype']} |" for c in inputs],
    ]


def _quality(details: dict[str, Any]) -> list[str]:
    metrics = sorted(details.get("metrics", {}).items())
    return [
        "## Held-out metrics",
        "",
        "| metric | value |",
        "| --- | --- |",
        *[f"| {k} | {v:.4f} |" for k, v in metrics],
        "",
        "## Gates",
        "",
        *[_gate_line(r) for r in details.get("gates", {}).get("rules", [])],
    ]


def _bias(details: dict[str, Any]) -> list[str]:
    bias = details.get("bias")
    if not bias:
        return []
    return [
        "",
        "## Bias",
        "",
        *[
            f"- {col}: {r['metric']} = {r['value']:.4f} (limit {r['max']})"
            for col, r in bias["columns"].items()
        ],
    ]


def _explanations(details: dict[str, Any]) -> list[str]:
    explain = details.get("explain")
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


def _forms(details: dict[str, Any]) -> list[str]:
    onnx = details.get("serving_forms", {}).get("onnx")
    if onnx is None:
        return []
    if onnx.get("available"):
        line = (
            f"- ONNX, verified on {onnx.get('rows_checked')} held-out rows "
            f"within {onnx.get('tolerance')} (blake3 {str(onnx.get('digest'))[:16]}…); "
            "served by default"
        )
    else:
        line = f"- native only: {onnx.get('reason')}"
    return ["", "## Serving forms", "", line]


def _environment(details: dict[str, Any]) -> list[str]:
    environment = details.get("lineage", {}).get("environment", {})
    return [
        "## Environment",
        "",
        f"- Python {environment.get('python')}",
        *[f"- {p} {v}" for p, v in sorted(environment.get("packages", {}).items())],
    ]
