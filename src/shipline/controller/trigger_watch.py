"""What changed since the controller last looked: cron ticks, source data, environment, alarms.

Watched values live in ``watch_state`` per model, so a restarted controller carries on where
the last one stopped. Each change becomes a trigger event whose key names it (a tick, a digest,
an alarm id); recording is idempotent, so a change seen twice fires once.

- cron: the latest tick at or before now that is after the last evaluation (missed ticks
  coalesce into one run); the first evaluation counts from the time the config was applied.
- new_data: a cheap fingerprint (size and mtime of every data file) first; only when it moved is
  the content hashed (BLAKE3) to confirm. The first look records a baseline and fires only if
  the model has no version yet. ``min_new_rows`` compares rows with the baseline's rows; a
  change with too few new rows is recorded as skipped and the baseline stays.
- environment: the digest of the named file (a lock file, requirements.txt, an image digest
  file); the first look records the baseline.
- alarm: every open alarm of the named kind fires once (keyed by alarm id).
"""

from __future__ import annotations

__all__ = ["WatchedFileError", "detect_triggers", "get_watch", "latest_tick", "set_watch"]

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from shipline.config import ModelConfig
from shipline.config.schema import Trigger
from shipline.controller.trigger_event import TriggerEvent, record_event
from shipline.errors import ShiplineError
from shipline.monitoring.alarm import list_alarms
from shipline.registry import versions_of
from shipline.registry.applied_config import AppliedConfig
from shipline.store import Database, parse_stamp, stamp, upsert
from shipline.store.tables import watch_state

_ACTOR = "controller"


class WatchedFileError(ShiplineError):
    """A watched file is missing or unreadable."""


def get_watch(db: Database, model: str, name: str) -> Any:
    """A watched value (JSON), or None."""
    with db.read() as conn:
        value = conn.execute(
            select(watch_state.c.value).where(
                watch_state.c.model == model, watch_state.c.name == name
            )
        ).scalar()
    return None if value is None else orjson.loads(value)


def set_watch(db: Database, model: str, name: str, value: Any) -> None:
    """Remember a watched value."""
    with db.write(_ACTOR) as tx:
        tx.conn.execute(
            upsert(db.dialect, watch_state, ["model", "name"]),
            [{"model": model, "name": name, "value": orjson.dumps(value).decode()}],
        )


def detect_triggers(
    db: Database, applied: AppliedConfig, config: ModelConfig, now: datetime
) -> tuple[list[TriggerEvent], list[str]]:
    """Record an event for every trigger that fired since the last look.

    Returns the new events and the problems of triggers that could not be checked (a missing
    file); one broken trigger does not keep the others from being checked.
    """
    fired: list[TriggerEvent | None] = []
    problems: list[str] = []
    project = Path(applied.project_dir)
    for trigger in config.retraining.triggers:
        try:
            if trigger.cron:
                fired.append(_cron(db, config.name, trigger.cron, applied.applied_at, now))
            elif trigger.new_data:
                fired.append(_new_data(db, config, project))
            elif trigger.environment:
                fired.append(_environment(db, config.name, project / trigger.environment))
            elif trigger.alarm:
                fired += _alarms(db, config.name, trigger)
        except WatchedFileError as error:
            problems.append(str(error))
    return [event for event in fired if event is not None], problems


def latest_tick(expression: str, now: datetime) -> datetime:
    """The schedule's latest tick at or before ``now``."""
    from croniter import croniter

    if croniter.match(expression, now):
        return now.replace(second=0, microsecond=0)
    tick: datetime = croniter(expression, now).get_prev(datetime)
    return tick


def _cron(
    db: Database, model: str, expression: str, applied_at: str, now: datetime
) -> TriggerEvent | None:
    state = f"cron:{expression}"
    since = parse_stamp(get_watch(db, model, state) or applied_at)
    tick = latest_tick(expression, now)
    event = None
    if tick > since:
        moment = tick.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
        event = record_event(
            db,
            _ACTOR,
            model,
            "cron",
            f"cron:{expression}@{moment}",
            {"cron": expression, "tick": moment},
        )
    set_watch(db, model, state, stamp(now))
    return event


