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

__all__ = ["constraint_violations", "constraints", "statistics"]

from typing import Any

import numpy as np

_BUCKETS = 10
_SKETCH_SIZE = 2048
_DOMAIN_LIMIT = 20


def statistics(columns: dict[str, np.ndarray]) -> dict[str, Any]:
    """``statistics.json`` for a dataset given as one array per column."""
    rows = len(next(iter(columns.values()))) if columns else 0
    return {
        "version": 0,
        "dataset": {"item_count": rows},
        "features": [_feature(n, v) for n, v in columns.items()],
    }


def _feature(name: str, values: np.ndarray) -> dict[str, Any]:
    if values.dtype.kind in "iuf":
        numbers = np.asarray(values, dtype=np.float64)
        present = numbers[np.isfinite(numbers)]
        common = {"num_present": int(present.size), "num_missing": int(numbers.size - present.size)}
        kind = "Integral" if values.dtype.kind in "iu" else "Fractional"
        if present.size == 0:
            return {"name": name, "inferred_type": kind, "numerical_statistics": {"common": common}}
        counts, edges = np.histogram(present, bins=_BUCKETS)
        ordered = np.sort(present)
        sketch = (
            ordered
            if ordered.size <= _SKETCH_SIZE
            else ordered[np.linspace(0, ordered.size - 1, _SKETCH_SIZE).astype(int)]
        )
        stats = {
            "common": common,
            "mean": float(present.mean()),
            "sum": float(present.sum()),
            "std_dev": float(present.std()),
            "min": float(present.min()),
            "max": float(present.max()),
            "distribution": {
                "kll": {
                    "buckets": [
                        {
                            "lower_bound": float(edges[i]),
                            "upper_bound": float(edges[i + 1]),
                            "count": int(c),
                        }
                        for i, c in enumerate(counts)
                    ],
                    "sketch": {
                        "parameters": {"c": 0.64, "k": _SKETCH_SIZE},
                        "data": [sketch.tolist()],
                    },
                }
            },
        }
        return {"name": name, "inferred_type": kind, "numerical_statistics": stats}
    present_values = [v for v in values.tolist() if v is not None]
    distinct, counts = np.unique(
        np.asarray([str(v) for v in present_values], dtype=object), return_counts=True
    )
    return {
        "name": name,
        "inferred_type": "String",
        "string_statistics": {
            "common": {
                "num_present": len(present_values),
                "num_missing": int(values.size - len(present_values)),
            },
            "distinct_count": int(distinct.size),
            "distribution": {
                "categorical": {
                    "buckets": [
                        {"value": str(v), "count": int(c)}
                        for v, c in zip(distinct.tolist(), counts.tolist(), strict=True)
                    ]
                }
            },
        },
    }


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
    report: dict[str, Any], baseline_constraints: dict[str, Any]
) -> dict[str, Any]:
    """``constraint_violations.json`` for a stored shipline monitoring report, checked against
    the baseline's ``constraints.json``."""
    expected = {f["name"]: f for f in baseline_constraints["features"]}
    violations = []
    for column in report["features"]["columns"]:
        name = column["column"]
        if column["drifted"]:
            violations.append(
                {
                    "feature_name": name,
                    "constraint_check_type": "baseline_drift_check",
                    "description": f"{column['method']} = {column['statistic']:.6g} breaks "
                    f"the threshold {column['threshold']} (shipline drift rule)",
                }
            )
        if column["unseen"]:
            violations.append(
                {
                    "feature_name": name,
                    "constraint_check_type": "categorical_values_check",
                    "description": f"values not in the baseline: {', '.join(column['unseen'])}",
                }
            )
        completeness = 1.0 - column["current_missing_share"]
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
