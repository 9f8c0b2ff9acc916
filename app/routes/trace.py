"""POST /trace and /trace/state: parse, run, record; answer the trace contract of DESIGN.md."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

import orjson

from fastapi import APIRouter, Request, Response

from engine.graph import Graph
from engine.parse import parse
from engine.replay import state_at
from engine.trace import trace_graph

from ..rate_limit import charge
from ..compute import compute
from ..errors import refusals
from ..schemas import ErrorEnvelope, StateRequest, TraceRequest, TraceResponse
from ..settings import get_settings

router = APIRouter(prefix="/trace", tags=["trace"])

# 429: gradient checks are rate-limited per client (app.rate_limit).
ERRORS = {**refusals(413, 415, 429),
          422: {"model": ErrorEnvelope, "description": "The program or a value cannot be used; see error.where"}}


def json_response(payload: dict[str, Any]) -> Response:
    # NOTE: orjson writes a NaN as null; the engine has already made every non-finite number None.
    return Response(orjson.dumps(payload), media_type="application/json")


@lru_cache(maxsize=256)
def _parse_small(source: str) -> Graph:
    # NOTE: a parsed Graph is never changed by tracing, so one program dragged through many values
    # (a slider, a classroom) is parsed once. Only short sources are kept, which bounds the memory.
    return parse(source)


def parse_program(source: str) -> Graph:
    settings = get_settings()
    if settings.parse_cache and len(source) <= settings.inline_source_chars:
        return _parse_small(source)
    return parse(source)


async def _answer(request: TraceRequest, work: Callable[[Graph], dict[str, Any]]) -> Response:
    # Small programs take microseconds: a thread hop would cost more than the work. Large ones (and
    # gradient checks) go to the thread pool so that one request cannot stall the event loop.
    if request.gradcheck or len(request.source) > get_settings().inline_source_chars:
        return json_response(await compute(lambda: work(parse_program(request.source))))
    return json_response(work(parse_program(request.source)))


def _trace(request: TraceRequest, graph: Graph):
    return trace_graph(graph, request.values, params=request.params, learning_rate=request.learning_rate,
                       gradcheck=request.gradcheck)


@router.post("", response_model=TraceResponse, responses=ERRORS,
             summary="Forward values, backward gradients edge by edge, and optionally one update")
async def post_trace(request: TraceRequest, http: Request) -> Response:
    if request.gradcheck:
        await charge(http, "gradcheck")
    return await _answer(request, lambda graph: _trace(request, graph).to_dict())


@router.post("/state", responses=ERRORS, summary="What is known at step k (values so far, gradients so far)")
async def post_state(request: StateRequest, http: Request) -> Response:
    if request.gradcheck:
        await charge(http, "gradcheck")
    return await _answer(request, lambda graph: state_at(_trace(request, graph), request.step))
