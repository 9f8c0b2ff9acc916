"""The forward pass: every node's value, and where a value went non-finite, why and where it started."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

from math import isfinite

import numpy as np

from .errors import LimitError, SourceError, ValueInputError
from .graph import CONST, INPUT, Graph, Node
from .ops import OPS, ShapeMismatch

OK = "ok"
# numpy's floating-point error names, as statuses a student can read
_STATUS_OF_FLAG = {"divide by zero": "div0", "overflow": "overflow", "invalid value": "nan"}


class FloatFlags:
    """numpy calls this on a floating-point error; the first one since the last reset is kept."""

    __slots__ = ("raised",)

    def __init__(self) -> None:
        self.raised: str | None = None

    def __call__(self, kind: str, flag: int) -> None:
        if self.raised is None:
            self.raised = kind

    def take(self) -> str | None:
        raised, self.raised = self.raised, None
        return raised

    def watching(self) -> Any:
        return np.errstate(divide="call", over="call", invalid="call", under="ignore", call=self)


def bad_status(result: Any, flag: str | None) -> str:
    if flag in _STATUS_OF_FLAG:
        return _STATUS_OF_FLAG[flag]
    return "nan" if np.isnan(result).any() else "inf"


@dataclass
class Forward:
    values: list[Any]
    status: list[str]
    origin: list[int | None]  # for a non-finite value: the node where non-finiteness began


def forward(graph: Graph, bindings: dict[int, Any], flags: FloatFlags | None = None) -> Forward:
    """Evaluate every node in order, checking sizes and finiteness. Call inside flags.watching() to learn
    why a value went bad. (The training fast path, which checks nothing, is run_forward below.)"""
    flags = flags or FloatFlags()
    values: list[Any] = []
    status: list[str] = []
    origin: list[int | None] = []
    elements = 0
    for node in graph.nodes:
        op_name = node.op
        if op_name == INPUT:
            result = bindings[node.index]
        elif op_name == CONST:
            result = np.float64(node.constant)
        else:
            operands = [values[i] for i in node.inputs]
            flags.raised = None
            try:
                if node.settings:
                    result = OPS[op_name].forward(*operands, **node.settings)
                else:
                    result = OPS[op_name].forward(*operands)
            except ValueError as error:
                raise _shape_error(graph, node, operands, error) from None
        values.append(result)
        if isinstance(result, float):
            if isfinite(result):
                status.append(OK)
                origin.append(None)
                continue
        else:
            elements += _check_size(graph, node, result, elements)
            if np.isfinite(result).all():
                status.append(OK)
                origin.append(None)
                continue
        poisoned = next((i for i in node.inputs if status[i] != OK), None)
        if poisoned is not None:
            status.append("nan" if np.isnan(result).any() else "inf")
            origin.append(origin[poisoned])
        else:
            status.append(bad_status(result, flags.take()))
            origin.append(node.index)
    return Forward(values, status, origin)


def _check_size(graph: Graph, node: Node, result: Any, elements: int) -> int:
    limits = graph.limits
    size = int(np.size(result))
    if size > limits.max_tensor_elements or elements + size > limits.max_total_elements:
        where = node.span
        message = (f"{node.label} makes a tensor of {size} numbers, and the program holds {elements + size} in "
                   f"all; the caps are {limits.max_tensor_elements} per node and {limits.max_total_elements} "
                   "in all (max_tensor_elements, max_total_elements)")
        limit = "max_tensor_elements" if size > limits.max_tensor_elements else "max_total_elements"
        if where is None:
            raise LimitError(message, limit, getattr(limits, limit), field="values")
        raise LimitError(f"line {where.line}, column {where.column}: {message}", limit, getattr(limits, limit),
                         line=where.line, column=where.column)
    return size


def _shape_error(graph: Graph, node: Node, operands: list[Any], error: ValueError) -> Exception:
    op = OPS[node.op]
    written = f"'{op.symbols[0]}'" if op.symbols else f"{op.name}(...)"
    shapes = " and ".join(f"{graph.nodes[i].label} (shape {list(np.shape(v))})"
                          for i, v in zip(node.inputs, operands))
    reason = str(error) if isinstance(error, ShapeMismatch) else \
        "the shapes do not broadcast (trailing sizes must be equal or 1)"
    message = f"{written} cannot {'combine' if len(operands) > 1 else 'take'} {shapes}: {reason}"
    if node.span is None:
        return ValueInputError(message, "values", code="shape_mismatch")
    return SourceError(message, node.span.line, node.span.column, code="shape_mismatch")


def _values(graph: Graph, bindings: dict[int, Any]) -> list[Any]:
    values: list[Any] = []
    append = values.append
    for node in graph.nodes:
        op_name = node.op
        if op_name == INPUT:
            append(bindings[node.index])
        elif op_name == CONST:
            append(np.float64(node.constant))
        elif node.settings:
            append(OPS[op_name].forward(*[values[i] for i in node.inputs], **node.settings))
        else:
            append(OPS[op_name].forward(*[values[i] for i in node.inputs]))
    return values


# ---- The training fast path: compiled once, numbers worked out when first read -------------------

LATER = object()  # a placeholder in a Deferred list


@dataclass(slots=True)
class Program:
    """A graph's forward pass for the training fast path (engine.trace.run, checked=False), compiled once."""
    template: list[Any]  # each constant in place, LATER for each node left for later, None for the rest
    inputs: list[int]
    steps: list[tuple[int, Callable[..., Any], tuple[int, ...]]]  # (node, forward with its settings, inputs)
    later: list[int]  # nodes worked out only when read (Deferred), in order


