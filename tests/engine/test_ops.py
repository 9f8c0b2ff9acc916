"""engine/ops.py: every row of the op table, checked against centered finite differences.

The cases are generated from OPS itself (arity, notation, symbols, smooth predicate), so a new op
is tested here without writing a new test.
"""
from __future__ import annotations

import functools
import json
import string
import zlib

import numpy as np
import pytest

from engine.errors import SourceError
from engine.ops import OPS, Op, ShapeMismatch, function_ops, infix_ops, prefix_ops, register, unbroadcast
from engine.trace import trace

from .finite_differences import centered_differences

MARGIN = 0.05  # how far from a kink or a domain edge sampled points stay
POINTS_PER_OP = 5
INPUT_NAMES = ("a", "b")

# Non-elementwise ops cannot be fed arbitrary shapes: give each one its sample input shapes here, several
# cases each. A case an op (or one of its settings) refuses must be refused as a shape error with a place.
MATRIX, WIDE, ROW, COLUMN, VECTOR, NUMBER = (3, 4), (2, 3), (1, 4), (3, 1), (3,), ()
SAMPLE_SHAPES: dict[str, list[tuple[tuple[int, ...], ...]]] = {
    "matmul": [((2, 3), (3, 4)), ((4, 1), (1, 3)), ((1, 3), (3, 1)), (VECTOR, (3, 2)), ((2, 3), VECTOR),
               (VECTOR, VECTOR), (NUMBER, NUMBER), (NUMBER, ROW), (COLUMN, NUMBER), ((2, 3), (2, 3))],
    "sum": [(MATRIX,), (ROW,), (COLUMN,), (VECTOR,), (NUMBER,)],
    "mean": [(MATRIX,), (ROW,), (COLUMN,), (VECTOR,), (NUMBER,)],
    "transpose": [(WIDE,), (ROW,), (VECTOR,), (NUMBER,)],
    "softmax": [(MATRIX,), (ROW,), (COLUMN,), (VECTOR,), (NUMBER,)],
    "log_softmax": [(MATRIX,), (ROW,), (COLUMN,), (VECTOR,), (NUMBER,)],
    "cross_entropy": [(MATRIX, MATRIX), (COLUMN, COLUMN), (VECTOR, VECTOR), (NUMBER, NUMBER), (MATRIX, WIDE)],
    "mse": [(MATRIX, MATRIX), (ROW, ROW), (VECTOR, VECTOR), (NUMBER, NUMBER), (ROW, MATRIX)],
    "bce": [(MATRIX, MATRIX), (ROW, ROW), (VECTOR, VECTOR), (NUMBER, NUMBER), (VECTOR, NUMBER)],
}


def spellings(op: Op) -> list[tuple[str, dict[str, int]]]:
    """Every way the language writes this op, over inputs named a and b, with the settings each one gives."""
    names = INPUT_NAMES[: op.arity]
    if op.notation == "infix":
        return [(f"a {symbol} b", {}) for symbol in op.symbols]
    if op.notation == "prefix":
        return [(f"{symbol}a", {}) for symbol in op.symbols]
    call = f"{op.name}({', '.join(names)})"
    written = [(call, {})]
    for setting in op.settings:
        for choice in setting.choices:
            written.append((f"{call[:-1]}, {choice})", {setting.name: choice}))
        written.append((f"{call[:-1]}, {setting.name}={setting.choices[-1]})", {setting.name: setting.choices[-1]}))
    return written


def forward_of(op: Op, settings: dict[str, int]):
    return functools.partial(op.forward, **settings) if settings else op.forward


SPELLINGS = [pytest.param(op, source, settings, id=f"{op.name}:{source}")
             for op in OPS.values() for source, settings in spellings(op)]
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


