"""Multi-layer perceptrons as engine graphs, in the notation of the lessons (samples are COLUMNS):

    A[0] = X                                  (features, m)
    Z[l] = W[l] A[l-1] + b[l]                 W[l]: (n_l, n_{l-1}),  b[l]: (n_l, 1) broadcast over the m columns
    A[l] = g(Z[l])                            g: tanh, relu, sigmoid or linear
    L    = loss(Z[L] or A[L], Y)              + (lambda / (2m)) sum_l ||W[l]||^2  with L2

The layer view is one engine Graph with named nodes X, W1, b1, "W1 @ A0", Z1, A1, ..., Y, L, so
the trace machinery gives forward Z and A per layer, one backward step per edge and the update;
notes on those steps name the layer formula each one computes.

Loss conventions, chosen so that every output layer starts the backward pass the same way,
dZ[L] = (A[L] - Y) / m:

    cross_entropy   output A[L] = softmax(Z[L]); the loss reads the logits Z[L]: -(1/m) sum(Y log_softmax(Z[L]))
    bce             output A[L] = sigmoid(Z[L]) (one unit); the loss reads the logit Z[L]
    mse             the loss reads A[L] (linear by default): (1/(2m)) sum((A[L] - Y)^2)

The engine's gradients are dL/d(node), and L is a mean over the m samples, so the 1/m of the
textbook's dW = (1/m) dZ A_prev^T and db = (1/m) sum dZ is applied once, at the loss: here
dZ[L] = (A[L] - Y) / m, and then dW[l] = dZ[l] A[l-1]^T and db[l] = sum(dZ[l], 1), the same numbers.

Initialisation (numpy.random.default_rng(seed), layer by layer, W1 first; biases start at 0):
He normal, std sqrt(2 / fan_in), for a relu layer; Glorot (Xavier) normal, std
sqrt(2 / (fan_in + fan_out)), for tanh, sigmoid, linear and the output layer.

The neuron view builds the same iteration as a SCALAR graph for small nets: every weight, and every
z and a of every sample, is its own node, so each multiply-add of each neuron is a visible step.
`layer_tensors` gathers its nodes back into the layer view's tensors; the two views agree.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import LimitError, ValueInputError
from .evaluate import OK, output_value
from .graph import CONST, INPUT, Graph
from .limits import LIMITS, Limits
from .ops import OPS
from .optim import SGD, as_parameter, first_order_prediction
from .trace import Trace, Update, UpdateStep, run
from .values import number_text

ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
LOSSES = ("cross_entropy", "bce", "mse")
OUTPUT_OF_LOSS = {"cross_entropy": "softmax", "bce": "sigmoid"}  # mse: the last activation given, linear by default
INIT_SCHEMES = {"he": "He normal, std = sqrt(2 / fan_in)",
                "glorot": "Glorot (Xavier) normal, std = sqrt(2 / (fan_in + fan_out))"}
# g'(Z[l]) as the lessons write it, in terms of Z[l] or A[l], bracketed as a factor of an elementwise product
DERIVATIVE = {"tanh": ("(1 - A[{l}]^2)", "\\left(1 - (A^{{[{l}]}})^2\\right)"),
              "relu": ("[Z[{l}] > 0]", "[Z^{{[{l}]}} > 0]"),
              "sigmoid": ("A[{l}] (1 - A[{l}])", "A^{{[{l}]}} \\odot \\left(1 - A^{{[{l}]}}\\right)")}


# ---- The architecture -------------------------------------------------------------------------

@dataclass(frozen=True)
class MLPSpec:
    sizes: tuple[int, ...]  # (features, n_1, ..., n_L)
    activations: tuple[str, ...]  # one per weight layer; the output layer's is softmax or sigmoid for those losses
    loss: str
    l2: float = 0.0

    @property
    def layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def parameter_count(self) -> int:
        return sum(n_out * (n_in + 1) for n_in, n_out in zip(self.sizes, self.sizes[1:]))

    def init_scheme(self, layer: int) -> str:
        return "he" if self.activations[layer - 1] == "relu" else "glorot"

    def parameter_names(self) -> list[str]:
        return [name for layer in range(1, self.layers + 1) for name in (f"W{layer}", f"b{layer}")]

    def parameter_shapes(self) -> dict[str, tuple[int, int]]:
        """W[l]: (n_l, n_{l-1}) and b[l]: (n_l, 1), in the order W1, b1, W2, b2, ..."""
        return {name: (self.sizes[layer], self.sizes[layer - 1] if name[0] == "W" else 1)
                for layer in range(1, self.layers + 1) for name in (f"W{layer}", f"b{layer}")}

    def describe(self) -> dict[str, Any]:
        return {
            "sizes": list(self.sizes), "activations": list(self.activations), "loss": self.loss, "l2": self.l2,
            "parameters": self.parameter_count,
            "layers": [{"layer": l, "units": self.sizes[l], "inputs": self.sizes[l - 1],
                        "activation": self.activations[l - 1], "init": self.init_scheme(l),
                        "init_formula": INIT_SCHEMES[self.init_scheme(l)]} for l in range(1, self.layers + 1)],
        }


def mlp_spec(sizes: Sequence[int], activations: Sequence[str] = (), loss: str = "cross_entropy", *,
             l2: float = 0.0, limits: Limits = LIMITS) -> MLPSpec:
    """Check an architecture against the caps: sizes are (features, hidden units..., outputs).

    `activations` names one per hidden layer (the output's then follows from the loss: softmax for
    cross_entropy, sigmoid for bce, linear for mse) or one per layer, the output layer's included.
    """
    if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
        raise ValueInputError("layers must list the input size, any hidden sizes and the output size, such as "
                              "[2, 16, 1]", "layers", code="invalid_value")
    for position, size in enumerate(sizes):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueInputError(f"layer size {size!r} must be a whole number of at least 1", f"layers.{position}",
                                  code="invalid_value")
    layers = len(sizes) - 1
    if layers > limits.max_layers:
        raise LimitError(f"the network has {layers} weight layers; the cap is {limits.max_layers} (max_layers)",
                         "max_layers", limits.max_layers, field="layers")
    if sizes[0] > limits.max_features:
        raise LimitError(f"{sizes[0]} inputs; the cap is {limits.max_features} (max_features)", "max_features",
                         limits.max_features, field="layers.0")
    for position, size in enumerate(sizes[1:], start=1):
        if size > limits.max_units:
            raise LimitError(f"layer {position} has {size} units; the cap is {limits.max_units} (max_units)",
                             "max_units", limits.max_units, field=f"layers.{position}")
    if loss not in LOSSES:
        raise ValueInputError(f"loss must be one of {', '.join(LOSSES)}, not {loss!r}", "loss", code="invalid_value")
    outputs = sizes[-1]
    if loss == "cross_entropy" and not 2 <= outputs <= limits.max_classes:
        raise ValueInputError(f"cross_entropy needs one output unit per class, 2 to {limits.max_classes}; "
                              "for two classes bce with one unit works too", f"layers.{layers}", code="invalid_value")
    if loss == "bce" and outputs != 1:
        raise ValueInputError("bce needs exactly one output unit (the probability of class 1)", f"layers.{layers}",
                              code="invalid_value")
    activations = list(activations)
    if len(activations) == layers - 1:
        activations.append(OUTPUT_OF_LOSS.get(loss, "linear"))
    if len(activations) != layers:
        raise ValueInputError(f"give one activation per hidden layer ({layers - 1}) or per layer ({layers})",
                              "activations", code="invalid_value")
    for position, activation in enumerate(activations[:-1]):
        if activation not in ACTIVATIONS:
            raise ValueInputError(f"activation {activation!r} must be one of {', '.join(ACTIVATIONS)}",
                                  f"activations.{position}", code="invalid_value")
    expected = OUTPUT_OF_LOSS.get(loss)
    if expected and activations[-1] != expected:
        raise ValueInputError(f"with {loss} the output activation is {expected}", f"activations.{layers - 1}",
                              code="invalid_value")
    if not expected and activations[-1] not in ACTIVATIONS:
        raise ValueInputError(f"activation {activations[-1]!r} must be one of {', '.join(ACTIVATIONS)}",
                              f"activations.{layers - 1}", code="invalid_value")
    if isinstance(l2, bool) or not isinstance(l2, (int, float)) or not 0.0 <= l2 <= limits.max_l2:
        raise ValueInputError(f"l2 must be a number from 0 to {limits.max_l2:g} (max_l2)", "l2", code="invalid_value")
    spec = MLPSpec(tuple(int(n) for n in sizes), tuple(activations), loss, float(l2))
    if spec.parameter_count > limits.max_parameters:
        raise LimitError(f"the network has {spec.parameter_count} parameters; the cap is {limits.max_parameters} "
                         "(max_parameters)", "max_parameters", limits.max_parameters, field="layers")
    return spec


def init_params(spec: MLPSpec, seed: int = 0) -> dict[str, np.ndarray]:
    """W1, b1, W2, b2, ...: He normal for relu layers, Glorot normal for the others, biases 0."""
    rng = np.random.default_rng(seed)
    params: dict[str, np.ndarray] = {}
    for layer in range(1, spec.layers + 1):
        fan_in, fan_out = spec.sizes[layer - 1], spec.sizes[layer]
        std = np.sqrt(2.0 / fan_in) if spec.init_scheme(layer) == "he" else np.sqrt(2.0 / (fan_in + fan_out))
        params[f"W{layer}"] = rng.normal(0.0, std, size=(fan_out, fan_in))
        params[f"b{layer}"] = np.zeros((fan_out, 1))
    return params


def check_params(spec: MLPSpec, given: Mapping[str, Any], field: str = "params") -> dict[str, np.ndarray]:
    """Parameters a client sent back (an answer's params or params_after): exactly this network's W[l] and b[l],
    each of its shape and finite, as float64 arrays in the order W1, b1, W2, ..."""
    shapes = spec.parameter_shapes()
    for name in given:
        if name not in shapes:
            raise ValueInputError(f"{field} has {name}, which this network does not have; it has "
                                  f"{', '.join(shapes)}", f"{field}.{name}", code="unknown_param")
    for name in shapes:
        if name not in given:
            raise ValueInputError(f"{field} lacks {name}: give all of {', '.join(shapes)} (or no {field})", field,
                                  code="missing_value")
    return {name: as_parameter(given[name], shape, f"{field}.{name}", name) for name, shape in shapes.items()}


# ---- The layer view: one graph of tensors -----------------------------------------------------

@dataclass
class LayerNodes:
    layer: int
    W: int
    b: int
    product: int  # W[l] @ A[l-1]
    Z: int
    A: int  # the same node as Z for a linear layer


@dataclass
class NetGraph:
    """An MLP's graph for batches of m samples, and where each layer's quantities sit in it."""
    spec: MLPSpec
    m: int
    graph: Graph
    X: int
    Y: int
    layers: list[LayerNodes]
    data_loss: int
    loss: int
    params: dict[str, int]  # W1, b1, ... -> input node index
    quantity: dict[int, tuple[int, str]] = field(default_factory=dict)  # node index -> (layer, quantity)

    def bind(self, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> dict[int, Any]:
        bindings = {index: params[name] for name, index in self.params.items()}
        bindings[self.X] = x
        bindings[self.Y] = y
        return bindings

    def describe(self) -> dict[str, Any]:
        """Which node is which, for a client drawing layers: ids of X, Y, L and of each layer's W, b, Z, A."""
        nodes = self.graph.nodes
        return {
            **self.spec.describe(), "m": self.m,
            "node_ids": {"X": nodes[self.X].id, "Y": nodes[self.Y].id, "L": nodes[self.loss].id,
                         "L_data": nodes[self.data_loss].id,
                         "layers": [{"layer": layer.layer, "W": nodes[layer.W].id, "b": nodes[layer.b].id,
                                     "WA": nodes[layer.product].id, "Z": nodes[layer.Z].id, "A": nodes[layer.A].id}
                                    for layer in self.layers]},
        }


def _note(layer: int | None, quantity: str, formula: str, latex: str, **more: str) -> dict[str, Any]:
    return {"view": "layer", "layer": layer, "quantity": quantity, "formula": formula, "latex": latex, **more}


_TEXTBOOK = ("the lessons write {written} with dZ = A - Y per sample; here the loss's 1/m is already inside dZ "
             "(dZ[L] = (A[L] - Y) / m), so no second 1/m appears: the same numbers")


def _graph_limits(spec: MLPSpec, m: int, limits: Limits) -> Limits:
    sizes = spec.sizes
    biggest = max(max(n * m for n in sizes), max(a * b for a, b in zip(sizes, sizes[1:])))
    total = 2 * (sizes[0] * m + 2 * sizes[-1] * m
                 + sum(4 * n * m + n * (p + 1) for p, n in zip(sizes, sizes[1:]))) + 16
    return limits.raised(max_tensor_elements=max(limits.max_tensor_elements, biggest),
                         max_total_elements=max(limits.max_total_elements, total),
                         max_nodes=max(limits.max_nodes, 8 * spec.layers + 16))


def build_graph(spec: MLPSpec, m: int, limits: Limits = LIMITS) -> NetGraph:
    """The layer view of an MLP on a batch of m samples, with a note on every step it explains."""
    graph = Graph(limits=_graph_limits(spec, m, limits))
    notes = graph.notes
    quantity: dict[int, tuple[int, str]] = {}
    L = spec.layers
    x = graph.add_input("X", requires_grad=False).index
    graph.nodes[x].aliases = ("A0",)
    notes[("forward", x)] = _note(0, "A", "A[0] = X: one sample per column", "A^{[0]} = X")
    quantity[x] = (0, "A")
    previous = x
    layers: list[LayerNodes] = []
    params: dict[str, int] = {}
    for l in range(1, L + 1):
        activation = spec.activations[l - 1]
        w = graph.add_input(f"W{l}").index
        b = graph.add_input(f"b{l}").index
        params[f"W{l}"], params[f"b{l}"] = w, b
        shape = f"{spec.sizes[l]}×{spec.sizes[l - 1]}"
        notes[("forward", w)] = _note(l, "W", f"W[{l}]: {shape}, {INIT_SCHEMES[spec.init_scheme(l)]} at the start",
                                      f"W^{{[{l}]}}")
        notes[("forward", b)] = _note(l, "b", f"b[{l}]: {spec.sizes[l]}×1, 0 at the start", f"b^{{[{l}]}}")
        product = graph.add_op("matmul", (w, previous), f"W{l} @ {graph.nodes[previous].label}").index
        notes[("forward", product)] = _note(l, "WA", f"W[{l}] A[{l - 1}]", f"W^{{[{l}]}} A^{{[{l - 1}]}}")
        z = graph.add_op("add", (product, b), f"Z{l}").index
        graph.name_node(z, f"Z{l}")
        z_formula = f"Z[{l}] = W[{l}] A[{l - 1}] + b[{l}]"
        z_latex = f"Z^{{[{l}]}} = W^{{[{l}]}} A^{{[{l - 1}]}} + b^{{[{l}]}}"
        if activation == "linear":
            a = z
            graph.name_node(z, f"A{l}")
            notes[("forward", z)] = _note(l, "Z", f"{z_formula}; A[{l}] = Z[{l}] (linear)",
                                          f"{z_latex};\\ A^{{[{l}]}} = Z^{{[{l}]}}")
        else:
            notes[("forward", z)] = _note(l, "Z", z_formula, z_latex)
            a = graph.add_op(activation, (z,), f"A{l}").index
            graph.name_node(a, f"A{l}")
            remark = {"remark": "the prediction; the loss reads the logits Z[L] directly"} \
                if l == L and spec.loss in OUTPUT_OF_LOSS else {}
            notes[("forward", a)] = _note(l, "A", f"A[{l}] = {activation}(Z[{l}])",
                                          f"A^{{[{l}]}} = \\operatorname{{{activation}}}(Z^{{[{l}]}})", **remark)
        quantity.update({w: (l, "W"), b: (l, "b"), product: (l, "WA"), z: (l, "Z")})
        quantity.setdefault(a, (l, "A"))
        # backward, from the top of the layer down
        notes[("edge", z, 0)] = _note(l, "dWA", f"d(W[{l}] A[{l - 1}]) = dZ[{l}]: a sum passes its gradient on",
                                      f"d(W^{{[{l}]}} A^{{[{l - 1}]}}) = dZ^{{[{l}]}}")
        notes[("edge", z, 1)] = _note(l, "db", f"db[{l}] = sum(dZ[{l}], 1): b[{l}] was broadcast over the m columns",
                                      f"db^{{[{l}]}} = \\textstyle\\sum_{{\\text{{columns}}}} dZ^{{[{l}]}}",
                                      textbook=_TEXTBOOK.format(written="db = (1/m) sum dZ"))
        notes[("edge", product, 0)] = _note(l, "dW", f"dW[{l}] = dZ[{l}] A[{l - 1}]^T",
                                            f"dW^{{[{l}]}} = dZ^{{[{l}]}} A^{{[{l - 1}]\\top}}",
                                            textbook=_TEXTBOOK.format(written="dW = (1/m) dZ A_prev^T"))
        if l > 1:
            notes[("edge", product, 1)] = _note(l - 1, "dA", f"dA[{l - 1}] = W[{l}]^T dZ[{l}]",
                                                f"dA^{{[{l - 1}]}} = W^{{[{l}]\\top}} dZ^{{[{l}]}}")
        if activation in DERIVATIVE and not (l == L and spec.loss in OUTPUT_OF_LOSS):
            text, latex = DERIVATIVE[activation]
            notes[("edge", a, 0)] = _note(l, "dZ", f"dZ[{l}] = dA[{l}] * g'(Z[{l}]) = dA[{l}] * " + text.format(l=l),
                                          f"dZ^{{[{l}]}} = dA^{{[{l}]}} \\odot " + latex.format(l=l))
        layers.append(LayerNodes(l, w, b, product, z, a))
        previous = a
    y = graph.add_input("Y", requires_grad=False).index
    quantity[y] = (L, "Y")
    last = layers[-1]
    if spec.loss == "cross_entropy":
        notes[("forward", y)] = _note(L, "Y", "Y: the targets, one one-hot column per sample", "Y")
        data_loss = graph.add_op("cross_entropy", (last.Z, y), "L").index
        notes[("forward", data_loss)] = _note(
            L, "loss", f"L = -(1/m) sum(Y * log_softmax(Z[{L}]))",
            f"L = -\\tfrac{{1}}{{m}} \\sum Y \\odot \\log\\operatorname{{softmax}}(Z^{{[{L}]}})")
        notes[("edge", data_loss, 0)] = _note(L, "dZ", f"dZ[{L}] = (softmax(Z[{L}]) - Y) / m = (A[{L}] - Y) / m",
                                              f"dZ^{{[{L}]}} = \\tfrac{{1}}{{m}}(A^{{[{L}]}} - Y)")
    elif spec.loss == "bce":
        notes[("forward", y)] = _note(L, "Y", "Y: the targets, 0 or 1 for each sample", "Y")
        data_loss = graph.add_op("bce", (last.Z, y), "L").index
        notes[("forward", data_loss)] = _note(
            L, "loss", f"L = (1/m) sum(-Y log(A[{L}]) - (1 - Y) log(1 - A[{L}])), computed from Z[{L}] without log(0)",
            f"L = -\\tfrac{{1}}{{m}} \\sum \\left(Y \\odot \\log A^{{[{L}]}} "
            f"+ (1 - Y) \\odot \\log(1 - A^{{[{L}]}})\\right)")
        notes[("edge", data_loss, 0)] = _note(L, "dZ", f"dZ[{L}] = (sigmoid(Z[{L}]) - Y) / m = (A[{L}] - Y) / m",
                                              f"dZ^{{[{L}]}} = \\tfrac{{1}}{{m}}(A^{{[{L}]}} - Y)")
    else:
        notes[("forward", y)] = _note(L, "Y", "Y: the targets, one column per sample", "Y")
        data_loss = graph.add_op("mse", (last.A, y), "L").index
        notes[("forward", data_loss)] = _note(L, "loss", f"L = (1/(2m)) sum((A[{L}] - Y)^2)",
                                              f"L = \\tfrac{{1}}{{2m}} \\sum (A^{{[{L}]}} - Y)^2")
        name = "dZ" if last.A == last.Z else "dA"
        notes[("edge", data_loss, 0)] = _note(L, name, f"{name}[{L}] = (A[{L}] - Y) / m",
                                              f"{name}^{{[{L}]}} = \\tfrac{{1}}{{m}}(A^{{[{L}]}} - Y)")
    graph.name_node(data_loss, "L")
    quantity[data_loss] = (L, "loss")
    loss = data_loss
    if spec.l2 > 0.0:
        loss = _add_l2(graph, spec, m, layers, data_loss, quantity)
    graph.output = loss
    return NetGraph(spec, m, graph, x, y, layers, data_loss, loss, params, quantity)


def _add_l2(graph: Graph, spec: MLPSpec, m: int, layers: list[LayerNodes], data_loss: int,
            quantity: dict[int, tuple[int, str]]) -> int:
    """L = L_data + (lambda / (2m)) sum_l sum(W[l] * W[l]): each W[l] then gets (lambda / m) W[l] more gradient."""
    notes = graph.notes
    graph.nodes[data_loss].label = "L_data"
    data_note = notes[("forward", data_loss)]
    data_note.update(formula="L_data" + data_note["formula"][1:], latex="L_{\\text{data}}" + data_note["latex"][1:])
    total = None
    for nodes in layers:
        l = nodes.layer
        square = graph.add_op("mul", (nodes.W, nodes.W), f"W{l} * W{l}").index
        for operand in (0, 1):
            notes[("edge", square, operand)] = _note(
                l, "dW", f"dW[{l}] += (lambda/(2m)) W[{l}] along each factor of W[{l}] * W[{l}]: (lambda/m) W[{l}] "
                "in all, the L2 term's share",
                f"dW^{{[{l}]}} \\mathrel{{+}}= \\tfrac{{\\lambda}}{{2m}} W^{{[{l}]}}")
        squares = graph.add_op("sum", (square,), f"sum(W{l} * W{l})").index
        quantity.update({square: (l, "L2"), squares: (l, "L2")})
        total = squares if total is None else graph.add_op("add", (total, squares), "R").index
    coefficient = spec.l2 / (2.0 * m)
    scale = graph.add_const(coefficient, number_text(np.float64(coefficient))).index
    penalty = graph.add_op("mul", (scale, total), "L_l2").index
    graph.name_node(penalty, "L_l2")
    notes[("forward", penalty)] = _note(None, "L2", "L_l2 = (lambda / (2m)) sum_l ||W[l]||^2",
                                        "L_{\\ell_2} = \\tfrac{\\lambda}{2m} \\sum_l \\lVert W^{[l]} \\rVert^2")
    loss = graph.add_op("add", (data_loss, penalty), "L").index
    graph.name_node(loss, "L")
    notes[("forward", loss)] = _note(None, "loss", "L = L_data + L_l2", "L = L_{\\text{data}} + L_{\\ell_2}")
    quantity.update({penalty: (0, "L2"), loss: (spec.layers, "loss")})
    return loss


class MLP:
    """An architecture and its graphs, one per batch size (a full batch and a last, smaller one)."""

    def __init__(self, spec: MLPSpec, limits: Limits = LIMITS) -> None:
        self.spec = spec
        self.limits = limits
        self._graphs: dict[int, NetGraph] = {}

    def graph(self, m: int) -> NetGraph:
        net = self._graphs.get(m)
        if net is None:
            if len(self._graphs) > 4:
                self._graphs.clear()
            net = self._graphs[m] = build_graph(self.spec, m, self.limits)
        return net

    def forward_backward(self, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray, *,
                         record: bool = False, checked: bool = True) -> tuple[NetGraph, Trace]:
        """One forward and backward pass of the layer graph; checked=False is the training fast path
        (no statuses: the caller checks the loss and the parameters, see engine.trace.run)."""
        net = self.graph(x.shape[1])
        return net, run(net.graph, net.bind(params, x, y), record=record, checked=checked)

    def gradients(self, net: NetGraph, result: Trace) -> dict[str, np.ndarray]:
        return {name: result.grads[index] for name, index in net.params.items()}


def outputs(spec: MLPSpec, params: Mapping[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Z[L] and A[L] for inputs x (features, m): the forward pass alone, with the op table's own rules."""
    a = z = x
    with np.errstate(all="ignore"):
        for layer in range(1, spec.layers + 1):
            z = OPS["matmul"].forward(params[f"W{layer}"], a) + params[f"b{layer}"]
            activation = spec.activations[layer - 1]
            a = z if activation == "linear" else OPS[activation].forward(z)
    return z, a


def iteration(model: MLP, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray, optimizer: SGD, *,
              record: bool = True) -> tuple[Trace, dict[str, np.ndarray]]:
    """One iteration at layer level: forward, backward, and the optimizer's update as steps.

    Returns the trace (with `update`: the loss before, after, and as first-order Taylor predicted it)
    and the new parameters. The optimizer's state moves on by one step.
    """
    net, result = model.forward_backward(params, x, y, record=record)
    gradients = model.gradients(net, result)
    after = apply_update(optimizer, params, gradients)
    if record:
        nodes = net.graph.nodes
        for name, index in net.params.items():
            layer = int(name[1:])
            result.steps.append(UpdateStep(
                len(result.steps), nodes[index].id, params[name], gradients[name], optimizer.learning_rate,
                after[name], _update_formula(optimizer, name, params[name], gradients[name], after[name]),
                state=optimizer.parameter_state(name),
                note=_note(layer, name[0], optimizer.formula().replace("theta", name).replace(" g", f" d{name}"),
                           optimizer.latex(f"{name[0]}^{{[{layer}]}}", f"d{name[0]}^{{[{layer}]}}"))))
    loss_before = float(result.values[net.loss])
    loss_after = float(output_value(net.graph, net.bind(after, x, y)))
    predicted = first_order_prediction(loss_before, gradients, params, after)
    result.update = Update(optimizer.learning_rate, loss_before, loss_after, predicted, optimizer=optimizer.name)
    return result, after


def apply_update(optimizer: SGD, params: Mapping[str, np.ndarray],
                 gradients: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    optimizer.begin()
    return {name: optimizer.update(name, params[name], gradients[name]) for name in params}


def _update_formula(optimizer: SGD, name: str, before: Any, gradient: Any, after: Any) -> str:
    rate = number_text(np.float64(optimizer.learning_rate))
    if optimizer.name == "sgd":
        return f"{name} = {name} - {rate} * d{name} = {number_text(after)}"
    return f"{name} = {optimizer.name} step of {name} with lr {rate} = {number_text(after)}"


# ---- What went wrong, if anything -------------------------------------------------------------
# Every report names one place in the drawing: {"phase", "layer", "unit", "quantity", "node", "label",
# "status", "rule", "growth"}. layer is 1..L; unit is the 0-based row of that layer (a neuron); quantity
# is Z, A, WA, W, b, loss or L2 forward, dZ, dA, dW, db ... backward; node and label are the layer view's
# node of that quantity. Two rules decide the place:
#   first_non_finite          the first number that stopped being finite, in forward then backward order
#                             (status nan, inf, overflow or div0; growth null);
#   largest_relative_update   (the loss exploded while every number stayed finite) the unit whose
#                             incoming weights and bias the last update changed the most relative to their
#                             size before it: growth = ||delta [W_i, b_i]|| / ||[W_i, b_i]|| (status exploded).

FIRST_NON_FINITE, LARGEST_RELATIVE_UPDATE = "first_non_finite", "largest_relative_update"
EXPLODED = "exploded"


def _is_bad(status: str) -> bool:
    return status not in (OK, "none")


def _size(array: Any) -> float:
    """How large an array is, for following a blow-up: infinite when it holds a non-finite number."""
    if array is None:
        return -1.0
    with np.errstate(all="ignore"):
        values = np.abs(np.asarray(array, dtype=np.float64))
    return float(np.inf) if not np.isfinite(values).all() else float(values.max(initial=0.0))


def _unit_of(array: Any) -> int | None:
    """The row of a layer's tensor holding its first non-finite number, or else its largest |number|."""
    if array is None or np.ndim(array) != 2:
        return None
    with np.errstate(all="ignore"):
        bad = ~np.isfinite(array)
        if bad.any():
            return int(np.argmax(bad.any(axis=1)))
        return int(np.argmax(np.abs(array).max(axis=1)))


def _place(net: NetGraph, arrays: Any, start: int) -> tuple[int, int]:
    """(layer, unit) of a node. A scalar such as the loss or an L2 sum has no rows: follow its inputs, always
    to the one holding the larger (or a non-finite) number, down to a layer's tensor."""
    nodes = net.graph.nodes
    index = start
    for _ in range(len(nodes)):
        layer = net.quantity.get(index, (None, None))[0]
        unit = _unit_of(arrays[index])
        if layer and unit is not None:
            return layer, unit
        inputs = [j for j in nodes[index].inputs if nodes[j].op != CONST and j not in (net.X, net.Y)]
        if not inputs:
            break
        index = max(inputs, key=lambda j: _size(arrays[j]))
    return net.spec.layers, 0


def _where(net: NetGraph, phase: str, index: int, arrays: Any, status: str) -> dict[str, Any]:
    """The report for node `index`; `arrays` holds the numbers of that phase (values, or gradients), by node."""
    node = net.graph.nodes[index]
    layer, unit = _place(net, arrays, index)
    quantity = net.quantity.get(index, (None, None))[1] or "L2"  # only the sums of the L2 term are unnamed
    if phase == "backward":
        quantity = "d" + ("Z" if quantity == "WA" else quantity)
    return {"phase": phase, "layer": layer, "unit": unit, "quantity": quantity, "node": node.id, "label": node.label,
            "status": status, "rule": FIRST_NON_FINITE, "growth": None}


def first_non_finite(net: NetGraph, result: Trace) -> dict[str, Any] | None:
    """Where the first number went non-finite (rule first_non_finite), or None if every number is finite.

    Forward: the first node in topological order whose value is not finite (a parameter that is can only
    have become so in the previous update: phase "update"). Else backward: the first gradient that went
    non-finite in the order the backward pass visits the edges (sources last-computed first).
    """
    nodes = net.graph.nodes
    status = result.status
    bad = next((i for i, s in enumerate(status) if _is_bad(s)), None)
    if bad is not None:
        start = result.origin[bad] if result.origin[bad] is not None else bad
        phase = "update" if nodes[start].op == INPUT else "forward"
        return _where(net, phase, start, result.values, status[start] if _is_bad(status[start]) else status[bad])
    grad_status = result.grad_status
    for node in reversed(nodes):
        for j in node.inputs:
            if _is_bad(grad_status[j]):
                return _where(net, "backward", j, result.grads, grad_status[j])
    return None


def non_finite_update(net: NetGraph, after: Mapping[str, np.ndarray]) -> dict[str, Any] | None:
    """Every value and gradient was finite but the update was not: the first parameter (W1, b1, W2, ...) and
    unit whose new value is not finite (rule first_non_finite, phase update)."""
    for name, index in net.params.items():
        value = after[name]
        if not np.isfinite(value).all():
            status = "nan" if np.isnan(value).any() else "overflow"
            return _where(net, "update", index, {index: value}, status)
    return None


def _row_norms(matrix: np.ndarray) -> np.ndarray:
    # NOTE: scaled by each row's largest |number| first, so weights of 1e200 do not square to infinity.
    scale = np.abs(matrix).max(axis=1, keepdims=True)
    scale[scale == 0.0] = 1.0
    return scale[:, 0] * np.sqrt(np.sum((matrix / scale) ** 2, axis=1))


def largest_relative_update(net: NetGraph, before: Mapping[str, np.ndarray],
                            after: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The unit whose incoming weights and bias the step from `before` to `after` changed the most relative to
    their size before it (rule largest_relative_update); ties go to the first in forward order."""
    best: tuple[float, int, int] | None = None
    with np.errstate(all="ignore"):
        for l in range(1, net.spec.layers + 1):
            old = np.hstack([before[f"W{l}"], before[f"b{l}"]])
            moved = _row_norms(np.hstack([after[f"W{l}"], after[f"b{l}"]]) - old)
            size = _row_norms(old)
            growth = np.where(size > 0, moved / np.where(size > 0, size, 1.0), np.where(moved > 0, np.inf, 0.0))
            unit = int(np.argmax(growth))
            if best is None or growth[unit] > best[0]:
                best = (float(growth[unit]), l, unit)
    growth, layer, unit = best
    node = net.graph.nodes[net.params[f"W{layer}"]]
    return {"phase": "update", "layer": layer, "unit": unit, "quantity": "W", "node": node.id, "label": node.label,
            "status": EXPLODED, "rule": LARGEST_RELATIVE_UPDATE, "growth": growth if np.isfinite(growth) else None}


# ---- The neuron view: the same iteration, one scalar node per weight, z and a ------------------

@dataclass
class NeuronView:
    spec: MLPSpec
    m: int
    graph: Graph
    # ("W", l, i, j), ("b", l, i), ("Z" or "A", l, i, s), ("X", i, s), ("Y", i, s), ("L",) -> node index
    index: dict[tuple[Any, ...], int]
    params: dict[tuple[str, int, int, int], int] = field(default_factory=dict)  # (name, l, i, j) -> input node

    def bind(self, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> dict[int, Any]:
        bindings: dict[int, Any] = {}
        for key, node in self.index.items():
            kind = key[0]
            if kind == "W":
                bindings[node] = np.float64(params[f"W{key[1]}"][key[2], key[3]])
            elif kind == "b":
                bindings[node] = np.float64(params[f"b{key[1]}"][key[2], 0])
            elif kind == "X":
                bindings[node] = np.float64(x[key[1], key[2]])
            elif kind == "Y":
                bindings[node] = np.float64(y[key[1], key[2]])
        return bindings


def neuron_node_count(spec: MLPSpec, m: int) -> int:
    sizes = spec.sizes
    per_sample = sizes[0] + sum(n * (2 * p + 2) for p, n in zip(sizes, sizes[1:])) + 6 * sizes[-1] + 4
    return m * per_sample + spec.parameter_count + (2 * spec.parameter_count if spec.l2 else 0) + 8


def check_neuron_view(spec: MLPSpec, m: int, limits: Limits = LIMITS) -> int:
    if spec.parameter_count > limits.max_neuron_parameters:
        raise LimitError(f"the neuron view shows nets of at most {limits.max_neuron_parameters} parameters "
                         f"(max_neuron_parameters); this one has {spec.parameter_count}", "max_neuron_parameters",
                         limits.max_neuron_parameters, field="layers")
    nodes = neuron_node_count(spec, m)
    if nodes > limits.max_neuron_nodes:
        raise LimitError(f"the neuron view of {m} samples would take about {nodes} nodes; the cap is "
                         f"{limits.max_neuron_nodes} (max_neuron_nodes): use a smaller batch", "max_neuron_nodes",
                         limits.max_neuron_nodes, field="batch_size")
    return nodes


def build_neuron_graph(spec: MLPSpec, m: int, limits: Limits = LIMITS) -> NeuronView:
    """Every weight, bias, input and target a scalar input node; every z and a of every sample a scalar node."""
    estimate = check_neuron_view(spec, m, limits)
    graph = Graph(limits=limits.raised(max_nodes=max(limits.max_nodes, estimate)))
    index: dict[tuple[Any, ...], int] = {}
    sizes = spec.sizes
    L = spec.layers

    def named(node: int, label: str, key: tuple[Any, ...], formula: str) -> int:
        graph.name_node(node, label)
        index[key] = node
        graph.notes[("forward", node)] = {"view": "neuron", "tensor": key[0] + (str(key[1]) if len(key) > 3 else ""),
                                          "layer": key[1] if len(key) > 3 else 0, "formula": formula,
                                          "index": list(key[2:] if len(key) > 3 else key[1:])}
        return node

    for l in range(1, L + 1):
        for i in range(sizes[l]):
            for j in range(sizes[l - 1]):
                node = graph.add_input(f"W{l}[{i + 1},{j + 1}]").index
                index[("W", l, i, j)] = node
                graph.notes[("forward", node)] = {"view": "neuron", "tensor": f"W{l}", "layer": l, "index": [i, j],
                                                  "formula": f"w[{l}]_{i + 1}{j + 1}: from unit {j + 1} of layer "
                                                             f"{l - 1} to unit {i + 1} of layer {l}"}
            node = graph.add_input(f"b{l}[{i + 1}]").index
            index[("b", l, i)] = node
            graph.notes[("forward", node)] = {"view": "neuron", "tensor": f"b{l}", "layer": l, "index": [i, 0],
                                              "formula": f"b[{l}]_{i + 1}"}
    sample_losses = []
    for s in range(m):
        previous = []
        for j in range(sizes[0]):
            node = graph.add_input(f"X[{j + 1},{s + 1}]", requires_grad=False).index
            index[("X", j, s)] = node
            graph.notes[("forward", node)] = {"view": "neuron", "tensor": "X", "layer": 0, "index": [j, s],
                                              "formula": f"x_{j + 1} of sample {s + 1}"}
            previous.append(node)
        zs: list[int] = []
        for l in range(1, L + 1):
            activation = spec.activations[l - 1]
            zs, current = [], []
            for i in range(sizes[l]):
                total = None
                for j, a in enumerate(previous):
                    term = graph.add_op("mul", (index[("W", l, i, j)], a),
                                        f"W{l}[{i + 1},{j + 1}] * A{l - 1}[{j + 1},{s + 1}]").index
                    total = term if total is None else graph.add_op("add", (total, term), "…").index
                z = graph.add_op("add", (total, index[("b", l, i)]), "z").index
                z = named(z, f"Z{l}[{i + 1},{s + 1}]", ("Z", l, i, s),
                          f"z[{l}]_{i + 1} = sum_j w[{l}]_{i + 1}j a[{l - 1}]_j + b[{l}]_{i + 1}, sample {s + 1}")
                zs.append(z)
            if activation == "softmax":
                current = _scalar_softmax(graph, zs, l, s, named)
            elif activation == "linear":
                current = []
                for i, z in enumerate(zs):
                    graph.name_node(z, f"A{l}[{i + 1},{s + 1}]")
                    index[("A", l, i, s)] = z
                    current.append(z)
            else:
                current = [named(graph.add_op(activation, (z,), "a").index, f"A{l}[{i + 1},{s + 1}]",
                                 ("A", l, i, s), f"a[{l}]_{i + 1} = {activation}(z[{l}]_{i + 1}), sample {s + 1}")
                           for i, z in enumerate(zs)]
            previous = current
        targets = []
        for c in range(sizes[-1]):
            node = graph.add_input(f"Y[{c + 1},{s + 1}]", requires_grad=False).index
            index[("Y", c, s)] = node
            targets.append(node)
        sample_losses.append(_scalar_sample_loss(graph, spec, zs, previous, targets))
    total = sample_losses[0]
    for node in sample_losses[1:]:
        total = graph.add_op("add", (total, node), "…").index
    data_loss = graph.add_op("div", (total, graph.add_const(float(m), str(m)).index), "L").index
    graph.name_node(data_loss, "L")
    loss = data_loss
    if spec.l2 > 0.0:
        graph.nodes[data_loss].label = "L_data"
        squares = None
        for key, node in index.items():
            if key[0] == "W":
                square = graph.add_op("mul", (node, node), "w * w").index
                squares = square if squares is None else graph.add_op("add", (squares, square), "…").index
        coefficient = spec.l2 / (2.0 * m)
        scale = graph.add_const(coefficient, number_text(np.float64(coefficient))).index
        penalty = graph.add_op("mul", (scale, squares), "L_l2").index
        graph.name_node(penalty, "L_l2")
        loss = graph.add_op("add", (data_loss, penalty), "L").index
        graph.name_node(loss, "L")
    index[("L",)] = loss
    graph.output = loss
    return NeuronView(spec, m, graph, index)


def _scalar_softmax(graph: Graph, zs: list[int], l: int, s: int, named: Any) -> list[int]:
    """a_c = exp(z_c - max) / sum_k exp(z_k - max), from scalar ops (the loss reads the z's, not these)."""
    largest = zs[0]
    for z in zs[1:]:
        largest = graph.add_op("max", (largest, z), "max").index
    exps = [graph.add_op("exp", (graph.add_op("sub", (z, largest), "z - max").index,), "exp(z - max)").index
            for z in zs]
    total = exps[0]
    for e in exps[1:]:
        total = graph.add_op("add", (total, e), "…").index
    return [named(graph.add_op("div", (e, total), "").index, f"A{l}[{c + 1},{s + 1}]", ("A", l, c, s),
                  f"a[{l}]_{c + 1} = softmax(z[{l}])_{c + 1}, sample {s + 1}") for c, e in enumerate(exps)]


def _scalar_sample_loss(graph: Graph, spec: MLPSpec, zs: list[int], outputs: list[int], targets: list[int]) -> int:
    """One sample's loss, summed over the output units (the mean over samples comes after)."""
    terms = []
    if spec.loss == "cross_entropy":
        # sum_c y_c (logsumexp(z) - z_c), with the max taken out of the exponentials
        largest = zs[0]
        for z in zs[1:]:
            largest = graph.add_op("max", (largest, z), "max").index
        exps = [graph.add_op("exp", (graph.add_op("sub", (z, largest), "z - max").index,), "exp(z - max)").index
                for z in zs]
        total = exps[0]
        for e in exps[1:]:
            total = graph.add_op("add", (total, e), "…").index
        logsumexp = graph.add_op("add", (graph.add_op("log", (total,), "log(…)").index, largest), "logsumexp").index
        for z, y in zip(zs, targets):
            difference = graph.add_op("sub", (logsumexp, z), "logsumexp - z").index
            terms.append(graph.add_op("mul", (y, difference), "y * (logsumexp - z)").index)
    elif spec.loss == "bce":
        terms = [graph.add_op("bce", (z, y), "bce(z, y)").index for z, y in zip(zs, targets)]
    else:
        terms = [graph.add_op("mse", (a, y), "mse(a, y)").index for a, y in zip(outputs, targets)]
    loss = terms[0]
    for term in terms[1:]:
        loss = graph.add_op("add", (loss, term), "…").index
    return loss


def neuron_trace(spec: MLPSpec, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray, *,
                 record: bool = True, limits: Limits = LIMITS) -> tuple[NeuronView, Trace]:
    view = build_neuron_graph(spec, x.shape[1], limits)
    return view, run(view.graph, view.bind(params, x, y), record=record)


def layer_tensors(view: NeuronView, result: Trace) -> dict[str, dict[str, Any]]:
    """The neuron view's scalar values and gradients gathered into the layer view's tensors:
    W1, b1, Z1, A1, ..., X, Y (values only) and L, each {"value": ..., "grad": ...}."""
    spec, m = view.spec, view.m
    sizes = spec.sizes
    tensors: dict[str, dict[str, Any]] = {}

    def tensor(name: str, shape: tuple[int, int]) -> dict[str, Any]:
        return tensors.setdefault(name, {"value": np.full(shape, np.nan), "grad": np.full(shape, np.nan)})

    for key, node in view.index.items():
        kind = key[0]
        if kind in ("W", "Z", "A"):
            l, i, j = key[1:]
            shape = (sizes[l], sizes[l - 1]) if kind == "W" else (sizes[l], m)
        elif kind == "b":
            l, i = key[1:]
            j, shape = 0, (sizes[l], 1)
        elif kind in ("X", "Y"):
            l, (i, j) = None, key[1:]
            shape = (sizes[0] if kind == "X" else sizes[-1], m)
        else:
            continue
        name = kind if l is None else f"{kind}{l}"
        entry = tensor(name, shape)
        entry["value"][i, j] = result.values[node]
        grad = result.grads[node]
        entry["grad"][i, j] = np.nan if grad is None else grad
    loss = view.index[("L",)]
    tensors["L"] = {"value": result.values[loss], "grad": result.grads[loss]}
    for name in ("X", "Y"):
        tensors[name]["grad"] = None
    return tensors


def neuron_iteration(spec: MLPSpec, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray,
                     optimizer: SGD, *, record: bool = True, limits: Limits = LIMITS
                     ) -> tuple[NeuronView, Trace, dict[str, np.ndarray]]:
    """The neuron view of one iteration: the scalar graph's forward and backward, then one update step per
    scalar parameter. Give it an optimizer in the same state as the layer view's (a copy): it moves on by one."""
    view, result = neuron_trace(spec, params, x, y, record=record, limits=limits)
    tensors = layer_tensors(view, result)
    names = spec.parameter_names()
    gradients = {name: tensors[name]["grad"] for name in names}
    after = apply_update(optimizer, params, gradients)
    if record:
        nodes = view.graph.nodes
        for key, node in view.index.items():
            if key[0] not in ("W", "b"):
                continue
            name = f"{key[0]}{key[1]}"
            at = (key[2], key[3]) if key[0] == "W" else (key[2], 0)
            state = {part: (value if isinstance(value, int) or value is None else value[at])
                     for part, value in optimizer.parameter_state(name).items()}
            result.steps.append(UpdateStep(
                len(result.steps), nodes[node].id, params[name][at], gradients[name][at], optimizer.learning_rate,
                after[name][at], f"{nodes[node].label} = {number_text(params[name][at])} -> "
                                 f"{number_text(after[name][at])}", state=state))
    loss_before = float(result.values[view.index[("L",)]])
    loss_after = float(output_value(view.graph, view.bind(after, x, y)))
    result.update = Update(optimizer.learning_rate, loss_before, loss_after,
                           first_order_prediction(loss_before, gradients, params, after), optimizer=optimizer.name)
    return view, result, after


def copy_optimizer(optimizer: SGD) -> SGD:
    """An independent optimizer in the same state, so two views can take the same step."""
    return copy.deepcopy(optimizer)
