"""What happened: runs, dataset versions, monitoring reports, alarms, status, the audit log."""

from __future__ import annotations

__all__ = ["router"]

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse

from shipline.api.bodies import MonitorBody, ReasonBody, needs, validated_config
from shipline.api.credentials import ServerState, caller, state
from shipline.audit.state_check import Checkpoint, Verification
from shipline.data import AddResult, DatasetVersion
from shipline.data.schema_acceptance import SchemaAcceptance
from shipline.identity import Permission, Principal
from shipline.monitoring.alarm import Alarm
from shipline.monitoring.monitor_report import MonitorSummary
from shipline.pipeline import RunRecord
from shipline.store.audit_log import AuditEvent
from shipline.types import parse_reference

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]
Server = Annotated[ServerState, Depends(state)]
_Name = Annotated[str, Query(max_length=100)]
_Limit = Annotated[int, Query(ge=1, le=10_000)]


@router.get("/runs", **needs(Permission.READ))
def list_runs(
    who: Caller,
    server: Server,
    model: _Name | None = None,
    limit: _Limit = 50,
    where: Annotated[str | None, Query(max_length=200)] = None,
) -> list[RunRecord]:
    """The newest runs (of one model; matching a metric filter such as
    ``metrics.roc_auc > 0.9``)."""
    from shipline.pipeline import list_runs as runs
    from shipline.pipeline.run_search import parse_metric_filter

    who.require(Permission.READ, model)
    condition = None if where is None else parse_metric_filter(where)
    return runs(server.db, model, limit, condition)


@router.get("/runs/{run_id}", **needs(Permission.READ))
def get_run(run_id: int, who: Caller, server: Server) -> RunRecord:
    """One run with its steps."""
    from shipline.pipeline import get_run as run

    who.require_somewhere(Permission.READ)
    found = run(server.db, run_id)
    who.require(Permission.READ, found.model)
    return found


@router.get("/datasets", **needs(Permission.READ))
def list_datasets(who: Caller, server: Server, name: _Name | None = None) -> list[DatasetVersion]:
    """Dataset versions, oldest first (of one dataset when given)."""
    from shipline.data import list_versions

    who.require(Permission.READ)
    return list_versions(server.db, name)


@router.get("/datasets/{ref}", **needs(Permission.READ))
def get_dataset(ref: str, who: Caller, server: Server) -> DatasetVersion:
    """One dataset version by ``name@vN``, ``name`` (the latest) or a digest prefix."""
    from shipline.data import resolve_version

    who.require(Permission.READ)
    return resolve_version(server.db, ref)


@router.post("/datasets/import", status_code=201, **needs(Permission.ADD_DATA))
def import_dataset(body: DatasetVersion, who: Caller, server: Server) -> AddResult:
    """A dataset version snapshotted on a client, its files uploaded before (same bytes,
    same version)."""
    from shipline.data.snapshot import import_version

    who.require_somewhere(Permission.ADD_DATA)
    who.require(Permission.ADD_DATA, body.name)
    return import_version(server.db, server.store, body, who.name)


@router.post("/datasets/{ref}/accept-schema", **needs(Permission.ADD_DATA))
def accept_schema(ref: str, body: ReasonBody, who: Caller, server: Server) -> SchemaAcceptance:
    """Accept the changed schema of a dataset version (recorded and audited)."""
    from shipline.data.schema_acceptance import accept_schema as accept

    who.require(Permission.ADD_DATA, ref.partition("@")[0])
    return accept(server.db, ref, who.name, body.reason or "")


