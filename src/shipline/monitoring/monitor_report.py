"""``shipline monitor``: served traffic (or a file) against the data a version was trained on.

The reference is the version's own training split (stored by its run), so the drift rules see
exactly the rows the model learned from. Predictions drift too: the model's predictions on the
reference against those it served (captures) or makes on the file. Each report is stored (the
full report as a JSON blob, a summary row pointing at it) and audited.
"""

from __future__ import annotations

__all__ = ["MonitorSummary", "get_report", "list_reports", "monitor_version", "training_columns"]

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sqlalchemy import select

from shipline.artifacts import ContentStore
from shipline.config.schema import DriftConfig, NotificationsConfig, QualityRule
from shipline.errors import NotFoundError, UsageError
from shipline.monitoring.alarm import Alarm, update_alarms
from shipline.monitoring.drift import compare_columns
from shipline.monitoring.drift_files import column_array, read_columns
from shipline.monitoring.estimation import estimate_performance
from shipline.monitoring.notification import notify
from shipline.monitoring.quality import labelled_quality
from shipline.pipeline.run_record import get_run
from shipline.registry import ModelVersion
from shipline.scoring import LoadedModel, load_version
from shipline.store import Database, utc_now
from shipline.store.tables import captures, monitor_reports


@dataclass(frozen=True)
class MonitorSummary:
    """A stored report's headline."""

    id: int
    model: str
    version: int
    created_at: str
    source: str
    rows: int
    dataset_drift: bool
    drifted_share: float
    prediction_drift: bool | None
    report_digest: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return dict(self.__dict__)


def monitor_version(
    db: Database,
    store: ContentStore,
    version: ModelVersion,
    rules: DriftConfig,
    actor: str,
    current_file: Path | None = None,
    window: timedelta = timedelta(hours=24),
    now: datetime | None = None,
    quality: QualityRule | None = None,
    notifications: NotificationsConfig | None = None,
    estimated_quality: QualityRule | None = None,
) -> tuple[MonitorSummary, dict[str, Any]]:
    """Compare, store (opening or closing alarms) and return the summary and the full report."""
    model = load_version(store, version)
    reference = _reference(db, store, version)
    if current_file is not None:
        current, predictions, source = _from_file(model, version, current_file)
        keys = None
    else:
        current, predictions, source, keys = _captured(
            db, store, version, model.input_names, window, now
        )
    report = _compare(model, version, reference, current, predictions, source, rules)
    estimated = _estimated(db, store, version, model, current, estimated_quality)
    if estimated is not None:
        report["estimated_quality"] = estimated
    if keys is not None:
        report["quality"] = labelled_quality(
            db,
            str(version.details.get("task")),
            keys[0],
            keys[1],
            predictions.tolist(),
            quality,
            version.metrics,
        )
    summary, opened, closed = _store(db, store, version, actor, report)
    report["alarms"] = {"opened": [a.id for a in opened], "closed": [a.id for a in closed]}
    problems = [
        problem
        for event, alarm in [
            *(("alarm.open", a) for a in opened),
            *(("alarm.close", a) for a in closed),
        ]
        if (problem := notify(notifications or NotificationsConfig(), event, alarm.to_dict()))
        is not None
    ]
    if problems:
        report["notification_problems"] = problems
    return summary, report


def _from_file(
    model: LoadedModel, version: ModelVersion, path: Path
) -> tuple[dict[str, np.ndarray], np.ndarray, str]:
    columns = read_columns(path)
    missing = [n for n in model.input_names if n not in columns]
    if missing:
        raise UsageError(f"{path}: missing input column {missing[0]!r} of {version.ref}")
    current = {n: columns[n] for n in model.input_names}
    rows = len(next(iter(current.values())))
    return current, np.asarray(model.predict(model.frame(current, rows)).values), f"file {path}"


