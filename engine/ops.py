"""THE op table.

Each primitive is declared once: how it is written, its forward rule and, right beside it, its
local derivative with respect to every input. Parsing, evaluation, the backward pass, the
/api/v1/ops listing, the docs and the per-op gradient tests all read this table.

Arithmetic uses Python's operators: on float64 scalars they skip the ufunc dispatch (ten times
faster) and on arrays they are the same ufuncs.

Elementwise ops give `partials`: the local derivative d(out)/d(input_i) as an array of the
broadcast shape (or a scalar), so the chain rule is upstream * local, with broadcasting undone.
Ops that are not elementwise (matmul, reductions) give `vjps` instead: each maps
(upstream, out, *inputs) straight to the input's gradient contribution.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

Array = Any  # np.float64 scalar or np.ndarray
Partial = Callable[..., Array]


@dataclass(frozen=True)
class Op:
    name: str
    arity: int
    forward: Callable[..., Array]
    partials: tuple[Partial, ...] = ()
    vjps: tuple[Callable[..., Array], ...] = ()
    notation: str = "call"  # "call" f(a, b) | "infix" a + b | "prefix" -a
    symbols: tuple[str, ...] = ()
    precedence: int = 0  # binding power of an infix or prefix symbol
    right_assoc: bool = False
    text: str = ""  # how a node reads, with {a} and {b} for its inputs
    latex: str = ""
    local_text: tuple[str, ...] = ()  # d(out)/d(input_i), with {a}, {b} and {out}
    local_latex: tuple[str, ...] = ()
    smooth: Callable[..., Array] | None = None  # where defined and differentiable, margin away from kinks
    doc: dict[str, str] = field(default_factory=dict)

    @property
    def elementwise(self) -> bool:
        return bool(self.partials)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arity": self.arity,
            "notation": self.notation,
            "symbols": list(self.symbols),
            "precedence": self.precedence,
            "right_associative": self.right_assoc,
            "elementwise": self.elementwise,
            "text": self.text,
            "latex": self.latex,
            "local_text": list(self.local_text),
            "local_latex": list(self.local_latex),
            "doc": dict(self.doc),
        }


OPS: dict[str, Op] = {}


def register(op: Op) -> Op:
    if op.name in OPS:
        raise ValueError(f"op {op.name!r} is declared twice")
    rules = op.partials or op.vjps
    if len(rules) != op.arity:
        raise ValueError(f"op {op.name!r} has arity {op.arity} but {len(rules)} derivative rules")
    if op.notation != "call" and not op.symbols:
        raise ValueError(f"op {op.name!r} is {op.notation} but has no symbol")
    OPS[op.name] = op
    return op


def unbroadcast(gradient: Array, shape: tuple[int, ...]) -> Array:
    """Sum a gradient of the broadcast shape back down to an input's shape."""
    if np.shape(gradient) == shape:
        return gradient
    gradient = np.asarray(gradient)
    extra = gradient.ndim - len(shape)
    if extra > 0:
        gradient = gradient.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and gradient.shape[i] != 1)
    if stretched:
        gradient = gradient.sum(axis=stretched, keepdims=True)
    if gradient.shape != shape:
        gradient = np.broadcast_to(gradient, shape).copy()
    return gradient[()] if shape == () else gradient


def _away(x: Array, margin: float) -> Array:
    return np.abs(x) > margin


def _stable_sigmoid(a: Array) -> Array:
    # NOTE: exp(-|a|) never overflows; the two branches are the same function on either side of 0.
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))[()]


def _tie_split(a: Array, b: Array) -> Array:
    return np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0))[()]


# ---- Arithmetic ---------------------------------------------------------------------------

register(Op(
    "add", 2, operator.add,
    partials=(lambda out, a, b: 1.0, lambda out, a, b: 1.0),
    notation="infix", symbols=("+",), precedence=10,
    text="{a} + {b}", latex="{a} + {b}", local_text=("1", "1"), local_latex=("1", "1"),
    doc={"en": "Sum. Passes the upstream gradient unchanged to both inputs.",
         "zh": "加法。把上游梯度原样传给两个输入。"},
))

register(Op(
    "sub", 2, operator.sub,
    partials=(lambda out, a, b: 1.0, lambda out, a, b: -1.0),
    notation="infix", symbols=("-",), precedence=10,
    text="{a} - {b}", latex="{a} - {b}", local_text=("1", "-1"), local_latex=("1", "-1"),
    doc={"en": "Difference. The second input receives the upstream gradient with its sign flipped.",
         "zh": "减法。第二个输入得到取负号的上游梯度。"},
))

