"""engine/ops.py: every row of the op table, checked against centered finite differences.

The cases are generated from OPS itself (arity, notation, symbols, smooth predicate), so a new op
is tested here without writing a new test.
"""
from __future__ import annotations

import json
import string
import zlib

import numpy as np
import pytest

from engine.ops import OPS, Op, function_ops, infix_ops, prefix_ops, register, unbroadcast
from engine.trace import trace

from .finite_differences import centered_differences

MARGIN = 0.05  # how far from a kink or a domain edge sampled points stay
POINTS_PER_OP = 5
INPUT_NAMES = ("a", "b")

# Non-elementwise ops cannot be fed arbitrary shapes: give each one sample input shapes here.
SAMPLE_SHAPES: dict[str, tuple[tuple[int, ...], ...]] = {}


def spellings(op: Op) -> list[str]:
    """Every way the language writes this op, over inputs named a and b."""
    names = INPUT_NAMES[: op.arity]
    if op.notation == "infix":
        return [f"a {symbol} b" for symbol in op.symbols]
    if op.notation == "prefix":
        return [f"{symbol}a" for symbol in op.symbols]
    return [f"{op.name}({', '.join(names)})"]


SPELLINGS = [pytest.param(op, source, id=f"{op.name}:{source}") for op in OPS.values() for source in spellings(op)]
ELEMENTWISE = [pytest.param(op, id=op.name) for op in OPS.values() if op.elementwise]


def rng_for(op: Op, salt: str = "") -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{op.name}{salt}".encode()))


def sample_inputs(op: Op, rng: np.random.Generator, shapes: tuple[tuple[int, ...], ...]) -> list[np.ndarray]:
    """Inputs drawn from [-3, 3] where the op's smooth predicate holds with MARGIN to spare."""
    for _ in range(100_000):
        inputs = [rng.uniform(-3.0, 3.0, size=shape) for shape in shapes]
        if op.smooth is None or np.all(op.smooth(MARGIN, *inputs)):
            return inputs
    raise AssertionError(f"no smooth point found for {op.name} with shapes {shapes}")


def request_values(inputs: list[np.ndarray]) -> dict[str, object]:
    return {name: (float(x) if np.ndim(x) == 0 else x.tolist()) for name, x in zip(INPUT_NAMES, inputs)}


def assert_trace_gradients_match(op: Op, source: str, inputs: list[np.ndarray]) -> None:
    result = trace(source, request_values(inputs))
    graph = result.graph
    expected_value = op.forward(*inputs)
    np.testing.assert_allclose(result.values[graph.output], expected_value, rtol=1e-15, atol=0)
    numeric = centered_differences(op.forward, inputs)
    for name, expected in zip(INPUT_NAMES, numeric):
        analytic = result.grads[graph.inputs[name]]
        assert np.shape(analytic) == np.shape(expected), f"{source}: d/d{name} has the wrong shape"
        np.testing.assert_allclose(analytic, expected, rtol=1e-6, atol=1e-8,
                                   err_msg=f"{source} at {request_values(inputs)}: d/d{name}")
        assert result.grad_status[graph.inputs[name]] == "ok"


# ---- The table itself ---------------------------------------------------------------------------

@pytest.mark.parametrize("op", [pytest.param(op, id=op.name) for op in OPS.values()])
def test_every_op_declares_one_rule_and_one_explanation_per_input(op: Op) -> None:
    assert len(op.partials or op.vjps) == op.arity
    assert len(op.local_text) == op.arity
    assert len(op.local_latex) == op.arity
    operands = dict(zip("ab", INPUT_NAMES))
    for template in (op.text, op.latex, *op.local_text, *op.local_latex):
        placeholders = {field for _, field, _, _ in string.Formatter().parse(template) if field}
        assert placeholders <= {"a", "b", "out"}, f"{op.name}: {template!r}"
        template.format(out="f", **operands)
    assert set(op.doc) >= {"en", "zh"} and all(op.doc.values())
    json.dumps(op.describe(), allow_nan=False)


