"""Security headers on every response, not only the dashboard's page.

``X-Content-Type-Options: nosniff`` everywhere, so no browser runs a JSON body or a
static file as something else. A response without its own Content-Security-Policy (the
dashboard sets one) gets ``default-src 'none'``: an API answer opened in a browser can load
nothing. The interactive docs (``/docs``, ``/redoc``) load FastAPI's Swagger UI and ReDoc
from their CDN (a site without Internet has no docs pages; ``/openapi.json`` always works),
so they get a policy that admits exactly that CDN.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CDN = "https://cdn.jsdelivr.net"
DOCS_CSP = (
    f"default-src 'none'; script-src 'unsafe-inline' {DOCS_CDN}; "
    f"style-src 'unsafe-inline' {DOCS_CDN} https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; worker-src blob:; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in DOCS_PATHS or scope["path"].startswith("/docs/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers.append((b"x-content-type-options", b"nosniff"))
                if b"content-security-policy" not in names:
                    csp = DOCS_CSP if docs else API_CSP
                    headers.append((b"content-security-policy", csp.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
