"""The computational graph: nodes kept in topological order by construction.

A node is added only after its inputs, so the list order is a topological order and every walk
is a plain loop over it (forwards or backwards): no recursion, so 10,000-node chains are fine.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import LimitError
from .limits import LIMITS, Limits
from .ops import OPS, Op

INPUT = "input"
CONST = "const"


@dataclass(slots=True)
class Span:
    line: int
    column: int
    end_line: int
    end_column: int

    def to_dict(self) -> dict[str, int]:
        return {"line": self.line, "column": self.column, "end_line": self.end_line, "end_column": self.end_column}


@dataclass(slots=True)
class Node:
    id: str
    index: int
    op: str  # "input", "const" or a name from the op table
    inputs: tuple[int, ...]
    label: str
    named: bool  # the label is a name the program gave (an input or an assignment)
    span: Span | None = None
    constant: float | None = None
    aliases: tuple[str, ...] = ()
    settings: dict[str, int] | None = None  # constants written in the call, such as the axis of sum(x, 1)
    requires_grad: bool = True  # False for an input that is data (X, Y): no gradient is computed for it

    @property
    def is_leaf(self) -> bool:
        return self.op in (INPUT, CONST)


@dataclass
class Graph:
    limits: Limits = LIMITS
    nodes: list[Node] = field(default_factory=list)
    inputs: dict[str, int] = field(default_factory=dict)  # variable name -> node index
    output: int | None = None
    # Explanations a builder (engine.nn) attaches to steps: ("forward", node) or ("edge", from, operand) -> dict
    notes: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def memo(self, name: str, compute: Callable[[], Any]) -> Any:
        """A value derived from the graph's shape, computed once for as long as the graph is unchanged."""
        key = (name, len(self.nodes), self.output)
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def _append(self, op: str, inputs: tuple[int, ...], label: str, named: bool, span: Span | None,
                constant: float | None = None) -> Node:
        if len(self.nodes) >= self.limits.max_nodes:
            raise LimitError(
                f"the program has more than {self.limits.max_nodes} nodes (the cap is max_nodes)",
                "max_nodes", self.limits.max_nodes,
                line=span.line if span else None, column=span.column if span else None,
            )
        index = len(self.nodes)
        node = Node(f"n{index}", index, op, inputs, label, named, span, constant)
        self.nodes.append(node)
        return node

    def add_input(self, name: str, span: Span | None = None, *, requires_grad: bool = True) -> Node:
        node = self._append(INPUT, (), name, True, span)
        node.requires_grad = requires_grad
        self.inputs[name] = node.index
        return node

    def add_const(self, value: float, text: str, span: Span | None = None) -> Node:
        return self._append(CONST, (), text, False, span, constant=value)

    def add_op(self, op: Op | str, inputs: tuple[int, ...], label: str, span: Span | None = None,
               settings: dict[str, int] | None = None) -> Node:
        op = OPS[op] if isinstance(op, str) else op
        if len(inputs) != op.arity:
            raise ValueError(f"op {op.name!r} takes {op.arity} inputs, got {len(inputs)}")
        if min(inputs) < 0 or max(inputs) >= len(self.nodes):
            raise ValueError("a node's inputs must be added before it")
        known = {setting.name: setting.choices for setting in op.settings}
        for name, value in (settings or {}).items():
            if value not in known.get(name, ()):
                raise ValueError(f"op {op.name!r} has no setting {name}={value!r}")
        node = self._append(op.name, inputs, label, False, span)
        node.settings = dict(settings) if settings else None
        return node

    def add_element(self, op: str, inputs: tuple[int, ...], label: str, *, named: bool = False) -> Node:
        """One element of a tensor node of another graph, `op` being that node's op and `inputs` the elements
        it depends on, as many as there are (engine.nn's neuron view splits the layer view so). Such a graph
        records numbers computed elsewhere: engine.evaluate never runs it."""
        if op not in OPS:
            raise ValueError(f"op {op!r} is not in the op table")
        if inputs and (min(inputs) < 0 or max(inputs) >= len(self.nodes)):
            raise ValueError("a node's inputs must be added before it")
        return self._append(op, inputs, label, named, None)

    def name_node(self, index: int, name: str) -> None:
        node = self.nodes[index]
        if node.named:
            node.aliases += (name,)
        else:
            node.label = name
            node.named = True

    def depends_on_inputs(self) -> list[bool]:
        """For each node: does its value depend on some input that wants a gradient (so it carries one)?"""
        needs: list[bool] = []
        for node in self.nodes:
            need = node.op == INPUT and node.requires_grad
            for i in node.inputs:
                if needs[i]:
                    need = True
                    break
            needs.append(need)
        return needs

    def reaches_output(self) -> list[bool]:
        """For each node: does some path lead from it to the output?"""
        reach = [False] * len(self.nodes)
        if self.output is None:
            return reach
        reach[self.output] = True
        for node in reversed(self.nodes):
            if reach[node.index]:
                for i in node.inputs:
                    reach[i] = True
        return reach
