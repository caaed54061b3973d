"""Where monitored rows come from: captured traffic in a time window, a file, a training split."""

from __future__ import annotations

__all__ = [
    "TimeWindow",
    "Traffic",
    "capture_digests",
    "captured_traffic",
    "file_traffic",
    "in_window",
    "missing_inputs",
    "no_traffic",
    "split_columns",
    "split_digest",
    "split_table",
]

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from shipline.artifacts import ContentStore
from shipline.data.frame import column_array
from shipline.errors import NotFoundError, UsageError
from shipline.monitoring.drift_files import read_columns
from shipline.pipeline.run_record import get_run
from shipline.registry import ModelVersion
from shipline.scoring import LoadedModel
from shipline.store import Database, stamp
from shipline.store.tables import captures


@dataclass(frozen=True)
class TimeWindow:
    """A closed span of capture times, in UTC."""

    since: datetime
    until: datetime

    @classmethod
    def resolve(
        cls,
        length: timedelta,
        since: datetime | None = None,
        until: datetime | None = None,
        now: datetime | None = None,
    ) -> TimeWindow:
        """From ``since`` (else ``length`` before the end) to ``until`` (else now)."""
        end = until or now or datetime.now(UTC)
        start = since or end - length
        if start >= end:
            raise UsageError(
                f"--since {start:%Y-%m-%dT%H:%M:%S} must be before --until {end:%Y-%m-%dT%H:%M:%S}"
            )
        return cls(start, end)

    @classmethod
    def from_options(cls, window: str, since: str | None, until: str | None) -> TimeWindow:
        """``--window`` or ``--since``/``--until`` (ISO 8601, UTC unless an offset is given)."""
        from shipline.config.schema import parse_duration

        try:
            length = parse_duration(window)
        except ValueError as error:
            raise UsageError(f"--window: {error}") from None
        return cls.resolve(length, _instant("--since", since), _instant("--until", until))

    @property
    def bounds(self) -> tuple[str, str]:
        """Both ends as stored timestamps."""
        return stamp(self.since), stamp(self.until)

    def describe(self) -> str:
        """The window as people read it."""
        low, high = self.bounds
        return f"{low[:19]}..{high[:19]}"


def _instant(option: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option}: expected an ISO 8601 time like 2026-11-21T08:00, found {text!r}"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class Traffic:
    """The rows to compare: inputs per column, the predictions made for them, their origin.

    ``keys`` (request id, row) are known for captured traffic, which labels join on, and so
    are the class ``probabilities`` a classifier gave (rows x classes).
    """

    columns: dict[str, np.ndarray]
    predictions: np.ndarray
    source: str
    keys: tuple[list[str], list[int]] | None = None
    probabilities: np.ndarray | None = None


def file_traffic(model: LoadedModel, version: ModelVersion, path: Path) -> Traffic:
    """A CSV/Parquet file's rows and the version's predictions for them."""
    columns = read_columns(path)
    missing = [n for n in model.input_names if n not in columns]
    if missing:
        raise UsageError(f"{path}: missing input column {missing[0]!r} of {version.ref}")
    current = {n: columns[n] for n in model.input_names}
    rows = len(next(iter(current.values())))
    predictions = np.asarray(model.predict(model.frame(current, rows)).values)
    return Traffic(_dates_as_numbers(current, model, rows), predictions, f"file {path}")


def _dates_as_numbers(
    columns: dict[str, np.ndarray], model: LoadedModel, rows: int
) -> dict[str, np.ndarray]:
    """Date columns of a file read as the model reads them (its training text format), as
    seconds since the epoch: the form drift compares them in."""
    from shipline.scoring.signature import coerce_arrays
    from shipline.timestamps import epoch_seconds

    signature = model.signature
    dated = [c.name for c in signature.inputs if c.dtype.startswith("datetime64")]
    if not dated:
        return columns
    typed = coerce_arrays({n: list(columns[n]) for n in columns}, signature, rows)
    return {n: epoch_seconds(typed[n]) if n in dated else columns[n] for n in columns}


