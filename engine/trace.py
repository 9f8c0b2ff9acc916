"""Forward, backward edge by edge, and the update, recorded as steps.

The backward pass walks nodes in reverse topological order. For each edge from a node `from`
into one of its inputs `node`, it records

    upstream     = dL/d(from)                  (from's gradient, complete by then)
    local        = d(from)/d(node)             (the op table's partial)
    contribution = upstream * local            (un-broadcast to node's shape)
    grad         = dL/d(node) so far           (the sum over the edges seen so far)

so a name used twice shows two contributions meeting in one sum. Replaying steps 0..k gives the
state at step k.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from math import isfinite

import numpy as np

from .errors import ValueInputError
from .evaluate import (LATER, OK, Deferred, FloatFlags, Forward, Program, bad_status, compile_forward, deferred_values,
                       forward, output_value, run_forward, scalar_loss)
from .gradcheck import GradCheck, check_work as check_gradcheck_work, gradcheck as run_gradcheck
from .graph import CONST, INPUT, Graph, Node
from .limits import LIMITS, Limits
from .ops import OPS, unbroadcast
from .optim import sgd_step, taylor_prediction
from .parse import parse
from .values import COMPACT_MIN_ELEMENTS, ENCODINGS, bind, is_finite, number_text, shape_of, to_json


Encode = Callable[[Any], Any]


# ---- Steps ------------------------------------------------------------------------------------

@dataclass(slots=True)
class ForwardStep:
    index: int
    node: str
    value: Any
    status: str
    formula: str
    note: dict[str, Any] | None = None  # what a builder such as engine.nn says about this step

    def to_dict(self, encode: Encode = to_json) -> dict[str, Any]:
        answer = {"index": self.index, "phase": "forward", "node": self.node, "value": encode(self.value),
                  "shape": shape_of(self.value), "status": self.status, "formula": self.formula}
        if self.note is not None:
            answer["note"] = self.note
        return answer


@dataclass(slots=True)
class SeedStep:
    index: int
    node: str
    grad: Any
    formula: str

    def to_dict(self, encode: Encode = to_json) -> dict[str, Any]:
        return {"index": self.index, "phase": "backward", "node": self.node, "grad": encode(self.grad),
                "status": OK, "formula": self.formula}


@dataclass(slots=True)
class EdgeStep:
    index: int
    node: str
    source: str  # the "from" node: the gradient flows from it into `node`
    operand: int  # which input of `source` this edge is
    upstream: Any
    local: Any  # None on tensor edges: local_formula says what it is
    contribution: Any
    grad: Any
    status: str
    local_formula: str
    note: dict[str, Any] | None = None

    def to_dict(self, encode: Encode = to_json) -> dict[str, Any]:
        answer = {"index": self.index, "phase": "backward", "node": self.node, "from": self.source,
                  "operand": self.operand, "upstream": encode(self.upstream),
                  "local": encode(self.local), "contribution": encode(self.contribution),
                  "grad": encode(self.grad), "shape": shape_of(self.grad), "status": self.status,
                  "local_formula": self.local_formula}
        if self.note is not None:
            answer["note"] = self.note
        return answer


@dataclass(slots=True)
class UpdateStep:
    index: int
    node: str
    before: Any
    grad: Any
    learning_rate: float
    after: Any
    formula: str
    state: dict[str, Any] | None = None  # an optimizer's own numbers for this parameter (velocity; m, v)
    note: dict[str, Any] | None = None

    def to_dict(self, encode: Encode = to_json) -> dict[str, Any]:
        answer = {"index": self.index, "phase": "update", "node": self.node, "before": encode(self.before),
                  "grad": encode(self.grad), "learning_rate": self.learning_rate,
                  "after": encode(self.after), "formula": self.formula}
        if self.state is not None:
            answer["state"] = {name: value if isinstance(value, (int, str)) else encode(value)
                               for name, value in self.state.items()}
        if self.note is not None:
            answer["note"] = self.note
        return answer


Step = ForwardStep | SeedStep | EdgeStep | UpdateStep
_LEAF_ROLES = {INPUT: "input", CONST: "constant"}


@dataclass
class Update:
    learning_rate: float
    loss_before: float
    loss_after: float
    loss_predicted: float
    optimizer: str | None = None  # set when an optimizer other than the plain step made the update

    def to_dict(self) -> dict[str, Any]:
        answer = {"learning_rate": self.learning_rate, "loss_before": to_json(self.loss_before),
                  "loss_after": to_json(self.loss_after), "loss_predicted": to_json(self.loss_predicted)}
        if self.optimizer is not None:
            answer["optimizer"] = self.optimizer
        return answer


@dataclass
class Trace:
    graph: Graph
    values: list[Any]
    status: list[str]
    origin: list[int | None]
    grads: list[Any]  # None where a node cannot carry a gradient (it depends on no input)
    grad_status: list[str]
    grad_origin: list[int | None]
    steps: list[Step] = field(default_factory=list)
    update: Update | None = None
    gradcheck: list[GradCheck] | None = None

    @property
    def output(self) -> Node:
        return self.graph.nodes[self.graph.output]

    def role(self, node: Node) -> str:
        if node.index == self.graph.output:
            return "output"
        return _LEAF_ROLES.get(node.op, "intermediate")

    def node_dict(self, node: Node, encode: Encode = to_json) -> dict[str, Any]:
        i = node.index
        ids = self.graph.nodes
        return {
            "id": node.id, "label": node.label, "op": node.op, "inputs": [ids[j].id for j in node.inputs],
            "role": self.role(node), "shape": shape_of(self.values[i]), "value": encode(self.values[i]),
            "grad": encode(self.grads[i]), "status": self.status[i], "grad_status": self.grad_status[i],
            "bad_from": None if self.origin[i] is None else ids[self.origin[i]].id,
            "grad_bad_from": None if self.grad_origin[i] is None else ids[self.grad_origin[i]].id,
            "requires_grad": self.grads[i] is not None, "aliases": list(node.aliases),
            "span": node.span.to_dict() if node.span else None, "settings": node.settings or {},
        }

    def to_dict(self, encoding: str = "list") -> dict[str, Any]:
        """The trace contract as plain data, its tensors written as `encoding` says (engine.values.to_json):

        list     nested lists, every non-finite number null: plain JSON for any encoder (the default);
        numpy    large finite tensors stay C-contiguous float64 ndarrays, for orjson.dumps(...,
                 option=orjson.OPT_SERIALIZE_NUMPY), which writes the same JSON without a .tolist();
        compact  large tensors as {"dtype": "float64", "shape": [...], "base64": ...} (little-endian,
                 row-major), and in steps a tensor that IS a node's final value or gradient becomes
                 {"ref": node id, "field": "value" | "grad"}: the fast path for big networks.
        """
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}, not {encoding!r}")
        node_encode = _plain if encoding == "list" else functools.partial(to_json, encoding=encoding)
        step_encode = node_encode
        if encoding == "compact":
            step_encode = _referencing(self, node_encode)
        answer: dict[str, Any] = {
            "nodes": [self.node_dict(node, node_encode) for node in self.graph.nodes],
            "output": self.output.id,
            "steps": [step.to_dict(step_encode) for step in self.steps],
        }
        if encoding != "list":
            answer["encoding"] = encoding
        if self.update is not None:
            answer["update"] = self.update.to_dict()
        if self.gradcheck is not None:
            answer["gradcheck"] = [check.to_dict() for check in self.gradcheck]
        return answer


def _plain(x: Any) -> Any:
    """to_json(x) for the list encoding, with a float64 number, the commonest, answered first."""
    if type(x) is np.float64:
        return float(x) if isfinite(x) else None
    return to_json(x)


def _referencing(result: "Trace", encode: Encode) -> Encode:
    """An encoder that writes a large tensor that is some node's final value or gradient as a reference."""
    owners: dict[int, dict[str, str]] = {}
    for part, arrays in (("grad", result.grads), ("value", result.values)):
        for node, array in zip(result.graph.nodes, arrays):
            if isinstance(array, np.ndarray) and array.size >= COMPACT_MIN_ELEMENTS:
                owners.setdefault(id(array), {"ref": node.id, "field": part})

    def referencing(x: Any) -> Any:
        owner = owners.get(id(x)) if isinstance(x, np.ndarray) else None
        return dict(owner) if owner is not None else encode(x)
    return referencing