@router.post("/monitor", status_code=201, **needs(Permission.MONITOR))
def monitor(body: MonitorBody, who: Caller, server: Server) -> dict[str, Any]:
    """Monitor a version's served traffic, here, with the model's applied monitoring settings;
    the report is stored and alarms opened or closed."""
    from shipline.compute import open_executor
    from shipline.compute.cluster import compute_target
    from shipline.config.compute import ComputeConfig
    from shipline.config.schema import MonitoringConfig
    from shipline.monitoring.monitor_report import monitor_version
    from shipline.monitoring.traffic import TimeWindow
    from shipline.registry import resolve_model_version
    from shipline.registry.applied_config import latest_applied

    reference = parse_reference(body.ref, "model")
    who.require(Permission.MONITOR, None if reference is None else reference.name)
    with server.db.read() as conn:
        version = resolve_model_version(conn, body.ref)
    applied = latest_applied(server.db, version.name)
    config = None if applied is None else validated_config(applied.document)
    monitoring = MonitoringConfig() if config is None else config.monitoring
    window = TimeWindow.from_options(body.window or monitoring.window, body.since, body.until)
    compute = ComputeConfig() if config is None else config.compute
    with open_executor(compute_target(compute, server.dask), server.store.url) as executor:
        summary, report = monitor_version(
            server.db,
            server.store,
            version,
            monitoring,
            who.name,
            window,
            None if config is None else config.notifications,
            body.histograms,
            executor,
        )
    return {"summary": summary, "report": report}


@router.get(
    "/monitor/reports/{report_id}/html",
    response_class=HTMLResponse,
    **needs(Permission.READ),
)
def report_html(report_id: int, who: Caller, server: Server) -> HTMLResponse:
    """A stored report as a self-contained HTML page."""
    from shipline.monitoring.monitor_report import get_report as summary
    from shipline.monitoring.monitor_report import report_page

    who.require_somewhere(Permission.READ)
    who.require(Permission.READ, summary(server.db, report_id).model)
    return HTMLResponse(report_page(server.db, server.store, report_id))


@router.get("/monitor/reports", **needs(Permission.READ))
def list_reports(
    who: Caller, server: Server, model: _Name | None = None, limit: _Limit = 50
) -> list[MonitorSummary]:
    """The newest monitoring reports (of one model when given)."""
    from shipline.monitoring.monitor_report import list_reports as reports

    who.require(Permission.READ, model)
    return reports(server.db, model, limit)


@router.get("/monitor/reports/{report_id}", **needs(Permission.READ))
def get_report(report_id: int, who: Caller, server: Server) -> dict[str, Any]:
    """The full stored report."""
    import orjson

    from shipline.monitoring.monitor_report import get_report as summary

    who.require_somewhere(Permission.READ)
    found = summary(server.db, report_id)
    who.require(Permission.READ, found.model)
    return dict(orjson.loads(server.store.read_bytes(found.report_digest)))


@router.get("/alarms", **needs(Permission.READ))
def list_alarms(
    who: Caller, server: Server, model: _Name | None = None, closed: bool = False
) -> list[Alarm]:
    """Open alarms (closed ones too with ``closed``)."""
    from shipline.monitoring.alarm import list_alarms as alarms

    who.require(Permission.READ, model)
    return alarms(server.db, closed, model)


@router.get("/status", **needs(Permission.READ))
def status(who: Caller, server: Server, model: _Name | None = None) -> list[dict[str, Any]]:
    """One summary per applied model (or the named one)."""
    from datetime import UTC, datetime

    from shipline.controller.model_status import model_status
    from shipline.registry.applied_config import list_applied

    who.require(Permission.READ, model)
    names = [model] if model else sorted({a.model for a in list_applied(server.db)})
    now = datetime.now(UTC)
    return [model_status(server.db, name, now) for name in names]


@router.get("/audit", **needs(Permission.READ_AUDIT))
def audit_events(
    who: Caller,
    server: Server,
    limit: _Limit = 50,
    target: Annotated[str | None, Query(max_length=300)] = None,
    action: _Name | None = None,
) -> list[AuditEvent]:
    """The newest audit events, oldest first."""
    from shipline.audit import list_events

    who.require(Permission.READ_AUDIT)
    return list_events(server.db, limit, target, action)


@router.get("/audit/verify", **needs(Permission.READ_AUDIT))
def verify(who: Caller, server: Server) -> Verification:
    """Walk the chain and check the registry tables against it."""
    from shipline.audit.state_check import verify_audit

    who.require(Permission.READ_AUDIT)
    return verify_audit(server.db)


@router.get("/audit/checkpoint", **needs(Permission.READ_AUDIT))
def checkpoint(who: Caller, server: Server) -> Checkpoint:
    """The chain's head, to keep outside the database."""
    from shipline.audit.state_check import chain_checkpoint

    who.require(Permission.READ_AUDIT)
    return chain_checkpoint(server.db)