def _compare(
    model: LoadedModel,
    version: ModelVersion,
    reference: dict[str, np.ndarray],
    current: dict[str, np.ndarray],
    predictions: np.ndarray,
    source: str,
    rules: DriftConfig,
) -> dict[str, Any]:
    rows = len(next(iter(reference.values())))
    reference_predictions = np.asarray(model.predict(model.frame(reference, rows)).values)
    features = compare_columns(reference, current, rules)
    drift = compare_columns(
        {"prediction": reference_predictions},
        {"prediction": predictions},
        DriftConfig(strict=rules.strict, min_effect=rules.min_effect),
    )
    return {
        "model": version.name,
        "version": version.version,
        "source": source,
        "rows": len(predictions),
        "features": features.to_dict(),
        "prediction": drift.to_dict()["columns"][0],
    }


def _split(db: Database, store: ContentStore, version: ModelVersion, part: str) -> Any:
    """The training run's ``train`` or ``test`` split, as an Arrow table."""
    from pyarrow import parquet

    run = get_run(db, version.run_id)
    split = next((s for s in run.steps if s.step == "split" and part in s.outputs), None)
    if split is None:
        raise NotFoundError(
            f"{version.ref}: its run {run.id} stored no {part} split to compare with"
        )
    return parquet.read_table(io.BytesIO(store.read_bytes(split.outputs[part])))


def training_columns(
    db: Database, store: ContentStore, version: ModelVersion
) -> dict[str, np.ndarray]:
    """The version's training split, one array per input column."""
    return _reference(db, store, version)


def _reference(db: Database, store: ContentStore, version: ModelVersion) -> dict[str, np.ndarray]:
    table = _split(db, store, version, "train")
    names = [c["name"] for c in version.details["signature"]["inputs"]]
    return {name: column_array(table.column(name)) for name in names}


def _estimated(
    db: Database,
    store: ContentStore,
    version: ModelVersion,
    model: LoadedModel,
    current: dict[str, np.ndarray],
    rule: QualityRule | None,
) -> dict[str, Any] | None:
    """CBPE on the current rows against the held-out split; None unless a binary classifier."""
    classes = version.details.get("signature", {}).get("output", {}).get("classes") or []
    if version.details.get("task") != "classification" or len(classes) != 2:
        return None
    test = _split(db, store, version, "test")
    reference = {name: column_array(test.column(name)) for name in model.input_names}
    reference_rows, current_rows = test.num_rows, len(next(iter(current.values())))
    reference_proba = model.predict(
        model.frame(reference, reference_rows), probabilities=True
    ).probabilities
    current_proba = model.predict(
        model.frame(current, current_rows), probabilities=True
    ).probabilities
    if reference_proba is None or current_proba is None:
        return None
    truth = np.asarray(test.column(str(version.details.get("target"))).to_pylist())
    result = estimate_performance(
        np.asarray(reference_proba)[:, 1], truth, np.asarray(current_proba)[:, 1], classes[1]
    )
    estimated = result["estimated"]
    if rule is not None and rule.metric in estimated:
        value = estimated[rule.metric]
        result["rule"] = rule.model_dump()
        result["passed"] = (rule.min is None or value >= rule.min) and (
            rule.max is None or value <= rule.max
        )
    else:
        band = result["bands"].get("accuracy")
        result["passed"] = None if band is None else estimated["accuracy"] >= band["lower"]
    return result


def _captured(
    db: Database,
    store: ContentStore,
    version: ModelVersion,
    names: list[str],
    window: timedelta,
    now: datetime | None,
) -> tuple[dict[str, np.ndarray], np.ndarray, str, tuple[list[str], list[int]]]:
    import pyarrow as pa
    from pyarrow import parquet

    until = now or datetime.now(UTC)
    since = until - window
    low, high = since.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), until.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
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
    tables = [parquet.read_table(io.BytesIO(store.read_bytes(d))) for d in digests]
    source = f"captures {low[:19]}..{high[:19]}"
    if not tables:
        raise NotFoundError(
            f"{version.ref}: no captured traffic between {low[:19]} and {high[:19]} UTC"
        )
    table = pa.concat_tables(tables, promote_options="permissive")
    stamps = np.asarray(table.column("captured_at").to_pylist(), dtype=object)
    keep = np.flatnonzero((stamps >= low) & (stamps <= high))
    if keep.size == 0:
        raise NotFoundError(
            f"{version.ref}: no captured traffic between {low[:19]} and {high[:19]} UTC"
        )
    table = table.take(pa.array(keep))
    current = {name: column_array(table.column(name)) for name in names}
    keys = (table.column("request_id").to_pylist(), table.column("row").to_pylist())
    return current, np.asarray(table.column("prediction").to_pylist()), source, keys


