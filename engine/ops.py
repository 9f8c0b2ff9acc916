"""THE op table.

Each primitive is declared once: how it is written, its forward rule and, right beside it, its
local derivative with respect to every input. Parsing, evaluation, the backward pass, the
/api/v1/ops listing, the docs and the per-op gradient tests all read this table.

Arithmetic uses Python's operators: on float64 scalars they skip the ufunc dispatch (ten times
faster) and on arrays they are the same ufuncs.

Elementwise ops give `partials`: the local derivative d(out)/d(input_i) as an array of the
broadcast shape (or a scalar), so the chain rule is upstream * local, with broadcasting undone.
Ops that are not elementwise (matmul, reductions, softmax, the losses) give `vjps` instead: each
maps (upstream, out, *inputs) straight to the input's gradient contribution, and its local_text
says how, in the language's own words ("upstream @ transpose(b)").

Tensors follow the notation of the lessons: samples are COLUMNS (m of them) and the rows of a
layer's output are its units, or the classes. So softmax and the losses work down axis 0, and a
loss "per sample" is a mean over the m columns. A number counts as a 1x1 matrix and a vector as a
single column.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

Array = Any  # np.float64 scalar or np.ndarray
Partial = Callable[..., Array]


class ShapeMismatch(ValueError):
    """An op cannot combine the shapes it was given; the message says why in a student's words."""


@dataclass(frozen=True)
class Setting:
    """A constant written in the call after the tensor arguments, such as the axis of sum(x, 1)."""
    name: str
    choices: tuple[int, ...]
    doc: dict[str, str] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "choices": list(self.choices), "doc": dict(self.doc)}


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
    settings: tuple[Setting, ...] = ()  # optional constants after the arguments: sum(x, 1)
    setting_text: str = ""  # how a node reads when a setting is given, with {a} and the setting names
    setting_latex: str = ""

    def text_of(self, settings: dict[str, int] | None, **operands: str) -> str:
        if settings:
            return self.setting_text.format(**operands, **settings)
        return self.text.format(**operands)

    def latex_of(self, settings: dict[str, int] | None, **operands: str) -> str:
        if settings:
            return self.setting_latex.format(**operands, **settings)
        return self.latex.format(**operands)

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
            "settings": [setting.describe() for setting in self.settings],
            "setting_text": self.setting_text,
            "setting_latex": self.setting_latex,
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
    if op.settings and not (op.notation == "call" and op.setting_text and op.setting_latex):
        raise ValueError(f"op {op.name!r} has settings but is not a call with setting_text and setting_latex")
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
    partials=(lambda out, a: np.greater(a, 0.0),),  # a boolean mask: upstream * mask is float64
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


# ---- Tensors: matrix product, reductions, transpose ----------------------------------------

def _shape_text(x: Array) -> str:
    shape = np.shape(x)
    if not shape:
        return "a number"
    if len(shape) == 1:
        return f"a vector of {shape[0]}"
    return "a " + "×".join(str(n) for n in shape) + " matrix"


def _as_matrix(x: Array, vector_as: str) -> np.ndarray:
    """A number as 1x1; a vector as a row (left of @) or a column (right of @), as NumPy reads it."""
    x = np.asarray(x)
    if x.ndim == 2:
        return x
    if x.ndim == 0:
        return x.reshape(1, 1)
    return x.reshape(1, -1) if vector_as == "row" else x.reshape(-1, 1)


def _is_matrix(x: Array) -> bool:
    return type(x) is np.ndarray and x.ndim == 2


def _matmul(a: Array, b: Array) -> Array:
    if _is_matrix(a) and _is_matrix(b) and a.shape[1] == b.shape[0]:
        return a @ b
    left, right = _as_matrix(a, "row"), _as_matrix(b, "column")
    if left.shape[1] != right.shape[0]:
        columns, rows = left.shape[1], right.shape[0]
        raise ShapeMismatch(f"{_shape_text(a)} @ {_shape_text(b)} needs the left's {columns} column"
                            f"{'s' * (columns != 1)} to equal the right's {rows} row{'s' * (rows != 1)}")
    product = left @ right
    if np.ndim(a) == 0 and np.ndim(b) == 0:
        return product[0, 0]
    rows = [left.shape[0]] if np.ndim(a) != 1 else []
    columns = [right.shape[1]] if np.ndim(b) != 1 else []
    return product.reshape(rows + columns)[()]


