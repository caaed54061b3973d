"""Runs and their steps as stored: start, record each step, finish, find, list."""

from __future__ import annotations

__all__ = [
    "RunRecord",
    "RunStatus",
    "StepRecord",
    "StepStatus",
    "find_cached",
    "finish_run",
    "get_run",
    "list_runs",
    "previous_step",
    "record_step",
    "start_run",
]

import os
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Row, select

from shipline.errors import NotFoundError, UsageError
from shipline.pipeline.run_process import this_host
from shipline.pipeline.run_search import MetricFilter
from shipline.store import Database, utc_now
from shipline.store.blob_kinds import record_kinds
from shipline.store.tables import run_steps, runs
from shipline.types import Status


class RunStatus(Status):
    """How a run stands: running, then succeeded, rejected (by a gate or data check) or
    failed."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    REJECTED = "rejected"
    FAILED = "failed"


class StepStatus(Status):
    """How a step ended: ran, reused from the cache, decided the run's end, or failed."""

    SUCCEEDED = "succeeded"
    CACHED = "cached"
    REJECTED = "rejected"
    FAILED = "failed"


@dataclass(frozen=True)
class StepRecord:
    """One step of one run: how it ended, its cache key and the parts of that key."""

    step: str
    position: int
    status: StepStatus
    cache_key: str
    key_parts: dict[str, Any]
    outputs: dict[str, str]
    cached_from: int | None
    started_at: str
    seconds: float
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class RunRecord:
    """One execution of the pipeline."""

    id: int
    model: str
    status: RunStatus
    trigger: str
    actor: str
    started_at: str
    finished_at: str | None
    config_digest: str
    config: dict[str, Any]
    lineage: dict[str, Any]
    params: dict[str, Any]
    metrics: dict[str, float]
    error: str | None
    resumed_from: int | None
    model_version: int | None
    steps: tuple[StepRecord, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {**self.__dict__, "steps": [s.to_dict() for s in self.steps]}


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


def start_run(
    db: Database,
    actor: str,
    model: str,
    trigger: str,
    config: dict[str, Any],
    config_digest: str,
    lineage: dict[str, Any],
    params: dict[str, Any],
    resumed_from: int | None = None,
) -> int:
    """Record a new run as ``running`` and return its id."""
    with db.write(actor) as tx:
        run_id = int(
            tx.conn.execute(
                runs.insert()
                .values(
                    model=model,
                    status="running",
                    trigger=trigger,
                    actor=actor,
                    started_at=utc_now(),
                    config_digest=config_digest,
                    config=_json(config),
                    lineage=_json(lineage),
                    params=_json(params),
                    metrics="{}",
                    resumed_from=resumed_from,
                    pid=os.getpid(),
                    host=this_host(),
                )
                .returning(runs.c.id)
            ).scalar_one()
        )
        tx.record(
            "run.start",
            f"run:{run_id}",
            None,
            {"model": model, "trigger": trigger, "resumed_from": resumed_from},
        )
    return run_id


def record_step(
    db: Database,
    actor: str,
    run_id: int,
    record: StepRecord,
    kinds: dict[str, str] | None = None,
) -> None:
    """Store how one step ended, and what kind of blob each output is (``{digest: kind}``)."""
    with db.write(actor) as tx:
        record_kinds(tx.conn, kinds or {})
        tx.conn.execute(
            run_steps.insert().values(
                run_id=run_id,
                step=record.step,
                position=record.position,
                status=record.status,
                cache_key=record.cache_key,
                key_parts=_json(record.key_parts),
                outputs=_json(record.outputs),
                cached_from=record.cached_from,
                started_at=record.started_at,
                seconds=record.seconds,
                error=record.error,
            )
        )
        tx.record(
            "run.step",
            f"run:{run_id}/{record.step}",
            None,
            {
                "status": record.status,
                "cache_key": record.cache_key,
                "cached_from": record.cached_from,
            },
        )


def finish_run(
    db: Database,
    actor: str,
    run_id: int,
    status: str,
    metrics: dict[str, float],
    error: str | None = None,
    model_version: int | None = None,
) -> None:
    """Close a run with its final status."""
    with db.write(actor) as tx:
        tx.conn.execute(
            runs.update()
            .where(runs.c.id == run_id)
            .values(
                status=status,
                finished_at=utc_now(),
                metrics=_json(metrics),
                error=error,
                model_version=model_version,
            )
        )
        tx.record(
            "run.finish",
            f"run:{run_id}",
            {"status": "running"},
            {"status": status, "model_version": model_version},
        )


def _step(row: Row[Any]) -> StepRecord:
    return StepRecord(
        step=row.step,
        position=row.position,
        status=StepStatus(row.status),
        cache_key=row.cache_key,
        key_parts=orjson.loads(row.key_parts),
        outputs=orjson.loads(row.outputs),
        cached_from=row.cached_from,
        started_at=row.started_at,
        seconds=row.seconds,
        error=row.error,
    )


def _run(conn: Connection, row: Row[Any], steps: list[Row[Any]] | None = None) -> RunRecord:
    if steps is None:
        steps = list(
            conn.execute(
                select(run_steps).where(run_steps.c.run_id == row.id).order_by(run_steps.c.position)
            )
        )
    return RunRecord(
        id=row.id,
        model=row.model,
        status=RunStatus(row.status),
        trigger=row.trigger,
        actor=row.actor,
        started_at=row.started_at,
        finished_at=row.finished_at,
        config_digest=row.config_digest,
        config=orjson.loads(row.config),
        lineage=orjson.loads(row.lineage),
        params=orjson.loads(row.params),
        metrics=orjson.loads(row.metrics),
        error=row.error,
        resumed_from=row.resumed_from,
        model_version=row.model_version,
        steps=tuple(_step(s) for s in steps),
    )


def get_run(db: Database, run_id: int | str) -> RunRecord:
    """One run by id."""
    try:
        number = int(run_id)
    except ValueError:
        raise UsageError(f"expected a run id (a number), got {str(run_id)[:40]!r}") from None
    with db.read() as conn:
        row = conn.execute(select(runs).where(runs.c.id == number)).first()
        if row is None:
            raise NotFoundError(f"no run {number}")
        return _run(conn, row)


def list_runs(
    db: Database,
    model: str | None = None,
    limit: int = 50,
    where: MetricFilter | None = None,
    *,
    status: str | None = None,
    trigger: str | None = None,
    before: int | None = None,
) -> list[RunRecord]:
    """The newest runs, newest first (of one model, matching a metric filter, with a status,
    older than run ``before``: a page of a long list, when given)."""
    query = select(runs).order_by(runs.c.id.desc()).limit(limit)
    if model is not None:
        query = query.where(runs.c.model == model)
    if where is not None:
        query = query.where(where.condition(db.dialect))
    if status is not None:
        query = query.where(runs.c.status == status)
    if trigger is not None:  # "manual", or a kind such as "controller: new_data"
        query = query.where(runs.c.trigger.startswith(trigger, autoescape=True))
    if before is not None:
        query = query.where(runs.c.id < before)
    with db.read() as conn:
        rows = conn.execute(query).all()
        steps: dict[int, list[Row[Any]]] = {row.id: [] for row in rows}
        if steps:  # every run's steps in one query, not one per run
            found = conn.execute(
                select(run_steps)
                .where(run_steps.c.run_id.in_(list(steps)))
                .order_by(run_steps.c.run_id, run_steps.c.position)
            )
            for step in found:
                steps[step.run_id].append(step)
        return [_run(conn, row, steps[row.id]) for row in rows]


def find_cached(db: Database, model: str, step: str, key: str) -> tuple[int, StepRecord] | None:
    """The latest finished step of ``model`` with this cache key, and the run that computed it."""
    with db.read() as conn:
        row = conn.execute(
            select(run_steps)
            .join(runs, runs.c.id == run_steps.c.run_id)
            .where(
                runs.c.model == model,
                run_steps.c.step == step,
                run_steps.c.cache_key == key,
                run_steps.c.status.in_(("succeeded", "cached")),
            )
            .order_by(run_steps.c.run_id.desc())
            .limit(1)
        ).first()
    if row is None:
        return None
    record = _step(row)
    return (record.cached_from or row.run_id), record


def previous_step(
    db: Database, model: str, step: str, before_run: int
) -> tuple[int, StepRecord] | None:
    """The same step in the latest earlier run of the model that reached it."""
    with db.read() as conn:
        row = conn.execute(
            select(run_steps)
            .join(runs, runs.c.id == run_steps.c.run_id)
            .where(runs.c.model == model, run_steps.c.step == step, run_steps.c.run_id < before_run)
            .order_by(run_steps.c.run_id.desc())
            .limit(1)
        ).first()
    return None if row is None else (row.run_id, _step(row))
