"""The management API application: routes under ``/api/v1``, errors as JSON with the HTTP
status each kind of error means, the OpenAPI document at ``/api/v1/openapi.json``."""

from __future__ import annotations

__all__ = ["API_PREFIX", "create_app"]

import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from shipline import __version__
from shipline.api import (
    controller_routes,
    dashboard_admin,
    dashboard_model_pages,
    dashboard_pages,
    identity_routes,
    record_routes,
    registry_routes,
    upload_routes,
)
from shipline.api.bodies import needs
from shipline.api.credentials import ServerState, caller, state
from shipline.api.upload_body import received_file
from shipline.errors import (
    ConfigError,
    ConflictError,
    DataFileError,
    DigestMismatchError,
    ForbiddenError,
    NotFoundError,
    ShiplineError,
    UnauthenticatedError,
    UsageError,
)
from shipline.identity import Permission, Principal

API_PREFIX = "/api/v1"
log = logging.getLogger("shipline.api")
MAX_UPLOAD = 256 * 1024 * 1024
MAX_JSON_BODY = 32 * 1024 * 1024
_STATUS: tuple[tuple[type[ShiplineError], int, str], ...] = (
    (UnauthenticatedError, 401, "unauthenticated"),
    (ForbiddenError, 403, "forbidden"),
    (NotFoundError, 404, "not_found"),
    (ConflictError, 409, "conflict"),
    (ConfigError, 422, "invalid_config"),
    (DataFileError, 422, "invalid_data"),
    (DigestMismatchError, 422, "digest_mismatch"),
    (UsageError, 400, "bad_request"),
)

_misc = APIRouter()


@_misc.get("/health")
def health() -> dict[str, str]:
    """Liveness: the one operation that needs no credential."""
    return {"status": "ok", "version": __version__}


@_misc.post("/labels", **needs(Permission.ADD_LABELS))
async def add_labels(
    request: Request,
    who: Annotated[Principal, Depends(caller)],
    server: Annotated[ServerState, Depends(state)],
    allow_unknown: bool = False,
    file_format: Annotated[str, Query(alias="format", pattern="^(csv|parquet)$")] = "csv",
) -> dict[str, int]:
    """Ground truth for served requests: the body is a CSV or Parquet file with
    ``request_id``, ``label`` (and optional ``row``) columns."""
    from starlette.concurrency import run_in_threadpool

    from shipline.scoring.labels import add_labels as add

    who.require(Permission.ADD_LABELS)
    async with received_file(request, f"labels.{file_format}", MAX_UPLOAD) as path:
        added = await run_in_threadpool(add, server.db, server.store, path, who.name, allow_unknown)
    return {"added": added}


@_misc.post("/captures", status_code=201, **needs(Permission.CAPTURE))
async def add_captures(
    request: Request,
    who: Annotated[Principal, Depends(caller)],
    server: Annotated[ServerState, Depends(state)],
    model: Annotated[str, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")],
    version: Annotated[int, Query(ge=1)],
) -> dict[str, int]:
    """Captured traffic from a prediction server: one Parquet partition of ``model:version``
    (re-hashed and checked here before it is stored and indexed)."""
    from starlette.concurrency import run_in_threadpool

    from shipline.scoring.capture import record_capture

    who.require(Permission.CAPTURE, model)
    async with received_file(request, "capture.parquet", MAX_UPLOAD) as path:
        data = path.read_bytes()
    await run_in_threadpool(_known_version, server, model, version)
    rows = await run_in_threadpool(
        record_capture, server.db, server.store, model, version, data, who.name
    )
    return {"rows": rows}


def _known_version(server: ServerState, model: str, version: int) -> None:
    from shipline.registry import resolve_model_version

    with server.db.read() as conn:
        resolve_model_version(conn, f"{model}:{version}")


def _error(request: Request, error: Exception) -> Response:
    status, code = next(
        ((status, code) for kind, status, code in _STATUS if isinstance(error, kind)),
        (500, "failed"),
    )
    if not request.url.path.startswith(API_PREFIX):
        return _error_page(request, status, str(error))
    headers = {"www-authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": code, "message": str(error)}, status, headers)


