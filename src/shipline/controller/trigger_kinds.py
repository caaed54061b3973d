"""shipline's own retraining trigger kinds: cron, new_data, environment, alarm, image.

- cron: the latest tick at or before now that is after the last look (missed ticks coalesce
  into one run); the first look counts from the time the config was applied.
- new_data: a cheap fingerprint (size and mtime of every data file) first; only when it moved
  is the content hashed to confirm, to the digest its dataset version will have. The first
  look records a baseline and fires only if the model has no version yet. ``min_new_rows``
  compares rows with the baseline's rows; a change with too few new rows is recorded as
  skipped and the baseline stays.
- environment: the digest of the named file (a lock file, requirements.txt, an image digest
  file); the first look records the baseline.
- alarm: every open alarm of the named kind fires once (keyed by alarm id).
- image: the manifest digest an image reference names (an OCI layout or a registry tag); the
  first look records the baseline, each new digest fires once, and the digest is part of the
  train step's cache key, so the run it starts retrains.
"""

from __future__ import annotations

__all__ = ["ALARM", "CRON", "ENVIRONMENT", "IMAGE", "NEW_DATA", "latest_tick"]

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from shipline.config.trigger_kind import TriggerWatch, WatchedFileError
from shipline.config.value_types import Cron
from shipline.store import parse_stamp, stamp

AlarmKind = Literal["drift", "quality", "estimated_quality", "bias", "attribution"]


def latest_tick(expression: str, now: datetime) -> datetime:
    """The schedule's latest tick at or before ``now``."""
    from croniter import croniter

    if croniter.match(expression, now):
        return now.replace(second=0, microsecond=0)
    tick: datetime = croniter(expression, now).get_prev(datetime)
    return tick


@dataclass(frozen=True)
class _CronTrigger:
    name: str = "cron"
    value_type: Any = Cron

    def look(self, value: str, watch: TriggerWatch) -> None:
        state = f"cron:{value}"
        since = parse_stamp(watch.remembered(state) or watch.applied_at)
        tick = latest_tick(value, watch.now)
        if tick > since:
            moment = tick.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
            watch.fire(f"cron:{value}@{moment}", {"cron": value, "tick": moment})
        watch.remember(state, stamp(watch.now))

    def next_at(self, value: str, now: datetime) -> datetime | None:
        from croniter import croniter

        at: datetime = croniter(value, now).get_next(datetime)
        return at

    def watched_files(self, value: str) -> tuple[str, ...]:
        return ()

    def environment(self, value: str, project_dir: Path) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class _NewDataTrigger:
    name: str = "new_data"
    value_type: Any = Literal[True]

    def look(self, value: bool, watch: TriggerWatch) -> None:
        from shipline.data.data_file import find_data_files
        from shipline.data.data_source import resolve_source
        from shipline.data.snapshot import snapshot_digest
        from shipline.errors import DataFileError

        config = watch.config
        seen = watch.remembered("source") or {}
        try:
            source = resolve_source(watch.project_dir, config.data.source)
            if not source.is_remote:
                find_data_files(source.path)  # a vanished or emptied source is a problem
            cheap = _fingerprint_text(source.fingerprint())
        except (DataFileError, OSError) as error:
            text = str(error)
            prefix = "" if text.startswith("data.source") else f"data.source {config.data.source}: "
            raise WatchedFileError(prefix + text) from None
        if seen.get("fingerprint") == cheap:
            return
        with tempfile.TemporaryDirectory(prefix="shipline-watch-") as scratch:
            local = source.local_copy(Path(scratch))
            digest, rows = snapshot_digest(local), _rows(tuple(find_data_files(local)))
        if seen.get("digest") == digest:  # touched, not changed
            watch.remember("source", {**seen, "fingerprint": cheap})
            return
        baseline_rows = seen.get("rows")
        if not seen and watch.has_versions():
            watch.remember("source", {"fingerprint": cheap, "digest": digest, "rows": rows})
            return
        evidence = {
            "source": source.location,
            "digest": digest,
            "rows": rows,
            "previous_rows": baseline_rows,
        }
        new_rows, minimum = rows - (baseline_rows or 0), config.retraining.min_new_rows
        if baseline_rows is not None and new_rows < minimum:
            why = f"{new_rows} new rows, fewer than retraining.min_new_rows {minimum}"
            watch.fire(f"new_data:{digest}", evidence, skipped=why)
            watch.remember("source", {**seen, "fingerprint": cheap, "digest": digest})
            return
        watch.fire(f"new_data:{digest}", evidence)
        watch.remember("source", {"fingerprint": cheap, "digest": digest, "rows": rows})

    def next_at(self, value: bool, now: datetime) -> datetime | None:
        return None

    def watched_files(self, value: bool) -> tuple[str, ...]:
        return ()

    def environment(self, value: bool, project_dir: Path) -> dict[str, str]:
        return {}


