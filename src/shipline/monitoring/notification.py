"""Telling people: a log line always, and a JSON POST to ``notifications.webhook`` when set.

The URL comes from the project's configuration only, never from a request. Delivery is best
effort with a timeout and no redirects: a webhook that is down must not stop monitoring.
"""

from __future__ import annotations

__all__ = ["WebhookRefusedError", "notify", "webhook_address"]

import http.client
import ipaddress
import logging
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import orjson

from shipline.config.schema import NotificationsConfig, parse_duration

log = logging.getLogger("shipline.notifications")


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    """Connects to the address that was checked, not to whatever the name resolves to now
    (no DNS rebinding between the check and the connection)."""

    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address

    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_pinned(http.client.HTTPConnection, self.address), req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address

    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_pinned(http.client.HTTPSConnection, self.address), req)


def _pinned(base: type[http.client.HTTPConnection], address: str) -> Any:
    def connect(host: str, **kwargs: Any) -> http.client.HTTPConnection:
        connection = base(host, **kwargs)
        # TLS still verifies the certificate against the URL's host name.
        connection._create_connection = (  # type: ignore[attr-defined]
            lambda target, *args, **kw: socket.create_connection((address, target[1]), *args, **kw)
        )
        return connection

    return connect


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def webhook_address(url: str, allow_private: bool) -> str:
    """The IP address to deliver to: the URL's host resolved once, refused when it is not a
    public address (loopback, private, link-local, ...) unless ``allow_private``."""
    parsed = urllib.parse.urlsplit(url)
    host = parsed.hostname or ""
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise WebhookRefusedError(f"webhook host {host!r} does not resolve: {error}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not allow_private:
        for address in addresses:
            if not ipaddress.ip_address(address.split("%")[0]).is_global:
                raise WebhookRefusedError(
                    f"webhook host {host!r} resolves to {address}, not a public address; "
                    "set notifications.allow_private: true to allow it"
                )
    return addresses[0]


class WebhookRefusedError(Exception):
    """The webhook's address is not one shipline may deliver to."""


def notify(config: NotificationsConfig, event: str, payload: dict[str, Any]) -> str | None:
    """Log the event and POST it to the webhook; returns a delivery problem, or None."""
    log.warning("%s %s", event, orjson.dumps(payload).decode())
    if not config.webhook:
        return None
    try:
        address = webhook_address(config.webhook, config.allow_private)
    except WebhookRefusedError as refused:
        return str(refused)
    body = orjson.dumps({"event": event, **payload})
    request = urllib.request.Request(
        config.webhook, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    opener = urllib.request.build_opener(
        _NoRedirect(), _PinnedHTTPHandler(address), _PinnedHTTPSHandler(address)
    )
    try:
        with opener.open(request, timeout=parse_duration(config.timeout).total_seconds()) as answer:
            if answer.status >= 300:
                return f"webhook answered {answer.status}"
    except urllib.error.HTTPError as error:
        return f"webhook answered {error.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        return f"webhook unreachable: {error}"
    return None
