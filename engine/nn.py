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

The neuron view is the same iteration split for small nets: every element of every layer node (each weight,
bias, input, target, and each sample's w.a, z and a) is a scalar node, with an edge to each element it depends
on, and every number is the layer view's, so the two views agree to the last bit (see the section's note).
`layer_tensors` gathers its nodes back into the layer view's tensors.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from math import isfinite
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import LimitError, ValueInputError
from .evaluate import OK, output_value
from .graph import CONST, INPUT, Graph, Node
from .limits import LIMITS, Limits
from .ops import OPS
from .optim import SGD, as_parameter, first_order_prediction
from .trace import EdgeStep, ForwardStep, SeedStep, Trace, Update, UpdateStep, operand_number, run
from .values import number_text, to_json

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
    return optimizer.update_all(params, gradients)


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


# ---- The neuron view: the layer view split into one scalar node per element -------------------
# NOTE: why split rather than build a scalar graph of its own. A scalar graph adds the rounded products
# w * a one at a time, while the layer view's W @ A is one BLAS call (fused multiply-adds, its own order),
# its sums over samples are NumPy's pairwise sums, and its loss gradients divide by m where a chain of
# scalar steps can only multiply by 1/m: such a graph agrees with the layer view to about 12 digits, never
# exactly. So every number of the neuron view comes from one run of the layer view: each layer node is
# split into one scalar node per element, with an edge to each element it depends on (element [i, s] of
# W1 @ X to row i of W1 and column s of X), and each backward step multiplies its upstream by its local
# derivative right there. Where a node's gradient collects several contributions, the steps add them one
# by one and the last one shows the layer view's total; if that differs from the one-by-one sum (in the
# last digits), its note says so and gives both.

_SUMMED = ("summed as the layer view sums it (one BLAS matrix product with fused multiply-adds, or NumPy's "
           "pairwise sum): the number of this node in both views; one_by_one adds the terms in the order shown")


@dataclass
class NeuronView:
    spec: MLPSpec
    m: int
    net: NetGraph  # the layer view this one splits
    graph: Graph
    elements: list[np.ndarray]  # for each layer node, its elements' neuron nodes (an int array of its shape)
    source: list[tuple[int, tuple[int, ...]]]  # for each neuron node: (its layer node, its place there)
    # ("W", l, i, j), ("b", l, i), ("Z" or "A", l, i, s), ("X", j, s), ("Y", c, s), ("L",) -> node index
    index: dict[tuple[Any, ...], int]


def neuron_node_count(spec: MLPSpec, m: int) -> int:
    """The nodes of the neuron view of m samples: one per element of every node of the layer view."""
    sizes = spec.sizes
    count = sizes[0] * m + sizes[-1] * m + 1  # X, Y and the data loss
    for p, n, activation in zip(sizes, sizes[1:], spec.activations):
        count += n * p + n + (2 if activation == "linear" else 3) * n * m  # W, b, W A, Z and A
    if spec.l2:
        weights = spec.parameter_count - sum(sizes[1:])
        count += weights + 2 * spec.layers + 2  # W * W, a sum per layer, their total, lambda / 2m, L_l2, L
    return count


def check_neuron_view(spec: MLPSpec, m: int, limits: Limits = LIMITS) -> int:
    if spec.parameter_count > limits.max_neuron_parameters:
        raise LimitError(f"the neuron view shows nets of at most {limits.max_neuron_parameters} parameters "
                         f"(max_neuron_parameters); this one has {spec.parameter_count}", "max_neuron_parameters",
                         limits.max_neuron_parameters, field="layers")
    nodes = neuron_node_count(spec, m)
    if nodes > limits.max_neuron_nodes:
        raise LimitError(f"the neuron view of {m} samples would take {nodes} nodes; the cap is "
                         f"{limits.max_neuron_nodes} (max_neuron_nodes): use a smaller batch", "max_neuron_nodes",
                         limits.max_neuron_nodes, field="batch_size")
    return nodes


def _layer_shapes(net: NetGraph) -> list[tuple[int, ...]]:
    """The shape of every node of the layer view, from the architecture alone."""
    spec = net.spec
    given = {net.X: (spec.sizes[0], net.m), net.Y: (spec.sizes[-1], net.m),
             **{index: spec.parameter_shapes()[name] for name, index in net.params.items()}}
    shapes: list[tuple[int, ...]] = []
    for node in net.graph.nodes:
        operands = [shapes[i] for i in node.inputs]
        if node.op == INPUT:
            shapes.append(given[node.index])
        elif node.op == "matmul":
            shapes.append((operands[0][0], operands[1][1]))
        elif node.op == "softmax" or OPS.get(node.op, OPS["sum"]).elementwise:
            shapes.append(np.broadcast_shapes(*operands))
        else:  # a constant, a sum or a loss
            shapes.append(())
    return shapes


