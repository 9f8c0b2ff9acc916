"""One envelope for every error: {"error": {"code", "message", "where"}}. Input is never echoed back."""
from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.errors import EngineError
from engine.limits import LIMITS

log = logging.getLogger("backprop_explorer")

_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "body_too_large",
               415: "unsupported_media_type", 429: "rate_limited"}


def envelope(status: int, code: str, message: str, where: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "where": where or {}}}, status_code=status,
                        headers=headers)


# pydantic reports a failed `number | list | list of lists` once per member, tagged like
# 'constrained-float' or 'list[constrained-float]'; a bad dict key is tagged '[key]'.
def _is_tag(part: Any) -> bool:
    return isinstance(part, str) and (part.startswith(("constrained-", "list[", "dict[")) or part == "[key]")


def _field_path(location: tuple[Any, ...]) -> str:
    """The request field an error is about: the location up to the first union tag, without 'body'."""
    parts: list[str] = []
    for part in location:
        if _is_tag(part):
            break
        text = str(part)
        # NOTE: a key is user input of any length; name at most a name's worth of it.
        parts.append(text if len(text) <= LIMITS.max_name_chars else text[:LIMITS.max_name_chars] + "...")
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts)


def _from_union(error: dict[str, Any]) -> bool:
    return any(_is_tag(part) and part != "[key]" for part in error.get("loc", ()))


# When every member of a union failed, the most telling failure goes first.
_MOST_TELLING = ("finite_number", "less_than_equal", "greater_than_equal", "too_long", "too_short")


def _describe(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "json_invalid":
        return "the request body is not valid JSON"
    if kind == "model_attributes_type" or (kind == "missing" and tuple(error.get("loc", ())) == ("body",)):
        return 'the request body must be a JSON object such as {"source": "x * y", "values": {"x": 2, "y": 3}}'
    if kind == "extra_forbidden":
        return "this field is not part of the request; check its spelling"
    if kind == "finite_number":
        return "must be a finite number (not-a-number and infinite values have no place here)"
    if _from_union(error) and kind in ("float_type", "float_parsing", "list_type"):
        return ("must be a number, a list of numbers or a list of equal-length lists of numbers "
                "(not a string, true/false or null)")
    if kind in ("float_type", "float_parsing"):
        return "must be a number (not a string, true/false or null)"
    return str(error.get("msg", "is not valid")).rstrip(".")


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return envelope(422, "invalid_request", _describe(first))
    field = _field_path(tuple(first.get("loc", ())))
    about_field = [e for e in errors if _field_path(tuple(e.get("loc", ()))) == field]
    chosen = min(about_field, key=lambda e: _MOST_TELLING.index(e["type"]) if e.get("type") in _MOST_TELLING
                 else len(_MOST_TELLING), default=first)
    message = f"{field}: {_describe(chosen)}" if field else _describe(chosen)
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
