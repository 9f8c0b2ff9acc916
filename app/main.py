"""Assembles the app: API routers under /api/v1, the pages, static files and the error envelope."""
from __future__ import annotations

import mimetypes

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp

from engine.limits import LIMITS

from . import __version__, errors
from .answer_cache import AnswerCache
from .body_limit import BodyLimit
from .media_type import JsonBodies
from .paths import STATIC_DIR
from .rate_limit import RateLimiter
from .security_headers import SecurityHeaders
from .settings import Settings, get_settings
from .routes import meta, pages, trace
from .routes import data, network
from .routes import descent
from .routes import classroom

API_PREFIX = "/api/v1"

# NOTE: the platform MIME table may lack these; a module script served as text/plain (or
# application/octet-stream) is refused by the browser, so register them before StaticFiles guesses.
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("font/woff2", ".woff2")


class ExplorerApp(FastAPI):
    """FastAPI with the security headers around the whole stack, its last-resort error handler included."""

    content_security_policy = ""

    def build_middleware_stack(self) -> ASGIApp:
        # NOTE: Starlette answers an unexpected exception (the 500 envelope) in ServerErrorMiddleware,
        # which sits outside every middleware added with add_middleware: as one of those, the headers
        # would be missing from exactly that answer. So they wrap the stack Starlette builds.
        return SecurityHeaders(super().build_middleware_stack(), self.content_security_policy)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app; `settings` (else the environment's) choose its rate limits and security headers."""
    settings = settings or get_settings()
    app = ExplorerApp(
        title="Backprop Explorer",
        version=__version__,
        description="Backpropagation and gradient descent, step by step: forward values, backward gradients "
                    "edge by edge (upstream × local = contribution) and the gradient-descent update.",
    )
    errors.install(app)
    app.include_router(trace.router, prefix=API_PREFIX)
    app.include_router(meta.router, prefix=API_PREFIX)
    app.include_router(data.router, prefix=API_PREFIX)
    app.include_router(network.router, prefix=API_PREFIX)
    app.include_router(descent.router, prefix=API_PREFIX)
    app.include_router(classroom.router, prefix=API_PREFIX)  # rooms; its lifespan opens the store
    app.include_router(classroom.join_router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(GZipMiddleware, minimum_size=settings.gzip_minimum_bytes, compresslevel=1)  # never event streams; level 5 cost 13-20 ms per large answer
    app.add_middleware(BodyLimit, max_bytes=LIMITS.max_body_bytes)
    app.add_middleware(JsonBodies)
    app.content_security_policy = settings.content_security_policy  # headers on everything: ExplorerApp
    app.state.rate_limiter = RateLimiter.from_settings(settings)
    app.state.answer_cache = AnswerCache.from_settings(settings)
    return app


app = create_app()
