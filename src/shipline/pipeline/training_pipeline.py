"""The training pipeline: ingest → validate → split → train → evaluate → gate → register."""

from __future__ import annotations

__all__ = ["DECISION_STEPS", "STEPS", "TRAINING_STEPS", "step_names"]

import tempfile
from pathlib import Path
from typing import Any

import blake3
import orjson

from shipline.config.schema import ModelConfig
from shipline.config.trigger_kind import TRIGGER_KINDS
from shipline.data import add_version, get_version, read_frame, split_frame, validate_data
from shipline.data.data_file import Column
from shipline.data.data_source import DataSource, resolve_source
from shipline.data.profile import frame_columns, sorted_columns, statistics
from shipline.data.schema_acceptance import find_acceptance
from shipline.evaluation import (
    bias_report,
    compute_metrics,
    permutation_report,
)
from shipline.pipeline.code_fingerprint import deps_digests, entrypoint_files, file_digests
from shipline.pipeline.decision_steps import (
    applied_approval,
    champion_versions,
    gate,
    register,
)
from shipline.pipeline.hyperparameter_search import SearchFit
from shipline.pipeline.step import Step, StepContext, StepInputs
from shipline.store import canonical_json
from shipline.training import feature_columns, train_model
from shipline.training.bundle import ModelBundle
from shipline.training.estimator import Fit
from shipline.training.onnx_form import convert_to_onnx


def _source(context: StepContext) -> DataSource:
    return resolve_source(context.project_dir, context.config.data.source)


def _source_fingerprint(context: StepContext, inputs: dict[str, str]) -> dict[str, Any]:
    """Name, size and modification time of every source file (ETag for objects): cheap, and
    any edit changes it.

    A changed fingerprint makes ingest run and hash the data; the same bytes then give the
    same dataset version, so an edit that restores the content changes nothing downstream.
    """
    return {"files": _source(context).fingerprint()}


def ingest(context: StepContext, inputs: StepInputs) -> dict[str, Any]:
    """Snapshot data.source as a dataset version (same bytes, same version)."""
    source = _source(context)
    with tempfile.TemporaryDirectory(prefix="shipline-source-") as scratch:
        result = add_version(
            context.db,
            context.store,
            source.local_copy(Path(scratch)),
            context.actor,
            name=context.config.name,
            source=source.location,
        )
    version = result.version
    return {"dataset": {"ref": version.ref, "digest": version.digest, "rows": version.rows}}


def _frame(context: StepContext, dataset: dict[str, Any]) -> Any:
    with context.db.read() as conn:
        version = get_version(conn, dataset["ref"])
    return version, read_frame(context.store, version)


def _previous_schema(context: StepContext, inputs: dict[str, str]) -> dict[str, Any]:
    """The validation report of the last accepted data version other than this one.

    Accepted means its run went past validation. Validating the same data again compares it
    with the same earlier version, so its cache key does not change and a repeat is reused.
    """
    from shipline.pipeline.run_record import list_runs

    this_data = canonical_json({"dataset": inputs.get("dataset")})
    accepted_here = _schema_acceptance(context, inputs.get("dataset"))
    for run in list_runs(context.db, context.config.name, limit=100):
        steps = {step.step: step for step in run.steps}
        validated = steps.get("validate")
        if (
            validated is None
            or "split" not in steps
            or validated.key_parts.get("inputs") == this_data
        ):
            continue
        return {"accepted": validated.outputs["validation"], "schema_accepted": accepted_here}
    return {"accepted": None, "schema_accepted": accepted_here}


def _schema_acceptance(context: StepContext, dataset_digest: str | None) -> int | None:
    """The id of the `shipline data accept` given to this data version, if any."""
    if dataset_digest is None:
        return None
    dataset = orjson.loads(context.store.read_bytes(dataset_digest))
    with context.db.read() as conn:
        acceptance = find_acceptance(conn, context.config.name, dataset["digest"])
    return None if acceptance is None else acceptance.id


def validate(context: StepContext, inputs: StepInputs) -> dict[str, Any]:
    """Check the data against data.checks and the last accepted schema."""
    version, frame = _frame(context, inputs["dataset"])
    facts = _previous_schema(context, {"dataset": inputs.digest("dataset")})
    accepted = facts["accepted"]
    previous = None
    if accepted is not None:
        report = context.store.read_bytes(accepted)
        previous = tuple(Column(c["name"], c["dtype"]) for c in orjson.loads(report)["columns"])
    result = validate_data(
        context.config, frame, version.columns, previous, facts["schema_accepted"] is not None
    )
    return {
        "validation": {
            "passed": result.passed,
            "problems": result.problems,
            "columns": [{"name": c.name, "dtype": c.dtype} for c in version.columns],
        }
    }


