"""The dashboard: server-rendered pages (Jinja2, autoescaped) over the same identities, roles
and domain functions as the API. Every page is a URL; every form carries the session's CSRF
token; the server checks permissions whatever the page shows."""

from __future__ import annotations

__all__ = ["page", "router"]

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from shipline.api.credentials import ServerState, state
from shipline.api.dashboard_session import (
    COOKIE,
    PAGE_HEADERS,
    check_csrf,
    session_cookie,
    signed_in,
)
from shipline.errors import UnauthenticatedError
from shipline.identity import Permission
from shipline.identity.ui_session import Session

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
Server = Annotated[ServerState, Depends(state)]
Viewer = Annotated[Session, Depends(signed_in)]
_PAGE_SIZE = 50


def _stamp(text: str | None) -> Markup:
    """A stored UTC timestamp as a <time> the browser shows in local time (UTC on hover)."""
    if not text:
        return Markup("")
    shown = escape(text[:19].replace("T", " "))
    return Markup(f'<time datetime="{escape(text)}" title="{shown} UTC">{shown} UTC</time>')


templates.env.globals["stamp"] = _stamp


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """A rendered page with the dashboard's security headers."""
    return templates.TemplateResponse(
        request, name, context, status_code=status, headers=PAGE_HEADERS
    )


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, server: Server, next: str = "/") -> HTMLResponse:
    """The sign-in form (and single sign-on, when configured)."""
    context = {"session": None, "next": _local(next), "sso": _sso(server) is not None}
    return page(request, "sign_in.html", context)


def _sso(server: ServerState) -> Any:
    """The SSO verifier when browser sign-in is configured (a client id), else None."""
    if server.oidc is None or server.oidc.settings.client_id is None:
        return None
    return server.oidc


@router.get("/sign-in/oidc")
def sso_start(request: Request, server: Server, next: str = "/") -> Response:
    """Off to the identity provider (authorization code flow with PKCE)."""
    from shipline.errors import UsageError
    from shipline.identity.oidc_login import begin_login

    verifier = _sso(server)
    if verifier is None:
        raise UsageError("single sign-on is not configured on this server")
    redirect = str(request.url_for("sso_callback"))
    target = begin_login(server.db, verifier, redirect, _local(next))
    return RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)