def assert_trace_gradients_match(op: Op, source: str, inputs: list[np.ndarray],
                                  settings: dict[str, int] | None = None) -> None:
    forward = forward_of(op, settings or {})
    result = trace(source, request_values(inputs))
    graph = result.graph
    expected_value = forward(*inputs)
    assert np.shape(result.values[graph.output]) == np.shape(expected_value)
    np.testing.assert_allclose(result.values[graph.output], expected_value, rtol=1e-15, atol=0)
    numeric = centered_differences(forward, inputs)
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
    setting_names = {setting.name for setting in op.settings}
    for template in (op.setting_text, op.setting_latex) if op.settings else ():
        placeholders = {field for _, field, _, _ in string.Formatter().parse(template) if field}
        assert placeholders <= {"a", "b"} | setting_names and setting_names <= placeholders, template
        template.format(**operands, **{name: 1 for name in setting_names})
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

@pytest.mark.parametrize(("op", "source", "settings"), SPELLINGS)
def test_op_gradient_matches_centered_differences_at_several_points(op: Op, source: str,
                                                                     settings: dict[str, int]) -> None:
    rng = rng_for(op, source)
    if not op.elementwise and op.name not in SAMPLE_SHAPES:
        pytest.fail(f"{op.name} is not elementwise: add its sample input shapes to SAMPLE_SHAPES")
    cases = SAMPLE_SHAPES.get(op.name, [((),) * op.arity])
    checked = 0
    for shapes in cases:
        inputs = sample_inputs(op, rng, shapes)
        try:
            forward_of(op, settings)(*inputs)
        except ShapeMismatch:
            assert_refused_as_a_shape_error(source, inputs)
            continue
        for _ in range(POINTS_PER_OP if len(cases) == 1 else 2):
            assert_trace_gradients_match(op, source, sample_inputs(op, rng, shapes), settings)
        checked += 1
    assert checked, f"{source}: no sample shape case is accepted"


def assert_refused_as_a_shape_error(source: str, inputs: list[np.ndarray]) -> None:
    with pytest.raises(SourceError) as caught:
        trace(source, request_values(inputs))
    error = caught.value
    assert (error.code, error.line, error.column) == ("shape_mismatch", 1, 1)
    for name, x in zip(INPUT_NAMES, inputs):
        assert f"{name} (shape {list(np.shape(x))})" in error.message


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
    "column-with-matrix": ((2, 1), (2, 3)),
    "one-row-with-matrix": ((1, 3), (2, 3)),
    "row-with-column": ((1, 3), (2, 1)),
}
BROADCASTS = [
    pytest.param(op, shapes, id=f"{op.name}:{case}")
    for op in OPS.values() if op.elementwise and op.arity == 2 for case, shapes in BROADCAST_CASES.items()
] + [pytest.param(op, ((2, 3),), id=f"{op.name}:matrix") for op in OPS.values() if op.elementwise and op.arity == 1]


@pytest.mark.parametrize(("op", "shapes"), BROADCASTS)
def test_elementwise_op_gradients_are_unbroadcast_to_each_input_shape(op: Op, shapes: tuple) -> None:
    rng = rng_for(op, str(shapes))
    for source, _ in spellings(op):
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


# ---- Tensor ops: values worth knowing by heart ---------------------------------------------------

def test_matmul_of_a_weight_matrix_and_a_batch_of_columns() -> None:
    w = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    x = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]])
    assert OPS["matmul"].forward(w, x).tolist() == [[1.0, 2.0, 4.0], [3.0, 4.0, 10.0], [5.0, 6.0, 16.0]]
    upstream = np.ones((3, 3))
    assert OPS["matmul"].vjps[0](upstream, None, w, x).tolist() == [[3.0, 2.0]] * 3  # upstream @ x.T
    assert OPS["matmul"].vjps[1](upstream, None, w, x).tolist() == [[9.0] * 3, [12.0] * 3]  # w.T @ upstream


def test_a_number_is_a_one_by_one_matrix_under_matmul() -> None:
    product = OPS["matmul"].forward(np.float64(2.0), np.float64(3.0))
    assert np.ndim(product) == 0 and product == 6.0 and isinstance(product, float)
    assert OPS["matmul"].forward(np.float64(2.0), np.array([[1.0, 2.0]])).tolist() == [[2.0, 4.0]]
    with pytest.raises(ShapeMismatch, match="a number @ a 2×2 matrix needs the left's 1 column to equal the right's 2"):
        OPS["matmul"].forward(np.float64(2.0), np.eye(2))


