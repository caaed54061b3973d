"""``shipline monitor``: served traffic (or a file) against the data a version was trained on.

The reference is the version's own training split (stored by its run), so the drift rules see
exactly the rows the model learned from. Predictions drift too: the model's predictions on the
reference against those it served (captures) or makes on the file. Each report is stored (the
full report as a JSON blob, a summary row pointing at it) and audited.
"""

from __future__ import annotations

__all__ = ["MonitorSummary", "get_report", "list_reports", "monitor_version", "report_page"]

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from shipline.artifacts import ContentStore
from shipline.compute import Executor
from shipline.config.schema import MonitoringConfig, NotificationsConfig
from shipline.errors import NotFoundError
from shipline.monitoring.alarm import Alarm, update_alarms
from shipline.monitoring.drift import compare_column, compare_columns
from shipline.monitoring.measurement import (
    class_probabilities,
    estimated_quality,
    is_classifier,
    labelled_checks,
    prediction_rules,
    report_head,
)
from shipline.monitoring.monitor_record import MonitorReport
from shipline.monitoring.notification import notify
from shipline.monitoring.quality import labelled_rows
from shipline.monitoring.reference_columns import load_reference
from shipline.monitoring.report_html import column_histograms, render_html
from shipline.monitoring.traffic import TimeWindow, captured_traffic, file_traffic
from shipline.registry import ModelVersion
from shipline.scoring import load_version
from shipline.store import Database, utc_now
from shipline.store.tables import monitor_reports


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
    monitoring: MonitoringConfig,
    actor: str,
    current: Path | TimeWindow,
    notifications: NotificationsConfig | None = None,
    histograms: bool = False,
    executor: Executor | None = None,
) -> tuple[MonitorSummary, dict[str, Any]]:
    """Compare a file or a window of captured traffic with training; store the report, open or
    close alarms, notify; return the summary and the full report.

    ``histograms`` keeps reference-vs-current shares of the drifted columns for the HTML page.
    A window is measured partition by partition on ``executor`` when it is a cluster.
    """
    if executor is not None and executor.remote and isinstance(current, TimeWindow):
        from shipline.monitoring.window_on_cluster import measure_window

        report = measure_window(db, store, version, monitoring, current, histograms, executor)
        report["computed_on"] = executor.description
    else:
        report = _measure_here(db, store, version, monitoring, current, histograms)
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


def _measure_here(
    db: Database,
    store: ContentStore,
    version: ModelVersion,
    monitoring: MonitoringConfig,
    current: Path | TimeWindow,
    histograms: bool,
) -> dict[str, Any]:
    """Every check, with the whole window's rows in this process."""
    model = load_version(store, version)
    traffic = (
        file_traffic(model, version, current)
        if isinstance(current, Path)
        else captured_traffic(db, store, version, model.input_names, current)
    )
    reference = load_reference(db, store, version, model)
    rules = monitoring.drift
    prediction = compare_column(
        "prediction",
        reference.predictions,
        traffic.predictions,
        prediction_rules(rules),
        reference.presorted,
    )
    features = compare_columns(reference.columns, traffic.columns, rules, reference.presorted)
    report = report_head(version, traffic.source, len(traffic.predictions), features, prediction)
    if histograms:
        drifted = [c["column"] for c in report["features"]["columns"] if c["drifted"]]
        report["histograms"] = column_histograms(reference.columns, traffic.columns, drifted)
    current_proba = class_probabilities(model, traffic.columns) if is_classifier(version) else None
    estimated = estimated_quality(
        db, store, version, model, current_proba, monitoring.estimated_quality
    )
    if estimated is not None:
        report["estimated_quality"] = estimated
    if traffic.keys is not None:
        labelled = labelled_rows(db, *traffic.keys)
        report |= labelled_checks(model, version, traffic, labelled, monitoring)
    return report


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
        verdicts = _verdicts(MonitorReport.model_validate(report), report_id)
        opened, closed = update_alarms(tx, version.name, version.version, verdicts)
    return get_report(db, report_id), opened, closed