# ---- Text a student reads ---------------------------------------------------------------------

def _operand_name(node: Node) -> str:
    return node.label if node.named or node.op == CONST or node.label.isidentifier() else f"({node.label})"


def operand_number(value: Any, op_notation: str, position: int, op_name: str) -> str:
    return _operand_text(number_text(value), op_notation, position, op_name)


def _operand_text(text: str, op_notation: str, position: int, op_name: str) -> str:
    if text[0] == "-" and (op_notation == "prefix" or position > 0 or op_name == "pow"):
        return f"({text})"
    return text


def _forward_formula(node: Node, head: str, texts: list[str]) -> str:
    """The forward step's formula; texts[i] is number_text of node i's value (each written once)."""
    result = texts[node.index]
    if not node.inputs:
        return head + result
    op = OPS[node.op]
    inputs = node.inputs
    numbers = {"a": _operand_text(texts[inputs[0]], op.notation, 0, op.name)}
    if len(inputs) == 2:
        numbers["b"] = _operand_text(texts[inputs[1]], op.notation, 1, op.name)
    text = op.text_of(node.settings, **numbers) if node.settings else op.text.format_map(numbers)
    return f"{head}{text} = {result}"


def _d(name: str) -> str:
    return f"d{name}" if name.isidentifier() else f"d({name})"


