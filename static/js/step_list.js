// The recorded steps as lists: forward formulas, then the backward pass edge by edge
// (upstream × local = contribution, and the gradient accumulated so far).
import { el } from "./dom.js";
import { dataNumber, formatOperand, formatValue, fullText, prettyFormula } from "./format.js";
import { fill, t } from "./i18n.js";

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A label as it reads after ∂: a name as it is, an expression in parentheses. */
function symbol(label) {
  return IDENTIFIER.test(label) ? label : `(${label})`;
}

function number(value, className, operand = false) {
  const text = operand ? formatOperand(value) : formatValue(value);
  return el("span", { className: `num ${className}`, attrs: { title: fullText(value) } }, text);
}

function forwardItem(step) {
  const item = el("li", {
    className: step.status === "ok" ? "" : "bad",
    data: { stepIndex: String(step.index), phase: "forward", nodeId: step.node, value: dataNumber(step.value) },
  }, el("span", { className: "formula value" }, prettyFormula(step.formula)));
  if (step.status !== "ok") item.append(" ", problemNote(step.status));
  return item;
}

function problemNote(status) {
  return el("span", { className: "problem-note" },
    el("span", { className: "marker", attrs: { "aria-hidden": "true" } }, t("problem.marker")), " ", t(`status.${status}`));
}

function seedItem(step, output) {
  return el("li", {
    className: "seed",
    data: { stepIndex: String(step.index), phase: "backward", nodeId: step.node, grad: dataNumber(step.grad) },
  }, fill(el("span"), "steps.seed", { output: symbol(output), one: number(step.grad, "grad") }));
}

function edgeItem(step, nodes, output) {
  const from = symbol(nodes.get(step.from)?.label ?? step.from);
  const target = symbol(nodes.get(step.node)?.label ?? step.node);
  const local = step.local === null && step.contribution !== null
    ? el("span", { className: "num local" }, `(${step.local_formula})`) // tensor edge: the Jacobian's formula
    : number(step.local, "local", true);
  const item = el("li", {
    className: step.status === "ok" ? "edge" : "edge bad",
    data: {
      stepIndex: String(step.index), phase: "backward", nodeId: step.node, from: step.from,
      upstream: dataNumber(step.upstream), local: dataNumber(step.local),
      contribution: dataNumber(step.contribution), grad: dataNumber(step.grad),
    },
  },
  fill(el("span", { className: "edge-name" }), "steps.edge", { from, node: target }),
  fill(el("span", { className: "edge-product" }), "steps.edge_product", {
    upstream: number(step.upstream, "grad"), local, contribution: number(step.contribution, "grad"),
  }),
  fill(el("span", { className: "edge-terms" }), "steps.edge_terms", {
    output: symbol(output), from, node: target, local_formula: prettyFormula(step.local_formula),
  }),
  fill(el("span", { className: "edge-total" }), "steps.edge_total", {
    output: symbol(output), node: target, grad: number(step.grad, "grad"),
  }));
  if (step.status !== "ok") item.append(problemNote(step.status));
  return item;
}

/** Fill the forward and backward lists from trace.steps. */
export function renderSteps({ forward, backward }, trace) {
  const nodes = new Map(trace.nodes.map((node) => [node.id, node]));
  const output = nodes.get(trace.output)?.label ?? trace.output;
  forward.replaceChildren(...trace.steps.filter((step) => step.phase === "forward")
    .map(forwardItem));
  backward.replaceChildren(...trace.steps.filter((step) => step.phase === "backward")
    .map((step) => ("from" in step ? edgeItem(step, nodes, output) : seedItem(step, output))));
}
