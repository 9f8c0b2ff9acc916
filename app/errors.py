"""One envelope for every error: {"error": {"code", "message", "where"}}. Input is never echoed back."""
from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from engine.errors import EngineError
from engine.limits import LIMITS

from .schemas import ErrorEnvelope

log = logging.getLogger("backprop_explorer")

_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "body_too_large",
               415: "unsupported_media_type", 429: "rate_limited"}


class ApiError(Exception):
    """A refusal a route decides on itself (403, 404, 409, 429 ...), answered with the envelope."""

    def __init__(self, status: int, code: str, message: str, where: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.where, self.headers = status, code, message, where, headers


def envelope(status: int, code: str, message: str, where: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "where": where or {}}}, status_code=status,
                        headers=headers)


# pydantic reports a failed `number | list | list of lists` once per member, tagged like
# 'constrained-float' or 'list[constrained-float]'; a bad dict key is tagged '[key]'.
def _is_tag(part: Any) -> bool:
    return isinstance(part, str) and (part.startswith(("constrained-", "list[", "dict[")) or part == "[key]")


_SAFE_KEY = re.compile(r"[A-Za-z0-9_.:-]*")


def _field_path(location: tuple[Any, ...]) -> str:
    """The request field an error is about: the location up to the first union tag, without 'body'."""
    parts: list[str] = []
    for part in location:
        if _is_tag(part):
            break
        text = str(part)
        # NOTE: a key is user input of any length and content: name at most a name's worth of it, and
        # only if it is made of a name's characters (no markup, quotes or control characters echoed).
        if not _SAFE_KEY.fullmatch(text):
            text = "(key)"
        parts.append(text if len(text) <= LIMITS.max_name_chars else text[:LIMITS.max_name_chars] + "...")
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts)


def _from_union(error: dict[str, Any]) -> bool:
    return any(_is_tag(part) and part != "[key]" for part in error.get("loc", ()))


# When every member of a union failed, the most telling failure goes first.
_MOST_TELLING = ("finite_number", "less_than_equal", "greater_than_equal", "too_long", "too_short")


def _describe(error: dict[str, Any], path: str = "") -> str:
    kind = error.get("type", "")
    if kind == "json_invalid":
        return "the request body is not valid JSON"
    if kind == "model_attributes_type" or (kind == "missing" and tuple(error.get("loc", ())) == ("body",)):
        if not path.startswith("/api/v1/trace"):
            return "the request body must be a JSON object; /docs shows an example for every route"
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


# Lists of the user's own points: an error inside one names its row and column, counted from 1 as in a file.
_ROW_LISTS = ("custom",)
# What an error's ctx["limit"] may name: a cap of engine.limits, as GET /api/v1/limits lists them.
_CAP_NAMES = frozenset(LIMITS.as_dict())


def _cap_of(error: dict[str, Any]) -> str | None:
    """The cap of engine.limits an error is over: the request models name it in the error's context."""
    limit = (error.get("ctx") or {}).get("limit")
    return limit if isinstance(limit, str) and limit in _CAP_NAMES else None


def _row_and_column(location: tuple[Any, ...]) -> dict[str, int]:
    for at, part in enumerate(location[:-1]):
        if part in _ROW_LISTS and isinstance(location[at + 1], int):
            place = {"row": location[at + 1] + 1}
            if at + 2 < len(location) and isinstance(location[at + 2], int):
                place["column"] = location[at + 2] + 1
            return place
    return {}


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return envelope(422, "invalid_request", _describe(first))
    field = _field_path(tuple(first.get("loc", ())))
    about_field = [e for e in errors if _field_path(tuple(e.get("loc", ()))) == field]
    chosen = min(about_field, key=lambda e: _MOST_TELLING.index(e["type"]) if e.get("type") in _MOST_TELLING
                 else len(_MOST_TELLING), default=first)
    message = f"{field}: {_describe(chosen)}" if field else _describe(chosen, request.url.path)
    where: dict[str, Any] = {"field": field} if field else {}
    where.update(_row_and_column(tuple(chosen.get("loc", ()))))
    cap = _cap_of(chosen)
    if cap is not None:
        if f"({cap})" not in message:
            message += f" ({cap})"
        where["limit"] = cap
    others = {_field_path(tuple(e.get("loc", ()))) for e in errors} - {field}
    if others:
        message += f" (and {len(others)} more field{'s' if len(others) > 1 else ''} to fix)"
    return envelope(422, "invalid_request", message, where)


def _engine_error(request: Request, exc: EngineError) -> JSONResponse:
    where = dict(exc.where)
    if isinstance(exc.details.get("limit"), str):  # a cap of engine.limits (LimitError, DataError over a cap)
        where["limit"] = exc.details["limit"]
    return envelope(422, exc.code, exc.message, where)


# ---- The refusals in OpenAPI: every route lists the statuses it can answer with the envelope ------

REFUSALS = {
    403: "Only the room's teacher (the presenter key) may do this",
    404: "No such room",
    409: "The room is not in a state for this (no open question)",
    413: "The body is larger than max_body_bytes",
    415: "The body is not JSON (send Content-Type: application/json)",
    422: "A field, the program or the points cannot be used; error.where says which",
    429: "Too many requests: rate-limited, or a cap on runs, rooms or students reached; see Retry-After",
    503: "The classroom store (Redis) is not answering; see Retry-After",
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again",
                               "schema": {"type": "string", "pattern": "^[0-9]+$"}}}


def refusals(*statuses: int, by_reference: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses`: the envelope at each of these statuses, with Retry-After on 429 and 503.

    by_reference: for a route whose own answer is not JSON (an event stream), whose refusals still are."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {"description": REFUSALS[status]}
        if by_reference:
            response["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
        else:
            response["model"] = ErrorEnvelope
        if status in (429, 503):
            response["headers"] = RETRY_AFTER
        responses[status] = response
    return responses


@contextmanager
def fields_renamed(rename: Callable[[str], str]) -> Iterator[None]:
    """The engine names its own arguments (sizes, activations, ...); a route renames them to its request's fields."""
    try:
        yield
    except EngineError as error:
        field = getattr(error, "field", None)
        if isinstance(field, str):
            error.field = rename(field)  # type: ignore[attr-defined]
        raise


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> str | None:
    """Every method some route takes at this path (Starlette's 405 names only the first route's)."""
    routes = request.app.router.routes
    allowed = [method for method in _METHODS
               if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)]
    return ", ".join(allowed) or None


def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 400:
        # FastAPI's 400 is a body it could not parse (not UTF-8, nested too deeply): the same refusal as
        # malformed JSON, so the same answer, 422 invalid_request.
        return envelope(422, "invalid_request", "the request body is not valid JSON (malformed, not UTF-8, or "
                                                "nested too deeply)")
    if exc.status_code == 405 and (allowed := _allowed_methods(request)):
        headers["Allow"] = allowed
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return envelope(exc.status_code, code, message, headers=headers or None)


def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return envelope(exc.status, exc.code, exc.message, exc.where, exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # NOTE: the exception is passed on explicitly: this handler runs after Starlette's `except` block
    # has handed it over, where logging.exception would find no exception to log. Nothing of it (its
    # message may hold the input) goes into the answer.
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return envelope(500, "internal_error", "something went wrong on the server; the request was not processed")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(EngineError, _engine_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