# ---- The trace --------------------------------------------------------------------------------

@dataclass(slots=True)
class _Edge:
    source: Node  # the gradient flows from this node ...
    operand: int
    target: int  # ... into its input number `operand`, this node index
    target_id: str
    local_formula: str
    note: dict[str, Any] | None
    rule: Callable[..., Any]  # the op's partial derivative (elementwise) or vector-Jacobian product for this input
    elementwise: bool


@dataclass(slots=True)
class _Plan:
    """What a graph's shape alone decides, worked out once per graph (a cached graph is traced often)."""
    needs: list[bool]  # can the node carry a gradient (does it depend on an input)?
    edges: list[_Edge]  # every edge a gradient flows along, in backward order
    heads: list[str]  # the fixed start of each forward formula: 'q = x + y = ', 'x = '
    notes: list[dict[str, Any] | None]  # a builder's note for each node's forward step
    zero: list[int]  # nodes that carry a gradient but do not reach the output: theirs is 0
    grad_status: list[str]  # before any edge: ok, or none for a node that carries no gradient
    seed_formula: str  # 'df/df = 1'


def _operand_names(names: list[str], node: Node) -> dict[str, str]:
    inputs = node.inputs
    return {"a": names[inputs[0]], "b": names[inputs[1]]} if len(inputs) == 2 else {"a": names[inputs[0]]}


def _plan(graph: Graph) -> _Plan:
    nodes = graph.nodes
    needs = graph.depends_on_inputs()
    reach = graph.reaches_output()
    notes = graph.notes
    names = [_operand_name(node) for node in nodes]
    heads = []
    operands: list[dict[str, str]] = []
    for node in nodes:
        head = f"{node.label} = " if node.named or node.op == INPUT else ""
        named = _operand_names(names, node) if node.inputs else {}
        if node.inputs:
            op = OPS[node.op]
            head += (op.text_of(node.settings, **named) if node.settings else op.text.format_map(named)) + " = "
        heads.append(head)
        operands.append(named)
    forward_notes = [notes.get(("forward", node.index)) for node in nodes] if notes else [None] * len(nodes)
    edges = []
    for node in reversed(nodes):
        i = node.index
        if not needs[i] or not reach[i] or not node.inputs:
            continue
        op = OPS[node.op]
        named = operands[i]
        named["out"] = names[i]
        for k, j in enumerate(node.inputs):
            if needs[j]:
                edges.append(_Edge(node, k, j, nodes[j].id, op.local_text[k].format_map(named),
                                   notes.get(("edge", i, k)) if notes else None,
                                   op.partials[k] if op.partials else op.vjps[k], bool(op.partials)))
    zero = [node.index for node in nodes if needs[node.index] and not reach[node.index]]
    out_name = _d(_operand_name(nodes[graph.output]) if nodes[graph.output].named else "L")
    return _Plan(needs, edges, heads, forward_notes, zero, [OK if need else "none" for need in needs],
                 f"{out_name}/{out_name} = 1")


