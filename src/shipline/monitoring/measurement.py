"""What a monitoring report measures, shared by the single-machine and the cluster paths: the
predictions' reference, label-free quality estimation, and the checks on labelled rows."""

from __future__ import annotations

__all__ = [
    "class_probabilities",
    "estimated_quality",
    "is_classifier",
    "labelled_checks",
    "prediction_rules",
    "reference_predictions",
    "report_head",
]

from typing import Any

import numpy as np

from shipline.artifacts import ContentStore
from shipline.config.schema import DriftConfig, MonitoringConfig, QualityRule
from shipline.data.frame import column_array
from shipline.monitoring.attribution_drift import attribution_drift
from shipline.monitoring.bias_drift import bias_drift
from shipline.monitoring.drift import ColumnDrift, DriftReport
from shipline.monitoring.estimation import estimate_multiclass, estimate_performance
from shipline.monitoring.monitor_record import REPORT_SCHEMA_VERSION
from shipline.monitoring.quality import LabelledRows, labelled_quality
from shipline.monitoring.traffic import Traffic, split_table
from shipline.registry import ModelVersion
from shipline.registry.version_details import Task
from shipline.scoring import LoadedModel
from shipline.store import Database


def reference_predictions(model: LoadedModel, reference: dict[str, np.ndarray]) -> np.ndarray:
    """The model's predictions on its training split: what served predictions drift from."""
    rows = len(next(iter(reference.values())))
    return np.asarray(model.predict(model.frame(reference, rows)).values)


def prediction_rules(rules: DriftConfig) -> DriftConfig:
    """Prediction drift follows the default method choice, with the report's strictness."""
    return DriftConfig(strict=rules.strict, min_effect=rules.min_effect)


def report_head(
    version: ModelVersion, source: str, rows: int, features: DriftReport, prediction: ColumnDrift
) -> dict[str, Any]:
    """The report's first part: what was compared, the features' and the predictions' drift."""
    prediction_report = DriftReport((prediction,), 1.0).to_dict()["columns"][0]
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "model": version.name,
        "version": version.version,
        "source": source,
        "rows": rows,
        "features": features.to_dict(),
        "prediction": prediction_report,
    }


def is_classifier(version: ModelVersion) -> bool:
    """A classifier with at least two classes: one whose quality can be estimated (CBPE)."""
    classes = version.facts.signature.output.classes or []
    return version.facts.task == Task.CLASSIFICATION and len(classes) >= 2


def class_probabilities(model: LoadedModel, columns: dict[str, np.ndarray]) -> np.ndarray | None:
    """The model's class probabilities for the rows of ``columns`` (rows x classes)."""
    rows = len(next(iter(columns.values())))
    found = model.predict(model.frame(columns, rows), probabilities=True).probabilities
    return None if found is None else np.asarray(found)


def estimated_quality(
    db: Database,
    store: ContentStore,
    version: ModelVersion,
    model: LoadedModel,
    current_proba: np.ndarray | None,
    rule: QualityRule | None,
) -> dict[str, Any] | None:
    """CBPE on the current rows' probabilities against the held-out split; None unless a
    classifier."""
    if not is_classifier(version) or current_proba is None:
        return None
    classes = version.facts.signature.output.classes or []
    test = split_table(db, store, version, "test")
    reference = {name: column_array(test.column(name)) for name in model.input_names}
    reference_proba = class_probabilities(model, reference)
    if reference_proba is None:
        return None
    truth = np.asarray(test.column(version.facts.target).to_pylist())
    if len(classes) == 2:
        result = estimate_performance(reference_proba[:, 1], truth, current_proba[:, 1], classes[1])
    else:
        result = estimate_multiclass(reference_proba, truth, current_proba, classes)
    estimated = result["estimated"]
    if rule is not None and rule.metric in estimated:
        value = estimated[rule.metric]
        result["rule"] = rule.model_dump()
        result["passed"] = (rule.min is None or value >= rule.min) and (
            rule.max is None or value <= rule.max
        )
    else:
        band = result["bands"].get("accuracy")
        result["passed"] = None if band is None else estimated["accuracy"] >= band["lower"]
    return result


def labelled_checks(
    model: LoadedModel,
    version: ModelVersion,
    traffic: Traffic,
    labelled: LabelledRows,
    monitoring: MonitoringConfig,
) -> dict[str, Any]:
    """Quality, bias and attribution on the rows of ``traffic`` that have labels by now."""
    facts = version.facts
    task = str(facts.task)
    checks: dict[str, Any] = {
        "quality": labelled_quality(
            task,
            labelled,
            traffic.predictions,
            monitoring.quality,
            version.metrics,
            traffic.probabilities,
            facts.signature.output.classes,
        )
    }
    columns = {name: values[labelled.positions] for name, values in traffic.columns.items()}
    predicted = traffic.predictions[labelled.positions].tolist()
    bias = bias_drift(facts.bias, columns, labelled.truth, predicted, monitoring.bias)
    if bias is not None:
        checks["bias"] = bias
    attribution = attribution_drift(
        model, facts.explain, columns, labelled.truth, task, monitoring.attribution
    )
    if attribution is not None:
        checks["attribution"] = attribution
    return checks