def _fingerprint_text(fingerprint: Any) -> str:
    import orjson

    return orjson.dumps(fingerprint).decode()


def _rows(paths: tuple[Path, ...]) -> int:
    from pyarrow import parquet

    from shipline.data.data_file import count_csv_rows, data_format

    return sum(
        parquet.ParquetFile(p).metadata.num_rows
        if data_format(p) == "parquet"
        else count_csv_rows(p)
        for p in paths
    )


@dataclass(frozen=True)
class _EnvironmentTrigger:
    name: str = "environment"
    value_type: Any = str

    def look(self, value: str, watch: TriggerWatch) -> None:
        import blake3

        path = watch.project_dir / value
        try:
            digest = blake3.blake3(path.read_bytes()).hexdigest()
        except OSError as error:
            raise WatchedFileError(
                f"retraining.triggers environment {path}: {error.strerror}"
            ) from None
        _on_new_digest(
            watch, f"environment:{path.name}", digest, f"environment:{digest}", {"file": str(path)}
        )

    def next_at(self, value: str, now: datetime) -> datetime | None:
        return None

    def watched_files(self, value: str) -> tuple[str, ...]:
        return (value,)

    def environment(self, value: str, project_dir: Path) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class _AlarmTrigger:
    name: str = "alarm"
    value_type: Any = AlarmKind

    def look(self, value: str, watch: TriggerWatch) -> None:
        for alarm in watch.open_alarms():
            if alarm.kind == value:
                evidence = {
                    "alarm": alarm.id,
                    "kind": alarm.kind,
                    "version": alarm.version,
                    "opened_at": alarm.opened_at,
                }
                watch.fire(f"alarm:{alarm.id}", evidence)

    def next_at(self, value: str, now: datetime) -> datetime | None:
        return None

    def watched_files(self, value: str) -> tuple[str, ...]:
        return ()

    def environment(self, value: str, project_dir: Path) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class _ImageTrigger:
    name: str = "image"
    value_type: Any = str

    def look(self, value: str, watch: TriggerWatch) -> None:
        from shipline.controller.image_digest import image_digest

        digest = image_digest(value, watch.project_dir)
        _on_new_digest(watch, f"image:{value}", digest, f"image:{value}@{digest}", {"image": value})

    def next_at(self, value: str, now: datetime) -> datetime | None:
        return None

    def watched_files(self, value: str) -> tuple[str, ...]:
        return ()

    def environment(self, value: str, project_dir: Path) -> dict[str, str]:
        from shipline.controller.image_digest import image_digest

        return {f"image {value}": image_digest(value, project_dir)}


def _on_new_digest(
    watch: TriggerWatch, state: str, digest: str, key: str, evidence: dict[str, Any]
) -> None:
    """Remember ``digest``; fire ``key`` when it replaced an earlier one (the first look is the
    baseline)."""
    seen = watch.remembered(state)
    if seen == digest:
        return
    watch.remember(state, digest)
    if seen is not None:
        watch.fire(key, {**evidence, "digest": digest, "previous": seen})


CRON = _CronTrigger()
NEW_DATA = _NewDataTrigger()
ENVIRONMENT = _EnvironmentTrigger()
ALARM = _AlarmTrigger()
IMAGE = _ImageTrigger()