def backward(graph: Graph, plan: _Plan, fwd: Forward, flags: FloatFlags,
             record: list[Step] | None) -> tuple[list, list, list]:
    nodes = graph.nodes
    values = fwd.values
    needs = plan.needs
    grads: list[Any] = [None] * len(nodes)
    grad_status = list(plan.grad_status)
    grad_origin: list[int | None] = [None] * len(nodes)
    reached = [False] * len(nodes)  # has some edge contributed to this node's gradient yet?
    out = graph.output
    if needs[out]:
        seed = values[out]
        grads[out] = np.float64(1.0) if isinstance(seed, float) else np.ones(np.shape(seed))
    if record is not None:
        record.append(SeedStep(len(record), nodes[out].id, grads[out] if needs[out] else np.float64(1.0),
                               plan.seed_formula))
    for edge in plan.edges:
        node = edge.source
        i, k, j = node.index, edge.operand, edge.target
        out_value = values[i]
        upstream = grads[i]
        flags.raised = None
        if edge.elementwise:
            local = edge.rule(out_value, *[values[m] for m in node.inputs])
            # NOTE: a sum or difference passes its upstream on as it is: no multiply, no copy (nothing
            # ever changes a gradient array in place, so sharing one is safe).
            if type(local) is float and (local == 1.0 or local == -1.0):
                contribution = upstream if local == 1.0 else -upstream
            else:
                contribution = upstream * local
            target = values[j]
            if not isinstance(target, float) or not isinstance(contribution, float):
                contribution = unbroadcast(contribution, np.shape(target))
                if np.ndim(local) or np.ndim(upstream):
                    local = None  # a tensor edge: its Jacobian is described by local_formula
        elif node.settings:
            local = None
            contribution = edge.rule(upstream, out_value, *[values[m] for m in node.inputs], **node.settings)
        else:
            local = None
            contribution = edge.rule(upstream, out_value, *[values[m] for m in node.inputs])
        total = grads[j] + contribution if reached[j] else contribution
        grads[j] = total
        reached[j] = True
        if not (isfinite(total) if isinstance(total, float) else np.isfinite(total).all()):
            _mark_bad_gradient(node, j, total, flags.take(), fwd, grad_status, grad_origin)
        if record is not None:
            record.append(EdgeStep(len(record), edge.target_id, node.id, k, upstream, local, contribution, total,
                                   grad_status[j], edge.local_formula, edge.note))
    for index in plan.zero:  # no path to the output: no edge brought a gradient
        grads[index] = _zero_like(values[index])
    return grads, grad_status, grad_origin


# ---- The training fast path: no statuses, no steps -------------------------------------------------

@dataclass(slots=True)
class _FastPlan:
    forward: Program  # leaves for later the nodes no gradient goes through (they do not reach the output)
    # each edge as (rule, elementwise, from, operand, into, from's inputs, from's settings), in backward order
    edges: list[tuple[Callable[..., Any], bool, int, int, int, tuple[int, ...], dict[str, int] | None]]
    zero: list[int]
    grad_status: list[str]
    seeded: bool  # does the output carry a gradient?


