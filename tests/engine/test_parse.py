"""engine/parse.py: the expression language, and every way a program can be refused.

Each refusal must be an EngineError subclass with a stable code and, for the source, the line and
column a student should look at; it must come quickly (the 1 s bound is a hang guard, not a speed
test) and never as RecursionError or MemoryError.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from engine.errors import EngineError, LimitError, SourceError, ValueInputError
from engine.graph import CONST, INPUT
from engine.limits import LIMITS
from engine.ops import function_ops
from engine.parse import parse, tokenize
from engine.trace import trace

HANG_GUARD_SECONDS = 1.0


def output_of(source: str, **values: float) -> float:
    result = trace(source, values)
    return float(result.values[result.graph.output])


def refused(source: str, values: dict[str, Any] | None = None, limits=LIMITS) -> EngineError:
    """Run the program; return the EngineError it raised, failing on anything else or on a slow answer."""
    started = time.perf_counter()
    try:
        trace(source, values or {}, limits=limits)
    except EngineError as error:
        elapsed = time.perf_counter() - started
        assert elapsed < HANG_GUARD_SECONDS, f"took {elapsed:.2f} s to refuse"
        return error
    except (RecursionError, MemoryError) as error:  # pragma: no cover - the point of the test
        pytest.fail(f"{type(error).__name__} instead of an EngineError")
    pytest.fail("the program was accepted")


# ---- What the language means --------------------------------------------------------------------

@pytest.mark.parametrize(("source", "expected"), [
    ("2 ** 3 ** 2", 512.0),
    ("2 ^ 3 ^ 2", 512.0),
    ("(2 ** 3) ** 2", 64.0),
    ("-3 ** 2", -9.0),
    ("2 ** -1", 0.5),
    ("1 - 2 - 3", -4.0),
    ("8 / 4 / 2", 1.0),
    ("2 + 3 * 4", 14.0),
    ("(2 + 3) * 4", 20.0),
    ("--3", 3.0),
    ("+3 - +2", 1.0),
    ("-2 * -3", 6.0),
    ("2 * 3 ** 2", 18.0),
    ("1.5e2 + .5 + 1. + 2E-1", 151.7),
    ("max(1, 2) + min(1, 2)", 3.0),
    ("exp(0) + log(1) + sqrt(9) + abs(-4)", 8.0),
])
def test_precedence_and_associativity(source: str, expected: float) -> None:
    assert output_of(source) == pytest.approx(expected, rel=1e-15)


def test_minus_x_squared_is_minus_the_square_of_x() -> None:
    assert output_of("-x**2", x=3.0) == -9.0
    assert output_of("-x^2", x=-3.0) == -9.0


def test_statements_end_at_new_lines_or_semicolons_and_the_last_is_the_output() -> None:
    assert output_of("a = x + 1; b = a * 2\nc = b - 3", x=1.0) == 1.0
    assert output_of("a = x + 1\n\n# a comment line\nb = a * 10  # trailing comment\n", x=1.0) == 20.0
    assert output_of("a = x + 1;;\n;\n  a * 3", x=1.0) == 6.0


def test_new_lines_inside_parentheses_continue_the_statement() -> None:
    assert output_of("f = (x +\n     y) * 2", x=1.0, y=2.0) == 6.0


def test_worked_example_graph_has_named_inputs_and_intermediates() -> None:
    graph = parse("q = x + y\nf = q * z")
    assert [(n.id, n.op, n.label, n.inputs) for n in graph.nodes] == [
        ("n0", INPUT, "x", ()), ("n1", INPUT, "y", ()), ("n2", "add", "q", (0, 1)),
        ("n3", INPUT, "z", ()), ("n4", "mul", "f", (2, 3)),
    ]
    assert graph.inputs == {"x": 0, "y": 1, "z": 3}
    assert graph.output == 4


def test_a_name_used_twice_is_one_node() -> None:
    graph = parse("f = x * x + x")
    assert [n.op for n in graph.nodes] == [INPUT, "mul", "add"]
    assert graph.nodes[1].inputs == (0, 0)
    assert graph.nodes[2].inputs == (1, 0)


def test_an_assigned_name_refers_to_its_node() -> None:
    graph = parse("a = x * 2\nb = a + a")
    assert graph.nodes[-1].inputs == (2, 2)
    assert graph.inputs == {"x": 0}


def test_naming_a_named_node_again_records_an_alias() -> None:
    graph = parse("a = x\nb = a")
    assert len(graph.nodes) == 1
    assert graph.nodes[0].label == "x" and graph.nodes[0].aliases == ("a", "b")


def test_constants_keep_the_text_they_were_written_with() -> None:
    graph = parse("f = 2.50 * x + 1e-3")
    constants = [(n.label, n.constant) for n in graph.nodes if n.op == CONST]
    assert constants == [("2.50", 2.5), ("1e-3", 0.001)]


def test_unnamed_nodes_are_labelled_with_their_source_text() -> None:
    graph = parse("f = (x + y) * exp(z)")
    labels = [n.label for n in graph.nodes]
    assert labels == ["x", "y", "x + y", "z", "exp(z)", "f"]


def test_a_long_unnamed_expression_gets_a_short_generic_label() -> None:
    graph = parse("f = (alpha_long_name + beta_long_name) * 2")
    assert graph.nodes[2].label == "… + …"


def test_node_spans_point_at_the_source_text() -> None:
    graph = parse("q = x + y\nf = q * (\n  z)")
    spans = {n.label: n.span.to_dict() for n in graph.nodes}
    assert spans["q"] == {"line": 1, "column": 5, "end_line": 1, "end_column": 10}
    assert spans["z"] == {"line": 3, "column": 3, "end_line": 3, "end_column": 4}
    assert spans["f"] == {"line": 2, "column": 5, "end_line": 3, "end_column": 5}


def test_tokens_carry_line_and_column() -> None:
    tokens = tokenize("a = 1\n  bb ** 2")
    assert [(t.kind, t.text, t.line, t.column) for t in tokens] == [
        ("name", "a", 1, 1), ("symbol", "=", 1, 3), ("number", "1", 1, 5), ("newline", "\n", 1, 6),
        ("name", "bb", 2, 3), ("symbol", "**", 2, 6), ("number", "2", 2, 9), ("end", "", 2, 10),
    ]


# ---- Syntax errors: the right line and column ----------------------------------------------------

@pytest.mark.parametrize(("source", "line", "column", "fragment"), [
    ("q = x + y\nf = q * * z", 2, 9, "found '*'"),
    ("q = x + y\nf = q * z +\n", 2, 12, "found the end of the line"),
    ("a = 1\nb = a $ 3", 2, 7, "'$'"),
    ("a = 1\n\n   b = a 2", 3, 10, "expected an operator such as * before '2'"),
    ("f = (x +\n   * y)", 2, 4, "found '*'"),
    ("a = 1; b = ; c = 2", 1, 12, "found ';'"),
    ("# first\n# second\nf = (x + 1", 3, 11, "expected ')' to close the '(' at line 3, column 5"),
    ("a = 1\nb = a)", 2, 6, "no matching '('"),
    ("a = 1\nb = 2 = 3", 2, 7, "only a plain name can stand left of '='"),
    ("a = 1\nf(x) = 2", 2, 1, "unknown function 'f'"),
    ("x = ", 1, 5, "found the end of the program"),
    ("a = 1\n\tb = a ,", 2, 8, "found ','"),
])
def test_syntax_errors_point_at_the_line_and_column(source: str, line: int, column: int, fragment: str) -> None:
    error = refused(source)
    assert isinstance(error, SourceError)
    assert (error.line, error.column) == (line, column)
    assert error.where == {"line": line, "column": column}
    assert fragment in error.message
    assert error.message.startswith(f"line {line}, column {column}: ")


def test_an_empty_program_asks_for_an_expression() -> None:
    for source in ("", "   \n\n", "# only a comment", ";;"):
        error = refused(source)
        assert isinstance(error, SourceError) and error.code == "empty_program"


# ---- Outside the language ------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "values", "code", "line", "column", "fragment"), [
    ("lambda x: x", {}, "not_the_language", 1, 1, "'lambda' is a Python keyword"),
    ("f = x: x", {"x": 1}, "not_the_language", 1, 6, "no lambdas"),
    ("lambda", {}, "not_the_language", 1, 1, "'lambda' is a Python keyword"),
    ("import os", {}, "not_the_language", 1, 1, "'import' is a Python keyword"),
    ("a = 1\nfrom_ = 2\nimport x", {}, "not_the_language", 3, 1, "'import' is a Python keyword"),
    ("f = x if x else 1", {"x": 1}, "not_the_language", 1, 7, "'if' is a Python keyword"),
    ("f = x for x", {"x": 1}, "not_the_language", 1, 7, "'for' is a Python keyword"),
    ("f = not x", {"x": 1}, "not_the_language", 1, 5, "'not' is a Python keyword"),
    ("f = 'abc'", {}, "not_the_language", 1, 5, "strings are not part of the language"),
    ('f = "abc"', {}, "not_the_language", 1, 5, "strings are not part of the language"),
    ("f = x.real", {"x": 1}, "not_the_language", 1, 6, "attribute access"),
    ("f = x[0]", {"x": 1}, "not_the_language", 1, 6, "indexing"),
    ("f = __x + 1", {}, "not_the_language", 1, 5, "double underscore"),
    ("f = __import__(x)", {}, "not_the_language", 1, 5, "double underscore"),
    ("__import__('os')", {}, "not_the_language", 1, 1, "double underscore (like '__import__')"),
    ("__import__('os').system('ls')", {}, "not_the_language", 1, 1, "double underscore"),
    ("f = exp('os')", {}, "not_the_language", 1, 9, "strings are not part of the language"),
    ("f = x == 1", {"x": 1}, "not_the_language", 1, 7, "comparisons"),
    ("f = x // 2", {"x": 1}, "not_the_language", 1, 7, "'//'"),
    ("f = x % 2", {"x": 1}, "not_the_language", 1, 7, "'%'"),
    ("f = {}", {}, "not_the_language", 1, 5, "braces"),
    ("f = exp", {}, "bad_call", 1, 5, "'exp' is a function: call it like exp(x)"),
    ("exp = 2", {}, "bad_assignment", 1, 1, "'exp' is a function and cannot be assigned"),
])
def test_python_that_is_not_the_language_is_refused(source: str, values: dict, code: str, line: int,
                                                     column: int, fragment: str) -> None:
    error = refused(source, values)
    assert isinstance(error, SourceError)
    assert (error.code, error.line, error.column) == (code, line, column)
    assert fragment in error.message


# ---- Reading order: the first thing wrong is the one reported -------------------------------------

# Each is refused by the tokenizer wherever it stands: a keyword, a double underscore, a string, a
# comparison, a character outside the language, an overlong name.
NOT_TOKENS = [("if", "'if' is a Python keyword"), ("__x", "double underscore"), ("'s'", "strings"),
              ("==", "comparisons"), ("\u2212", "U+2212"), ("n" * (LIMITS.max_name_chars + 1), "max_name_chars")]


@pytest.mark.parametrize(("bad", "fragment"), NOT_TOKENS, ids=[fragment for _, fragment in NOT_TOKENS])
def test_a_token_outside_the_language_is_reported_where_it_stands_in_reading_order(bad: str, fragment: str) -> None:
    # first in the program: it is the error, at column 5
    error = refused(f"f = {bad} + x", {"x": 1})
    assert (error.line, error.column) == (1, 5) and fragment in error.message
    # after a syntax error: the syntax error comes first, though the tokenizer read the bad token already
    error = refused(f"f = x + * {bad}", {"x": 1})
    assert (error.code, error.line, error.column) == ("syntax_error", 1, 9)
    assert "found '*'" in error.message
    # after an earlier statement with a syntax error on another line
    error = refused(f"a = (x\nb = {bad}", {"x": 1})
    assert error.code == "syntax_error" and "expected ')'" in error.message
    # on line 2 of a good program: line 2, column 5
    error = refused(f"a = x * 2\nb = {bad}", {"x": 1})
    assert (error.line, error.column) == (2, 5) and fragment in error.message


def test_reading_order_holds_across_token_batches() -> None:
    # The tokenizer works a batch of tokens ahead of the parser: a syntax error in the first batch
    # still comes before a bad token in the same or the next batch.
    prefix = "f = " + " + ".join(["x"] * 200)  # 401 tokens
    error = refused(prefix + " + * " + "x + " * 100 + "__import__('os')", {"x": 1})
    assert (error.code, error.column) == ("syntax_error", len(prefix) + 4)
    error = refused(prefix + " + " + "x + " * 100 + "__import__('os')", {"x": 1})
    assert error.code == "not_the_language" and "double underscore" in error.message
    assert error.column == len(prefix) + 4 + 4 * 100


def test_the_first_of_two_bad_tokens_is_reported() -> None:
    error = refused("f = import + 'a'")
    assert (error.column, error.code) == (5, "not_the_language") and "'import'" in error.message
    error = refused("f = 'a' + import")
    assert error.column == 5 and "strings" in error.message


def test_tokenize_raises_the_first_bad_tokens_error() -> None:
    with pytest.raises(SourceError) as caught:
        tokenize("x + 1\ny = __import__('os')")
    assert (caught.value.line, caught.value.column) == (2, 5) and "double underscore" in caught.value.message


def test_a_cyrillic_look_alike_letter_is_named_and_located() -> None:
    error = refused("y = 1\nf = \u0445 + y")  # 'х' is CYRILLIC SMALL LETTER HA, not Latin x
    assert isinstance(error, SourceError)
    assert (error.code, error.line, error.column) == ("not_the_language", 2, 5)
    assert "U+0445 CYRILLIC SMALL LETTER HA" in error.message


def test_a_unicode_minus_sign_suggests_the_ascii_hyphen() -> None:
    error = refused("f = x \u2212 1", {"x": 1})
    assert isinstance(error, SourceError)
    assert (error.code, error.line, error.column) == ("not_the_language", 1, 7)
    assert "U+2212 MINUS SIGN" in error.message and "type '-' instead" in error.message


def test_a_no_break_space_suggests_a_plain_space() -> None:
    error = refused("f = x\u00a0+ 1", {"x": 1})
    assert (error.code, error.column) == ("not_the_language", 6)
    assert "type a space instead" in error.message


def test_unknown_function_lists_every_allowed_function() -> None:
    error = refused("f = softplus(x)", {"x": 1})
    assert isinstance(error, SourceError)
    assert (error.code, error.line, error.column) == ("unknown_function", 1, 5)
    assert "unknown function 'softplus'" in error.message
    allowed = error.message.split("the functions are ", 1)[1]
    assert allowed.split(", ") == sorted(function_ops())


@pytest.mark.parametrize(("source", "fragment"), [
    ("max(x)", "max takes 2 arguments, got 1"),
    ("exp(x, x)", "exp takes 1 argument, got 2"),
    ("tanh()", "tanh takes 1 argument, got 0"),
    ("min(x, x, x)", "min takes 2 arguments, got 3"),
])
def test_wrong_number_of_arguments_names_the_arity(source: str, fragment: str) -> None:
    error = refused(source, {"x": 1})
    assert isinstance(error, SourceError) and error.code == "bad_call"
    assert (error.line, error.column) == (1, 1)
    assert fragment in error.message


def test_reassigning_a_name_is_refused_at_the_second_assignment() -> None:
    error = refused("a = x + 1\nb = a * 2\na = b", {"x": 1})
    assert isinstance(error, SourceError)
    assert (error.code, error.line, error.column) == ("bad_assignment", 3, 1)
    assert "'a' is already assigned on line 1" in error.message


def test_a_name_used_before_it_is_assigned_is_refused() -> None:
    error = refused("b = a + 1\na = 2")
    assert (error.code, error.line, error.column) == ("bad_assignment", 2, 1)
    assert "'a' is used on line 1 before it is assigned here" in error.message


def test_a_name_used_in_its_own_assignment_is_refused() -> None:
    error = refused("a = a + 1", {"a": 1})
    assert (error.code, error.line, error.column) == ("bad_assignment", 1, 1)
    assert "used on the right of its own assignment" in error.message


def test_a_number_beyond_float64_is_refused() -> None:
    error = refused("f = 1e999 * x", {"x": 1})
    assert (error.code, error.line, error.column) == ("bad_number", 1, 5)


# ---- Values that do not match the program --------------------------------------------------------

def test_a_missing_value_names_the_input_and_where_it_is_first_used() -> None:
    error = refused("q = x + y\nf = q * z", {"x": 1, "y": 2})
    assert isinstance(error, ValueInputError)
    assert error.code == "missing_value" and error.where == {"field": "values.z"}
    assert "no value given for 'z' (first used at line 2, column 9)" in error.message


def test_a_value_for_a_name_the_program_does_not_use_is_refused() -> None:
    error = refused("f = x * 2", {"x": 1, "w": 3})
    assert isinstance(error, ValueInputError)
    assert error.code == "unused_value" and error.where == {"field": "values.w"}
    assert "'w'" in error.message and "its inputs are x" in error.message


def test_a_value_for_an_assigned_name_is_refused() -> None:
    error = refused("a = 2\nf = a * x", {"x": 1, "a": 5})
    assert error.code == "unused_value" and error.where == {"field": "values.a"}


# ---- Size caps -----------------------------------------------------------------------------------

def test_a_100_kb_program_is_refused_before_it_is_read() -> None:
    error = refused("x + " * 25_000 + "x", {"x": 1})
    assert isinstance(error, LimitError)
    assert (error.code, error.limit) == ("limit_exceeded", "max_source_chars")
    assert error.where == {"field": "source"}


def test_ten_thousand_nested_parentheses_hit_the_depth_cap() -> None:
    error = refused("(" * 10_000 + "x" + ")" * 10_000, {"x": 1})
    assert isinstance(error, LimitError) and error.limit == "max_depth"
    assert (error.line, error.column) == (1, LIMITS.max_depth + 1)


@pytest.mark.parametrize("source", [
    pytest.param("-" * 10_000 + "x", id="unary-minus"),
    pytest.param("exp(" * 5_000 + "x" + ")" * 5_000, id="calls"),
    pytest.param("x ** " * 5_000 + "x", id="right-associative-power"),
])
def test_deep_nesting_of_any_kind_hits_the_depth_cap(source: str) -> None:
    error = refused(source, {"x": 1})
    assert isinstance(error, LimitError) and error.limit == "max_depth"


INSIDE = LIMITS.max_depth - 1


def power_tower(base: float, height: int) -> float:
    value = base
    for _ in range(height - 1):
        value = base ** value
    return value


@pytest.mark.parametrize(("source", "expected"), [
    pytest.param("(" * INSIDE + "x" + ")" * INSIDE, 0.5, id="parentheses"),
    pytest.param("-" * INSIDE + "x", -0.5, id="unary-minus"),
    pytest.param("max(x, " * INSIDE + "x" + ")" * INSIDE, 0.5, id="calls"),
    pytest.param(" ** ".join(["x"] * LIMITS.max_depth), power_tower(0.5, LIMITS.max_depth),
                 id="right-associative-power"),
])
def test_nesting_just_inside_the_depth_cap_evaluates(source: str, expected: float) -> None:
    assert output_of(source, x=0.5) == pytest.approx(expected, rel=1e-15)


def test_a_100000_term_chain_is_refused_by_the_size_cap() -> None:
    error = refused(" + ".join(["x"] * 100_000), {"x": 1})
    assert isinstance(error, LimitError) and error.limit == "max_source_chars"


def test_a_100000_term_chain_within_a_raised_size_cap_is_refused_by_the_node_cap() -> None:
    limits = LIMITS.raised(max_source_chars=1_000_000)
    error = refused("+".join(["x"] * 100_000), {"x": 1}, limits=limits)
    assert isinstance(error, LimitError) and error.limit == "max_nodes"


def test_more_nodes_than_the_cap_is_refused_with_the_place_it_happened() -> None:
    error = refused("+".join(["x"] * (LIMITS.max_nodes + 2)), {"x": 1})
    assert isinstance(error, LimitError) and error.limit == "max_nodes"
    assert error.details == {"limit": "max_nodes", "value": LIMITS.max_nodes}
    assert error.line == 1


def test_a_tiny_node_cap_counts_inputs_constants_and_operations() -> None:
    limits = LIMITS.raised(max_nodes=5)
    assert len(trace("f = x * 2 + 1", {"x": 1}, limits=limits).graph.nodes) == 5
    error = refused("f = x * 2 + 1 - x", {"x": 1}, limits=limits)
    assert error.limit == "max_nodes"


def test_more_statements_than_the_cap_is_refused() -> None:
    limits = LIMITS.raised(max_statements=3)
    error = refused("a = x\nb = a\nc = b\nd = c", {"x": 1}, limits=limits)
    assert isinstance(error, LimitError) and error.limit == "max_statements"
    assert (error.line, error.column) == (4, 1)


def test_overlong_names_and_numbers_are_refused() -> None:
    name = "n" * (LIMITS.max_name_chars + 1)
    error = refused(f"f = {name} + 1", {name: 1})
    assert isinstance(error, LimitError) and error.limit == "max_name_chars"
    assert (error.line, error.column) == (1, 5)
    error = refused("f = " + "1" * (LIMITS.max_number_chars + 1))
    assert isinstance(error, LimitError) and error.limit == "max_number_chars"


@pytest.mark.parametrize("source", [
    pytest.param("x " + "1" * 40_000, id="number-after-name"),
    pytest.param("x " + "1." + "5" * 40_000, id="decimal-after-name"),
    pytest.param("(x " + "1" * 40_000 + ")", id="number-in-parentheses"),
    pytest.param("x " + "y" * 40_000, id="name-after-name"),
    pytest.param("__" + "a" * 40_000, id="double-underscore-name"),
    pytest.param("f = " + "a" * 40_000 + "(x)", id="unknown-function"),
])
def test_messages_never_echo_a_huge_token(source: str) -> None:
    error = refused(source, {"x": 1})
    assert len(error.message) < 200, error.message[:300]


def test_a_long_token_in_a_message_is_shortened_with_an_ellipsis() -> None:
    error = refused("x " + "123456789" * 5, {"x": 1})
    assert error.message == "line 1, column 3: expected an operator such as * before '12345678912345678912…'"


def test_a_program_of_many_short_statements_is_refused_quickly() -> None:
    error = refused("x;" * 24_000, {"x": 1})
    assert isinstance(error, LimitError) and error.limit == "max_statements"


def test_long_sums_within_the_caps_parse_and_add_up() -> None:
    source = "+".join(["x"] * 2_499)
    assert len(parse(source).nodes) == 2_499
    error = refused(" + ".join(["x"] * 12_000), {"x": 1})
    assert error.limit == "max_nodes"
    assert np.isclose(output_of(" + ".join(["x"] * 1_000), x=0.5), 500.0)


# ---- Tensors: @, and the axis of sum and mean ----------------------------------------------------

W = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
X = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]


def test_at_is_the_matrix_product_and_binds_like_times() -> None:
    result = trace("Z = W @ X + b", {"W": W, "X": X, "b": [[10.0], [20.0]]})
    assert result.values[result.graph.output].tolist() == [[14.0, 15.0], [30.0, 31.0]]
    assert [node.op for node in result.graph.nodes if not node.is_leaf] == ["matmul", "add"]
    # same precedence as *, left to right: 2 * W @ X is (2 * W) @ X, W @ X * 2 is (W @ X) * 2
    for source in ("2 * W @ X", "W @ X * 2"):
        graph = parse(source)
        assert [graph.nodes[i].op for i in range(len(graph.nodes)) if not graph.nodes[i].is_leaf] == (
            ["mul", "matmul"] if source.startswith("2") else ["matmul", "mul"])
    assert output_of("2 @ 3") == 6.0  # a number is a 1x1 matrix


@pytest.mark.parametrize(("source", "expected"), [
    ("sum(W)", 21.0),
    ("sum(W, 0)", [[5.0, 7.0, 9.0]]),
    ("sum(W, 1)", [[6.0], [15.0]]),
    ("sum(W, axis=1)", [[6.0], [15.0]]),
    ("sum( W ,axis = 0 )", [[5.0, 7.0, 9.0]]),
    ("mean(W)", 3.5),
    ("mean(W, 1)", [[2.0], [5.0]]),
    ("transpose(W)", [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]),
])
def test_sum_and_mean_take_an_optional_axis_and_keep_it(source: str, expected: Any) -> None:
    result = trace(source, {"W": W})
    value = result.values[result.graph.output]
    assert (value.tolist() if isinstance(value, np.ndarray) else float(value)) == expected


def test_an_axis_is_a_setting_of_the_node_not_an_input() -> None:
    graph = parse("s = sum(W, 1)")
    assert [node.op for node in graph.nodes] == [INPUT, "sum"]
    assert graph.nodes[1].settings == {"axis": 1}
    result = trace("s = sum(W, 1)", {"W": W})
    assert result.to_dict()["nodes"][1]["settings"] == {"axis": 1}
    assert result.steps[1].formula == "s = sum(W, 1) = sum(tensor(2×3), 1) = tensor(2×1)"


@pytest.mark.parametrize(("source", "column", "fragment"), [
    ("f = sum(W, 2)", 12, "the axis of sum(...) must be written as the number 0 or 1, found '2'"),
    ("f = sum(W, x)", 12, "the axis of sum(...) must be written as the number 0 or 1, found 'x'"),
    ("f = sum(W, -1)", 12, "must be written as the number 0 or 1, found '-'"),
    ("f = sum(W, 1.0)", 12, "found '1.0'"),
    ("f = mean(W, axis=3)", 18, "the axis of mean(...) must be written as the number 0 or 1, found '3'"),
    ("f = sum(W, 1, 0)", 15, "sum takes at most 2 arguments"),
    ("f = sum()", 5, "sum takes 1 argument and an optional axis (0 or 1), got 0"),
    ("f = exp(W, 1)", 5, "exp takes 1 argument, got 2"),
])
def test_a_bad_axis_is_refused_where_it_is_written(source: str, column: int, fragment: str) -> None:
    error = refused(source, {"W": W, "x": 1})
    assert isinstance(error, SourceError) and error.code == "bad_call"
    assert (error.line, error.column) == (1, column)
    assert fragment in error.message


@pytest.mark.parametrize(("source", "values", "column", "fragment"), [
    ("y = 1\nZ = W @ V", {"W": W, "V": W}, 5,
     "'@' cannot combine W (shape [2, 3]) and V (shape [2, 3]): a 2×3 matrix @ a 2×3 matrix needs the left's "
     "3 columns to equal the right's 2 rows"),
    ("y = 1\nZ = W @ 2", {"W": W}, 5, "a 2×3 matrix @ a number needs the left's 3 columns to equal the right's 1 row"),
    ("y = 1\nZ = sum(v, 1)", {"v": [1.0, 2.0]}, 5,
     "sum(...) cannot take v (shape [2]): axis 1 needs a tensor with at least 2 axes, but this is a vector of 2"),
    ("y = 1\nL = cross_entropy(W, X)", {"W": W, "X": X}, 5,
     "cross_entropy(...) cannot combine W (shape [2, 3]) and X (shape [3, 2]): cross_entropy needs its two "
     "arguments to have the same shape"),
    ("y = 1\nL = mse(W, 1)", {"W": W}, 5, "mse needs its two arguments to have the same shape, not a 2×3 matrix "
     "and a number"),
])
def test_shape_errors_name_both_shapes_and_the_place(source: str, values: dict, column: int, fragment: str) -> None:
    error = refused(source, values)
    assert isinstance(error, SourceError) and error.code == "shape_mismatch"
    assert (error.line, error.column) == (2, column)
    assert fragment in error.message, error.message
