"""The pipeline's decision steps, run where the metadata store is: the gate (against the
champions) and registration (under the applied policy)."""

from __future__ import annotations

__all__ = ["applied_approval", "champion_versions", "gate", "register"]

from typing import Any

from shipline.artifacts import ManifestEntry, store_manifest
from shipline.evaluation import apply_gates
from shipline.pipeline.step import StepContext, StepInputs
from shipline.registry import (
    find_by_bundle,
    move_alias,
    promote,
    register_version,
    render_card,
    resolve_model_version,
)
from shipline.registry.applied_config import applied_policy
from shipline.registry.version_details import DETAILS_SCHEMA_VERSION, VersionDetails
from shipline.training.bundle import FORMAT


def champion_versions(context: StepContext, inputs: dict[str, str] | None = None) -> dict[str, Any]:
    """The versions the gates compare against (by alias), with their metrics."""
    from shipline.errors import NotFoundError

    champions: dict[str, Any] = {}
    for alias in {g.vs for g in context.config.evaluation.gates if g.vs}:
        try:
            with context.db.read() as conn:
                holder = resolve_model_version(conn, f"{context.config.name}@{alias}")
            champions[alias] = {"version": holder.version, "metrics": holder.metrics}
        except NotFoundError:
            champions[alias] = None
    return champions


def gate(context: StepContext, inputs: StepInputs) -> dict[str, Any]:
    """Apply evaluation.gates: absolute bounds, champion/challenger, bias limits."""
    evaluation = inputs["evaluation"]
    holders = champion_versions(
        context
    )  # read once: the verdict and the record use the same versions
    champions = {alias: (c or {}).get("metrics") for alias, c in holders.items()}
    outcome = apply_gates(
        context.config.evaluation.gates, evaluation["metrics"], champions, evaluation["bias"]
    )
    return {
        "gate": {
            "passed": outcome.passed,
            "rules": outcome.to_dicts(),
            "champions": holders,
        }
    }


def register(context: StepContext, inputs: StepInputs) -> dict[str, Any]:
    """Register the version (or find the identical one), then move staging per the policy."""
    config = context.config
    bundle_digest = inputs.digest("model")
    evaluation, gate_result, dataset = inputs["evaluation"], inputs["gate"], inputs["dataset"]
    details = {
        "schema_version": DETAILS_SCHEMA_VERSION,
        "task": config.training.task,
        "target": config.data.target,
        "description": config.description,
        "estimator": config.training.entrypoint or config.training.estimator or "default",
        # The seed of the split, of any unset estimator random_state and of the explanations.
        "seed": config.data.split.seed,
        "format": FORMAT,
        "flavour": evaluation.get("flavour"),
        "signature": inputs["signature"],
        "metrics": evaluation["metrics"],
        "bias": evaluation["bias"],
        "explain": evaluation["explain"],
        "serving_forms": evaluation.get("serving_forms", {"native": {"available": True}}),
        "gates": gate_result,
        "search": _search_summary(inputs["search"]),
        "baseline_digest": inputs.digest("baseline"),
        # Monitoring compares traffic with these splits: recorded here, not found by step name.
        "training_data": {
            "train": inputs.digest("train"),
            "test": inputs.digest("test"),
            "reference": inputs.digest("reference"),
            "reference_predictions": inputs.digest("reference_predictions"),
        },
        "lineage": {
            **context.lineage,
            "run": context.run_id,
            "dataset": dataset["ref"],
            "dataset_digest": dataset["digest"],
        },
    }
    if context.signing_key is not None:
        # Signed before the row that records it: the signature is a blob like the bundle.
        details["signed"] = _signed(context, bundle_digest, details["serving_forms"])
    VersionDetails.model_validate(details)  # the document this release promises to read back
    markdown, card_json = render_card(config.name, details)
    card_entries = [
        ManifestEntry(
            "card.md", context.store.put_bytes(markdown.encode()).digest, len(markdown.encode())
        ),
        ManifestEntry("card.json", context.store.put_bytes(card_json).digest, len(card_json)),
    ]
    card_digest = store_manifest(context.store, card_entries).digest
    with context.db.write(context.actor) as tx:
        version = find_by_bundle(tx.conn, config.name, bundle_digest)
        created = version is None
        if version is None:
            version = register_version(
                tx, config.name, context.run_id, bundle_digest, card_digest, details
            )
        # The applied policy decides, in this transaction; the run's own file does not.
        policy = applied_policy(tx.conn, config.name)
        if policy.staging == "auto":
            move_alias(tx, version, "staging", "promote", f"run {context.run_id}")
    if policy.staging == "manual":
        promote(context.db, config.name, version.version, "staging", context.actor)
    return {"registration": {"version": version.version, "created": created, "card": card_digest}}


def _signed(context: StepContext, bundle: str, forms: dict[str, Any]) -> dict[str, Any]:
    """The version's files signed with the team's key (``details.signed``)."""
    from shipline.registry.version_signing import sign_files, version_files

    assert context.signing_key is not None
    onnx = forms.get("onnx") or {}
    files = version_files(bundle, onnx.get("digest") if onnx.get("available") else None)
    return sign_files(context.store, context.config.name, files, context.signing_key)


def _search_summary(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the version's card says of the search that chose it (the trials stay on the run)."""
    if report is None:
        return None
    return {key: report[key] for key in ("method", "metric", "cv", "best")} | {
        "trials": len(report["trials"])
    }


def applied_approval(context: StepContext, inputs: dict[str, str]) -> dict[str, Any]:
    """The approval policy registration follows: the model's applied one."""
    with context.db.read() as conn:
        return applied_policy(conn, context.config.name).model_dump(mode="json")
