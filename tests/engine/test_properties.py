"""Property tests over random programs built from the op table's grammar.

1. Any source text and any values give a Trace or an EngineError, never another exception; a
   Trace serialises to strict JSON and the same request twice gives the same trace.
2. Where every value is finite and every op is away from its kinks, backprop agrees with centered
   finite differences to a relative 1e-6.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine.errors import EngineError
from engine.graph import Graph
from engine.ops import OPS, function_ops, infix_ops, prefix_ops
from engine.parse import parse
from engine.replay import state_at
from engine.trace import Trace, trace

from .finite_differences import all_values

INPUT_NAMES = ("x", "y", "z")
INFIX = sorted(infix_ops())
PREFIX = sorted(prefix_ops())
FUNCTIONS = sorted(function_ops().items())

MARGIN = 1e-2  # how far each op's inputs stay from a kink or a domain edge
RELATIVE_STEP = 1e-6
TOLERANCE = 1e-6
HUGE = 1e6
EPS = np.finfo(np.float64).eps

BOUNDED = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---- The grammar, as strategies ------------------------------------------------------------------

numbers = st.one_of(
    st.integers(0, 9).map(str),
    st.floats(0.01, 5.0).map(lambda v: f"{v:.3g}"),
    st.builds(lambda mantissa, exponent: f"{mantissa}e{exponent}", st.integers(1, 9), st.integers(-2, 0)),
    st.integers(1, 99).map(lambda n: f".{n}"),
)
spaces = st.sampled_from(["", " ", "  "])


@st.composite
def expressions(draw: st.DrawFn, names: tuple[str, ...], depth: int) -> str:
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        if names and draw(st.integers(0, 3)) > 0:
            return draw(st.sampled_from(names))
        return draw(numbers)
    form = draw(st.sampled_from(("infix", "infix", "prefix", "call", "parentheses")))
    if form == "infix":
        left, right = draw(expressions(names, depth - 1)), draw(expressions(names, depth - 1))
        return f"{left}{draw(spaces)}{draw(st.sampled_from(INFIX))}{draw(spaces)}{right}"
    if form == "prefix":
        return f"{draw(st.sampled_from(PREFIX))}{draw(expressions(names, depth - 1))}"
    if form == "call":
        name, op = draw(st.sampled_from(FUNCTIONS))
        arguments = [draw(expressions(names, depth - 1)) for _ in range(op.arity)]
        return f"{name}({', '.join(arguments)})"
    return f"({draw(expressions(names, depth - 1))})"


@st.composite
def programs(draw: st.DrawFn) -> str:
    names = list(INPUT_NAMES[: draw(st.integers(1, len(INPUT_NAMES)))])
    count = draw(st.integers(1, 4))
    statements = []
    for index in range(count):
        expression = draw(expressions(tuple(names), 3))
        if index < count - 1 or draw(st.booleans()):
            statements.append(f"v{index} = {expression}")
            names.append(f"v{index}")
        else:
            statements.append(expression)
    source = ""
    for statement in statements:
        source += statement + draw(st.sampled_from(["\n", ";", " ; ", "\n\n", "  # note\n"]))
    return source


def inputs_of(source: str) -> list[str]:
    return sorted(set(re.findall(r"\b[xyz]\b", source)))


JUNK = ["'", '"', ".", "[", "]", "{", ":", "lambda", "import", "__", "__import__", "\u0445", "\u2212", "=",
        "==", ",", "(", ")", "@", "%", "//", "\n", ";", "#", "1e999", "exp", "max(", "\u00a0", "\x00", "if",
        "9" * 50, "a" * 70, "**", "-", "x", "v0", "1.2.3", "\t"]


@st.composite
def mutated(draw: st.DrawFn, source: str) -> str:
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(source)))
        kind = draw(st.sampled_from(("insert", "delete", "duplicate")))
        if kind == "insert":
            source = source[:at] + draw(st.sampled_from(JUNK)) + source[at:]
        elif kind == "delete":
            source = source[:at] + source[at + draw(st.integers(1, 5)):]
        else:
            end = draw(st.integers(at, len(source)))
            source = source[:end] + source[at:end] + source[end:]
    return source


scalars = st.floats(-3.0, 3.0)


def tensors(shape: tuple[int, ...]) -> st.SearchStrategy[Any]:
    if not shape:
        return scalars
    return st.lists(tensors(shape[1:]), min_size=shape[0], max_size=shape[0])


some_shapes = st.sampled_from([(), (), (), (2,), (3,), (2, 3), (2, 1), (1, 3), (3, 2)])
odd_values = st.one_of(
    st.sampled_from([None, "1", True, math.nan, math.inf, 1e300, 10 ** 400, [2, -10 ** 400], [], [[1.0, 2.0], [3.0]],
                     [[[1.0]]], 0.0, -0.0]),
    st.floats(allow_nan=True, allow_infinity=True),
)


def names_the_program_reads(source: str) -> list[str]:
    try:
        return list(parse(source).inputs)
    except EngineError:
        return inputs_of(source)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    source = draw(programs())
    if draw(st.booleans()):
        source = draw(st.one_of(mutated(source), st.text(st.sampled_from("xyzv0 =+-*/^()1.e,;\n#_"), max_size=40)))
    names = names_the_program_reads(source)
    values: dict[str, Any] = {name: draw(some_shapes.flatmap(tensors)) for name in names}
    if names and draw(st.integers(0, 3)) == 0:
        for name in draw(st.sets(st.sampled_from(names), min_size=1)):
            values[name] = draw(odd_values)
    if draw(st.integers(0, 5)) == 0:
        values[draw(st.sampled_from(["x", "y", "z", "v0", "w"]))] = draw(scalars)
    if names and draw(st.integers(0, 5)) == 0:
        values.pop(draw(st.sampled_from(names)), None)
    return source, values


# ---- 1. A Trace or an EngineError, nothing else --------------------------------------------------

@BOUNDED
@given(requests())
def test_any_program_gives_a_trace_or_an_engine_error(request: tuple[str, dict[str, Any]]) -> None:
    source, values = request
    try:
        result = trace(source, values)
    except EngineError as error:
        event(f"refused: {error.code}")
        assert error.message
        json.dumps({"code": error.code, "message": error.message, "where": error.where}, allow_nan=False)
        return
    event("traced")
    assert isinstance(result, Trace)
    answer = result.to_dict()
    json.dumps(answer, allow_nan=False)
    json.dumps(state_at(result, len(result.steps) - 1), allow_nan=False)
    assert trace(source, values).to_dict() == answer, "the same request twice gave different traces"


# ---- 2. Backprop agrees with centered finite differences -----------------------------------------

def smooth_everywhere(graph: Graph, values: list[Any]) -> bool:
    for node in graph.nodes:
        op = OPS.get(node.op)
        if op is not None and op.smooth is not None:
            if not np.all(op.smooth(MARGIN, *[values[i] for i in node.inputs])):
                return False
    return True


def moved_less_than_the_margin(before: list[Any], after: list[Any]) -> bool:
    with np.errstate(all="ignore"):
        return all(np.all(np.abs(np.subtract(a, b)) < MARGIN / 2) for a, b in zip(before, after))


def rounding_noise(result: Trace) -> float:
    """How much rounding can move the loss: eps * sum over nodes of |dL/dnode| * |node|."""
    return float(sum(np.sum(np.abs(g) * np.abs(v)) for g, v in zip(result.grads, result.values) if g is not None))


@st.composite
def smooth_requests(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    source = draw(programs())
    shapes = st.sampled_from([(), (), (), (3,), (2, 3)])
    return source, {name: draw(shapes.flatmap(tensors)) for name in inputs_of(source)}


@BOUNDED
@given(smooth_requests())
def test_gradients_match_centered_differences_where_the_program_is_smooth(
        request: tuple[str, dict[str, Any]]) -> None:
    source, values = request
    try:
        result = trace(source, values)
    except EngineError as error:
        assert error.code == "shape_mismatch", error.message  # e.g. a (2, 3) matrix @ a (3,) vector: refused
        event("skipped: shapes an op cannot combine")
        return
    graph = result.graph
    if not graph.inputs:
        event("skipped: no inputs")
        return
    if any(status != "ok" for status in result.status) or any(s not in ("ok", "none") for s in result.grad_status):
        event("skipped: a non-finite value or gradient")
        return
    if max(float(np.max(np.abs(v))) for v in result.values) > HUGE:
        event("skipped: huge values")
        return
    if not smooth_everywhere(graph, result.values):
        event("skipped: near a kink or outside a domain")
        return
    noise = 16 * EPS * (rounding_noise(result) + 1.0)
    bindings = {index: result.values[index] for index in graph.inputs.values()}
    for name, index in graph.inputs.items():
        base = np.asarray(bindings[index], dtype=np.float64)
        analytic = np.asarray(result.grads[index])
        for at in np.ndindex(base.shape):
            step = RELATIVE_STEP * max(1.0, abs(float(base[at])))
            losses, moved = [], []
            for sign in (1.0, -1.0):
                bumped = base.copy()
                bumped[at] += sign * step
                moved.append(bumped[at])
                trial = all_values(graph, {**bindings, index: bumped[()] if base.ndim == 0 else bumped})
                if not moved_less_than_the_margin(result.values, trial):
                    event("skipped: a step of h would cross a kink")
                    return
                losses.append(float(np.sum(trial[graph.output])))
            numeric = (losses[0] - losses[1]) / (moved[0] - moved[1])
            expected = float(analytic[at])
            allowed = TOLERANCE * max(abs(expected), abs(numeric)) + noise / step
            assert abs(expected - numeric) <= allowed, (
                f"d/d{name}{list(at) if at else ''}: backprop {expected!r}, centered differences {numeric!r}")
    event("checked")
