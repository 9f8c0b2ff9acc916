// LaTeX for one step, built from the step's structured fields and the op table's templates
// ({a}, {b}, {out}; doubled braces are literal, as in Python's str.format). Labels come from
// the user's program, so they are escaped here and KaTeX renders with trust off.

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const INDEXED = /^([A-Za-z])([0-9]+)$/;
const TEXT_SPECIALS = {
  "\\": "\\textbackslash{}", "{": "\\{", "}": "\\}", "$": "\\$", "&": "\\&", "#": "\\#",
  "^": "\\textasciicircum{}", "_": "\\_", "%": "\\%", "~": "\\textasciitilde{}",
};
const MAX_ROWS = 4;
const MAX_COLUMNS = 4;

/** Text safe inside \text{} / \texttt{}: every character that means something to TeX escaped. */
export function escapeText(text) {
  return [...String(text)].map((c) => TEXT_SPECIALS[c] ?? (c < " " ? " " : c)).join("");
}

/** A node's label as a math symbol: x, w_{0}, \mathrm{loss}; an expression in parentheses. */
export function symbol(label) {
  const text = String(label);
  if (/^[A-Za-z]$/.test(text)) return text;
  const indexed = INDEXED.exec(text);
  if (indexed) return `${indexed[1]}_{${indexed[2]}}`;
  if (IDENTIFIER.test(text)) return `\\mathrm{${escapeText(text)}}`;
  if (/^[0-9.eE+-]+$/.test(text)) return `\\texttt{${escapeText(text)}}`;
  return `\\left(\\texttt{${escapeText(text)}}\\right)`;
}

/** ∂top/∂bottom as a fraction. */
export function partial(top, bottom) {
  return `\\frac{\\partial ${symbol(top)}}{\\partial ${symbol(bottom)}}`;
}

/** A number with 4 significant digits; NaN and infinities by name. */
export function number(x, digits = 4) {
  if (x === null || x === undefined || Number.isNaN(x)) return "\\text{NaN}";
  if (!Number.isFinite(x)) return x > 0 ? "\\infty" : "-\\infty";
  if (x === 0) return "0";
  const size = Math.abs(x);
  if (size >= 1e-3 && size < 1e5) return String(Number(x.toPrecision(digits)));
  const [mantissa, exponent] = x.toExponential(digits - 1).split("e");
  return `${Number(mantissa)} \\times 10^{${Number(exponent)}}`;
}

/** A number as an operand: in parentheses when negative, so −4² is never read for (−4)². */
export function operand(x) {
  const text = value(x);
  return typeof x === "number" && (x < 0 || Object.is(x, -0)) ? `\\left(${text}\\right)` : text;
}

function matrixRow(items, columns) {
  const shown = items.slice(0, columns).map((item) => number(item));
  if (items.length > columns) shown.push("\\cdots");
  return shown.join(" & ");
}

/** A number, or a vector / matrix as a bracketed matrix cut to 4 × 4. */
export function value(v) {
  if (!Array.isArray(v)) return number(v);
  if (v.length === 0) return "[\\,]";
  if (!Array.isArray(v[0])) return `\\begin{bmatrix} ${matrixRow(v, MAX_COLUMNS)} \\end{bmatrix}`;
  const rows = v.slice(0, MAX_ROWS).map((row) => matrixRow(row, MAX_COLUMNS));
  if (v.length > MAX_ROWS) rows.push("\\vdots");
  return `\\begin{bmatrix} ${rows.join(" \\\\ ")} \\end{bmatrix}`;
}

/** Python str.format on a template: {name} from params, {{ and }} literal braces. */
export function fillTemplate(template, params) {
  return String(template).replace(/\{\{|\}\}|\{([a-z_]+)\}/g, (whole, name) => {
    if (whole === "{{") return "{";
    if (whole === "}}") return "}";
    return Object.hasOwn(params, name) ? params[name] : whole;
  });
}

const isScalar = (v) => v === null || typeof v === "number";

/**
 * The LaTeX lines for one step.
 * ctx = {step, nodes: Map id -> node, ops: Map name -> op, output (node), gradBefore}
 */