def _element_inputs(op: str, operands: list[np.ndarray], at: tuple[int, ...]) -> tuple[int, ...]:
    """The neuron nodes element `at` of an `op` node depends on, given its operands' neuron nodes."""
    if op == "matmul":  # row i of the left, column s of the right
        left, right = operands
        return (*left[at[0], :].tolist(), *right[:, at[1]].tolist())
    if op == "softmax":  # its column
        return tuple(operands[0][:, at[1]].tolist())
    if OPS[op].elementwise:  # the same place, or where broadcasting took it from
        return tuple(int(cells[tuple(0 if n == 1 else k for n, k in zip(cells.shape, at[len(at) - cells.ndim:]))])
                     for cells in operands)
    return tuple(node for cells in operands for node in cells.reshape(-1).tolist())  # a sum or a loss: all


def _element_label(name: str, named: bool, at: tuple[int, ...], single: bool) -> str:
    if not at:
        return name
    where = ",".join(str(k + 1) for k in (at[:1] if single else at))
    return f"{name}[{where}]" if named else f"({name})[{where}]"


def build_neuron_graph(spec: MLPSpec, m: int, limits: Limits = LIMITS) -> NeuronView:
    """The layer view of m samples split into scalar nodes: W1[i,j], b1[i], X[j,s], (W1 @ X)[i,s], Z1[i,s],
    A1[i,s], ..., Y[c,s], L, one per element of each layer node, with the layer node's op."""
    estimate = check_neuron_view(spec, m, limits)
    net = build_graph(spec, m, limits)
    graph = Graph(limits=limits.raised(max_nodes=max(limits.max_nodes, estimate)))
    biases = {layer.b for layer in net.layers}
    elements: list[np.ndarray] = []
    source: list[tuple[int, tuple[int, ...]]] = []
    for node, shape in zip(net.graph.nodes, _layer_shapes(net)):
        cells = np.empty(shape, dtype=np.intp)
        operands = [elements[i] for i in node.inputs]
        single = node.index in biases
        for at in np.ndindex(*shape):
            label = _element_label(node.label, node.named, at, single)
            if node.op == INPUT:
                element = graph.add_input(label, requires_grad=node.requires_grad)
            elif node.op == CONST:
                element = graph.add_const(node.constant, node.label)
            else:
                element = graph.add_element(node.op, _element_inputs(node.op, operands, at), label, named=node.named)
            element.aliases = tuple(_element_label(alias, True, at, single) for alias in node.aliases)
            cells[at] = element.index
            source.append((node.index, at))
        elements.append(cells)
    graph.output = int(elements[net.loss][()])
    index: dict[tuple[Any, ...], int] = {("L",): graph.output}
    for kind, layer_node in (("X", net.X), ("Y", net.Y)):
        index.update(((kind, *at), int(node)) for at, node in np.ndenumerate(elements[layer_node]))
    for layer in net.layers:
        for kind, layer_node in (("W", layer.W), ("Z", layer.Z), ("A", layer.A)):
            index.update(((kind, layer.layer, *at), int(node)) for at, node in np.ndenumerate(elements[layer_node]))
        index.update((("b", layer.layer, i), int(node)) for (i, _), node in np.ndenumerate(elements[layer.b]))
    return NeuronView(spec, m, net, graph, elements, source, index)


def neuron_trace(spec: MLPSpec, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray, *,
                 record: bool = True, limits: Limits = LIMITS) -> tuple[NeuronView, Trace]:
    """One forward and backward pass neuron by neuron: the layer view's run, split element by element."""
    view = build_neuron_graph(spec, x.shape[1], limits)
    layer = run(view.net.graph, view.net.bind(params, x, y), record=False)
    return view, _split_trace(view, layer, record)


def _element_status(number: Any, status: str) -> str:
    if number is None:
        return "none"
    if isfinite(number):
        return OK
    return status if status not in (OK, "none") else ("nan" if np.isnan(number) else "inf")


def _same(a: Any, b: Any) -> bool:
    return a == b or (np.isnan(a) and np.isnan(b))


