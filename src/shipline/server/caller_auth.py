"""``shipline serve --auth``: callers present a token that may ``predict`` on the model they
call, checked with the team server and remembered for a few seconds (so a revoked token stops
working within that time); ``/metrics`` can require a token of its own; health probes stay
open."""

from __future__ import annotations

__all__ = ["OPEN_PATHS", "CallerGate", "RequireCallers"]

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import orjson

OPEN_PATHS = frozenset({"/ping", "/v2/health/live", "/v2/health/ready"})
_MAX_REMEMBERED = 10_000
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class CallerGate:
    """Asks the team server whether a credential may predict with a model; remembers each
    answer for ``ttl`` seconds."""

    def __init__(self, url: str, service_token: str, ttl: float = 5.0) -> None:
        import httpx

        self.ttl = ttl
        self._http = httpx.AsyncClient(
            base_url=f"{url}/api/v1",
            headers={"authorization": f"Bearer {service_token}"},
            timeout=10,
        )
        self._answers: dict[tuple[str, str], tuple[float, bool | None]] = {}

    async def verdict(self, credential: str, model: str) -> bool | None:
        """True: may predict; False: known but not permitted; None: not a valid credential.
        Raises ``OSError`` when the team server cannot answer (callers are refused then)."""
        import httpx

        key = (hashlib.sha256(credential.encode()).hexdigest(), model)
        now = time.monotonic()
        remembered = self._answers.get(key)
        if remembered is not None and remembered[0] > now:
            return remembered[1]
        try:
            answer = await self._http.post(
                "/auth/check", json={"credential": credential, "model": model}
            )
        except httpx.HTTPError as error:
            raise OSError(f"team server unreachable: {error}") from None
        if answer.status_code != 200:
            raise OSError(f"team server answered {answer.status_code} to the caller check")
        body = answer.json()
        found: bool | None = bool(body["allowed"]) if body["name"] is not None else None
        if len(self._answers) >= _MAX_REMEMBERED:
            self._answers = {k: v for k, v in self._answers.items() if v[0] > now}
            if len(self._answers) >= _MAX_REMEMBERED:
                self._answers.clear()
        self._answers[key] = (now + self.ttl, found)
        return found

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()


class RequireCallers:
    """ASGI middleware: every route but the health probes needs a permitted credential."""

    def __init__(
        self, app: App, gate: CallerGate | None, served: list[str], metrics_token: str | None
    ) -> None:
        self.app, self.gate, self.served, self.metrics_token = app, gate, served, metrics_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse (401/403/503) or pass the request on."""
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        credential = _bearer(scope)
        if scope["path"] == "/metrics":
            if self.metrics_token is not None and not (
                credential and hmac.compare_digest(credential, self.metrics_token)
            ):
                return await _refuse(send, 401, "/metrics needs its token")
            return await self.app(scope, receive, send)
        if self.gate is None:
            return await self.app(scope, receive, send)
        if credential is None:
            return await _refuse(send, 401, "a bearer token with the predict permission is needed")
        for model in self._targets(scope):
            try:
                verdict = await self.gate.verdict(credential, model)
            except OSError as error:
                return await _refuse(send, 503, f"cannot check credentials now: {error}")
            if verdict is None:
                return await _refuse(send, 401, "invalid, expired or revoked token")
            if not verdict:
                return await _refuse(send, 403, f"this token may not predict with {model}")
        return await self.app(scope, receive, send)

    def _targets(self, scope: Scope) -> list[str]:
        """The model the request is for: from a /v2/models/NAME path, ?model=NAME, the one
        served model; else every served model (the caller must be allowed all)."""
        parts = scope["path"].split("/")
        if len(parts) > 3 and parts[1] == "v2" and parts[2] == "models":
            return [parts[3]]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if query.get("model"):
            return [query["model"][0][:100]]
        return list(self.served)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            text: str = value.decode("latin-1")
            scheme, _, credential = text.partition(" ")
            if scheme.lower() == "bearer" and credential.strip() and len(credential) <= 8192:
                return credential.strip()
            return None
    return None


async def _refuse(send: Send, status: int, message: str) -> None:
    body = orjson.dumps({"error": message})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
