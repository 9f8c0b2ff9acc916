"""The state a trace has reached at step k: what a student has seen so far, nothing more."""
from __future__ import annotations

from typing import Any

from .errors import ValueInputError
from .evaluate import OK
from .trace import EdgeStep, ForwardStep, SeedStep, Trace, UpdateStep
from .values import to_json

PENDING = "pending"


def state_at(trace: Trace, step: int) -> dict[str, Any]:
    if not 0 <= step < len(trace.steps):
        raise ValueInputError(f"step must be between 0 and {len(trace.steps) - 1} for this trace", "step",
                              code="invalid_value")
    nodes = trace.graph.nodes
    index_of = {node.id: node.index for node in nodes}
    value: dict[int, Any] = {}
    status: dict[int, str] = {}
    grad: dict[int, Any] = {}
    grad_status: dict[int, str] = {}
    after: dict[int, Any] = {}
    for current in trace.steps[: step + 1]:
        i = index_of[current.node]
        if isinstance(current, ForwardStep):
            value[i], status[i] = current.value, current.status
        elif isinstance(current, SeedStep):
            if trace.grads[i] is not None:  # an output that depends on no input carries no gradient
                grad[i], grad_status[i] = current.grad, OK
        elif isinstance(current, EdgeStep):
            grad[i], grad_status[i] = current.grad, current.status
        elif isinstance(current, UpdateStep):
            after[i] = current.after
    # Once the backward pass is over, a node no edge reached is known to keep its gradient of 0.
    backward_over = step >= _last_backward_step(trace)
    states = []
    for node in nodes:
        i = node.index
        carries_grad = trace.grads[i] is not None
        if backward_over and carries_grad and i not in grad:
            grad[i], grad_status[i] = trace.grads[i], trace.grad_status[i]
        known_grad = i in grad
        states.append({
            "id": node.id,
            "value": to_json(value.get(i)),
            "status": status.get(i, PENDING),
            "grad": to_json(grad[i]) if known_grad else None,
            "grad_status": grad_status[i] if known_grad else (PENDING if carries_grad else "none"),
            **({"after": to_json(after[i])} if i in after else {}),
        })
    current = trace.steps[step].to_dict()
    return {"step": step, "steps": len(trace.steps), "phase": current["phase"], "current": current,
            "nodes": states, "output": trace.output.id}


def _last_backward_step(trace: Trace) -> int:
    return max((s.index for s in trace.steps if isinstance(s, (SeedStep, EdgeStep))), default=-1)
