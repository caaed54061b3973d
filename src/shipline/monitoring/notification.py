"""Telling people: a log line always, and a JSON POST to ``notifications.webhook`` when set.

The URL comes from the project's configuration only, never from a request. Delivery is best
effort with a timeout and no redirects: a webhook that is down must not stop monitoring.
"""

from __future__ import annotations

__all__ = ["notify"]

import logging
import urllib.error
import urllib.request
from typing import Any

import orjson

from shipline.config.schema import NotificationsConfig, parse_duration

log = logging.getLogger("shipline.notifications")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def notify(config: NotificationsConfig, event: str, payload: dict[str, Any]) -> str | None:
    """Log the event and POST it to the webhook; returns a delivery problem, or None."""
    log.warning("%s %s", event, orjson.dumps(payload).decode())
    if not config.webhook:
        return None
    body = orjson.dumps({"event": event, **payload})
    request = urllib.request.Request(
        config.webhook, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    opener = urllib.request.build_opener(_NoRedirect())
    try:
        with opener.open(request, timeout=parse_duration(config.timeout).total_seconds()) as answer:
            if answer.status >= 300:
                return f"webhook answered {answer.status}"
    except urllib.error.HTTPError as error:
        return f"webhook answered {error.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        return f"webhook unreachable: {error}"
    return None