def _split_trace(view: NeuronView, layer: Trace, record: bool) -> Trace:
    graph = view.graph
    nodes = graph.nodes
    values = [layer.values[p][at] for p, at in view.source]
    grads = [None if layer.grads[p] is None else layer.grads[p][at] for p, at in view.source]
    status = [_element_status(value, layer.status[p]) for value, (p, _) in zip(values, view.source)]
    grad_status = [_element_status(grad, layer.grad_status[p]) for grad, (p, _) in zip(grads, view.source)]
    steps: list[Any] = []
    if record:
        with np.errstate(all="ignore"):
            for node in nodes:
                formula, note = _neuron_forward(view, node, values)
                steps.append(ForwardStep(len(steps), node.id, values[node.index], status[node.index], formula, note))
            output = nodes[graph.output]
            steps.append(SeedStep(len(steps), output.id, grads[graph.output], "dL/dL = 1"))
            _neuron_backward(view, layer, values, grads, steps)
    origins: list[int | None] = [None] * len(nodes)
    return Trace(graph, values, status, origins, grads, grad_status, list(origins), steps)


def _sum_note(note: dict[str, Any], total: Any, one_by_one: Any) -> dict[str, Any]:
    if _same(total, one_by_one):
        return note
    return {**note, "one_by_one": to_json(one_by_one), "remark": _SUMMED}


def _neuron_forward(view: NeuronView, node: Node, values: list[Any]) -> tuple[str, dict[str, Any]]:
    """A node's forward formula with its numbers, and its note: which element of which layer node it is."""
    p, at = view.source[node.index]
    layer_node = view.net.graph.nodes[p]
    layer, quantity = view.net.quantity.get(p, (None, None))
    note = {"view": "neuron", "tensor": layer_node.label, "layer": layer, "quantity": quantity, "index": list(at)}
    value = values[node.index]
    result = number_text(value)
    if not node.inputs:
        return (result if node.op == CONST else f"{node.label} = {result}"), note
    nodes = view.graph.nodes
    names = [nodes[i].label for i in node.inputs]
    numbers = [values[i] for i in node.inputs]
    op = OPS[node.op]
    if node.op == "matmul":
        half = len(names) // 2
        named = " + ".join(f"{w} * {a}" for w, a in zip(names[:half], names[half:]))
        shown = " + ".join(f"{_factor(w, k == 0)} * {_factor(a)}" for k, (w, a) in enumerate(zip(numbers[:half],
                                                                                               numbers[half:])))
        one_by_one = _one_by_one([w * a for w, a in zip(numbers[:half], numbers[half:])])
        return f"{node.label} = {named} = {shown} = {result}", _sum_note(note, value, one_by_one)
    if node.op == "sum":
        shown = " + ".join(_factor(x, k == 0) for k, x in enumerate(numbers))
        return (f"{node.label} = {' + '.join(names)} = {shown} = {result}",
                _sum_note(note, value, _one_by_one(numbers)))
    if node.op == "softmax":
        row = at[0] + 1
        shown = ", ".join(number_text(x) for x in numbers)
        return f"{node.label} = softmax({', '.join(names)})[{row}] = softmax({shown})[{row}] = {result}", note
    if not op.elementwise:  # a loss, over whole tensors
        a, b = (view.net.graph.nodes[i].label for i in layer_node.inputs)
        return f"{node.label} = {op.text.format(a=a, b=b)} = {result}", note
    operands = {"ab"[k]: name for k, name in enumerate(names)}
    filled = {"ab"[k]: operand_number(x, op.notation, k, op.name) for k, x in enumerate(numbers)}
    return f"{node.label} = {op.text.format(**operands)} = {op.text.format(**filled)} = {result}", note


def _factor(x: Any, first: bool = False) -> str:
    text = number_text(x)
    return text if first or text[0] != "-" else f"({text})"


def _one_by_one(terms: list[Any]) -> Any:
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _neuron_backward(view: NeuronView, layer: Trace, values: list[Any], grads: list[Any], steps: list[Any]) -> None:
    """One step per edge, layer nodes last to first and each one's elements in order (a reverse topological
    order: no element of a layer node depends on another). upstream * local = contribution is computed here;
    a node's gradient adds its contributions one by one, and its last step carries the layer view's total."""
    graph = view.graph
    nodes = graph.nodes
    needs = graph.depends_on_inputs()
    reach = graph.reaches_output()
    edges = [(node, k, j) for cells in reversed(view.elements) for node in (nodes[i] for i in cells.reshape(-1))
             if needs[node.index] and reach[node.index] for k, j in enumerate(node.inputs) if needs[j]]
    remaining = [0] * len(nodes)
    for _, _, j in edges:
        remaining[j] += 1
    running: list[Any] = [None] * len(nodes)
    locals_of = _LocalDerivatives(view, layer, values)
    for node, k, j in edges:
        upstream = grads[node.index]
        local, local_formula = locals_of(node, k)
        contribution = upstream * local
        total = contribution if running[j] is None else running[j] + contribution
        running[j] = total
        remaining[j] -= 1
        note = None
        if remaining[j] == 0:
            if not _same(grads[j], total):
                note = {"view": "neuron", "one_by_one": to_json(total), "layer_formula": locals_of.summed(j),
                        "remark": _SUMMED}
            total = grads[j]
        steps.append(EdgeStep(len(steps), nodes[j].id, node.id, k, upstream, local, contribution, total,
                              _element_status(total, OK), local_formula, note))


