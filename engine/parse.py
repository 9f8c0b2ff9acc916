"""The expression language, parsed by a small Pratt parser straight into a Graph.

    q = x + y        # statements end at a new line or ';'
    f = q * z        # the last statement is the output; unassigned names are inputs

Operators, their precedence and the function names all come from the op table. Every cap in
engine.limits is enforced while reading, so oversized input stops early with a clear message.
Nothing here ever hands user text to eval, exec, compile or ast.
"""
from __future__ import annotations

import keyword
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterator

from .errors import EngineError, LimitError, SourceError
from .graph import Graph, Span
from .limits import LIMITS, Limits
from .ops import Op, function_ops, infix_ops, prefix_ops

# Leading blanks are part of each token's match: one regex call per token.
_TOKEN = re.compile(
    r"""
    [ \t\r\f]*
    (?:
      (?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<symbol>\*\*|==|!=|<=|>=|//|[-+*/^@(),=;<>%])
    | (?P<newline>\n)
    | (?P<comment>\#[^\n]*)
    )
    """,
    re.VERBOSE,
)
_BLANKS = re.compile(r"[ \t\r\f]*")

_WORD = re.compile(r"\S+")

_LOOK_ALIKES = {
    "\u2212": "-", "\u2013": "-", "\u2014": "-", "\u00d7": "*", "\u00b7": "*", "\u22c5": "*",
    "\u2217": "*", "\u00f7": "/", "\u2215": "/", "\uff08": "(", "\uff09": ")", "\uff0c": ",",
    "\uff1d": "=", "\uff1b": ";", "\u00a0": "a space",
}

_NOT_THE_LANGUAGE = {
    ".": "attribute access like a.b is not part of the language (decimal numbers such as 0.5 are fine)",
    "[": "indexing with [ ] is not part of the language; give tensors as values instead",
    "]": "indexing with [ ] is not part of the language; give tensors as values instead",
    "'": "strings are not part of the language",
    '"': "strings are not part of the language",
    ":": "':' is not part of the language (no lambdas, slices or blocks)",
    "{": "braces are not part of the language",
    "}": "braces are not part of the language",
    "==": "comparisons are not part of the language",
    "!=": "comparisons are not part of the language",
    "<=": "comparisons are not part of the language",
    ">=": "comparisons are not part of the language",
    "<": "comparisons are not part of the language",
    ">": "comparisons are not part of the language",
    "//": "'//' is not an operator here; use / to divide",
    "%": "'%' is not an operator here",
}

_SOFT_KEYWORDS = frozenset(getattr(keyword, "softkwlist", ())) - {"_"}
_KEYWORDS = frozenset(keyword.kwlist) | _SOFT_KEYWORDS


@dataclass(slots=True)
class Token:
    kind: str  # number, name, symbol, newline, end; or error: the first thing that is not the language
    text: str
    line: int
    column: int
    start: int
    end: int
    error: EngineError | None = None  # of an error token: what to tell the student when the parser reaches it

    def describe(self) -> str:
        if self.kind == "end":
            return "the end of the program"
        if self.kind == "newline":
            return "the end of the line"
        # NOTE: messages never echo a huge token back (a 40,000-digit number is one token)
        return f"'{self.text}'" if len(self.text) <= 24 else f"'{self.text[:20]}…'"


def _bad_character(char: str) -> str:
    if char in _NOT_THE_LANGUAGE:
        return _NOT_THE_LANGUAGE[char]
    if ord(char) > 127:
        name = unicodedata.name(char, "unnamed character")
        hint = _LOOK_ALIKES.get(char)
        advice = f"type {hint!r} instead" if hint and len(hint) == 1 else (
            f"type {hint} instead" if hint else "use plain ASCII letters, digits and operators")
        return f"the character '{char}' (U+{ord(char):04X} {name}) is not allowed: {advice}"
    return f"the character {char!r} is not part of the language"


def _bad_name(name: str, line: int, column: int, limits: Limits) -> EngineError:
    if len(name) > limits.max_name_chars:
        return LimitError(f"line {line}, column {column}: the name is longer than {limits.max_name_chars} "
                          "characters (max_name_chars)", "max_name_chars", limits.max_name_chars,
                          line=line, column=column)
    if name in _KEYWORDS:
        return SourceError(f"'{name}' is a Python keyword, not part of this language: write numbers, names, "
                           "operators and function calls", line, column, code="not_the_language")
    return SourceError(f"names with a double underscore (like '{name}') are not allowed", line, column,
                       code="not_the_language")


