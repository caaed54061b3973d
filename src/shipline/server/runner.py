"""Start the prediction service on uvicorn; SIGTERM drains in-flight requests, then exits."""

from __future__ import annotations

__all__ = ["parse_targets", "run_app", "serve"]
from typing import Any

from shipline.collector import settle_collector
from shipline.errors import UsageError
from shipline.project import Project
from shipline.server.app import build_app
from shipline.server.connection_guard import guarded_protocol
from shipline.server.service import PredictionService
from shipline.types import parse_reference


def parse_targets(values: list[str]) -> list[tuple[str, str]]:
    """``churn@production fraud@staging`` → [(name, alias), …]."""
    targets = []
    for value in values:
        reference = parse_reference(value, "model")
        if reference is None or reference.alias is None:
            raise UsageError(f"expected NAME@ALIAS such as churn@production, got {value!r}")
        targets.append((reference.name, reference.alias))
    names = [name for name, _ in targets]
    if len(set(names)) != len(names):
        raise UsageError("each model can be served once")
    return targets


def serve(
    project: Project,
    targets: list[tuple[str, str]],
    host: str = "127.0.0.1",
    port: int = 8080,
    poll_seconds: float = 2.0,
    prefer_onnx: bool = True,
    require_callers: bool = False,
    metrics_token: str | None = None,
    grpc_port: int | None = None,
) -> None:
    """Load the versions (digest-verified) and serve until SIGTERM or Ctrl-C; with
    ``require_callers``, every prediction needs a token the team server says may predict; with
    ``grpc_port``, the Open Inference Protocol is served over gRPC there too."""
    from shipline.project.remote import RemoteProject
    from shipline.server.caller_auth import CallerGate

    gate = None
    if require_callers:
        if not isinstance(project, RemoteProject) or project.login is None:
            raise UsageError(
                "--auth checks callers with the team server: set SHIPLINE_URL and "
                "SHIPLINE_TOKEN (a token with the serving role) or `shipline login`"
            )
        gate = CallerGate(project.login.url, project.login.token)
    serving = project.serving_config()
    service = PredictionService(project.model_source(), targets, serving, poll_seconds, prefer_onnx)
    service.load()
    limits = serving.limits
    grpc = None if grpc_port is None else (host, grpc_port)
    app = build_app(service, gate, metrics_token, grpc)
    # No proxy in front is trusted for client addresses: nothing here uses them.
    run_app(app, host, port, limits.header_timeout_s, limits.max_connections, proxy_headers=False)


def run_app(
    app: Any,
    host: str,
    port: int,
    header_timeout_s: float = 10.0,
    max_connections: int = 1000,
    **options: Any,
) -> None:
    """Serve an ASGI app on uvicorn with the header deadline and connection cap, until
    SIGTERM (exit 0 once in-flight requests drained) or Ctrl-C; ``options`` go to uvicorn
    (TLS files, proxy headers)."""
    import signal
    from types import FrameType

    import uvicorn

    class DrainingServer(uvicorn.Server):
        """uvicorn, except that SIGTERM ends with status 0 once in-flight requests finished.

        uvicorn re-raises a captured SIGTERM after its graceful shutdown, so the process would
        report death by signal even though it drained and flushed everything.
        """

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            if sig == signal.SIGTERM and sig in self._captured_signals:
                self._captured_signals.remove(sig)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(header_timeout_s, max_connections),
        loop="uvloop",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=30,
        lifespan="on",
        **options,
    )
    settle_collector()
    DrainingServer(config).run()
