"""One envelope for every error: {"error": {"code", "message", "where"}}. Input is never echoed back."""
from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.errors import EngineError

log = logging.getLogger("backprop_explorer")

_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "body_too_large",
               415: "unsupported_media_type", 429: "rate_limited"}


def envelope(status: int, code: str, message: str, where: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "where": where or {}}}, status_code=status,
                        headers=headers)


def _field_path(location: tuple[Any, ...]) -> str:
    # pydantic adds union member tags such as 'constrained-float' or 'list[...]' to locations
    parts = [str(p) for p in location if not (isinstance(p, str) and ("[" in p or "-" in p))]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts)


def _describe(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "json_invalid":
        return "the request body is not valid JSON"
    if kind == "extra_forbidden":
        return "this field is not part of the request; check its spelling"
    if kind == "finite_number":
        return "must be a finite number (NaN and Infinity are not numbers here)"
    if kind in ("float_type", "float_parsing"):
        return "must be a number (not a string, true/false or null)"
    return str(error.get("msg", "is not valid")).rstrip(".")


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {}
    field = "" if first.get("type") == "json_invalid" else _field_path(tuple(first.get("loc", ())))
    message = f"{field}: {_describe(first)}" if field else _describe(first)
    others = {_field_path(tuple(e.get("loc", ()))) for e in errors} - {field}
    if others:
        message += f" (and {len(others)} more field{'s' if len(others) > 1 else ''} to fix)"
    return envelope(422, "invalid_request", message, {"field": field} if field else {})


def _engine_error(request: Request, exc: EngineError) -> JSONResponse:
    return envelope(422, exc.code, exc.message, exc.where)


def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 400:
        message = "the request body could not be read as JSON (malformed, or nested too deeply)"
    return envelope(exc.status_code, code, message, headers=getattr(exc, "headers", None))


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return envelope(500, "internal_error", "something went wrong on the server; the request was not processed")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(EngineError, _engine_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
