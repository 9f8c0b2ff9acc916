// What is known at step k: replaying the recorded steps 0..k of a trace, as engine/replay.py does.
// No arithmetic happens here: every number is copied from a step the server recorded.

export const PENDING = "pending";
const OK = "ok";
const NO_GRADIENT = "none";

/** The key of an edge: the consumer node and which of its inputs it is. */
export function edgeKey(consumer, operand) {
  return `${consumer}:${operand}`;
}

export class Replay {
  constructor(trace) {
    this.trace = trace;
    this.steps = trace.steps;
    this.nodes = trace.nodes;
    this.index = new Map(trace.nodes.map((node, i) => [node.id, i]));
    this.lastBackward = -1;
    // The step at which each edge's gradient flowed back (edges never reached have none).
    this.edgeStep = new Map();
    for (const step of this.steps) {
      if (step.phase !== "backward") continue;
      this.lastBackward = step.index;
      if ("from" in step) this.edgeStep.set(edgeKey(step.from, step.operand), step.index);
    }
  }

  get count() {
    return this.steps.length;
  }

  clamp(step) {
    return Math.min(Math.max(Math.trunc(Number(step) || 0), 0), Math.max(this.count - 1, 0));
  }

  /**
   * {step, current, value[], status[], grad[], gradStatus[], after[], gradBefore}: per node index,
   * what steps 0..k recorded; gradBefore is the current node's gradient just before this step
   * (undefined when this step brings its first contribution).
   */
  stateAt(step) {
    const n = this.nodes.length;
    const value = new Array(n).fill(null);
    const status = new Array(n).fill(PENDING);
    const grad = new Array(n).fill(null);
    const gradStatus = this.nodes.map((node) => (node.grad_status === NO_GRADIENT ? NO_GRADIENT : PENDING));
    const after = new Array(n).fill(undefined);
    const k = this.clamp(step);
    let gradBefore;
    for (let s = 0; s <= k && s < this.count; s += 1) {
      const current = this.steps[s];
      const i = this.index.get(current.node);
      if (current.phase === "forward") {
        value[i] = current.value;
        status[i] = current.status;
      } else if (current.phase === "backward") {
        if (s === k) gradBefore = gradStatus[i] === PENDING || gradStatus[i] === NO_GRADIENT ? undefined : grad[i];
        if ("from" in current) {
          grad[i] = current.grad;
          gradStatus[i] = current.status;
        } else if (this.nodes[i].grad_status !== NO_GRADIENT) {
          grad[i] = current.grad;
          gradStatus[i] = OK;
        }
      } else if (current.phase === "update") {
        after[i] = current.after;
      }
    }
    // Once the backward pass is over, a node no edge reached is known to keep its final gradient.
    if (this.count > 0 && k >= this.lastBackward && this.lastBackward >= 0) {
      this.nodes.forEach((node, i) => {
        if (gradStatus[i] === PENDING) {
          grad[i] = node.grad;
          gradStatus[i] = node.grad_status;
        }
      });
    }
    return { step: k, current: this.steps[k] ?? null, value, status, grad, gradStatus, after, gradBefore };
  }

  /** Whether the edge's gradient has flowed back by step k. */
  edgeDone(key, step) {
    const at = this.edgeStep.get(key);
    return at !== undefined && at <= step;
  }
}
