"""Evaluation: metrics, bias, explanations, baseline profiles and gates."""

from shipline.evaluation.bias import bias_report
from shipline.evaluation.explain import permutation_report
from shipline.evaluation.gates import LOWER_IS_BETTER, GateOutcome, apply_gates
from shipline.evaluation.metrics import compute_metrics, predict_proba
from shipline.evaluation.profile import profile_frame

__all__ = [
    "LOWER_IS_BETTER",
    "GateOutcome",
    "apply_gates",
    "bias_report",
    "compute_metrics",
    "permutation_report",
    "predict_proba",
    "profile_frame",
]