def capture_digests(db: Database, version: ModelVersion, window: TimeWindow) -> list[str]:
    """The capture partitions of ``version`` holding rows inside the window, in stored order."""
    low, high = window.bounds
    with db.read() as conn:
        digests = (
            conn.execute(
                select(captures.c.digest).where(
                    captures.c.model == version.name,
                    captures.c.version == version.version,
                    captures.c.last_at >= low,
                    captures.c.first_at <= high,
                )
            )
            .scalars()
            .all()
        )
    if not digests:
        raise no_traffic(version, window)
    return list(digests)


def no_traffic(version: ModelVersion, window: TimeWindow) -> NotFoundError:
    """The error for a window without captured rows."""
    low, high = window.bounds
    return NotFoundError(
        f"{version.ref}: no captured traffic between {low[:19]} and {high[:19]} UTC"
    )


def in_window(table: Any, window: TimeWindow) -> Any:
    """The rows of a capture table captured inside the window."""
    import pyarrow as pa

    low, high = window.bounds
    stamps = np.asarray(table.column("captured_at").to_pylist(), dtype=object)
    return table.take(pa.array(np.flatnonzero((stamps >= low) & (stamps <= high))))


def missing_inputs(version: ModelVersion, names: list[str], found: list[str]) -> UsageError | None:
    """The error for captures lacking an input column of the signature, if they do."""
    missing = [n for n in names if n not in found]
    if not missing:
        return None
    return UsageError(
        f"{version.ref}: captured traffic has no column {missing[0]!r} "
        f"(expected the signature's inputs: {', '.join(names)})"
    )


def captured_traffic(
    db: Database, store: ContentStore, version: ModelVersion, names: list[str], window: TimeWindow
) -> Traffic:
    """What the service captured for this version inside the window."""
    import pyarrow as pa
    from pyarrow import parquet

    digests = capture_digests(db, version, window)
    tables = [parquet.read_table(io.BytesIO(store.read_bytes(d))) for d in digests]
    table = in_window(pa.concat_tables(tables, promote_options="permissive"), window)
    if table.num_rows == 0:
        raise no_traffic(version, window)
    problem = missing_inputs(version, names, table.column_names)
    if problem is not None:
        raise problem
    probabilities = None
    if "probabilities" in table.column_names and table.column("probabilities").null_count == 0:
        probabilities = np.asarray(table.column("probabilities").to_pylist(), dtype=float)
    return Traffic(
        {name: column_array(table.column(name)) for name in names},
        np.asarray(table.column("prediction").to_pylist()),
        f"captures {window.describe()}",
        (table.column("request_id").to_pylist(), table.column("row").to_pylist()),
        probabilities,
    )


def split_table(db: Database, store: ContentStore, version: ModelVersion, part: str) -> Any:
    """The ``train`` or ``test`` split the version was fitted and judged on, as Arrow."""
    from pyarrow import parquet

    return parquet.read_table(io.BytesIO(store.read_bytes(split_digest(db, version, part))))


def split_digest(db: Database, version: ModelVersion, part: str) -> str:
    """The stored digest of the version's ``train`` or ``test`` split."""
    recorded = version.facts.training_data
    if recorded is not None:
        return str(getattr(recorded, part))
    # Versions registered before the splits were recorded on them: their run's split step.
    run = get_run(db, version.run_id)
    split = next((s for s in run.steps if s.step == "split" and part in s.outputs), None)
    if split is None:
        raise NotFoundError(
            f"{version.ref}: its run {run.id} stored no {part} split to compare with"
        )
    return split.outputs[part]


def split_columns(
    db: Database, store: ContentStore, version: ModelVersion, part: str = "train"
) -> dict[str, np.ndarray]:
    """A training split, one array per input column of the version's signature."""
    table = split_table(db, store, version, part)
    names = version.facts.signature.input_names
    return {name: column_array(table.column(name)) for name in names}