def split(context: StepContext, inputs: StepInputs) -> dict[str, Any]:
    """Hold out the evaluation rows, deterministically from the seed."""
    _, frame = _frame(context, inputs["dataset"])
    train, test = split_frame(context.config, frame)
    return {"train": train, "test": test}


def train(context: StepContext, inputs: StepInputs) -> dict[str, Any]:
    """Fit the model and bundle it with its signature."""
    frame = inputs["train"]
    config = context.config
    search: SearchFit | None = None
    fit: Fit | None = None
    if config.training.search is not None:
        search = fit = SearchFit(
            config.training.search, config.training.task, config.data.split.seed
        )
    elif config.compute.distributed_training:
        from shipline.training.distributed_fit import DistributedFit

        fit = DistributedFit(str(config.training.estimator).partition(".")[0])
    model, flavour = train_model(config, frame, context.project_dir, fit)
    features = feature_columns(config, list(frame.columns))
    output: dict[str, Any] = {"name": config.data.target, "task": config.training.task}
    classes = flavour.classes(model)
    if classes is not None:
        output["classes"] = classes
    formats = frame.attrs.get("date_formats", {})
    inputs_signature = [
        {
            "name": c,
            "dtype": str(frame[c].dtype),
            **({"format": formats[c]} if c in formats else {}),
        }
        for c in features
    ]
    signature = {"inputs": inputs_signature, "output": output}
    if config.data.id_column:
        # Clients may send the id column with each row: it is echoed and captured, not scored.
        signature["id_column"] = config.data.id_column
    bundle = ModelBundle(
        model, config.training.task, config.data.target, tuple(features), signature, flavour.name
    )
    return {
        "model": bundle,
        "signature": signature,
        "search": None if search is None else search.report,
    }


def evaluate(context: StepContext, inputs: StepInputs) -> dict[str, Any]:
    """Metrics, bias and explanations on the held-out rows; baseline profiles for monitoring."""
    bundle, test, train_frame = inputs["model"], inputs["test"], inputs["train"]
    evaluation, predicted = _evaluation(context.config, bundle, test)
    evaluation["serving_forms"] = _serving_forms(context, bundle, test)
    # The training data's statistics, once: `shipline monitor export` writes them as is.
    train_x = train_frame[list(bundle.features)]
    baseline = {
        "features": statistics(frame_columns(train_x)),
        "predictions": statistics({"prediction": predicted}),
        "metrics": evaluation["metrics"],
    }
    return {"evaluation": evaluation, "baseline": baseline} | _monitoring_reference(bundle, train_x)


def _evaluation(config: ModelConfig, bundle: ModelBundle, test: Any) -> tuple[dict[str, Any], Any]:
    """Metrics, bias and explanations on the held-out rows, and the predictions for them."""
    x, y = test[list(bundle.features)], test[config.data.target]
    metrics = compute_metrics(config.training.task, bundle.estimator, x, y)
    predicted, _ = bundle.predict(x)
    evaluation: dict[str, Any] = {
        "flavour": bundle.flavour,
        "metrics": metrics,
        "rows": len(test),
        "bias": None,
        "explain": None,
    }
    if config.evaluation.bias:
        evaluation["bias"] = bias_report(config.evaluation.bias, test, y, predicted)
    if config.evaluation.explain:
        evaluation["explain"] = permutation_report(
            config.evaluation.explain,
            bundle.estimator,
            x,
            y,
            config.training.task,
            config.data.split.seed,
        )
    return evaluation, predicted


def _serving_forms(context: StepContext, bundle: ModelBundle, test: Any) -> dict[str, Any]:
    """The forms the version can be served in: native always, ONNX when it converts and
    predicts like the original (its bytes stored)."""
    forms: dict[str, Any] = {"native": {"available": True}}
    if context.config.serving.onnx:
        onnx_bytes, report = convert_to_onnx(bundle, test)
        if onnx_bytes is not None:
            report["digest"] = context.store.put_bytes(onnx_bytes).digest
        forms["onnx"] = report
    return forms