def _fast_plan(graph: Graph) -> _FastPlan:
    plan = graph.memo("trace_plan", lambda: _plan(graph))
    reach = graph.reaches_output()
    edges = [(edge.rule, edge.elementwise, edge.source.index, edge.operand, edge.target, edge.source.inputs,
              edge.source.settings) for edge in plan.edges]
    later = frozenset(node.index for node in graph.nodes if node.inputs and not reach[node.index])
    return _FastPlan(compile_forward(graph, later), edges, plan.zero, plan.grad_status, plan.needs[graph.output])


def _fast_run(graph: Graph, bindings: dict[int, Any]) -> Trace:
    """run(checked=False, record=False): the same numbers as the checked pass, worked out with less."""
    plan = graph.memo("fast_plan", lambda: _fast_plan(graph))
    count = len(graph.nodes)
    with np.errstate(all="ignore"):
        values = run_forward(plan.forward, bindings)
        grads = _fast_gradients(graph.output, plan, values)
    if plan.forward.later:
        values = deferred_values(graph, plan.forward, values)
        grads = Deferred(grads, [index for index in plan.zero if grads[index] is LATER],
                         lambda _, index: _zero_like(values[index]))
    return Trace(graph, values, [OK] * count, [None] * count, grads, list(plan.grad_status), [None] * count)


def _fast_gradients(out: int, plan: _FastPlan, values: list[Any]) -> list[Any]:
    """backward's numbers, operation for operation, without its bookkeeping."""
    grads: list[Any] = [None] * len(values)
    if plan.seeded:
        seed = values[out]
        grads[out] = np.float64(1.0) if isinstance(seed, float) else np.ones(np.shape(seed))
    for rule, elementwise, i, k, j, inputs, settings in plan.edges:
        upstream = grads[i]
        if elementwise:
            local = rule(values[i], *[values[m] for m in inputs])
            if type(local) is float and (local == 1.0 or local == -1.0):
                contribution = upstream if local == 1.0 else -upstream
            else:
                contribution = upstream * local
            target = values[j]
            if not (isinstance(target, float) and isinstance(contribution, float)):
                shape = target.shape if type(target) is np.ndarray else np.shape(target)
                if (contribution.shape if type(contribution) is np.ndarray else np.shape(contribution)) != shape:
                    contribution = unbroadcast(contribution, shape)
        elif settings:
            contribution = rule(upstream, values[i], *[values[m] for m in inputs], **settings)
        else:
            contribution = rule(upstream, values[i], *[values[m] for m in inputs])
        total = grads[j]
        grads[j] = contribution if total is None else total + contribution
    for index in plan.zero:
        value = values[index]
        grads[index] = LATER if value is LATER else _zero_like(value)
    return grads


def _zero_like(value: Any) -> Any:
    return np.float64(0.0) if isinstance(value, float) else np.zeros(np.shape(value))


def _mark_bad_gradient(node: Node, j: int, total: Any, flag: str | None, fwd: Forward, grad_status: list[str],
                       grad_origin: list[int | None]) -> None:
    i = node.index
    if grad_status[j] != OK:
        if np.isnan(total).any():
            grad_status[j] = "nan"
    elif grad_status[i] != OK:
        grad_status[j], grad_origin[j] = grad_status[i], grad_origin[i]
    elif fwd.status[i] != OK or any(fwd.status[m] != OK for m in node.inputs):
        culprit = next(m for m in (i, *node.inputs) if fwd.status[m] != OK)
        grad_status[j], grad_origin[j] = bad_status(total, None), fwd.origin[culprit]
    else:
        grad_status[j], grad_origin[j] = bad_status(total, flag), i


def trace_graph(graph: Graph, values: Mapping[str, Any], *, params: Sequence[str] = (),
                learning_rate: float | None = None, gradcheck: bool = False, record: bool = True,
                limits: Limits = LIMITS) -> Trace:
    bindings = bind(graph, values, limits)
    updated = _check_params(graph, params, learning_rate, limits)
    if gradcheck:
        check_gradcheck_work(graph, bindings, limits)
    result = run(graph, bindings, record=record)
    if updated:
        result.update = _update(result, bindings, updated, float(learning_rate))
    if gradcheck:
        result.gradcheck = run_gradcheck(graph, bindings, {i: result.grads[i] for i in graph.inputs.values()},
                                         limits)
    return result