def test_the_parser_reads_its_operators_and_functions_from_the_table() -> None:
    assert set(infix_ops()) == {s for op in OPS.values() if op.notation == "infix" for s in op.symbols}
    assert set(infix_ops()) >= {"+", "-", "*", "/", "**", "^"}
    assert set(prefix_ops()) == {"-"}
    assert set(function_ops()) >= {"exp", "log", "sqrt", "tanh", "sigmoid", "relu", "sin", "cos", "abs",
                                   "max", "min"}
    assert infix_ops()["^"] is infix_ops()["**"] is OPS["pow"]


def test_register_refuses_a_second_op_with_the_same_name() -> None:
    with pytest.raises(ValueError, match="'add' is declared twice"):
        register(OPS["add"])


def test_register_refuses_an_op_whose_rules_do_not_match_its_arity() -> None:
    with pytest.raises(ValueError, match="arity 2 but 1 derivative rules"):
        register(Op("broken", 2, np.add, partials=(lambda out, a, b: 1.0,)))
    assert "broken" not in OPS


def test_register_refuses_an_infix_op_without_a_symbol() -> None:
    with pytest.raises(ValueError, match="has no symbol"):
        register(Op("nosymbol", 1, np.negative, partials=(lambda out, a: -1.0,), notation="infix"))
    assert "nosymbol" not in OPS


# ---- Every op against centered finite differences ------------------------------------------------

@pytest.mark.parametrize(("op", "source"), SPELLINGS)
def test_op_gradient_matches_centered_differences_at_several_points(op: Op, source: str) -> None:
    rng = rng_for(op, source)
    shapes = SAMPLE_SHAPES.get(op.name, ((),) * op.arity)
    if not op.elementwise and op.name not in SAMPLE_SHAPES:
        pytest.fail(f"{op.name} is not elementwise: add its sample input shapes to SAMPLE_SHAPES")
    for _ in range(POINTS_PER_OP):
        assert_trace_gradients_match(op, source, sample_inputs(op, rng, shapes))


@pytest.mark.parametrize("op", ELEMENTWISE)
def test_op_partials_match_centered_differences_directly(op: Op) -> None:
    rng = rng_for(op, "partials")
    for _ in range(POINTS_PER_OP):
        inputs = [np.float64(x) for x in sample_inputs(op, rng, ((),) * op.arity)]
        out = op.forward(*inputs)
        numeric = centered_differences(op.forward, inputs)
        for k, partial in enumerate(op.partials):
            np.testing.assert_allclose(partial(out, *inputs), numeric[k], rtol=1e-6, atol=1e-8,
                                       err_msg=f"{op.name}: partial {k} at {inputs}")


BROADCAST_CASES = {
    "matrix-with-row": ((2, 3), (3,)),
    "row-with-matrix": ((3,), (2, 3)),
    "matrix-with-scalar": ((2, 3), ()),
    "scalar-with-matrix": ((), (2, 3)),
    "column-with-row": ((2, 1), (3,)),
    "matrix-with-column": ((2, 3), (2, 1)),
}
BROADCASTS = [
    pytest.param(op, shapes, id=f"{op.name}:{case}")
    for op in OPS.values() if op.elementwise and op.arity == 2 for case, shapes in BROADCAST_CASES.items()
] + [pytest.param(op, ((2, 3),), id=f"{op.name}:matrix") for op in OPS.values() if op.elementwise and op.arity == 1]


@pytest.mark.parametrize(("op", "shapes"), BROADCASTS)
def test_elementwise_op_gradients_are_unbroadcast_to_each_input_shape(op: Op, shapes: tuple) -> None:
    rng = rng_for(op, str(shapes))
    for source in spellings(op):
        for _ in range(2):
            assert_trace_gradients_match(op, source, sample_inputs(op, rng, shapes))


