"""The value types ``shipline.yaml`` is written in: durations, cron expressions, shares,
column names, dotted import paths, entrypoints, project-relative patterns and URLs."""

from __future__ import annotations

__all__ = [
    "AliasName",
    "ColumnName",
    "Cron",
    "DottedPath",
    "Duration",
    "Entrypoint",
    "ModelName",
    "RelativePattern",
    "Share",
    "Url",
    "parse_duration",
]

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, Field

from shipline.errors import UsageError
from shipline.types import check_name

_DURATION = re.compile(r"(\d+)(s|m|h|d|w)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")
_ENTRYPOINT = re.compile(r"[^:\x00]+\.py:[A-Za-z_][A-Za-z0-9_]*")


def parse_duration(text: str) -> timedelta:
    """Parse ``90s``, ``30m``, ``6h``, ``2d``, ``1w`` into a timedelta."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise ValueError(
            f"expected a duration such as '90s', '30m', '6h', '2d' or '1w', got {text!r}"
        )
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def _check_duration(text: str) -> str:
    parse_duration(text)
    return text


def _check_cron(text: str) -> str:
    from croniter import croniter

    if len(text.split()) != 5 or not croniter.is_valid(text):
        raise ValueError(f"expected a 5-field cron expression such as '0 3 * * 0', got {text!r}")
    return text


def _check_model_name(text: str) -> str:
    try:
        return check_name(text, "name")
    except UsageError as error:
        raise ValueError(str(error)) from None


def _check_alias_name(text: str) -> str:
    try:
        return check_name(text, "alias")
    except UsageError as error:
        raise ValueError(str(error)) from None


def _check_dotted_path(text: str) -> str:
    if not _DOTTED.fullmatch(text):
        raise ValueError(
            f"expected a dotted import path such as "
            f"'sklearn.ensemble.HistGradientBoostingClassifier', got {text!r}"
        )
    return text


def _check_entrypoint(text: str) -> str:
    if not _ENTRYPOINT.fullmatch(text) or ".." in text.split(":", maxsplit=1)[0].split("/"):
        raise ValueError(f"expected 'file.py:function' relative to the project, got {text!r}")
    return text


def _check_relative_pattern(text: str) -> str:
    if text.startswith(("/", "~")) or "\\" in text or ".." in text.split("/"):
        raise ValueError(
            f"expected a file or glob relative to the project folder (no '..'), got {text!r}"
        )
    return text


def _check_url(text: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", text):
        raise ValueError(f"expected an http:// or https:// URL, got {text!r}")
    return text


Duration = Annotated[str, AfterValidator(_check_duration)]
Cron = Annotated[str, AfterValidator(_check_cron)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
ColumnName = Annotated[str, Field(min_length=1, max_length=200)]
ModelName = Annotated[str, AfterValidator(_check_model_name)]
AliasName = Annotated[str, AfterValidator(_check_alias_name)]
DottedPath = Annotated[str, AfterValidator(_check_dotted_path)]
Entrypoint = Annotated[str, AfterValidator(_check_entrypoint)]
RelativePattern = Annotated[str, Field(min_length=1), AfterValidator(_check_relative_pattern)]
Url = Annotated[str, AfterValidator(_check_url)]