class _LocalDerivatives:
    """d(node)/d(its input k) for an element of a layer node, with the formula that says what it is."""

    def __init__(self, view: NeuronView, layer: Trace, values: list[Any]) -> None:
        self.view, self.layer, self.values = view, layer, values
        self.vjps: dict[tuple[int, int], Any] = {}

    def __call__(self, node: Node, k: int) -> tuple[Any, str]:
        values, nodes, inputs = self.values, self.view.graph.nodes, node.inputs
        op = OPS[node.op]
        if node.op == "matmul":  # d(sum_k w_k a_k)/dw_k = a_k and d/da_k = w_k
            half = len(inputs) // 2
            other = inputs[k + half] if k < half else inputs[k - half]
            return values[other], nodes[other].label
        if node.op == "sum":
            return 1.0, "1"
        if op.elementwise:
            names = {"ab"[n]: nodes[i].label for n, i in enumerate(inputs)}
            local = op.partials[k](values[node.index], *[values[i] for i in inputs])
            return local, op.local_text[k].format(out=node.label, **names)
        if node.op == "softmax":
            raise NotImplementedError("the neuron view has no backward rule for softmax: a net's softmax output "
                                      "does not reach its loss, which reads the logits")
        # a loss: its vector-Jacobian product at upstream 1, read at this element
        p, _ = self.view.source[node.index]
        layer_node = self.view.net.graph.nodes[p]
        q, at = self.view.source[inputs[k]]
        operand = layer_node.inputs.index(q)
        if (p, operand) not in self.vjps:
            operands = [self.layer.values[i] for i in layer_node.inputs]
            self.vjps[(p, operand)] = op.vjps[operand](np.float64(1.0), self.layer.values[p], *operands)
        names = [self.view.net.graph.nodes[i].label for i in layer_node.inputs]
        if node.op == "cross_entropy":  # softmax works down each column
            columns = {"ab"[n]: f"{name}[:,{at[1] + 1}]" for n, name in enumerate(names)}
            formula = f"({op.local_text[operand].format(**columns)})[{at[0] + 1}]"
        else:
            formula = op.local_text[operand].format(**{"ab"[n]: _element_label(name, True, at, False)
                                                       for n, name in enumerate(names)})
        return self.vjps[(p, operand)][at], formula

    def summed(self, j: int) -> str:
        """The layer view's formulas for the gradient of the layer node that neuron node j is an element of."""
        net = self.view.net
        q, _ = self.view.source[j]
        notes = net.graph.notes
        found = [notes[("edge", node.index, k)]["formula"] for node in net.graph.nodes
                 for k, i in enumerate(node.inputs) if i == q and ("edge", node.index, k) in notes]
        return "; ".join(dict.fromkeys(found)) or f"the gradient of {net.graph.nodes[q].label}"


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
    """The neuron view of one iteration: the split forward and backward, then one update step per scalar
    parameter. Give it an optimizer in the same state as the layer view's (a copy): it moves on by one."""
    view, result = neuron_trace(spec, params, x, y, record=record, limits=limits)
    tensors = layer_tensors(view, result)
    gradients = {name: tensors[name]["grad"] for name in spec.parameter_names()}
    after = apply_update(optimizer, params, gradients)
    net = view.net
    if record:
        nodes = view.graph.nodes
        for name, layer_node in net.params.items():
            state = optimizer.parameter_state(name)
            for at, node in np.ndenumerate(view.elements[layer_node]):
                part = {key: (value if isinstance(value, int) or value is None else value[at])
                        for key, value in state.items()}
                label = nodes[node].label
                result.steps.append(UpdateStep(
                    len(result.steps), nodes[node].id, params[name][at], gradients[name][at],
                    optimizer.learning_rate, after[name][at],
                    f"{label} = {number_text(params[name][at])} -> {number_text(after[name][at])}", state=part))
    loss_before = float(result.values[view.index[("L",)]])
    loss_after = float(output_value(net.graph, net.bind(after, x, y)))
    result.update = Update(optimizer.learning_rate, loss_before, loss_after,
                           first_order_prediction(loss_before, gradients, params, after), optimizer=optimizer.name)
    return view, result, after


def copy_optimizer(optimizer: SGD) -> SGD:
    """An independent optimizer in the same state, so two views can take the same step."""
    return copy.deepcopy(optimizer)