def _verdicts(
    report: MonitorReport, report_id: int
) -> dict[str, tuple[bool | None, dict[str, Any]]]:
    """Which monitoring rules broke, with the evidence an alarm keeps."""
    features = report.features
    drift_evidence = {
        "report": report_id,
        "share": features.share,
        "threshold": features.share_threshold,
        "drifted": features.drifted_columns,
    }
    verdicts: dict[str, tuple[bool | None, dict[str, Any]]] = {
        "drift": (features.dataset_drift, drift_evidence)
    }
    quality, estimated = report.quality, report.estimated_quality
    evidence: dict[str, dict[str, Any]] = {}
    if quality is not None:
        evidence["quality"] = {"metrics": quality.metrics, "rule": quality.rule}
    if estimated is not None:
        evidence["estimated_quality"] = {
            "estimated": estimated.estimated,
            "bands": estimated.bands,
            "assumption": estimated.assumption,
        }
    for kind, check in report.checks().items():
        found = evidence.get(kind, check.evidence())
        broken = None if check.passed is None else not check.passed
        verdicts[kind] = (broken, {"report": report_id, **found})
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


def report_page(db: Database, store: ContentStore, report_id: int, history: int = 30) -> str:
    """A stored report as a self-contained HTML page, with the model's earlier reports."""
    summary = get_report(db, report_id)
    report = _load(store, summary)
    with db.read() as conn:
        earlier = conn.execute(
            select(monitor_reports)
            .where(monitor_reports.c.model == summary.model, monitor_reports.c.id <= report_id)
            .order_by(monitor_reports.c.id.desc())
            .limit(history)
        ).all()
    points = [_history_point(_summary(row), store) for row in reversed(earlier)]
    drift = report.features.model_dump()
    drift["columns"] = [*drift["columns"], report.prediction.model_dump()]
    return render_html(
        f"{summary.model}:{summary.version} monitoring report {report_id}",
        drift,
        report.histograms or {},
        _page_lines(report),
        points if len(points) > 1 else None,
    )


def _load(store: ContentStore, summary: MonitorSummary) -> MonitorReport:
    return MonitorReport.model_validate(orjson.loads(store.read_bytes(summary.report_digest)))


def _history_point(summary: MonitorSummary, store: ContentStore) -> dict[str, Any]:
    report = _load(store, summary)
    point: dict[str, Any] = {"at": summary.created_at, "drifted share": summary.drifted_share}
    for name, value in (report.quality.metrics if report.quality else {}).items():
        if name in ("accuracy", "f1", "r2", "roc_auc"):
            point[f"quality {name}"] = value
    estimated = report.estimated_quality.estimated if report.estimated_quality else {}
    if estimated.get("accuracy") is not None:
        point["estimated accuracy"] = estimated["accuracy"]
    return point


def _page_lines(report: MonitorReport) -> list[str]:
    features = report.features
    lines = [
        f"{report.rows} rows from {report.source}; {features.drifted} of "
        f"{features.compared} features drifted ({features.share:.0%}, dataset drift at "
        f"{features.share_threshold:.0%}): "
        + ("DATASET DRIFT" if features.dataset_drift else "no dataset drift")
    ]
    quality = report.quality
    if quality and quality.metrics:
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(quality.metrics.items()))
        lines.append(f"Quality on {quality.labelled_rows} labelled rows: {metrics}")
    estimated = report.estimated_quality
    accuracy = estimated.estimated.get("accuracy") if estimated else None
    if estimated and accuracy is not None:
        lines.append(
            f"Estimated accuracy without labels (CBPE): {accuracy:.4f}."
            f" Assumption: {estimated.assumption}."
        )
    for kind, check in (("bias", report.bias), ("attribution", report.attribution)):
        if check and check.passed is not None:
            lines.append(f"{kind.capitalize()} drift: {'ok' if check.passed else 'ALARM'}")
    return lines