def _matmul_vjp_left(upstream: Array, out: Array, a: Array, b: Array) -> Array:
    if _is_matrix(upstream) and _is_matrix(a) and _is_matrix(b):
        return upstream @ b.T
    left, right = _as_matrix(a, "row"), _as_matrix(b, "column")
    upstream = np.reshape(upstream, (left.shape[0], right.shape[1]))
    return (upstream @ right.T).reshape(np.shape(a))[()]


def _matmul_vjp_right(upstream: Array, out: Array, a: Array, b: Array) -> Array:
    if _is_matrix(upstream) and _is_matrix(a) and _is_matrix(b):
        return a.T @ upstream
    left, right = _as_matrix(a, "row"), _as_matrix(b, "column")
    upstream = np.reshape(upstream, (left.shape[0], right.shape[1]))
    return (left.T @ upstream).reshape(np.shape(b))[()]


register(Op(
    "matmul", 2, _matmul,
    vjps=(_matmul_vjp_left, _matmul_vjp_right),
    notation="infix", symbols=("@",), precedence=20,
    text="{a} @ {b}", latex="{a}\\,{b}",
    local_text=("upstream @ transpose({b})", "transpose({a}) @ upstream"),
    local_latex=("\\bar{{g}}\\,{b}^\\top", "{a}^\\top\\,\\bar{{g}}"),
    doc={"en": "Matrix product, as in Z = W @ A + b: an (n×k) matrix times a (k×m) matrix is (n×m), and the "
               "left's columns must equal the right's rows. Binds like *. A number counts as a 1×1 matrix; a "
               "vector is a row on the left and a column on the right, as in NumPy. Backward: the gradient "
               "of the left is upstream @ transpose(right), of the right transpose(left) @ upstream.",
         "zh": "矩阵乘法，如 Z = W @ A + b：(n×k) 矩阵乘 (k×m) 矩阵得 (n×m)，左边的列数必须等于右边的行数。"
               "优先级与 * 相同。数当作 1×1 矩阵；向量在左边是行、在右边是列，与 NumPy 相同。反向："
               "左边的梯度是 upstream @ transpose(右)，右边的梯度是 transpose(左) @ upstream。"},
))

_AXIS = Setting("axis", (0, 1), doc={
    "en": "0 sums down each column (one result per column: per sample), 1 along each row (one per row: per "
          "unit); the summed axis stays, with size 1, so the result broadcasts back against the input.",
    "zh": "0 沿每一列向下求和（每列一个结果：每个样本），1 沿每一行求和（每行一个结果：每个单元）；"
          "被求和的轴保留为长度 1，所以结果能与输入广播。"})


def _check_axis(a: Array, axis: int) -> None:
    if np.ndim(a) <= axis:
        raise ShapeMismatch(f"axis {axis} needs a tensor with at least {axis + 1} axes, but this is {_shape_text(a)}")


def _spread(upstream: Array, shape: tuple[int, ...]) -> Array:
    """An upstream gradient copied back over every element that was summed into it."""
    if shape == ():
        return np.float64(upstream)
    spread = np.empty(shape)
    spread[...] = upstream
    return spread


def _sum(a: Array, axis: int | None = None) -> Array:
    if axis is None:
        return np.sum(a)
    _check_axis(a, axis)
    return np.sum(a, axis=axis, keepdims=True)


def _mean(a: Array, axis: int | None = None) -> Array:
    if axis is None:
        return np.mean(a)
    _check_axis(a, axis)
    return np.mean(a, axis=axis, keepdims=True)


def _count(a: Array, axis: int | None) -> int:
    return int(np.size(a)) if axis is None else np.shape(a)[axis]