def compile_forward(graph: Graph, later: frozenset[int] = frozenset()) -> Program:
    template: list[Any] = [None] * len(graph.nodes)
    inputs, steps = [], []
    for node in graph.nodes:
        if node.op == INPUT:
            inputs.append(node.index)
        elif node.op == CONST:
            template[node.index] = np.float64(node.constant)  # a NumPy scalar never changes: one serves every run
        elif node.index in later:
            template[node.index] = LATER
        else:
            steps.append((node.index, _forward_of(node), node.inputs))
    return Program(template, inputs, steps, sorted(later))


def _forward_of(node: Node) -> Callable[..., Any]:
    forward = OPS[node.op].forward
    return functools.partial(forward, **node.settings) if node.settings else forward


def run_forward(program: Program, bindings: dict[int, Any]) -> list[Any]:
    """_values' numbers, without its per-node dispatch; call inside np.errstate."""
    values = list(program.template)
    for index in program.inputs:
        values[index] = bindings[index]
    for index, forward, inputs in program.steps:
        values[index] = forward(*[values[i] for i in inputs])
    return values


class Deferred(list):
    """A list whose LATER items are worked out when first read, in order: the training fast path skips the
    nodes no gradient goes through, such as an output layer's softmax (the loss reads the logits), which a
    trainer reads only now and then, for its accuracy."""

    def __init__(self, items: list[Any], pending: list[int], work_out: Callable[[Any, int], Any]) -> None:
        super().__init__(items)
        self._pending = list(pending)  # the LATER places, in order
        self._work_out = work_out  # (this list, index) -> that item: given the list, so no reference cycle

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        item = list.__getitem__(self, index)
        if item is LATER:
            last = index % len(self)
            with np.errstate(all="ignore"):
                while self._pending and self._pending[0] <= last:  # in order: no recursion, however long the chain
                    pending = self._pending.pop(0)
                    list.__setitem__(self, pending, self._work_out(self, pending))
            item = list.__getitem__(self, index)
        return item

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self)))

    def __reversed__(self) -> Any:
        return (self[i] for i in range(len(self) - 1, -1, -1))


def deferred_values(graph: Graph, program: Program, values: list[Any]) -> Deferred:
    """run_forward's `values` with the program's later nodes evaluated when first read."""
    nodes = graph.nodes

    def work_out(deferred: Deferred, index: int) -> Any:
        return _forward_of(nodes[index])(*[deferred[i] for i in nodes[index].inputs])
    return Deferred(values, program.later, work_out)


def output_value(graph: Graph, bindings: dict[int, Any]) -> Any:
    """Just the output, for re-evaluations (gradient check, the loss after an update)."""
    with np.errstate(all="ignore"):
        return _values(graph, bindings)[graph.output]


def scalar_loss(output: Any) -> float:
    """A tensor output is reduced by summing: its gradient seed is all ones."""
    return float(np.sum(output))