register(Op(
    "mul", 2, operator.mul,
    partials=(lambda out, a, b: b, lambda out, a, b: a),
    notation="infix", symbols=("*",), precedence=20,
    text="{a} * {b}", latex="{a} \\cdot {b}", local_text=("{b}", "{a}"), local_latex=("{b}", "{a}"),
    doc={"en": "Product. Each input's local derivative is the other input: a multiplication swaps values.",
         "zh": "乘法。每个输入的局部导数是另一个输入：乘法会“交换”数值。"},
))

register(Op(
    "div", 2, operator.truediv,
    partials=(lambda out, a, b: 1.0 / b, lambda out, a, b: -out / b),
    notation="infix", symbols=("/",), precedence=20,
    text="{a} / {b}", latex="\\frac{{{a}}}{{{b}}}",
    local_text=("1 / {b}", "-{a} / {b}^2"), local_latex=("\\frac{{1}}{{{b}}}", "-\\frac{{{a}}}{{{b}^2}}"),
    smooth=lambda margin, a, b: _away(b, margin),
    doc={"en": "Quotient. Undefined where the divisor is 0.",
         "zh": "除法。除数为 0 时无定义。"},
))

register(Op(
    "neg", 1, operator.neg,
    partials=(lambda out, a: -1.0,),
    notation="prefix", symbols=("-",), precedence=30,
    text="-{a}", latex="-{a}", local_text=("-1",), local_latex=("-1",),
    doc={"en": "Negation.", "zh": "取负。"},
))


def _pow_base(out: Array, a: Array, b: Array) -> Array:
    return b * np.power(a, b - 1.0)


def _pow_exponent(out: Array, a: Array, b: Array) -> Array:
    return out * np.log(a)


register(Op(
    "pow", 2, operator.pow,
    partials=(_pow_base, _pow_exponent),
    notation="infix", symbols=("**", "^"), precedence=40, right_assoc=True,
    text="{a} ** {b}", latex="{{{a}}}^{{{b}}}",
    local_text=("{b} * {a} ** ({b} - 1)", "{a} ** {b} * log({a})"),
    local_latex=("{b}\\,{{{a}}}^{{{b} - 1}}", "{{{a}}}^{{{b}}} \\ln {a}"),
    smooth=lambda margin, a, b: np.asarray(a) > margin,
    doc={"en": "Power, right-associative: 2 ** 3 ** 2 = 2 ** 9, and -x ** 2 = -(x ** 2). "
               "A negative base needs a whole-number exponent.",
         "zh": "乘方，右结合：2 ** 3 ** 2 = 2 ** 9，-x ** 2 = -(x ** 2)。底数为负时指数须为整数。"},
))

# ---- Elementwise functions ----------------------------------------------------------------

register(Op(
    "exp", 1, np.exp,
    partials=(lambda out, a: out,),
    text="exp({a})", latex="e^{{{a}}}", local_text=("exp({a})",), local_latex=("e^{{{a}}}",),
    doc={"en": "Exponential. Its derivative is itself. Overflows past about exp(709).",
         "zh": "指数函数。导数就是它自己。自变量超过约 709 时溢出。"},
))

register(Op(
    "log", 1, np.log,
    partials=(lambda out, a: 1.0 / a,),
    text="log({a})", latex="\\ln {a}", local_text=("1 / {a}",), local_latex=("\\frac{{1}}{{{a}}}",),
    smooth=lambda margin, a: np.asarray(a) > margin,
    doc={"en": "Natural logarithm. Defined for positive inputs; log(0) = -infinity.",
         "zh": "自然对数。只对正数有定义；log(0) = 负无穷。"},
))

register(Op(
    "sqrt", 1, np.sqrt,
    partials=(lambda out, a: 0.5 / out,),
    text="sqrt({a})", latex="\\sqrt{{{a}}}", local_text=("1 / (2 * sqrt({a}))",),
    local_latex=("\\frac{{1}}{{2\\sqrt{{{a}}}}}",),
    smooth=lambda margin, a: np.asarray(a) > margin,
    doc={"en": "Square root. Defined for inputs >= 0; its slope is infinite at 0.",
         "zh": "平方根。输入须 >= 0；在 0 处斜率为无穷大。"},
))

register(Op(
    "tanh", 1, np.tanh,
    partials=(lambda out, a: 1.0 - out * out,),
    text="tanh({a})", latex="\\tanh {a}", local_text=("1 - tanh({a})^2",), local_latex=("1 - \\tanh^2 {a}",),
    doc={"en": "Hyperbolic tangent, squashes to (-1, 1). Saturates: far from 0 its slope is nearly 0.",
         "zh": "双曲正切，压缩到 (-1, 1)。会饱和：远离 0 时斜率接近 0。"},
))