register(Op(
    "sum", 1, _sum,
    vjps=(lambda upstream, out, a, axis=None: _spread(upstream, np.shape(a)),),
    text="sum({a})", latex="\\textstyle\\sum {a}",
    local_text=("upstream copied to every element of {a}",), local_latex=("\\bar{{g}}\\,\\mathbf{{1}}",),
    settings=(_AXIS,), setting_text="sum({a}, {axis})", setting_latex="\\textstyle\\sum_{{\\text{{axis }}{axis}}} {a}",
    doc={"en": "Sum of the elements: sum(x) adds everything into one number; sum(x, 1) adds along each row, "
               "as in db = sum(dZ, 1), and sum(x, 0) down each column. Every element's local derivative is 1, "
               "so the upstream gradient is copied back to every element it summed.",
         "zh": "元素求和：sum(x) 把所有元素加成一个数；sum(x, 1) 沿每一行相加，如 db = sum(dZ, 1)；"
               "sum(x, 0) 沿每一列向下相加。每个元素的局部导数都是 1，所以上游梯度被复制回参与求和的每个元素。"},
))

register(Op(
    "mean", 1, _mean,
    vjps=(lambda upstream, out, a, axis=None: _spread(np.divide(upstream, _count(a, axis)), np.shape(a)),),
    text="mean({a})", latex="\\operatorname{{mean}} {a}",
    local_text=("upstream / n copied to every element of {a} (n elements averaged)",),
    local_latex=("\\tfrac{{1}}{{n}}\\,\\bar{{g}}\\,\\mathbf{{1}}",),
    settings=(_AXIS,), setting_text="mean({a}, {axis})",
    setting_latex="\\operatorname{{mean}}_{{\\text{{axis }}{axis}}} {a}",
    doc={"en": "Average of the elements: mean(x) over everything, mean(x, 1) along each row (over the m samples "
               "when samples are columns), mean(x, 0) down each column. Each element's local derivative is 1/n "
               "for n elements averaged.",
         "zh": "元素平均：mean(x) 对全部元素，mean(x, 1) 沿每一行（样本为列时即对 m 个样本平均），"
               "mean(x, 0) 沿每一列。对 n 个元素求平均时，每个元素的局部导数是 1/n。"},
))


def _transpose(a: Array) -> Array:
    return a.T if np.ndim(a) == 2 else a


register(Op(
    "transpose", 1, _transpose,
    vjps=(lambda upstream, out, a: _transpose(upstream),),
    text="transpose({a})", latex="{{{a}}}^\\top",
    local_text=("transpose(upstream)",), local_latex=("\\bar{{g}}^\\top",),
    doc={"en": "Transpose: rows become columns, an (n×m) matrix becomes (m×n), as in dW = dZ @ transpose(A0). "
               "A number or a vector is unchanged (write a vector as a 1×n or n×1 list of lists to turn it). "
               "The gradient is the upstream gradient transposed back. The name T stays free for your own "
               "variables.",
         "zh": "转置：行变成列，(n×m) 矩阵变成 (m×n)，如 dW = dZ @ transpose(A0)。数或向量不变"
               "（要转向量，请把它写成 1×n 或 n×1 的嵌套列表）。梯度是把上游梯度转置回来。名字 T 留给你自己的变量。"},
))

# ---- Classes down axis 0: softmax and the losses ---------------------------------------------

def _columns(a: Array) -> int:
    """m, the number of samples: the columns of a matrix; a number or a vector is one sample."""
    return np.shape(a)[1] if np.ndim(a) == 2 else 1


def _same_shape(name: str, a: Array, b: Array) -> None:
    if np.shape(a) != np.shape(b):
        raise ShapeMismatch(f"{name} needs its two arguments to have the same shape, not {_shape_text(a)} and "
                            f"{_shape_text(b)}")


def _log_softmax(a: Array) -> Array:
    if np.ndim(a) == 0:
        return np.float64(0.0)
    # NOTE: log-sum-exp minus the max: exp never overflows and the largest term is exactly exp(0) = 1.
    shifted = a - a.max(axis=0, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))


