"""Training: estimator adapters and bring-your-own training functions."""

from shipline.training.estimator import TrainingError, feature_columns, train_model

__all__ = ["TrainingError", "feature_columns", "train_model"]