export function stepLatex(ctx) {
  const { step } = ctx;
  if (step.phase === "forward") return forwardLatex(ctx);
  if (step.phase === "backward") return "from" in step ? edgeLatex(ctx) : seedLatex(ctx);
  if (step.phase === "update") return updateLatex(ctx);
  return [];
}

function isNamed(node) {
  return IDENTIFIER.test(node.label);
}

function forwardLatex({ step, nodes, ops }) {
  const node = nodes.get(step.node);
  const shown = step.status === "ok" || step.value !== null ? value(step.value) : statusNumber(step.status);
  if (node.op === "input") return [`${symbol(node.label)} = ${shown}`];
  if (node.op === "const") return [shown];
  const op = ops.get(node.op);
  const inputs = node.inputs.map((id) => nodes.get(id));
  const names = ["a", "b"];
  const symbols = {};
  const numbers = {};
  inputs.forEach((input, i) => {
    symbols[names[i]] = symbol(input.label);
    numbers[names[i]] = operand(input.value);
  });
  const parts = [];
  if (isNamed(node)) parts.push(symbol(node.label));
  if (op?.latex) {
    parts.push(fillTemplate(op.latex, symbols));
    if (inputs.every((input) => isScalar(input.value))) parts.push(fillTemplate(op.latex, numbers));
  }
  parts.push(shown);
  return [parts.join(" = ")];
}

function statusNumber(status) {
  return status === "nan" ? "\\text{NaN}" : "\\infty";
}

function seedLatex({ step, nodes }) {
  const node = nodes.get(step.node);
  return [`${partial(node.label, node.label)} = ${number(step.grad)}`];
}

function localLatex({ step, nodes, ops }) {
  const consumer = nodes.get(step.from);
  const op = ops.get(consumer.op);
  const template = op?.local_latex?.[step.operand];
  if (template === undefined) return null;
  const inputs = consumer.inputs.map((id) => nodes.get(id));
  const names = ["a", "b"];
  const symbols = { out: symbol(consumer.label) };
  const numbers = { out: operand(consumer.value) };
  inputs.forEach((input, i) => {
    symbols[names[i]] = symbol(input.label);
    numbers[names[i]] = operand(input.value);
  });
  return { symbolic: fillTemplate(template, symbols), numeric: fillTemplate(template, numbers) };
}

function edgeLatex(ctx) {
  const { step, nodes, output, gradBefore } = ctx;
  const from = nodes.get(step.from);
  const node = nodes.get(step.node);
  const local = localLatex(ctx);
  const lines = [];
  const dLocal = partial(from.label, node.label);
  const dUpstream = partial(output.label, from.label);
  const dNode = partial(output.label, node.label);
  const tensor = step.local === null && !isScalar(step.contribution);
  if (local) {
    const parts = [dLocal, local.symbolic];
    const result = number(step.local);
    const bare = [result, `\\left(${result}\\right)`];
    if (!tensor && local.numeric !== local.symbolic && !bare.includes(local.numeric)) parts.push(local.numeric);
    if (!tensor && !bare.includes(local.symbolic)) parts.push(result);
    lines.push(parts.join(" = "));
  }
  const accumulated = gradBefore !== undefined;
  const earlier = accumulated ? `${value(gradBefore)} + ` : "";
  const chain = `${earlier}${dUpstream} \\cdot ${dLocal}`;
  if (tensor) {
    lines.push(`${dNode} = ${chain}`);
    lines.push(`${dNode} = ${value(step.grad)}`);
  } else {
    const product = `(${value(step.upstream)})(${value(step.local)})`;
    const parts = [dNode, chain, `${earlier}${product}`];
    if (accumulated) parts.push(`${value(gradBefore)} + ${operand(step.contribution)}`);
    parts.push(value(step.grad));
    lines.push(parts.join(" = "));
  }
  return lines;
}

function updateLatex({ step, nodes, output }) {
  const node = nodes.get(step.node);
  const name = symbol(node.label);
  const rate = number(step.learning_rate);
  return [
    `${name} \\leftarrow ${name} - \\eta \\, ${partial(output.label, node.label)}`
    + ` = ${value(step.before)} - ${rate} \\cdot ${operand(step.grad)} = ${value(step.after)}`,
  ];
}