@router.get("/sign-in/oidc/callback", name="sso_callback")
def sso_callback(
    request: Request,
    server: Server,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=4000)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Back from the identity provider: verify, open a session, go on."""
    from shipline.identity.oidc_login import finish_login
    from shipline.identity.ui_session import open_session

    verifier = _sso(server)
    try:
        if verifier is None or error or not code:
            raise UnauthenticatedError(f"single sign-on did not complete ({error or 'no code'})")
        redirect = str(request.url_for("sso_callback"))
        principal, target = finish_login(server.db, verifier, redirect, state, code)
    except UnauthenticatedError as refused:
        context = {"session": None, "next": "/", "problem": str(refused), "sso": True}
        return page(request, "sign_in.html", context, 401)
    cookie, _ = open_session(server.db, principal)
    answer = RedirectResponse(_local(target), status_code=303, headers=PAGE_HEADERS)
    answer.set_cookie(**session_cookie(request, cookie))
    return answer


@router.post("/sign-in")
async def sign_in(
    request: Request,
    server: Server,
    token: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """Check the token, open a session, go where the user was going."""
    from starlette.concurrency import run_in_threadpool

    from shipline.identity.api_token import authenticate_token
    from shipline.identity.ui_session import open_session

    try:
        principal = await run_in_threadpool(authenticate_token, server.db, token.strip())
    except UnauthenticatedError as error:
        context = {"session": None, "next": _local(next), "problem": str(error)}
        return page(request, "sign_in.html", context, 401)
    cookie, _ = await run_in_threadpool(open_session, server.db, principal)
    answer = RedirectResponse(_local(next), status_code=303, headers=PAGE_HEADERS)
    answer.set_cookie(**session_cookie(request, cookie))
    return answer


@router.post("/sign-out")
def sign_out(
    request: Request, session: Viewer, server: Server, csrf: Annotated[str, Form()] = ""
) -> Response:
    """End the session."""
    from shipline.identity.ui_session import end_session

    check_csrf(session, csrf)
    end_session(server.db, request.cookies.get(COOKIE, ""))
    answer = RedirectResponse("/sign-in", status_code=303, headers=PAGE_HEADERS)
    answer.delete_cookie(COOKIE, path="/")
    return answer


@router.get("/", response_class=HTMLResponse)
def models_page(request: Request, session: Viewer, server: Server) -> HTMLResponse:
    """Every model: aliases, versions, open alarms, pending approvals, last monitoring."""
    from shipline.monitoring.alarm import list_alarms
    from shipline.monitoring.monitor_report import list_reports
    from shipline.registry import list_approvals, list_model_versions
    from shipline.registry.applied_config import list_applied

    session.principal.require(Permission.READ)
    versions = list_model_versions(server.db)
    names = sorted({v.name for v in versions} | {a.model for a in list_applied(server.db)})
    alarms = list_alarms(server.db)
    pending = list_approvals(server.db, "pending")
    models = []
    for name in names:
        own = [v for v in versions if v.name == name]
        reports = list_reports(server.db, name, 1)
        verdict = None
        if reports:
            verdict = "drift" if reports[0].dataset_drift else "no drift"
        models.append(
            {
                "name": name,
                "aliases": {a: v.version for v in own for a in v.aliases},
                "versions": len(own),
                "alarms": sum(a.model == name for a in alarms),
                "pending": sum(a.model == name for a in pending),
                "monitoring": verdict,
            }
        )
    return page(request, "models.html", {"session": session, "models": models})


@router.get("/approvals", response_class=HTMLResponse)
def approvals_page(request: Request, session: Viewer, server: Server) -> HTMLResponse:
    """The queue: pending first, then the latest decided."""
    from shipline.registry import list_approvals

    principal = session.principal
    principal.require_somewhere(Permission.READ)
    found = [a for a in list_approvals(server.db) if principal.may(Permission.READ, a.model)]
    found.sort(key=lambda a: (a.status != "pending", -a.id))
    return page(request, "approvals.html", {"session": session, "approvals": found[:200]})


@router.get("/approvals/{approval_id}", response_class=HTMLResponse)
def approval_page(
    approval_id: int, request: Request, session: Viewer, server: Server
) -> HTMLResponse:
    """The candidate against the version it would replace; Approve and Reject for those who
    may."""
    from shipline.errors import NotFoundError
    from shipline.registry import resolve_model_version
    from shipline.registry.approval import get_approval

    principal = session.principal
    principal.require_somewhere(Permission.READ)
    approval = get_approval(server.db, approval_id)
    principal.require(Permission.READ, approval.model)
    with server.db.read() as conn:
        candidate = resolve_model_version(conn, f"{approval.model}:{approval.version}")
        try:
            current = resolve_model_version(conn, f"{approval.model}@{approval.alias}")
        except NotFoundError:
            current = None
    names = sorted(set(candidate.metrics) | set(current.metrics if current else {}))
    gates = (candidate.details.get("gates") or {}).get("rules") or []
    drift, drift_problem = None, None
    if current is not None and current.version != candidate.version:
        from shipline.errors import ShiplineError
        from shipline.monitoring.version_drift import training_drift

        try:
            drift = training_drift(server.db, server.store, candidate, current)
        except (ShiplineError, KeyError, ValueError) as error:
            drift_problem = f"cannot compare the training data: {error}"
    context = {
        "session": session,
        "approval": approval,
        "candidate": candidate,
        "current": current,
        "metric_names": names,
        "gates": gates,
        "bias": (candidate.details.get("bias") or {}).get("columns") or {},
        "drift": drift,
        "drift_problem": drift_problem,
        "may_decide": principal.may(Permission.APPROVE, approval.model),
    }
    return page(request, "approval.html", context)


@router.post("/approvals/{approval_id}/{decision}")
def decide(
    approval_id: int,
    decision: str,
    session: Viewer,
    server: Server,
    csrf: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Approve or reject (CSRF-checked; the permission and four-eyes checked as in the API)."""
    from shipline.errors import NotFoundError
    from shipline.registry import approve, reject
    from shipline.registry.approval import get_approval

    check_csrf(session, csrf)
    principal = session.principal
    principal.require_somewhere(Permission.APPROVE)
    principal.require(Permission.APPROVE, get_approval(server.db, approval_id).model)
    if decision == "approve":
        approve(server.db, approval_id, principal.name, reason or None)
    elif decision == "reject":
        reject(server.db, approval_id, principal.name, reason)
    else:
        raise NotFoundError(f"no decision {decision!r}")
    return RedirectResponse(f"/approvals/{approval_id}", status_code=303, headers=PAGE_HEADERS)


