"""What the API offers: its ops, its examples, its limits and whether it is up."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
from fastapi import APIRouter, Response

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
    "tensors": ("a value may be a number, a list (vector) or a list of equal-length lists (matrix, one inner list "
                "per row); + - * / work element by element and broadcast as in NumPy (a 2×1 column b is added to "
                "every column of a 2×m matrix); W @ A is the matrix product, (n×k) @ (k×m) is (n×m); sum(x) and "
                "mean(x) reduce everything, sum(x, 0) (or axis=0) down each column and sum(x, 1) along each row, "
                "keeping the summed axis with size 1; transpose(x) swaps rows and columns; in the network lessons "
                "samples are COLUMNS: X is (features × m), Z = W @ X + b, and softmax and the losses work down "
                "axis 0"),
}


# NOTE: the op table and the examples never change while the server runs: encoded once, they cost a
# request nothing but the copy (the examples were 4x a minimal endpoint's time when rebuilt each time).
@lru_cache(maxsize=1)
def _ops() -> bytes:
    return orjson.dumps({"ops": [op.describe() for op in OPS.values()], "language": LANGUAGE})


@lru_cache(maxsize=1)
def _examples() -> bytes:
    return orjson.dumps({"examples": EXAMPLES})


@router.get("/ops", response_class=Response, responses={200: {"content": {"application/json": {}}}},
            summary="The op table: arity, symbols, precedence, formulas and local derivatives")
async def get_ops() -> Response:
    return Response(_ops(), media_type="application/json")


@router.get("/examples", response_class=Response, responses={200: {"content": {"application/json": {}}}},
            summary="Ready programs with their input values")
async def get_examples() -> Response:
    return Response(_examples(), media_type="application/json")


@router.get("/limits", summary="Every size cap the server enforces")
async def get_limits() -> dict[str, Any]:
    return LIMITS.as_dict()


@router.get("/health", summary="Liveness")
async def get_health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}