def tokenize(source: str, limits: Limits = LIMITS) -> list[Token]:
    """Every token of the program, or the error of the first one that is not the language."""
    tokens = [token for batch in token_batches(source, limits) for token in batch]
    for token in tokens:
        if token.error is not None:
            raise token.error
    return tokens


# Tokens are made a batch at a time as the parser reaches them, so a program over a cap is refused
# when the parser gets there, without tokenizing the rest of it first.
TOKEN_BATCH = 512

# NOTE: what the tokenizer refuses (a quote, a keyword, a double underscore, a look-alike character)
# becomes an error token that ends the stream, and is raised only when the parser reaches it. So the
# student hears of the first thing wrong in reading order: in __import__('os') the name at column 1,
# not the quote at column 12 that the tokenizer happens to meet while reading ahead.


def token_batches(source: str, limits: Limits = LIMITS) -> Iterator[list[Token]]:
    if len(source) > limits.max_source_chars:
        raise LimitError(
            f"the program has {len(source)} characters; the cap is {limits.max_source_chars} (max_source_chars)",
            "max_source_chars", limits.max_source_chars, field="source",
        )
    tokens: list[Token] = []
    append = tokens.append
    line, line_start, position, parens = 1, 0, 0, 0
    match = _TOKEN.match
    length = len(source)
    max_name_chars = limits.max_name_chars
    while position < length:
        found = match(source, position)
        if found is None:
            position = _BLANKS.match(source, position).end()
            if position == length:
                break
            column = position - line_start + 1
            append(_error_token(SourceError(_bad_character(source[position]), line, column, code="not_the_language"),
                                line, column, position))
            break
        kind = found.lastgroup
        start, end = found.span(kind)
        if kind == "name":
            text = found.group(kind)
            if len(text) > max_name_chars or "__" in text or text in _KEYWORDS:
                column = start - line_start + 1
                append(_error_token(_bad_name(text, line, column, limits), line, column, start))
                break
            append(Token("name", text, line, start - line_start + 1, start, end))
        elif kind == "newline":
            if parens == 0:
                append(Token("newline", "\n", line, start - line_start + 1, start, end))
            line, line_start = line + 1, end
        elif kind == "symbol":
            text = found.group(kind)
            if text in _NOT_THE_LANGUAGE:
                column = start - line_start + 1
                append(_error_token(SourceError(_NOT_THE_LANGUAGE[text], line, column, code="not_the_language"),
                                    line, column, start))
                break
            if text == "(":
                parens += 1
            elif text == ")" and parens:
                parens -= 1
            append(Token("symbol", text, line, start - line_start + 1, start, end))
        elif kind != "comment":
            append(Token(kind, found.group(kind), line, start - line_start + 1, start, end))
        position = end
        if len(tokens) >= TOKEN_BATCH:
            yield tokens
            tokens = []
            append = tokens.append
    append(Token("end", "", line, position - line_start + 1, position, position))
    yield tokens


def _error_token(error: EngineError, line: int, column: int, start: int) -> Token:
    return Token("error", "", line, column, start, start, error)


@dataclass(slots=True)
class _Operand:
    index: int
    first: Token
    last: Token


