// The explanation of the current step: the formula with the numbers filled in (KaTeX) and one
// plain sentence in the page's language.
import katex from "/static/vendor/katex/katex.mjs";
import { el } from "./dom.js";
import { formatOperand, formatValue, fullText, prettyFormula } from "./format.js";
import { fill, language, t } from "./i18n.js";
import { stepLatex } from "./latex.js";

const KATEX_OPTIONS = { displayMode: true, throwOnError: false, trust: false, strict: "ignore", output: "htmlAndMathml" };
const OK = "ok";

/** A number in a sentence; a non-finite one (null in the trace) as ⚠ NaN or ⚠ ∞, after the step's status. */
function number(value, className, asOperand = false, status = OK) {
  if (value === null || value === undefined) {
    return el("span", { className: `num ${className} bad` }, `⚠ ${status === "nan" ? "NaN" : "∞"}`);
  }
  return el("span", { className: `num ${className}`, attrs: { title: fullText(value) } },
    asOperand ? formatOperand(value) : formatValue(value));
}

function name(label) {
  return el("code", {}, label);
}

export class Explanation {
  constructor(root) {
    this.phase = root.querySelector("#step-phase");
    this.formula = root.querySelector("#formula");
    this.sentence = root.querySelector("#sentence");
    this.doc = root.querySelector("#op-doc");
  }

  clear() {
    this.phase.replaceChildren();
    this.formula.replaceChildren();
    this.sentence.replaceChildren();
    this.doc.hidden = true;
  }

  /** ctx = {step, nodes: Map, ops: Map, output: node, gradBefore, total} */
  show(ctx) {
    const { step, total } = ctx;
    if (!step) {
      this.clear();
      return;
    }
    this.phase.dataset.phase = step.phase;
    fill(this.phase, "explain.phase", {
      step: String(step.index + 1), total: String(total), phase: t(`phase.${step.phase}`),
    });
    const lines = stepLatex(ctx).map((latex) => {
      const line = el("div", { className: "formula-line", data: { latex } });
      katex.render(latex, line, KATEX_OPTIONS);
      return line;
    });
    this.formula.dataset.phase = step.phase;
    this.formula.replaceChildren(...lines);
    this.sentence.replaceChildren(...this.sentenceParts(ctx));
    const doc = this.opDoc(ctx);
    this.doc.textContent = doc;
    this.doc.hidden = doc === "";
  }

  sentenceParts(ctx) {
    const { step, nodes, output, gradBefore } = ctx;
    const node = nodes.get(step.node);
    const parts = [];
    const add = (key, params) => parts.push(fill(el("span"), key, params), " ");
    if (step.phase === "forward") {
      const value = number(step.value, "value", false, step.status);
      if (node.op === "input") add("explain.forward_input", { label: name(node.label), value });
      else if (node.op === "const") add("explain.forward_const", { value });
      else {
        const inputs = node.inputs.map((id) => nodes.get(id).label);
        add("explain.forward_op", {
          label: name(node.label), inputs: name([...new Set(inputs)].join(", ")), value,
        });
      }
      if (step.status !== OK) add("explain.problem", { status: t(`status.${step.status}`) });
    } else if (step.phase === "backward" && !("from" in step)) {
      add("explain.seed", { output: name(output.label) });
    } else if (step.phase === "backward") {
      const from = nodes.get(step.from);
      if (step.local === null && Array.isArray(step.contribution)) {
        add("explain.edge_tensor", { from: name(from.label), node: name(node.label) });
      } else {
        const status = step.status;
        add("explain.edge", {
          from: name(from.label), node: name(node.label), upstream: number(step.upstream, "grad", false, status),
          local: number(step.local, "local", true, status), contribution: number(step.contribution, "grad", false, status),
        });
      }
      if (gradBefore !== undefined && !Array.isArray(step.grad)) {
        add("explain.edge_sum", {
          node: name(node.label), before: number(gradBefore, "grad", false, step.status),
          contribution: number(step.contribution, "grad", true, step.status),
          grad: number(step.grad, "grad", false, step.status),
        });
      } else {
        add("explain.edge_first", {
          output: name(output.label), node: name(node.label), grad: number(step.grad, "grad", false, step.status),
        });
      }
      if (step.status !== OK) add("explain.problem", { status: t(`status.${step.status}`) });
    } else if (step.phase === "update") {
      add("explain.update", {
        label: name(node.label), before: number(step.before, "value"), rate: formatValue(step.learning_rate),
        grad: number(step.grad, "grad", true), after: number(step.after, "value"),
      });
    }
    parts.pop();
    return parts;
  }

  /** The op table's own sentence about the op at work (forward: the node's op; backward: the edge's op). */
  opDoc({ step, nodes, ops }) {
    const id = step.phase === "backward" && "from" in step ? step.from : step.phase === "forward" ? step.node : null;
    const op = id ? ops.get(nodes.get(id).op) : null;
    const doc = op?.doc?.[language()] ?? op?.doc?.en ?? "";
    return doc ? prettyFormula(doc) : "";
  }
}