def _softmax(a: Array) -> Array:
    if np.ndim(a) == 0:
        return np.float64(1.0)
    exps = np.exp(a - a.max(axis=0, keepdims=True))
    return exps / exps.sum(axis=0, keepdims=True)


def _softmax_vjp(upstream: Array, out: Array, a: Array) -> Array:
    if np.ndim(a) == 0:
        return upstream * 0.0
    return out * (upstream - (upstream * out).sum(axis=0, keepdims=True))


def _log_softmax_vjp(upstream: Array, out: Array, a: Array) -> Array:
    if np.ndim(a) == 0:
        return upstream * 0.0
    return upstream - np.exp(out) * np.sum(upstream, axis=0, keepdims=True)


register(Op(
    "softmax", 1, _softmax,
    vjps=(_softmax_vjp,),
    text="softmax({a})", latex="\\operatorname{{softmax}}({a})",
    local_text=("{out} * (upstream - sum(upstream * {out}, 0))",),
    local_latex=("{out} \\odot (\\bar{{g}} - \\mathbf{{1}}^\\top (\\bar{{g}} \\odot {out}))",),
    doc={"en": "Softmax down each column: exp(z) / sum(exp(z)) over the classes (axis 0; samples are columns), so "
               "every column is positive and sums to 1. Computed as exp(z - max) so it never overflows.",
         "zh": "沿每一列的 softmax：对类别（轴 0；样本为列）计算 exp(z) / sum(exp(z))，每列为正且和为 1。"
               "按 exp(z - max) 计算，不会溢出。"},
))

register(Op(
    "log_softmax", 1, _log_softmax,
    vjps=(_log_softmax_vjp,),
    text="log_softmax({a})", latex="\\log\\operatorname{{softmax}}({a})",
    local_text=("upstream - softmax({a}) * sum(upstream, 0)",),
    local_latex=("\\bar{{g}} - \\operatorname{{softmax}}({a})\\, \\mathbf{{1}}^\\top \\bar{{g}}",),
    doc={"en": "The logarithm of softmax down each column, z - max - log(sum(exp(z - max))): log-sum-exp minus the "
               "max, stable where log(softmax(z)) would take the log of 0.",
         "zh": "沿每一列的 softmax 的对数：z - max - log(sum(exp(z - max)))，即减去最大值的 log-sum-exp；"
               "在 log(softmax(z)) 会对 0 取对数的地方依然稳定。"},
))


def _cross_entropy(logits: Array, targets: Array) -> Array:
    _same_shape("cross_entropy", logits, targets)
    return -np.sum(targets * _log_softmax(logits)) / _columns(logits)


def _cross_entropy_vjp_logits(upstream: Array, out: Array, logits: Array, targets: Array) -> Array:
    # For one-hot columns sum(targets, 0) is 1 and this is the familiar (softmax(Z) - Y) / m.
    column_totals = np.sum(targets, axis=0, keepdims=True) if np.ndim(targets) else targets
    return upstream * (_softmax(logits) * column_totals - targets) / _columns(logits)


def _cross_entropy_vjp_targets(upstream: Array, out: Array, logits: Array, targets: Array) -> Array:
    return -upstream * _log_softmax(logits) / _columns(logits)