class Parser:
    def __init__(self, source: str, limits: Limits = LIMITS) -> None:
        self.source = source
        self.limits = limits
        self._batches = token_batches(source, limits)
        self.tokens: list[Token] = next(self._batches)
        self.position = 0
        self.graph = Graph(limits=limits)
        self.assigned: dict[str, Token] = {}
        self.first_use: dict[str, Token] = {}
        self.named: dict[str, int] = {}
        self.infix = infix_ops()
        self.prefix = prefix_ops()
        self.functions = function_ops()

    # ---- tokens -------------------------------------------------------------------------

    def peek(self) -> Token:
        return self.tokens[self.position]  # advance() never moves past the final "end" token

    def peek_next(self) -> Token:
        if self.position + 1 >= len(self.tokens):
            self._more()
        return self.tokens[min(self.position + 1, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.position]
        if token.kind != "end":
            self.position += 1
            if self.position == len(self.tokens):
                self._more()
        return token

    def _more(self) -> None:
        """The next batch of tokens (the last batch ends with the "end" token, so there always is one)."""
        if self.tokens[-1].kind != "end":
            self.tokens.extend(next(self._batches))

    def fail(self, message: str, token: Token, code: str = "syntax_error") -> EngineError:
        if token.error is not None:  # the token is itself the first thing wrong, and says what
            return token.error
        return SourceError(message, token.line, token.column, code=code)

    def expect(self, text: str, context: str) -> Token:
        token = self.peek()
        if token.kind != "symbol" or token.text != text:
            raise self.fail(f"expected '{text}' {context}, found {token.describe()}", token)
        return self.advance()

    # ---- statements ---------------------------------------------------------------------

    def parse(self) -> Graph:
        statements = 0
        last: int | None = None
        while True:
            token = self.peek()
            if token.kind == "end":
                break
            if token.kind == "newline" or (token.kind == "symbol" and token.text == ";"):
                self.advance()
                continue
            statements += 1
            if statements > self.limits.max_statements:
                raise LimitError(
                    f"line {token.line}: the program has more than {self.limits.max_statements} statements "
                    "(max_statements)", "max_statements", self.limits.max_statements,
                    line=token.line, column=token.column)
            last = self.statement()
            after = self.peek()
            if after.kind not in ("newline", "end") and not (after.kind == "symbol" and after.text == ";"):
                raise self.missing_operator(after)
        if last is None:
            raise SourceError("the program is empty: write an expression such as (x + y) * z", 1, 1,
                              code="empty_program")
        self.graph.output = last
        return self.graph

    def statement(self) -> int:
        token = self.peek()
        if token.kind == "name" and self.peek_next().kind == "symbol" and self.peek_next().text == "=":
            self.check_assignable(token)
            self.advance()
            self.advance()
            value = self.expression(0, 1)
            if token.text in self.first_use:
                raise self.fail(f"'{token.text}' is used on the right of its own assignment; give the new value "
                                "a new name", token, "bad_assignment")
            self.assigned[token.text] = token
            self.named[token.text] = value.index
            self.graph.name_node(value.index, token.text)
            return value.index
        return self.expression(0, 1).index

    def check_assignable(self, token: Token) -> None:
        name = token.text
        if name in self.functions:
            raise self.fail(f"'{name}' is a function and cannot be assigned; choose another name", token,
                            "bad_assignment")
        if name in self.assigned:
            raise self.fail(f"'{name}' is already assigned on line {self.assigned[name].line}; choose a new name",
                            token, "bad_assignment")
        if name in self.first_use:
            raise self.fail(f"'{name}' is used on line {self.first_use[name].line} before it is assigned here; "
                            "move this assignment above that line", token, "bad_assignment")

    def missing_operator(self, token: Token) -> EngineError:
        if token.kind == "symbol" and token.text == "=":
            return self.fail("only a plain name can stand left of '=' (and '==' comparisons are not "
                             "part of the language)", token)
        if token.kind == "symbol" and token.text == ")":
            return self.fail("this ')' has no matching '('", token)
        if token.kind in ("name", "number") or token.text == "(":
            return self.fail(f"expected an operator such as * before {token.describe()}", token)
        return self.fail(f"expected an operator, a new line or ';', found {token.describe()}", token)

    # ---- expressions --------------------------------------------------------------------

    def expression(self, min_power: int, depth: int) -> _Operand:
        if depth > self.limits.max_depth:
            token = self.peek()
            raise LimitError(
                f"line {token.line}, column {token.column}: the expression is nested more than "
                f"{self.limits.max_depth} levels deep (max_depth); split it into named steps",
                "max_depth", self.limits.max_depth, line=token.line, column=token.column)
        left = self.operand(depth)
        while True:
            token = self.peek()
            if token.kind != "symbol":
                break
            op = self.infix.get(token.text)
            if op is None:
                if token.text in ("(", ")", ",", ";", "="):
                    break
                raise self.fail(f"'{token.text}' is not an operator in this language; the operators are "
                                f"{', '.join(sorted(self.infix))}", token, "not_the_language")
            if op.precedence < min_power:
                break
            self.advance()
            right = self.expression(op.precedence if op.right_assoc else op.precedence + 1, depth + 1)
            left = self.make(op, (left, right), left.first, right.last)
        return left

    def operand(self, depth: int) -> _Operand:
        token = self.advance()
        if token.kind == "number":
            return self.number(token)
        if token.kind == "name":
            nxt = self.peek()
            if nxt.kind == "symbol" and nxt.text == "(":
                return self.call(token, depth)
            return self.variable(token)
        if token.kind == "symbol":
            if token.text == "(":
                inner = self.expression(0, depth + 1)
                closing = self.expect(")", f"to close the '(' at line {token.line}, column {token.column}")
                return _Operand(inner.index, token, closing)
            if token.text == "+":
                inner = self.expression(self.prefix["-"].precedence, depth + 1)
                return _Operand(inner.index, token, inner.last)
            op = self.prefix.get(token.text)
            if op is not None:
                inner = self.expression(op.precedence, depth + 1)
                return self.make(op, (inner,), token, inner.last)
        raise self.fail(f"expected a number, a name or '(', found {token.describe()}", token)

    def number(self, token: Token) -> _Operand:
        if len(token.text) > self.limits.max_number_chars:
            raise LimitError(f"line {token.line}, column {token.column}: a number is written with more than "
                             f"{self.limits.max_number_chars} characters (max_number_chars)",
                             "max_number_chars", self.limits.max_number_chars, line=token.line, column=token.column)
        value = float(token.text)
        if not math.isfinite(value):
            raise self.fail(f"the number {token.text} is too large (the largest is about 1.8e308)", token,
                            "bad_number")
        node = self.graph.add_const(value, token.text, self.span(token, token))
        return _Operand(node.index, token, token)

    def variable(self, token: Token) -> _Operand:
        name = token.text
        known = self.named.get(name)
        if known is not None:
            return _Operand(known, token, token)
        if name in self.functions:
            raise self.fail(f"'{name}' is a function: call it like {name}(x)", token, "bad_call")
        self.first_use[name] = token
        node = self.graph.add_input(name, self.span(token, token))
        self.named[name] = node.index
        return _Operand(node.index, token, token)

    def call(self, name: Token, depth: int) -> _Operand:
        op = self.functions.get(name.text)
        if op is None:
            raise self.fail(f"unknown function '{name.text}'; the functions are {', '.join(sorted(self.functions))}",
                            name, "unknown_function")
        self.advance()
        arguments: list[_Operand] = []
        settings: dict[str, int] = {}
        if not (self.peek().kind == "symbol" and self.peek().text == ")"):
            while True:
                if len(arguments) == op.arity and op.settings:
                    self.setting(op, name, settings)
                else:
                    arguments.append(self.expression(0, depth + 1))
                if self.peek().kind == "symbol" and self.peek().text == ",":
                    self.advance()
                    continue
                break
        closing = self.expect(")", f"to close the call to {name.text}( at line {name.line}, column {name.column}")
        if len(arguments) != op.arity:
            plural = "argument" if op.arity == 1 else "arguments"
            optional = "".join(f" and an optional {s.name} ({' or '.join(map(str, s.choices))})" for s in op.settings)
            raise self.fail(f"{name.text} takes {op.arity} {plural}{optional}, got {len(arguments)}", name, "bad_call")
        return self.make(op, tuple(arguments), name, closing, settings or None)

    def setting(self, op: Op, name: Token, settings: dict[str, int]) -> None:
        """A constant after the arguments, such as the 1 of sum(x, 1): a plain whole number, or axis=1."""
        position = len(settings)
        if position >= len(op.settings):
            raise self.fail(f"{name.text} takes at most {op.arity + len(op.settings)} arguments", self.peek(),
                            "bad_call")
        expected = op.settings[position]
        token = self.peek()
        if token.kind == "name" and token.text == expected.name and self.peek_next().text == "=":
            self.advance()
            self.advance()
            token = self.peek()
        choices = " or ".join(str(choice) for choice in expected.choices)
        value = None
        if token.kind == "number" and re.fullmatch(r"[0-9]+", token.text) and len(token.text) <= 3:
            value = int(token.text)
        if value not in expected.choices:
            raise self.fail(f"the {expected.name} of {name.text}(...) must be written as the number {choices}, "
                            f"found {token.describe()}", token, "bad_call")
        self.advance()
        settings[expected.name] = value

    # ---- nodes --------------------------------------------------------------------------

    def span(self, first: Token, last: Token) -> Span:
        return Span(first.line, first.column, last.line, last.column + (last.end - last.start))  # tokens never span lines

    def short_text(self, start: int, end: int, most: int = 24) -> str | None:
        """The source between start and end with whitespace collapsed, or None if longer than `most`."""
        # NOTE: read a bounded slice only: in a long left-associative sum every node starts at the
        # first term, and reading each node's whole span would be quadratic.
        if end - start > 4 * most:
            return None
        text = self.source[start:end]
        if end - start > most or "  " in text or "\n" in text or "\t" in text or "#" in text:
            text = " ".join(_WORD.findall(text))
        return text if len(text) <= most else None

    def make(self, op: Op, operands: tuple[_Operand, ...], first: Token, last: Token,
             settings: dict[str, int] | None = None) -> _Operand:
        text = self.short_text(first.start, last.end)
        if text is None:
            text = op.text_of(settings, a="…", b="…")
        node = self.graph.add_op(op, tuple(o.index for o in operands), text, self.span(first, last), settings)
        return _Operand(node.index, first, last)


def parse(source: str, limits: Limits = LIMITS) -> Graph:
    return Parser(source, limits).parse()
