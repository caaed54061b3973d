"""The dashboard's pages about one model: versions, lineage, history, the model card, and
its monitoring reports."""

from __future__ import annotations

__all__ = ["router"]

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from shipline.api.credentials import ServerState, state
from shipline.api.dashboard_pages import page
from shipline.api.dashboard_session import PAGE_HEADERS, signed_in
from shipline.identity import Permission
from shipline.identity.ui_session import Session

router = APIRouter(include_in_schema=False)
Server = Annotated[ServerState, Depends(state)]
Viewer = Annotated[Session, Depends(signed_in)]


@router.get("/models/{name}", response_class=HTMLResponse)
def model_page(name: str, request: Request, session: Viewer, server: Server) -> HTMLResponse:
    """One model: production history, versions with their metrics."""
    from datetime import UTC, datetime

    from shipline.api.metric_chart import metric_chart
    from shipline.controller.model_status import model_status
    from shipline.monitoring.alarm import list_alarms
    from shipline.monitoring.monitor_report import list_reports
    from shipline.registry import list_model_versions
    from shipline.registry.alias_period import alias_periods

    session.principal.require(Permission.READ, name)
    versions = list(reversed(list_model_versions(server.db, name)))
    metric_names = sorted({k for v in versions for k in v.metrics})[:6]
    primary = _primary_metric(versions)
    points = [(v.version, v.metrics[primary]) for v in reversed(versions) if primary in v.metrics]
    context = {
        "session": session,
        "name": name,
        "description": versions[0].details.get("description") if versions else None,
        "versions": versions,
        "metric_names": metric_names,
        "primary": primary,
        "chart": metric_chart(primary, points) if primary else "",
        "periods": list(reversed(alias_periods(server.db, name, "production"))),
        "staging": list(reversed(alias_periods(server.db, name, "staging")))[:20],
        "status": model_status(server.db, name, datetime.now(UTC)),
        "reports": list_reports(server.db, name, 20),
        "alarms": list_alarms(server.db, True, name)[:20],
    }
    return page(request, "model.html", context)


@router.get("/models/{name}/versions/{number}/card", response_class=HTMLResponse)
def model_card(
    name: str, number: int, request: Request, session: Viewer, server: Server
) -> HTMLResponse:
    """A version's model card (what it is for, its data, metrics, gates, bias, lineage)."""
    from shipline.artifacts import read_manifest
    from shipline.registry import resolve_model_version

    session.principal.require(Permission.READ, name)
    with server.db.read() as conn:
        version = resolve_model_version(conn, f"{name}:{number}")
    files = {e.path: e.digest for e in read_manifest(server.store, version.card_digest).entries}
    card = server.store.read_bytes(files["card.md"]).decode()
    context = {"session": session, "version": version, "card": card}
    return page(request, "card.html", context)


def _primary_metric(versions: list[Any]) -> str | None:
    """The metric the model's gates judge first, else the first it records."""
    for version in versions:
        for rule in (version.details.get("gates") or {}).get("rules") or []:
            if rule.get("metric") in version.metrics:
                return str(rule["metric"])
    names = sorted({k for v in versions for k in v.metrics})
    return names[0] if names else None


@router.get("/monitoring/reports/{report_id}", response_class=HTMLResponse)
def monitoring_report(report_id: int, session: Viewer, server: Server) -> HTMLResponse:
    """A stored monitoring report: per-column drift scores, histograms, quality, history."""
    from shipline.monitoring.monitor_report import get_report, report_page

    session.principal.require_somewhere(Permission.READ)
    session.principal.require(Permission.READ, get_report(server.db, report_id).model)
    html = report_page(server.db, server.store, report_id)
    return HTMLResponse(html, headers=_with_inline_style(html))


def _with_inline_style(html: str) -> dict[str, str]:
    """The page headers, the CSP admitting exactly the report's own <style> by its hash."""
    import base64
    import hashlib
    import re

    styles = re.findall(r"<style>(.*?)</style>", html, re.DOTALL)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in styles
    )
    policy = PAGE_HEADERS["content-security-policy"].replace(
        "style-src 'self'", f"style-src 'self' {hashes}".rstrip()
    )
    return {**PAGE_HEADERS, "content-security-policy": policy}