def test_broadcast_product_gradients_are_the_summed_other_factor() -> None:
    x = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    result = trace("f = x * y", {"x": x, "y": [10.0, 20.0, 30.0]})
    grads = {node.label: result.grads[node.index] for node in result.graph.nodes}
    assert grads["x"].tolist() == [[10.0, 20.0, 30.0], [10.0, 20.0, 30.0]]
    assert grads["y"].tolist() == [5.0, 7.0, 9.0]
    result = trace("f = x * y", {"x": x, "y": 2})
    grads = {node.label: result.grads[node.index] for node in result.graph.nodes}
    assert grads["x"].tolist() == [[2.0] * 3] * 2
    assert np.shape(grads["y"]) == () and grads["y"] == 21.0


# ---- The shared un-broadcast helper --------------------------------------------------------------

def test_unbroadcast_sums_the_leading_axes_a_row_was_stretched_along() -> None:
    gradient = np.arange(6.0).reshape(2, 3)
    assert unbroadcast(gradient, (3,)).tolist() == [3.0, 5.0, 7.0]


def test_unbroadcast_sums_size_one_axes_and_keeps_them() -> None:
    gradient = np.arange(6.0).reshape(2, 3)
    assert unbroadcast(gradient, (2, 1)).tolist() == [[3.0], [12.0]]
    assert unbroadcast(gradient, (1, 3)).tolist() == [[3.0, 5.0, 7.0]]


def test_unbroadcast_to_a_scalar_sums_everything() -> None:
    total = unbroadcast(np.arange(6.0).reshape(2, 3), ())
    assert np.ndim(total) == 0 and total == 15.0


def test_unbroadcast_spreads_a_scalar_gradient_over_an_unchanged_shape() -> None:
    assert unbroadcast(np.float64(2.0), (2, 2)).tolist() == [[2.0, 2.0], [2.0, 2.0]]
    same = np.ones((2, 3))
    assert unbroadcast(same, (2, 3)) is same


# ---- Values worth knowing by heart ---------------------------------------------------------------

def test_sigmoid_is_one_half_at_zero_with_slope_one_quarter() -> None:
    sigmoid = OPS["sigmoid"]
    out = sigmoid.forward(np.float64(0.0))
    assert out == 0.5
    assert sigmoid.partials[0](out, np.float64(0.0)) == 0.25


def test_sigmoid_saturates_without_overflow_far_from_zero() -> None:
    sigmoid = OPS["sigmoid"]
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        high = sigmoid.forward(np.array([1000.0, 40.0]))
        low = sigmoid.forward(np.array([-1000.0, -40.0]))
    assert high.tolist() == [1.0, 1.0]
    assert low[0] == 0.0 and 0.0 < low[1] < 1e-17
    np.testing.assert_allclose(low[1], np.exp(-40.0) / (1.0 + np.exp(-40.0)), rtol=1e-15)


def test_kinks_take_the_documented_one_sided_slopes() -> None:
    zero = np.float64(0.0)
    assert OPS["relu"].partials[0](zero, zero) == 0.0
    assert OPS["relu"].partials[0](np.float64(2.0), np.float64(2.0)) == 1.0
    assert OPS["abs"].partials[0](zero, zero) == 0.0
    assert OPS["abs"].partials[0](np.float64(3.0), np.float64(-3.0)) == -1.0


def test_max_and_min_send_the_gradient_to_the_winner_and_split_a_tie() -> None:
    two, five = np.float64(2.0), np.float64(5.0)
    assert [p(five, two, five) for p in OPS["max"].partials] == [0.0, 1.0]
    assert [p(two, two, five) for p in OPS["min"].partials] == [1.0, 0.0]
    assert [p(two, two, two) for p in OPS["max"].partials] == [0.5, 0.5]
    assert [p(two, two, two) for p in OPS["min"].partials] == [0.5, 0.5]


def test_power_rule_and_exponent_rule_at_two_cubed() -> None:
    pow_ = OPS["pow"]
    a, b = np.float64(2.0), np.float64(3.0)
    out = pow_.forward(a, b)
    assert out == 8.0
    assert pow_.partials[0](out, a, b) == 12.0
    assert pow_.partials[1](out, a, b) == pytest.approx(8.0 * np.log(2.0), rel=1e-15)
