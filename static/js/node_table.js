// The table of every node (label, op, value, gradient, status), and the sentences that say what
// went wrong where a value or gradient is not finite.
import { el } from "./dom.js";
import { dataNumber, formatValue, fullText } from "./format.js";
import { fill, t } from "./i18n.js";

const OK = "ok";
const NO_GRADIENT = "none";
const PENDING = "pending";

function isProblem(status) {
  return status !== OK && status !== NO_GRADIENT && status !== PENDING;
}

function pendingCell(className) {
  return el("td", { className: `num ${className} pending`, attrs: { title: t("nodes.pending_title") } },
    t("nodes.pending"));
}

function marker() {
  return el("span", { className: "marker", attrs: { "aria-hidden": "true" } }, t("problem.marker"));
}

function valueCell(node) {
  if (node.status === PENDING) return pendingCell("value");
  const cell = el("td", { className: "num value" });
  if (node.status !== OK) {
    cell.classList.add("bad");
    cell.append(marker(), " ", t(`status.${node.status}`));
  } else {
    cell.textContent = formatValue(node.value);
    cell.title = fullText(node.value);
  }
  return cell;
}

function gradCell(node) {
  if (node.grad_status === PENDING) return pendingCell("grad");
  const cell = el("td", { className: "num grad" });
  if (node.grad_status === NO_GRADIENT) {
    cell.classList.add("none");
    cell.textContent = t("nodes.no_grad");
    cell.title = t("nodes.no_grad_title");
  } else if (node.grad_status !== OK) {
    cell.classList.add("bad");
    cell.append(marker(), " ", t(`status.${node.grad_status}`));
  } else {
    cell.textContent = formatValue(node.grad);
    cell.title = fullText(node.grad);
  }
  return cell;
}

function statusCell(node) {
  const cell = el("td", { className: "status" });
  const problems = [];
  if (isProblem(node.status)) problems.push(t(`status.${node.status}`));
  if (isProblem(node.grad_status)) problems.push(t("status.grad_problem", { status: t(`status.${node.grad_status}`) }));
  if (node.status === PENDING) {
    cell.textContent = t("nodes.pending");
  } else if (problems.length === 0) {
    cell.textContent = t("status.ok");
  } else {
    cell.classList.add("bad");
    cell.append(marker(), " ", problems.join("; "));
  }
  return cell;
}

function row(node, isOutput) {
  const gradText = node.grad_status === NO_GRADIENT ? "none" : node.grad_status === PENDING ? "" : dataNumber(node.grad);
  return el("tr", {
    className: [isOutput ? "output" : "", isProblem(node.status) || isProblem(node.grad_status) ? "has-problem" : ""]
      .filter(Boolean).join(" "),
    data: {
      nodeId: node.id, label: node.label, role: node.role,
      value: node.status === PENDING ? "" : dataNumber(node.value), grad: gradText,
      status: node.status, gradStatus: node.grad_status,
    },
  },
  el("th", { className: "label", attrs: { scope: "row" } }, el("code", {}, node.label)),
  el("td", { className: "op" }, el("code", {}, node.op)),
  valueCell(node),
  gradCell(node),
  statusCell(node));
}

/**
 * Fill tbody with one row per node, in the engine's (topological) order: what is known at a step
 * (state from replay.js: numbers not yet computed are marked so), or the final answer without one.
 */
export function renderNodeTable(tbody, trace, state = null) {
  const shown = state === null ? trace.nodes : trace.nodes.map((node, i) => ({
    ...node, value: state.value[i], status: state.status[i], grad: state.grad[i], grad_status: state.gradStatus[i],
  }));
  tbody.replaceChildren(...shown.map((node) => row(node, node.id === trace.output)));
}

function labelCode(text) {
  return el("code", {}, text);
}

/** One sentence per non-finite value or gradient: what happened, and where it began. */
export function renderProblems(list, trace) {
  const byId = new Map(trace.nodes.map((node) => [node.id, node]));
  const output = byId.get(trace.output)?.label ?? "";
  const items = [];
  const sentence = (kind, node, status, origin) => {
    const item = el("li", { data: { nodeId: node.id, kind, status } }, marker(), " ");
    item.append(fill(el("span"), `problem.${kind}.${status}`, { label: labelCode(node.label), output: labelCode(output) }));
    const source = origin ? byId.get(origin) : null;
    if (source && source.id !== node.id) {
      item.append(" ", fill(el("span"), "problem.began_at", { origin: labelCode(source.label) }));
    }
    items.push(item);
  };
  // Values in forward order, then gradients: the order in which the trouble happened.
  for (const node of trace.nodes) {
    if (isProblem(node.status)) sentence("value", node, node.status, node.bad_from);
  }
  for (const node of trace.nodes) {
    if (isProblem(node.grad_status)) sentence("grad", node, node.grad_status, node.grad_bad_from);
  }
  list.replaceChildren(...items);
  list.hidden = items.length === 0;
}
