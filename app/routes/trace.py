"""POST /trace and /trace/state: parse, run, record; answer the trace contract of DESIGN.md."""
from __future__ import annotations

from typing import Any, Callable

import orjson

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from engine.graph import Graph
from engine.parse import parse
from engine.replay import state_at
from engine.trace import trace_graph

from ..schemas import ErrorEnvelope, StateRequest, TraceRequest, TraceResponse
from ..settings import get_settings

router = APIRouter(prefix="/trace", tags=["trace"])

ERRORS = {413: {"model": ErrorEnvelope, "description": "Body too large"},
          422: {"model": ErrorEnvelope, "description": "The program or a value cannot be used; see error.where"}}


def json_response(payload: dict[str, Any]) -> Response:
    # NOTE: orjson writes a NaN as null; the engine has already made every non-finite number None.
    return Response(orjson.dumps(payload), media_type="application/json")


async def _run(graph: Graph, work: Callable[[], dict[str, Any]], heavy: bool) -> Response:
    # Small traces take microseconds: a thread hop (or a sync dependency) would cost more than the work.
    if heavy or len(graph.nodes) > get_settings().inline_trace_nodes:
        return json_response(await run_in_threadpool(work))
    return json_response(work())


def _trace(request: TraceRequest, graph: Graph):
    return trace_graph(graph, request.values, params=request.params, learning_rate=request.learning_rate,
                       gradcheck=request.gradcheck)


@router.post("", response_model=TraceResponse, responses=ERRORS,
             summary="Forward values, backward gradients edge by edge, and optionally one update")
async def post_trace(request: TraceRequest) -> Response:
    graph = parse(request.source)
    return await _run(graph, lambda: _trace(request, graph).to_dict(), request.gradcheck)


@router.post("/state", responses=ERRORS, summary="What is known at step k (values so far, gradients so far)")
async def post_state(request: StateRequest) -> Response:
    graph = parse(request.source)
    return await _run(graph, lambda: state_at(_trace(request, graph), request.step), request.gradcheck)