def test_bias_gradient_of_a_broadcast_column_is_the_row_sum_of_upstream() -> None:
    # Z = P + b with b (n, 1) broadcast over m columns: db = sum(dZ, 1), the un-broadcast of the add
    result = trace("Z = P + b", {"P": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], "b": [[10.0], [20.0]]})
    b = result.graph.inputs["b"]
    assert result.grads[b].tolist() == [[3.0], [3.0]]
    result = trace("Z = P + b\nL = sum(Z * Z)", {"P": [[1.0, 2.0], [3.0, 4.0]], "b": [[1.0], [-1.0]]})
    assert result.grads[result.graph.inputs["b"]].tolist() == [[2 * (2 + 3)], [2 * (2 + 3)]]


def test_softmax_columns_are_probabilities_even_for_huge_logits() -> None:
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        probabilities = OPS["softmax"].forward(np.array([[1000.0, 0.0], [1000.0, 1.0], [-1000.0, 2.0]]))
        log_probabilities = OPS["log_softmax"].forward(np.array([[1000.0], [0.0]]))
    np.testing.assert_allclose(probabilities.sum(axis=0), [1.0, 1.0], rtol=1e-15)
    assert probabilities[:, 0].tolist() == [0.5, 0.5, 0.0]
    assert log_probabilities.tolist() == [[0.0], [-1000.0]]


def test_cross_entropy_of_uniform_logits_is_log_k_and_its_gradient_is_p_minus_y_over_m() -> None:
    logits = np.zeros((4, 2))
    targets = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    ce = OPS["cross_entropy"]
    loss = ce.forward(logits, targets)
    assert loss == pytest.approx(np.log(4.0), rel=1e-15)
    assert ce.vjps[0](np.float64(1.0), loss, logits, targets).tolist() == ((0.25 - targets) / 2).tolist()
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        assert ce.forward(np.array([[800.0], [0.0]]), np.array([[0.0], [1.0]])) == 800.0


def test_mse_is_half_the_mean_over_columns_of_the_summed_squares() -> None:
    predictions = np.array([[1.0, 2.0, 3.0, 4.0]])
    targets = np.array([[0.0, 2.0, 5.0, 4.0]])
    assert OPS["mse"].forward(predictions, targets) == (1.0 + 4.0) / (2 * 4)
    assert OPS["mse"].vjps[0](np.float64(1.0), None, predictions, targets).tolist() == [[0.25, 0.0, -0.5, 0.0]]


def test_bce_takes_logits_is_log_two_at_zero_and_never_overflows() -> None:
    bce = OPS["bce"]
    assert bce.forward(np.zeros((1, 3)), np.array([[0.0, 1.0, 1.0]])) == pytest.approx(np.log(2.0), rel=1e-15)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        confident = bce.forward(np.array([[1000.0, -1000.0]]), np.array([[1.0, 0.0]]))
        wrong = bce.forward(np.array([[1000.0, -1000.0]]), np.array([[0.0, 1.0]]))
    assert confident == 0.0 and wrong == 1000.0
    gradient = bce.vjps[0](np.float64(1.0), None, np.array([[0.0, 1000.0]]), np.array([[1.0, 1.0]]))
    assert gradient.tolist() == [[-0.25, 0.0]]


def test_sum_and_mean_along_an_axis_keep_it_and_spread_the_gradient_back() -> None:
    x = np.arange(6.0).reshape(2, 3)
    assert OPS["sum"].forward(x, axis=1).tolist() == [[3.0], [12.0]]
    assert OPS["mean"].forward(x, axis=0).tolist() == [[1.5, 2.5, 3.5]]
    assert OPS["sum"].vjps[0](np.array([[1.0], [2.0]]), None, x, axis=1).tolist() == [[1.0] * 3, [2.0] * 3]
    assert OPS["mean"].vjps[0](np.float64(6.0), None, x).tolist() == [[1.0] * 3] * 2