register(Op(
    "cross_entropy", 2, _cross_entropy,
    vjps=(_cross_entropy_vjp_logits, _cross_entropy_vjp_targets),
    text="cross_entropy({a}, {b})", latex="\\operatorname{{CE}}({a}, {b})",
    local_text=("(softmax({a}) - {b}) / m", "-log_softmax({a}) / m"),
    local_latex=("\\tfrac{{1}}{{m}}(\\operatorname{{softmax}}({a}) - {b})",
                 "-\\tfrac{{1}}{{m}}\\log\\operatorname{{softmax}}({a})"),
    doc={"en": "Softmax cross-entropy from LOGITS Z (not probabilities) against one-hot targets Y of the same "
               "shape, classes down axis 0 and samples as the m columns: -(1/m) sum(Y * log_softmax(Z)), the mean "
               "over samples. Stable (log-sum-exp minus the max). Its gradient is dZ = (softmax(Z) - Y) / m (for "
               "one-hot columns).",
         "zh": "由 logits Z（不是概率）与同形状的 one-hot 目标 Y 计算的 softmax 交叉熵，类别沿轴 0，样本为 m 列："
               "-(1/m) sum(Y * log_softmax(Z))，即对样本的平均。数值稳定（减去最大值的 log-sum-exp）。"
               "梯度为 dZ = (softmax(Z) - Y) / m（one-hot 列时）。"},
))


def _mse(predictions: Array, targets: Array) -> Array:
    _same_shape("mse", predictions, targets)
    errors = predictions - targets
    return np.sum(errors * errors) / (2.0 * _columns(predictions))


def _mse_vjp(sign: float) -> Callable[..., Array]:
    def vjp(upstream: Array, out: Array, predictions: Array, targets: Array) -> Array:
        return sign * upstream * (predictions - targets) / _columns(predictions)
    return vjp


register(Op(
    "mse", 2, _mse,
    vjps=(_mse_vjp(1.0), _mse_vjp(-1.0)),
    text="mse({a}, {b})", latex="\\operatorname{{MSE}}({a}, {b})",
    local_text=("({a} - {b}) / m", "-({a} - {b}) / m"),
    local_latex=("\\tfrac{{1}}{{m}}({a} - {b})", "-\\tfrac{{1}}{{m}}({a} - {b})"),
    doc={"en": "Squared error for regression, halved and averaged over the m samples (columns): "
               "(1/(2m)) sum((P - Y)^2). The 1/2 makes the gradient dP = (P - Y) / m, the same form as softmax "
               "cross-entropy's and bce's. A number or a vector is one sample (m = 1).",
         "zh": "回归的平方误差，取一半并对 m 个样本（列）平均：(1/(2m)) sum((P - Y)^2)。1/2 使梯度为 "
               "dP = (P - Y) / m，与 softmax 交叉熵和 bce 的形式相同。数或向量算一个样本（m = 1）。"},
))


def _bce(logits: Array, targets: Array) -> Array:
    _same_shape("bce", logits, targets)
    # NOTE: log(1 + exp(z)) - t z written as max(z, 0) - t z + log(1 + exp(-|z|)): no overflow, no log(0), no eps.
    losses = np.maximum(logits, 0.0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
    return np.sum(losses) / _columns(logits)


register(Op(
    "bce", 2, _bce,
    vjps=(lambda upstream, out, z, t: upstream * (_stable_sigmoid(z) - t) / _columns(z),
          lambda upstream, out, z, t: -upstream * z / _columns(z)),
    text="bce({a}, {b})", latex="\\operatorname{{BCE}}({a}, {b})",
    local_text=("(sigmoid({a}) - {b}) / m", "-{a} / m"),
    local_latex=("\\tfrac{{1}}{{m}}(\\sigma({a}) - {b})", "-\\tfrac{{1}}{{m}}{a}"),
    doc={"en": "Binary cross-entropy from the LOGIT z (before the sigmoid) against targets t in [0, 1] of the same "
               "shape, averaged over the m samples (columns): the cross-entropy of sigmoid(z), computed as "
               "max(z, 0) - t z + log(1 + exp(-|z|)), so no probability is ever clipped and no eps is needed. "
               "Its gradient is dz = (sigmoid(z) - t) / m.",
         "zh": "由 logit z（sigmoid 之前）与同形状、取值在 [0, 1] 的目标 t 计算的二元交叉熵，对 m 个样本（列）平均："
               "即 sigmoid(z) 的交叉熵，按 max(z, 0) - t z + log(1 + exp(-|z|)) 计算，从不截断概率，也不需要 eps。"
               "梯度为 dz = (sigmoid(z) - t) / m。"},
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
