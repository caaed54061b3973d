"""The split step: a deterministic train/test split from the seed."""

from __future__ import annotations

__all__ = ["split_frame"]

import pandas as pd

from shipline.config.schema import ModelConfig


def split_frame(config: ModelConfig, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified for classification; with ``split.by``, the latest rows are held out."""
    from sklearn.model_selection import train_test_split

    split = config.data.split
    if split.by:
        ordered = frame.sort_values(split.by, kind="stable")
        cut = len(ordered) - max(1, round(len(ordered) * split.test_size))
        return ordered.iloc[:cut], ordered.iloc[cut:]
    stratify = None
    if config.training.task == "classification":
        counts = frame[config.data.target].value_counts()
        if len(counts) > 1 and counts.min() >= 2:
            stratify = frame[config.data.target]
    train, test = train_test_split(
        frame, test_size=split.test_size, random_state=split.seed, stratify=stratify
    )
    return train, test
