"""The validate step: a new data version against ``data.checks`` and the last accepted schema."""

from __future__ import annotations

__all__ = ["ValidationReport", "validate_data"]

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from shipline.config.schema import ModelConfig
from shipline.data.data_file import Column


@dataclass(frozen=True)
class ValidationReport:
    """Every broken rule, each naming its column and rule."""

    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when no rule is broken."""
        return not self.problems

    def summary(self) -> str:
        """One line per problem."""
        return "\n".join(
            f"  {p['column'] or '(data)'}: {p['rule']}: {p['message']}" for p in self.problems
        )


def validate_data(
    config: ModelConfig,
    frame: pd.DataFrame,
    columns: tuple[Column, ...],
    previous: tuple[Column, ...] | None,
    schema_accepted: bool = False,
) -> ValidationReport:
    """Check the frame; ``previous`` is the schema of the last version a run accepted.

    Excluded columns never count as schema changes; ``schema_accepted`` (someone ran
    ``shipline data accept`` on this version) skips the schema comparison altogether.
    """
    problems: list[dict[str, Any]] = []

    def add(column: str | None, rule: str, message: str) -> None:
        problems.append({"column": column, "rule": rule, "message": message})

    data = config.data
    target = data.target
    named = [(target, "target"), (data.id_column, "id_column"), (data.split.by, "split.by")]
    named += [(c, "exclude") for c in data.exclude]
    if config.evaluation.bias:
        named += [(c, "evaluation.bias.sensitive") for c in config.evaluation.bias.sensitive]
    for column, role in named:
        if column and column not in frame.columns:
            add(column, "present", f"{role} column {column!r} is not in the data")
    if len(frame) < data.checks.min_rows:
        add(None, "min_rows", f"{len(frame)} rows, expected at least {data.checks.min_rows}")
    if target in frame.columns:
        _check_target(config, frame[target], add)
    for column in frame.columns:
        missing = float(frame[column].isna().mean()) if len(frame) else 0.0
        if column != target and missing == 1.0:
            add(column, "not_empty", "every value is missing")
        elif column != target and missing > data.checks.max_missing:
            add(
                column,
                "max_missing",
                f"{missing:.1%} missing, allowed {data.checks.max_missing:.1%}",
            )
    if previous is not None and not schema_accepted:
        ignored = set(data.exclude)
        _check_schema(
            tuple(c for c in columns if c.name not in ignored),
            tuple(c for c in previous if c.name not in ignored),
            add,
        )
    return ValidationReport(problems)


def _check_target(config: ModelConfig, target: pd.Series, add: Any) -> None:
    nulls = int(target.isna().sum())
    if nulls:
        add(target.name, "target_not_null", f"{nulls} rows have no target value")
    if config.training.task == "classification":
        classes = target.dropna().nunique()
        if classes < 2:
            add(
                target.name,
                "two_classes",
                f"found {classes} class(es), a classifier needs at least 2",
            )
    elif not pd.api.types.is_numeric_dtype(target):
        add(
            target.name,
            "numeric_target",
            f"regression needs a numeric target, found {target.dtype}",
        )


_ACCEPT = " (exclude it in data.exclude, or accept the change: shipline data accept DATASET@vN)"


def _check_schema(columns: tuple[Column, ...], previous: tuple[Column, ...], add: Any) -> None:
    now = {c.name: c.dtype for c in columns}
    before = {c.name: c.dtype for c in previous}
    for name in before:
        if name not in now:
            add(name, "schema", f"column disappeared since the last accepted version{_ACCEPT}")
    for name, dtype in now.items():
        if name not in before:
            add(name, "schema", f"new column since the last accepted version{_ACCEPT}")
        elif dtype != before[name] and {dtype, before[name]} != {"int64", "double"}:
            add(name, "schema", f"type changed from {before[name]} to {dtype}{_ACCEPT}")
