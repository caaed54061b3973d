"""The team server's API as a client sees it: JSON over HTTP to ``/api/v1`` with a bearer
token, every error answer raised as the shipline error it stands for."""

from __future__ import annotations

__all__ = ["ApiClient", "given", "segment"]

from typing import TYPE_CHECKING, Any, TypeVar

from shipline.errors import (
    ConfigError,
    ConflictError,
    DataFileError,
    ForbiddenError,
    NotFoundError,
    Problem,
    ShiplineError,
    StorageError,
    UnauthenticatedError,
    UsageError,
)
from shipline.project.login import Login

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")
_ERRORS: dict[int, type[ShiplineError]] = {
    400: UsageError,
    401: UnauthenticatedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
}


class ApiClient:
    """JSON over HTTP to ``/api/v1`` with the bearer token; errors come back as shipline's."""

    def __init__(self, login: Login, timeout: float = 60.0) -> None:
        import httpx

        self.url = login.url
        self._http = httpx.Client(
            base_url=f"{login.url}/api/v1",
            headers={"authorization": f"Bearer {login.token}"},
            timeout=timeout,
        )

    def call(self, method: str, path: str, **options: Any) -> Any:
        """One request; the decoded JSON answer, or the server's error raised."""
        return _decoded(self._send(method, path, **options))

    def download(self, path: str) -> bytes:
        """One GET whose answer is bytes (errors raised as for ``call``)."""
        answer = self._send("GET", path)
        if answer.status_code >= 400:
            _decoded(answer)
        return answer.content

    def _send(self, method: str, path: str, **options: Any) -> httpx.Response:
        import httpx

        try:
            return self._http.request(method, path, **options)
        except httpx.HTTPError as error:
            raise StorageError(f"team server {self.url} unreachable: {error}") from None

    def typed(self, kind: type[T], method: str, path: str, **options: Any) -> T:
        """One request whose answer is read back into ``kind`` (a record or list of them)."""
        from pydantic import TypeAdapter

        return TypeAdapter(kind).validate_python(self.call(method, path, **options))

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


def _decoded(answer: httpx.Response) -> Any:
    body = answer.json() if answer.headers.get("content-type") == "application/json" else None
    if answer.status_code < 400:
        return body
    message = body.get("message") if isinstance(body, dict) else None
    if answer.status_code == 422 and isinstance(body, dict) and "detail" in body:
        problems = [
            Problem(".".join(str(p) for p in d.get("loc", [])), str(d.get("msg")))
            for d in body["detail"]
        ]
        raise ConfigError("request", problems)
    if answer.status_code == 422:
        kind: type[ShiplineError] = (
            DataFileError if body and body.get("error") == "invalid_data" else UsageError
        )
        raise kind(message or answer.text)
    error = _ERRORS.get(answer.status_code, StorageError)
    raise error(message or f"team server answered {answer.status_code}")


def given(**values: Any) -> dict[str, Any]:
    """Query parameters, without the ones not given."""
    return {k: v for k, v in values.items() if v is not None}


def segment(value: str) -> str:
    """A value made safe as one URL path segment (``@`` and ``:`` kept, as references use)."""
    from urllib.parse import quote

    return quote(value, safe="@:")