def _digest(paths: tuple[Path, ...]) -> str:
    import blake3

    total = blake3.blake3()
    for path in paths:
        one = blake3.blake3()
        if path.stat().st_size:
            one.update_mmap(path)
        total.update(one.digest() + path.name.encode())
    return total.hexdigest()


def _rows(paths: tuple[Path, ...]) -> int:
    from pyarrow import parquet

    from shipline.data.data_file import count_csv_rows, data_format

    return sum(
        parquet.ParquetFile(p).metadata.num_rows
        if data_format(p) == "parquet"
        else count_csv_rows(p)
        for p in paths
    )


def _new_data(db: Database, config: ModelConfig, project: Path) -> TriggerEvent | None:
    from shipline.data.data_file import find_data_files
    from shipline.data.data_source import resolve_source
    from shipline.errors import DataFileError

    model = config.name
    seen = get_watch(db, model, "source") or {}
    try:
        source = resolve_source(project, config.data.source)
        if not source.is_remote:
            find_data_files(source.path)  # a vanished or emptied source is a problem
        cheap = orjson.dumps(source.fingerprint()).decode()
    except (DataFileError, OSError) as error:
        text = str(error)
        prefix = "" if text.startswith("data.source") else f"data.source {config.data.source}: "
        raise WatchedFileError(prefix + text) from None
    if seen.get("fingerprint") == cheap:
        return None
    with tempfile.TemporaryDirectory(prefix="shipline-watch-") as scratch:
        paths = tuple(find_data_files(source.local_copy(Path(scratch))))
        digest = _digest(paths)
        if seen.get("digest") == digest:  # touched, not changed
            set_watch(db, model, "source", {**seen, "fingerprint": cheap})
            return None
        rows = _rows(paths)
    baseline_rows = seen.get("rows")
    if not seen and versions_of(db, model):
        baseline = {"fingerprint": cheap, "digest": digest, "rows": rows}
        set_watch(db, model, "source", baseline)
        return None
    evidence = {
        "source": source.location,
        "digest": digest,
        "rows": rows,
        "previous_rows": baseline_rows,
    }
    new_rows = rows - (baseline_rows or 0)
    minimum = config.retraining.min_new_rows
    if baseline_rows is not None and new_rows < minimum:
        record_event(
            db,
            _ACTOR,
            model,
            "new_data",
            f"new_data:{digest}",
            evidence,
            "skipped",
            f"{new_rows} new rows, fewer than retraining.min_new_rows {minimum}",
        )
        set_watch(db, model, "source", {**seen, "fingerprint": cheap, "digest": digest})
        return None
    event = record_event(db, _ACTOR, model, "new_data", f"new_data:{digest}", evidence)
    set_watch(db, model, "source", {"fingerprint": cheap, "digest": digest, "rows": rows})
    return event


def _environment(db: Database, model: str, path: Path) -> TriggerEvent | None:
    import blake3

    try:
        digest = blake3.blake3(path.read_bytes()).hexdigest()
    except OSError as error:
        raise WatchedFileError(
            f"retraining.triggers environment {path}: {error.strerror}"
        ) from None
    state = f"environment:{path.name}"
    seen = get_watch(db, model, state)
    if seen == digest:
        return None
    set_watch(db, model, state, digest)
    if seen is None:
        return None
    return record_event(
        db,
        _ACTOR,
        model,
        "environment",
        f"environment:{digest}",
        {"file": str(path), "digest": digest, "previous": seen},
    )


def _alarms(db: Database, model: str, trigger: Trigger) -> list[TriggerEvent | None]:
    return [
        record_event(
            db,
            _ACTOR,
            model,
            "alarm",
            f"alarm:{alarm.id}",
            {
                "alarm": alarm.id,
                "kind": alarm.kind,
                "version": alarm.version,
                "opened_at": alarm.opened_at,
            },
        )
        for alarm in list_alarms(db, False, model)
        if alarm.kind == trigger.alarm
    ]
