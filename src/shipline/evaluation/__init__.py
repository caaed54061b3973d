"""Evaluation: metrics, bias, explanations and gates."""

from shipline.evaluation.bias import bias_report
from shipline.evaluation.explain import permutation_report
from shipline.evaluation.gates import LOWER_IS_BETTER, GateOutcome, apply_gates
from shipline.evaluation.metrics import compute_metrics, predict_proba

__all__ = [
    "LOWER_IS_BETTER",
    "GateOutcome",
    "apply_gates",
    "bias_report",
    "compute_metrics",
    "permutation_report",
    "predict_proba",
]