def run(graph: Graph, bindings: dict[int, Any], *, record: bool = True, checked: bool = True) -> Trace:
    """Forward and backward over values already bound to the graph's inputs (node index -> float64 value).

    The path for callers that build graphs themselves (engine.nn, engine.train): no request checks.
    checked=False (only without record) skips every finiteness check and status: the caller checks what
    it needs and runs again checked to learn where a non-finite number started. It also leaves the nodes
    no gradient goes through (an output layer's softmax) to be worked out when first read.
    """
    if not checked and not record:
        return _fast_run(graph, bindings)
    flags = FloatFlags()
    steps: list[Step] | None = [] if record else None
    plan = graph.memo("trace_plan", lambda: _plan(graph))
    with flags.watching():
        fwd = forward(graph, bindings, flags)
        if steps is not None:
            texts = [number_text(value) for value in fwd.values]
            for node, head, note in zip(graph.nodes, plan.heads, plan.notes):
                steps.append(ForwardStep(len(steps), node.id, fwd.values[node.index], fwd.status[node.index],
                                         _forward_formula(node, head, texts), note))
        grads, grad_status, grad_origin = backward(graph, plan, fwd, flags, steps)
    return Trace(graph, fwd.values, fwd.status, fwd.origin, grads, grad_status, grad_origin, steps or [])


def trace(source: str, values: Mapping[str, Any], *, params: Sequence[str] = (),
          learning_rate: float | None = None, gradcheck: bool = False, record: bool = True,
          limits: Limits = LIMITS) -> Trace:
    """Parse a program, then run and record forward, backward and (with params) one update."""
    return trace_graph(parse(source, limits), values, params=params, learning_rate=learning_rate,
                       gradcheck=gradcheck, record=record, limits=limits)


def _check_params(graph: Graph, params: Sequence[str], learning_rate: float | None, limits: Limits) -> list[int]:
    if not params:
        return []
    if len(params) > limits.max_params:
        raise ValueInputError(f"params names {len(params)} variables; the cap is {limits.max_params}", "params",
                              code="limit_exceeded")
    if learning_rate is None:
        raise ValueInputError("params are given but learning_rate is not: add a learning rate such as 0.1",
                              "learning_rate", code="missing_value")
    if not (limits.min_learning_rate <= learning_rate <= limits.max_learning_rate):
        raise ValueInputError(f"learning_rate must be between {limits.min_learning_rate:g} and "
                              f"{limits.max_learning_rate:g}", "learning_rate", code="invalid_value")
    indices = []
    for name in params:
        if name not in graph.inputs:
            inputs = ", ".join(graph.inputs) or "none"
            raise ValueInputError(f"params names '{name}', which is not an input of the program; its inputs are "
                                  f"{inputs}", "params", code="unknown_param")
        if graph.inputs[name] in indices:
            raise ValueInputError(f"params names '{name}' twice", "params", code="invalid_value")
        indices.append(graph.inputs[name])
    return indices


def _update(result: Trace, bindings: dict[int, Any], params: list[int], learning_rate: float) -> Update:
    graph = result.graph
    moved = dict(bindings)
    gradients = {}
    for i in params:
        node = graph.nodes[i]
        before, gradient = bindings[i], result.grads[i]
        after = sgd_step(before, gradient, learning_rate)
        moved[i] = after
        gradients[node.label] = gradient
        result.steps.append(UpdateStep(
            len(result.steps), node.id, before, gradient, learning_rate, after,
            f"{node.label} = {number_text(before)} - {number_text(learning_rate)} * "
            f"{operand_number(gradient, 'infix', 1, '')} = {number_text(after)}"))
    loss_before = scalar_loss(result.values[graph.output])
    loss_after = scalar_loss(output_value(graph, moved))
    return Update(learning_rate, loss_before, loss_after, taylor_prediction(loss_before, gradients, learning_rate))