def _monitoring_reference(bundle: ModelBundle, train_x: Any) -> dict[str, Any]:
    """What monitoring compares traffic with, sorted once here rather than at every check:
    the training inputs and the model's predictions for them."""
    import pandas as pd

    trained_on, _ = bundle.predict(train_x)
    return {
        "reference": sorted_columns(train_x),
        "reference_predictions": sorted_columns(pd.DataFrame({"prediction": trained_on})),
    }


def _training_code(context: StepContext, inputs: dict[str, str]) -> dict[str, Any]:
    """The bytes training depends on beyond its config and data: the entrypoint and the
    project modules it imports, the ``training.deps`` files, the watched environment files."""
    project, training = context.project_dir, context.config.training
    facts: dict[str, Any] = {}
    if training.entrypoint:
        entry = project / training.entrypoint.partition(":")[0]
        facts["entrypoint"] = file_digests(project.resolve(), entrypoint_files(project, entry))
    if training.deps:
        facts["deps"] = deps_digests(project, training.deps)
    triggers = context.config.retraining.triggers
    watched = [
        name
        for trigger in triggers
        for name in TRIGGER_KINDS.get(trigger.kind).watched_files(trigger.value)
    ]
    environment = {
        name: value
        for trigger in triggers
        for name, value in TRIGGER_KINDS.get(trigger.kind)
        .environment(trigger.value, project)
        .items()
    }
    if environment:
        # A new image digest fires the image trigger; the model must then retrain.
        facts["environment"] = dict(sorted(environment.items()))
    if watched:
        # A changed lock file fires the environment trigger; the model must then retrain.
        facts["environment_files"] = {
            name: _file_digest(project / name) for name in sorted(set(watched))
        }
    return facts


def _file_digest(path: Path) -> str | None:
    return blake3.blake3(path.read_bytes()).hexdigest() if path.is_file() else None


def _dump(config: ModelConfig, *sections: str) -> dict[str, Any]:
    dumped = config.model_dump(mode="json")
    return {section: dumped[section] for section in sections}


STEPS: list[Step] = [
    Step(
        "ingest",
        ingest,
        (),
        {"dataset": "json"},
        lambda c: {"source": c.data.source, "name": c.name},
        facts=_source_fingerprint,
    ),
    Step(
        "validate",
        validate,
        ("dataset",),
        {"validation": "json"},
        lambda c: {
            **_dump(c, "data"),
            "task": c.training.task,
            "bias": _dump(c, "evaluation")["evaluation"]["bias"],
        },
        facts=_previous_schema,
        verdict=lambda out: None if out["validation"]["passed"] else "failed",
    ),
    Step(
        "split",
        split,
        ("dataset",),
        {"train": "frame", "test": "frame"},
        lambda c: {
            "split": _dump(c, "data")["data"]["split"],
            "target": c.data.target,
            "task": c.training.task,
        },
    ),
    Step(
        "train",
        train,
        ("train",),
        {"model": "model", "signature": "json", "search": "json"},
        lambda c: {
            **_dump(c, "training"),
            "target": c.data.target,
            "id": c.data.id_column,
            "exclude": c.data.exclude,
            # Trained across the workers: another model than one worker's (keys as before).
            **({"distributed_training": True} if c.compute.distributed_training else {}),
        },
        facts=_training_code,
        portable=True,
    ),
    Step(
        "evaluate",
        evaluate,
        ("model", "test", "train"),
        {
            "evaluation": "json",
            "baseline": "json",
            "reference": "frame",
            "reference_predictions": "frame",
        },
        lambda c: {**_dump(c, "evaluation"), "seed": c.data.split.seed, "onnx": c.serving.onnx},
        portable=True,
    ),
    Step(
        "gate",
        gate,
        ("evaluation",),
        {"gate": "json"},
        lambda c: _dump(c, "evaluation"),
        facts=champion_versions,
        verdict=lambda out: None if out["gate"]["passed"] else "rejected",
    ),
    Step(
        "register",
        register,
        (
            "model",
            "signature",
            "search",
            "evaluation",
            "gate",
            "dataset",
            "baseline",
            "reference",
            "reference_predictions",
            "train",
            "test",
        ),
        {"registration": "json"},
        lambda c: {"name": c.name},
        facts=applied_approval,
    ),
]


# Where a remote-mode client trains: it runs these, uploads their outputs, and the team
# server runs the rest (the gate against its champions, registration under its policy).
TRAINING_STEPS = STEPS[:5]
DECISION_STEPS = STEPS[5:]


def step_names() -> list[str]:
    """The steps in order."""
    return [step.name for step in STEPS]