@router.get("/runs", response_class=HTMLResponse)
def runs_page(
    request: Request,
    session: Viewer,
    server: Server,
    model: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    trigger: Annotated[str | None, Query(max_length=100)] = None,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    """Runs, newest first, by model, status and trigger, a page at a time."""
    from shipline.pipeline.run_record import list_runs

    session.principal.require(Permission.READ, model or None)
    runs = list_runs(
        server.db,
        model or None,
        _PAGE_SIZE + 1,
        status=status or None,
        trigger=trigger or None,
        before=before,
    )
    more = len(runs) > _PAGE_SIZE
    runs = runs[:_PAGE_SIZE]
    query = {
        "model": model or "",
        "status": status or "",
        "trigger": trigger or "",
        "before": runs[-1].id if runs else 0,
    }
    context = {
        "session": session,
        "runs": runs,
        "model": model,
        "status": status,
        "trigger": trigger,
        "more": more,
        "next_query": urlencode(query),
    }
    return page(request, "runs.html", context)


@router.get("/runs/compare", response_class=HTMLResponse)
def compare_runs(
    request: Request,
    session: Viewer,
    server: Server,
    ids: Annotated[list[int], Query(max_length=10)],
) -> HTMLResponse:
    """Two or more runs side by side: parameters and metrics, differences marked."""
    from shipline.errors import UsageError
    from shipline.pipeline import get_run

    if len(set(ids)) < 2:
        raise UsageError("pick two or more runs to compare")
    session.principal.require_somewhere(Permission.READ)
    runs = [get_run(server.db, run_id) for run_id in dict.fromkeys(ids)]
    for run in runs:
        session.principal.require(Permission.READ, run.model)
    rows = []
    for section, values in (
        ("param", [r.params for r in runs]),
        ("metric", [r.metrics for r in runs]),
    ):
        for key in sorted({k for v in values for k in v}):
            shown = [_shown(v.get(key)) for v in values]
            rows.append(
                {"section": section, "key": key, "cells": shown, "differs": len(set(shown)) > 1}
            )
    return page(request, "compare.html", {"session": session, "runs": runs, "rows": rows})


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(run_id: int, request: Request, session: Viewer, server: Server) -> HTMLResponse:
    """One run: parameters, metrics, steps, error."""
    from shipline.pipeline import get_run
    from shipline.pipeline.cache_explanation import explain_step

    session.principal.require_somewhere(Permission.READ)
    run = get_run(server.db, run_id)
    session.principal.require(Permission.READ, run.model)
    why = {s.step: explain_step(server.db, run.id, s.step) for s in run.steps if s.cache_key}
    return page(request, "run.html", {"session": session, "run": run, "why": why})


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    session: Viewer,
    server: Server,
    action: Annotated[str | None, Query(max_length=100)] = None,
    target: Annotated[str | None, Query(max_length=300)] = None,
) -> HTMLResponse:
    """The newest events (of one action, or targets starting with a prefix) and whether the
    chain verifies."""
    from shipline.audit import list_events
    from shipline.audit.state_check import verify_audit

    session.principal.require(Permission.READ_AUDIT)
    events = list(reversed(list_events(server.db, 200, target or None, action or None)))
    context = {
        "session": session,
        "events": events,
        "verification": verify_audit(server.db),
        "action": action or "",
        "target": target or "",
    }
    return page(request, "audit.html", context)


def _local(target: str) -> str:
    """Only a path on this server (never another site) as where to go after sign-in."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
