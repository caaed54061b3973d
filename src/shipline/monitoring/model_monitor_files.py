"""Files in the shapes SageMaker Model Monitor documents, for teams moving off it.

- ``statistics.json``: per-feature statistics of a dataset (numerical: present/missing counts,
  mean, sum, std_dev, min, max, a 10-bucket distribution; strings: counts, distinct count,
  value buckets).
- ``constraints.json``: what the baseline implies (completeness, non-negativity, the domain of
  low-cardinality strings) and the monitoring config.
- ``constraint_violations.json``: a monitoring report's findings as Model Monitor check types.

Model Monitor's numerical distributions carry a KLL sketch; shipline writes the same field with
the sorted reference values (all of them up to 2,048, else an even sample) as its single level,
which readers treat as the exact quantiles of those values.
"""

from __future__ import annotations

__all__ = ["baseline_statistics", "constraint_violations", "constraints", "statistics"]

from typing import Any

import orjson

from shipline.artifacts import ContentStore
from shipline.data.profile import statistics
from shipline.monitoring.monitor_record import MonitorReport
from shipline.monitoring.traffic import split_columns
from shipline.registry import ModelVersion
from shipline.store import Database

_DOMAIN_LIMIT = 20


def baseline_statistics(db: Database, store: ContentStore, version: ModelVersion) -> dict[str, Any]:
    """``statistics.json`` of the data the version was trained on: the baseline its training
    run stored, or (for versions trained before baselines took this shape) computed from the
    training split."""
    if version.facts.baseline_digest is not None:
        baseline = orjson.loads(store.read_bytes(version.facts.baseline_digest))
        features = baseline.get("features") if isinstance(baseline, dict) else None
        if isinstance(features, dict) and "dataset" in features and "features" in features:
            return features
    return statistics(split_columns(db, store, version))


def constraints(stats: dict[str, Any], drift_threshold: float = 0.1) -> dict[str, Any]:
    """``constraints.json`` suggested by a baseline's statistics."""
    features = []
    for feature in stats["features"]:
        block = feature.get("numerical_statistics") or feature.get("string_statistics") or {}
        common = block.get("common", {})
        total = common.get("num_present", 0) + common.get("num_missing", 0)
        entry: dict[str, Any] = {
            "name": feature["name"],
            "inferred_type": feature["inferred_type"],
            "completeness": common.get("num_present", 0) / total if total else 0.0,
        }
        if "numerical_statistics" in feature and "min" in block:
            entry["num_constraints"] = {"is_non_negative": block["min"] >= 0}
        if "string_statistics" in feature and block.get("distinct_count", 0) <= _DOMAIN_LIMIT:
            buckets = block["distribution"]["categorical"]["buckets"]
            entry["string_constraints"] = {"domains": [b["value"] for b in buckets]}
        features.append(entry)
    return {
        "version": 0,
        "features": features,
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": 1.0,
            "domain_content_threshold": 1.0,
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": drift_threshold,
                "comparison_method": "Robust",
            },
        },
    }


def constraint_violations(
    report: MonitorReport, baseline_constraints: dict[str, Any]
) -> dict[str, Any]:
    """``constraint_violations.json`` for a stored shipline monitoring report, checked against
    the baseline's ``constraints.json``."""
    expected = {f["name"]: f for f in baseline_constraints["features"]}
    violations = []
    for column in report.features.columns:
        name = column.column
        if column.drifted:
            violations.append(
                {
                    "feature_name": name,
                    "constraint_check_type": "baseline_drift_check",
                    "description": f"{column.method} = {column.statistic:.6g} breaks "
                    f"the threshold {column.threshold} (shipline drift rule)",
                }
            )
        if column.unseen:
            violations.append(
                {
                    "feature_name": name,
                    "constraint_check_type": "categorical_values_check",
                    "description": f"values not in the baseline: {', '.join(column.unseen)}",
                }
            )
        completeness = 1.0 - column.current_missing_share
        wanted = expected.get(name, {}).get("completeness")
        if wanted is not None and completeness < wanted:
            violations.append(
                {
                    "feature_name": name,
                    "constraint_check_type": "completeness_check",
                    "description": f"completeness {completeness:.4f} is below "
                    f"the baseline's {wanted:.4f}",
                }
            )
    return {"violations": violations}
