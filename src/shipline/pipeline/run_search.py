"""Finding runs by a metric: ``metrics.auc > 0.9`` (MLflow's filter syntax, one condition),
evaluated by the database on the run's stored metrics."""

from __future__ import annotations

__all__ = ["MetricFilter", "parse_metric_filter"]

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, cast, func
from sqlalchemy.sql import ColumnElement

from shipline.errors import UsageError
from shipline.store.tables import runs

_FILTER = re.compile(
    r"^\s*(?:metrics\.)?([A-Za-z0-9_][A-Za-z0-9_.-]{0,99})\s*(>=|<=|!=|==|=|>|<)\s*"
    r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)


@dataclass(frozen=True)
class MetricFilter:
    """``metric op value``: runs whose final ``metric`` compares so."""

    metric: str
    op: str
    value: float

    def condition(self, dialect: str) -> ColumnElement[bool]:
        """The SQL condition on ``runs.metrics`` (JSON text) for this database kind."""
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            extracted: Any = func.jsonb_extract_path_text(cast(runs.c.metrics, JSONB), self.metric)
        else:
            extracted = func.json_extract(runs.c.metrics, f'$."{self.metric}"')
        number = cast(extracted, Float)
        comparisons = {
            ">": number > self.value,
            ">=": number >= self.value,
            "<": number < self.value,
            "<=": number <= self.value,
            "=": number == self.value,
            "==": number == self.value,
            "!=": number != self.value,
        }
        return comparisons[self.op]


def parse_metric_filter(text: str) -> MetricFilter:
    """``metrics.NAME OP NUMBER`` (``metrics.`` optional), or a clear error."""
    match = _FILTER.match(text)
    if match is None:
        raise UsageError(
            f"expected a metric filter like 'metrics.roc_auc > 0.9', got {text[:80]!r}"
        )
    name, op, value = match.groups()
    return MetricFilter(name, op, float(value))
