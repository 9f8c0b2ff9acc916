"""Whatever is posted to /api/v1/trace, the answer is a 200 trace or a 4xx envelope: never a 5xx.

Programs are built from the language's own grammar (expressions, and named statements feeding a
last expression), from a soup of its tokens, and from either with junk (near-miss characters or any
Unicode text) spliced in. Values are drawn for the program's real inputs most of the time, so many
requests get far enough to compute; the rest are wrong in every way a client can be wrong. Example
counts are bounded so the file runs in a few seconds.
"""
from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine.errors import EngineError
from engine.ops import function_ops, infix_ops, prefix_ops
from engine.parse import parse

from .conftest import assert_envelope, strict_json

JSON = {"content-type": "application/json"}
TRACE = "/api/v1/trace"
STATE = "/api/v1/trace/state"

NAMES = ["x", "y", "z", "w", "b"]
NUMBERS = ["0", "1", "2", "0.5", ".5", "3e2", "709", "710", "1e308", "1e-320", "1e400", "00", "1.", "9" * 41]
FUNCTIONS = sorted(function_ops())
SYMBOLS = sorted({*infix_ops(), *prefix_ops(), "(", ")", ",", ";", "\n", "=", "#"})
NEAR_MISSES = ["[", "]", "{", "}", ".", ":", "'", '"', "@", "%", "//", "==", "<", "!", "\\", "$", "`", "lambda",
               "import", "if", "__import__", "__class__", "x.y", "\u2212", "\u00d7", "\u0445", "\uff08", "\u00a0",
               "\u200b", "\x00", "\r", "\t"]

names = st.sampled_from(NAMES)
numbers = st.sampled_from(NUMBERS)
junk = st.one_of(st.sampled_from(NEAR_MISSES), st.text(max_size=6))


def _call(name: str, arity: int, arguments: list[str]) -> str:
    return f"{name}({', '.join(arguments[:arity])})"


def expressions() -> st.SearchStrategy[str]:
    """Well-formed expressions of the language, nested a few levels."""
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.tuples(inner, st.sampled_from(sorted(infix_ops())), inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}")
        unary = inner.map(lambda e: f"-{e}")
        grouped = inner.map(lambda e: f"({e})")
        called = st.tuples(st.sampled_from(FUNCTIONS), st.lists(inner, min_size=2, max_size=2)).map(
            lambda t: _call(t[0], function_ops()[t[0]].arity, t[1]))
        return st.one_of(binary, unary, grouped, called)

    return st.recursive(st.one_of(names, numbers), extend, max_leaves=12)


def programs_of_statements() -> st.SearchStrategy[str]:
    """Statements such as `h0 = x * y`, then an expression that may use them: often runs to the end."""
    def program(parts: tuple[list[str], str, str]) -> str:
        assigned, last, separator = parts
        statements = [f"h{k} = {expression}" for k, expression in enumerate(assigned)]
        uses = " + ".join(f"h{k}" for k in range(len(assigned)))
        return separator.join([*statements, f"{last} * ({uses})" if uses else last])

    return st.tuples(st.lists(expressions(), max_size=3), expressions(), st.sampled_from(["\n", "; ", ";"])).map(
        program)


def token_soup() -> st.SearchStrategy[str]:
    token = st.one_of(names, numbers, st.sampled_from(SYMBOLS), st.sampled_from(FUNCTIONS).map(lambda f: f + "("),
                      junk)
    return st.lists(st.tuples(token, st.sampled_from(["", " "])), min_size=1, max_size=20).map(
        lambda pairs: "".join(text + space for text, space in pairs))


def spliced(program: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(program, junk, st.integers(min_value=0, max_value=200)).map(
        lambda t: t[0][: t[2] % (len(t[0]) + 1)] + t[1] + t[0][t[2] % (len(t[0]) + 1):])


sources = st.one_of(expressions(), expressions(), programs_of_statements(), programs_of_statements(),
                    token_soup(), spliced(programs_of_statements()), spliced(token_soup()))

finite = st.one_of(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
                   st.sampled_from([0, -0.0, 1, -1, 709, 710, 1e-320, 1e15, -1e15]))
non_finite = st.sampled_from([math.nan, math.inf, -math.inf])
vectors = st.lists(finite, min_size=1, max_size=3)
matrices = st.integers(min_value=1, max_value=3).flatmap(
    lambda columns: st.lists(st.lists(finite, min_size=columns, max_size=columns), min_size=1, max_size=3))
good_values = st.one_of(finite, finite, finite, finite, vectors, matrices)
bad_values = st.one_of(
    non_finite, st.floats(), st.integers(min_value=-10**20, max_value=10**20), st.lists(finite, max_size=4),
    st.lists(st.lists(finite, max_size=3), max_size=3), st.lists(non_finite, min_size=1, max_size=2),
    st.text(max_size=3), st.booleans(), st.none(), st.dictionaries(st.text(max_size=2), finite, max_size=2),
)
values = st.one_of(*[good_values] * 7, bad_values)


def inputs_of(source: str) -> list[str]:
    try:
        return list(parse(source).inputs)
    except EngineError:
        return []


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, dict]:
    source = draw(sources)
    names_used = inputs_of(source)
    if draw(st.integers(min_value=0, max_value=7)) != 7:  # most often: a value for each input, no more
        given_values = {name: draw(values) for name in names_used}
    else:
        given_values = draw(st.dictionaries(st.one_of(names, st.text(max_size=4)), values, max_size=4))
    body: dict = {"source": source, "values": given_values}
    if names_used and draw(st.booleans()):
        body["params"] = draw(st.lists(st.sampled_from([*names_used, "nope"]), max_size=3))
        body["learning_rate"] = draw(st.one_of(st.floats(min_value=1e-3, max_value=10), st.floats(), non_finite,
                                               st.none()))
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        body["gradcheck"] = True
    path = TRACE
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        path = STATE
        body["step"] = draw(st.integers(min_value=-2, max_value=60))
    return path, body


def check(response) -> None:
    event(f"status {response.status_code}")
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        assert_envelope(response)
    else:
        assert response.status_code == 200
        answer = strict_json(response.text)
        assert answer["nodes"] and answer["output"]


@settings(max_examples=600, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=requests())
def test_any_program_and_values_get_a_200_trace_or_a_4xx_envelope(client, drawn):
    path, body = drawn
    # json.dumps writes NaN and Infinity as bare tokens, as a careless client would
    check(client.post(path, content=json.dumps(body).encode(), headers=JSON))


JSON_PIECES = [b"{", b"}", b"[", b"]", b",", b":", b'"x"', b'"y"', b"1", b"-2.5", b"NaN", b"-Infinity", b"1e400",
               b"null", b"true", b'"\\ud800"', b"\xff", b"\x00", b" "]
raw_values = st.one_of(st.binary(max_size=40),
                       st.lists(st.sampled_from(JSON_PIECES), max_size=16).map(b"".join))


@settings(max_examples=200, deadline=None, database=None)
@given(source=st.one_of(expressions(), token_soup()), raw=raw_values)
def test_raw_bytes_after_a_program_get_a_200_or_a_4xx_envelope(client, source, raw):
    body = b'{"source": ' + json.dumps(source).encode() + b', "values": ' + raw + b"}"
    check(client.post(TRACE, content=body, headers=JSON))
