"""What the API offers: its ops, its examples, its limits and whether it is up."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from engine.examples import EXAMPLES
from engine.limits import LIMITS
from engine.ops import OPS

from .. import __version__

router = APIRouter(tags=["meta"])

LANGUAGE = {
    "statements": "separated by new lines or ';'; 'name = expr' names a node; the last statement is the output",
    "inputs": "names that are never assigned; their values come with the request",
    "numbers": "decimal or scientific: 3, 0.5, .5, 1e-3",
    "comments": "from '#' to the end of the line",
    "power": "'**' or '^', right-associative; -x**2 is -(x**2)",
}


@router.get("/ops", summary="The op table: arity, symbols, precedence, formulas and local derivatives")
async def get_ops() -> dict[str, Any]:
    return {"ops": [op.describe() for op in OPS.values()], "language": LANGUAGE}


@router.get("/examples", summary="Ready programs with their input values")
async def get_examples() -> dict[str, Any]:
    return {"examples": EXAMPLES}


@router.get("/limits", summary="Every size cap the server enforces")
async def get_limits() -> dict[str, Any]:
    return LIMITS.as_dict()


@router.get("/health", summary="Liveness")
async def get_health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}
