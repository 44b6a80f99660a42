"""Host and Origin checks for the keyless loopback API, against DNS rebinding and
cross-site requests.

Without API keys (the loopback demo) anything the browser can reach may act: a page on
evil.example could resolve its own name to 127.0.0.1 (DNS rebinding) and then acknowledge
alerts, or open the WebSocket from its own origin and read the picture. So, keyless, every
request must name this server in ``Host`` (a loopback name or address, the configured
``[api] host``, or a name in ``[api] allowed_hosts``), and a request that carries an
``Origin`` (every cross-site request, WebSocket and SSE included) must come from the very
``Host`` it addresses. With keys the key is the guard: a page elsewhere has none.

Pure ASGI middleware: it answers 403 with a JSON ``detail`` (a WebSocket is refused before
it is accepted, which servers turn into 403 too) and counts each refusal.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections import Counter
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)


def host_name(host: str) -> str:
    """The name or address of a ``Host`` header value, without port or IPv6 brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback_name(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class HostOriginGuard:
    def __init__(
        self, app: ASGIApp, enabled: bool, allowed_hosts: Iterable[str], counters: Counter[str]
    ) -> None:
        self.app = app
        self.enabled = enabled
        self.allowed = {host_name(h) for h in allowed_hosts}
        self.counters = counters
        self._logged: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.enabled or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1")
        refusal = self._refusal(host, headers.get(b"origin"))
        if refusal is None:
            await self.app(scope, receive, send)
            return
        reason, detail = refusal
        self.counters[f"refused_{reason}"] += 1
        if reason not in self._logged:
            self._logged.add(reason)
            log.warning("api: refused a request (%s); further ones only counted", detail)
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _refusal(self, host: str, origin: bytes | None) -> tuple[str, str] | None:
        """(counter reason, detail) if the request must be refused, else None."""
        name = host_name(host)
        if not name or not (is_loopback_name(name) or name in self.allowed):
            return "host", (
                f"Host {host[:100]!r} is not this server: the keyless API answers only "
                "loopback names and [api] allowed_hosts"
            )
        if origin is None:
            return None
        parts = urlsplit(origin.decode("latin-1"))
        if parts.scheme not in ("http", "https") or parts.netloc.lower() != host.lower():
            return "origin", (
                f"Origin {origin[:100].decode('latin-1')!r} is not this server's: the keyless "
                "API serves only its own pages"
            )
        return None