async def _http_error(request: Request, error: Exception) -> Response:
    """Unknown paths and methods: JSON under the API, a page elsewhere."""
    from fastapi.exception_handlers import http_exception_handler
    from starlette.exceptions import HTTPException

    assert isinstance(error, HTTPException)
    if request.url.path.startswith(API_PREFIX):
        return await http_exception_handler(request, error)
    return _error_page(request, error.status_code, str(error.detail))


def _error_page(request: Request, status: int, message: str) -> Response:
    """Dashboard errors are pages: not signed in → the sign-in page, others explained."""
    from urllib.parse import quote

    from shipline.api.dashboard_pages import page

    if status == 401:
        target = quote(request.url.path, safe="/")
        return RedirectResponse(f"/sign-in?next={target}", status_code=303)
    headings = {403: "Not allowed", 404: "Not found", 409: "Already decided"}
    context = {"session": None, "status": status, "heading": headings.get(status, "Refused")}
    return page(request, "error.html", {**context, "message": message}, status)


class _LimitBodies:
    """ASGI middleware: a JSON request body over ``MAX_JSON_BODY`` is refused with 413 before
    it is read into memory (uploads stream to disk under their own, larger limits)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or _streams_to_disk(scope):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > MAX_JSON_BODY:
            await _too_large(scope, receive, send)
            return
        received, refused = 0, False

        async def counted() -> Any:
            nonlocal received, refused
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_JSON_BODY and not refused:
                refused = True  # answer now; the route sees the client gone
                await _too_large(scope, receive, send)
                return {"type": "http.disconnect"}
            return message

        async def unless_refused(message: Any) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counted, unless_refused)


def _streams_to_disk(scope: Any) -> bool:
    path, method = scope["path"], scope["method"]
    return (method == "PUT" and path.startswith(f"{API_PREFIX}/blobs/")) or (
        method == "POST" and path in (f"{API_PREFIX}/labels", f"{API_PREFIX}/captures")
    )


async def _too_large(scope: Any, receive: Any, send: Any) -> None:
    body = {"error": "too_large", "message": f"request bodies are at most {MAX_JSON_BODY} bytes"}
    await JSONResponse(body, 413, {"connection": "close"})(scope, receive, send)


class _AnswerBugs:
    """ASGI middleware: a bug in a route is logged with its traceback and answered 500 with
    no details, instead of dropping the connection."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        started = False

        async def tracked(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as error:
            log.error("%s %s failed", scope.get("method"), scope.get("path"), exc_info=error)
            if started:
                raise
            if str(scope.get("path", "")).startswith(API_PREFIX):
                body = {"error": "internal", "message": "internal error; see the server log"}
                await JSONResponse(body, 500)(scope, receive, send)
                return
            from fastapi.responses import HTMLResponse

            from shipline.api.dashboard_session import PAGE_HEADERS

            text = "<!doctype html><title>Error</title><h1>Internal error</h1><p>See the log.</p>"
            await HTMLResponse(text, 500, PAGE_HEADERS)(scope, receive, send)


def create_app(server: ServerState) -> FastAPI:
    """The API over ``server``'s database and store."""
    app = FastAPI(
        title="shipline",
        version=__version__,
        summary="The team server's management API: registry, governance, runs, data, audit.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.shipline = server
    routers = (
        _misc,
        registry_routes.router,
        record_routes.router,
        upload_routes.router,
        controller_routes.router,
        identity_routes.router,
    )
    for router in routers:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(dashboard_pages.router)
    app.include_router(dashboard_model_pages.router)
    app.include_router(dashboard_admin.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.add_exception_handler(ShiplineError, _error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(_AnswerBugs)
    app.add_middleware(_LimitBodies)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with the bearer scheme every operation but health requires."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        document = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        document.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"}
        }
        for path, operations in document["paths"].items():
            for operation in operations.values():
                if path != f"{API_PREFIX}/health":
                    operation["security"] = [{"bearer": []}]
                    operation["responses"].setdefault("401", {"description": "No valid credential"})
                    operation["responses"].setdefault("403", {"description": "Not permitted"})
        app.openapi_schema = document
    return app.openapi_schema