register(Op(
    "sigmoid", 1, _stable_sigmoid,
    partials=(lambda out, a: out * (1.0 - out),),
    text="sigmoid({a})", latex="\\sigma({a})",
    local_text=("sigmoid({a}) * (1 - sigmoid({a}))",), local_latex=("\\sigma({a})\\,(1 - \\sigma({a}))",),
    doc={"en": "Logistic sigmoid 1 / (1 + exp(-a)), squashes to (0, 1). Its slope is at most 1/4.",
         "zh": "逻辑斯谛 sigmoid 1 / (1 + exp(-a))，压缩到 (0, 1)。斜率最大为 1/4。"},
))

register(Op(
    "relu", 1, lambda a: np.maximum(a, 0.0),
    partials=(lambda out, a: np.greater(a, 0.0).astype(np.float64)[()],),
    text="relu({a})", latex="\\max(0, {a})",
    local_text=("1 if {a} > 0 else 0",), local_latex=("[{a} > 0]",),
    smooth=lambda margin, a: _away(a, margin),
    doc={"en": "Rectified linear unit max(0, a). Slope 1 for positive inputs, 0 otherwise (0 at the kink).",
         "zh": "线性整流 max(0, a)。正输入斜率为 1，否则为 0（拐点处取 0）。"},
))

register(Op(
    "sin", 1, np.sin,
    partials=(lambda out, a: np.cos(a),),
    text="sin({a})", latex="\\sin {a}", local_text=("cos({a})",), local_latex=("\\cos {a}",),
    doc={"en": "Sine (radians).", "zh": "正弦（弧度）。"},
))

register(Op(
    "cos", 1, np.cos,
    partials=(lambda out, a: -np.sin(a),),
    text="cos({a})", latex="\\cos {a}", local_text=("-sin({a})",), local_latex=("-\\sin {a}",),
    doc={"en": "Cosine (radians).", "zh": "余弦（弧度）。"},
))

register(Op(
    "abs", 1, np.abs,
    partials=(lambda out, a: np.sign(a),),
    text="abs({a})", latex="\\lvert {a} \\rvert", local_text=("sign({a})",), local_latex=("\\operatorname{{sign}}({a})",),
    smooth=lambda margin, a: _away(a, margin),
    doc={"en": "Absolute value. Slope -1 or +1 (0 at the kink).", "zh": "绝对值。斜率为 -1 或 +1（拐点处取 0）。"},
))

register(Op(
    "max", 2, np.maximum,
    partials=(lambda out, a, b: _tie_split(a, b), lambda out, a, b: _tie_split(b, a)),
    text="max({a}, {b})", latex="\\max({a}, {b})",
    local_text=("1 if {a} > {b} else 0", "1 if {b} > {a} else 0"),
    local_latex=("[{a} > {b}]", "[{b} > {a}]"),
    smooth=lambda margin, a, b: _away(np.subtract(a, b), margin),
    doc={"en": "Larger of two. The gradient goes to the winner (split in half on a tie).",
         "zh": "取较大者。梯度全部流向较大的一方（相等时各得一半）。"},
))

register(Op(
    "min", 2, np.minimum,
    partials=(lambda out, a, b: _tie_split(b, a), lambda out, a, b: _tie_split(a, b)),
    text="min({a}, {b})", latex="\\min({a}, {b})",
    local_text=("1 if {a} < {b} else 0", "1 if {b} < {a} else 0"),
    local_latex=("[{a} < {b}]", "[{b} < {a}]"),
    smooth=lambda margin, a, b: _away(np.subtract(a, b), margin),
    doc={"en": "Smaller of two. The gradient goes to the smaller input (split in half on a tie).",
         "zh": "取较小者。梯度全部流向较小的一方（相等时各得一半）。"},
))


_BY_NOTATION: dict[str, Any] = {"size": -1}


def _by_notation() -> dict[str, Any]:
    # The parser asks on every parse; rebuilt only when an op has been registered since.
    if _BY_NOTATION["size"] != len(OPS):
        _BY_NOTATION.update(
            size=len(OPS),
            infix={symbol: op for op in OPS.values() if op.notation == "infix" for symbol in op.symbols},
            prefix={symbol: op for op in OPS.values() if op.notation == "prefix" for symbol in op.symbols},
            call={op.name: op for op in OPS.values() if op.notation == "call"},
        )
    return _BY_NOTATION


def infix_ops() -> dict[str, Op]:
    return _by_notation()["infix"]


def prefix_ops() -> dict[str, Op]:
    return _by_notation()["prefix"]


def function_ops() -> dict[str, Op]:
    return _by_notation()["call"]