def _store(
    db: Database, store: ContentStore, version: ModelVersion, actor: str, report: dict[str, Any]
) -> tuple[MonitorSummary, list[Alarm], list[Alarm]]:
    features, prediction = report["features"], report["prediction"]
    digest = store.put_bytes(orjson.dumps(report, option=orjson.OPT_SERIALIZE_NUMPY)).digest
    with db.write(actor) as tx:
        report_id = tx.conn.execute(
            monitor_reports.insert()
            .values(
                model=version.name,
                version=version.version,
                created_at=utc_now(),
                created_by=actor,
                source=report["source"],
                rows=report["rows"],
                dataset_drift=int(features["dataset_drift"]),
                drifted_share=features["share"],
                prediction_drift=None
                if prediction["drifted"] is None
                else int(prediction["drifted"]),
                report_digest=digest,
            )
            .returning(monitor_reports.c.id)
        ).scalar_one()
        tx.record(
            "monitor.report",
            f"model:{version.ref}",
            None,
            {
                "report": report_id,
                "dataset_drift": features["dataset_drift"],
                "share": features["share"],
                "prediction_drift": prediction["drifted"],
                "quality_passed": (report.get("quality") or {}).get("passed"),
            },
        )
        opened, closed = update_alarms(
            tx, version.name, version.version, _verdicts(report, report_id)
        )
    return get_report(db, report_id), opened, closed


def _verdicts(
    report: dict[str, Any], report_id: int
) -> dict[str, tuple[bool | None, dict[str, Any]]]:
    """Which monitoring rules broke, with the evidence an alarm keeps."""
    features = report["features"]
    drift_evidence = {
        "report": report_id,
        "share": features["share"],
        "threshold": features["share_threshold"],
        "drifted": [c["column"] for c in features["columns"] if c["drifted"]],
    }
    verdicts: dict[str, tuple[bool | None, dict[str, Any]]] = {
        "drift": (bool(features["dataset_drift"]), drift_evidence)
    }
    quality = report.get("quality")
    if quality is not None:
        passed = quality.get("passed")
        evidence = {"report": report_id, "metrics": quality["metrics"], "rule": quality.get("rule")}
        verdicts["quality"] = (None if passed is None else not passed, evidence)
    estimated = report.get("estimated_quality")
    if estimated is not None:
        passed = estimated.get("passed")
        evidence = {
            "report": report_id,
            "estimated": estimated["estimated"],
            "bands": estimated["bands"],
            "assumption": estimated["assumption"],
        }
        verdicts["estimated_quality"] = (None if passed is None else not passed, evidence)
    return verdicts


def _summary(row: Any) -> MonitorSummary:
    return MonitorSummary(
        id=row.id,
        model=row.model,
        version=row.version,
        created_at=row.created_at,
        source=row.source,
        rows=row.rows,
        dataset_drift=bool(row.dataset_drift),
        drifted_share=row.drifted_share,
        prediction_drift=None if row.prediction_drift is None else bool(row.prediction_drift),
        report_digest=row.report_digest,
    )


def get_report(db: Database, report_id: int) -> MonitorSummary:
    """One stored report's summary."""
    with db.read() as conn:
        row = conn.execute(select(monitor_reports).where(monitor_reports.c.id == report_id)).first()
    if row is None:
        raise NotFoundError(f"no monitoring report {report_id}")
    return _summary(row)


def list_reports(db: Database, model: str | None = None, limit: int = 50) -> list[MonitorSummary]:
    """The newest reports, newest first."""
    query = select(monitor_reports).order_by(monitor_reports.c.id.desc()).limit(limit)
    if model is not None:
        query = query.where(monitor_reports.c.model == model)
    with db.read() as conn:
        return [_summary(row) for row in conn.execute(query).all()]
