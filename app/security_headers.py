"""Security headers on every response, errors and static files included (a pure ASGI middleware).

The Content-Security-Policy allows scripts only from this server (no inline script, no eval) and
styles only from its style sheets: d3 and KaTeX set style properties through the CSSOM, which a CSP
does not restrict. Nothing is loaded from another origin, and no page may be framed.

The one exception is FastAPI's interactive API documentation (/docs, /redoc): its pages are
FastAPI's own, an inline script that loads Swagger UI or ReDoc from jsDelivr, so they get a policy of
their own that allows exactly that. They show the schema, never a user's data.
"""
from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


DOCS_PATHS = ("/docs", "/redoc")
DOCS_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
               "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
               "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
               "https://cdn.redoc.ly; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
               "base-uri 'none'; frame-ancestors 'none'")


def security_headers(content_security_policy: str) -> list[tuple[str, str]]:
    headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),  # frame-ancestors for browsers older than CSP level 2
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    ]
    if content_security_policy:
        headers.insert(0, ("Content-Security-Policy", content_security_policy))
    return headers


class SecurityHeaders:
    def __init__(self, app: ASGIApp, content_security_policy: str) -> None:
        self.app = app
        self.headers = security_headers(content_security_policy)
        self.docs_headers = security_headers(DOCS_POLICY if content_security_policy else "")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        added = self.docs_headers if scope["path"].startswith(DOCS_PATHS) else self.headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in added:
                    if name not in headers:  # a route that set its own keeps it
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
