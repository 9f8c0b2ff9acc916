// Words and formulas for the network page: the current stage of an iteration (what happens, in symbols
// and one sentence; in the neuron view one unit's sums with the actual numbers) and the selected layer
// (its formulas with the actual numbers, in KaTeX, and its matrices with their shapes). Matrices are cut
// to a corner; every cell shows its full value on hover; a cell not computed yet shows "·".
import { el } from "./dom.js";
import { dataNumber, formatNumber, fullText } from "./format.js";
import { fill, t } from "./i18n.js";
import { number as latexNumber, operand as latexOperand } from "./latex.js";
import { renderFormulas } from "./network_formula.js";

const TABLE_ROWS = 6;
const TABLE_COLUMNS = 6;
const TERMS = 4; // terms of a unit's weighted sum written out before "⋯"
const TERMS_PER_ROW = 2; // so that a sum fits the explanation column, on a phone too
const DERIVATIVE = {
  tanh: (l) => `1 - \\left(A^{[${l}]}\\right)^2`,
  relu: (l) => `\\mathbf{1}\\left[Z^{[${l}]} > 0\\right]`,
  sigmoid: (l) => `A^{[${l}]}\\left(1 - A^{[${l}]}\\right)`,
};

// A number that stopped being finite is marked, not written as NaN: the page says in words what happened.
// One not computed yet (a unit later in the neuron view) is a "?".
const number = (x) => (x === undefined ? "\\text{?}"
  : typeof x === "number" && Number.isFinite(x) ? latexNumber(x) : "\\text{⚠}");
const operand = (x) => (typeof x === "number" && Number.isFinite(x) ? latexOperand(x) : number(x));
const CORNER = 3; // rows and columns of a matrix written out in a formula

/** A number, or a vector / matrix as a bracketed matrix cut to its top-left corner. */
function value(v) {
  if (!Array.isArray(v)) return number(v);
  const rows = Array.isArray(v[0]) ? v : v.map((x) => [x]);
  const lines = rows.slice(0, CORNER).map((row) => {
    const cells = row.slice(0, CORNER).map((x) => number(x));
    if (row.length > CORNER) cells.push("\\cdots");
    return cells.join(" & ");
  });
  if (rows.length > CORNER) lines.push("\\vdots");
  return `\\begin{bmatrix} ${lines.join(" \\\\ ")} \\end{bmatrix}`;
}

const shapeText = (shape) => (Array.isArray(shape) && shape.length ? shape.join("×") : "1");
const texShape = (shape) => (Array.isArray(shape) && shape.length ? shape.join(" \\times ") : "1");
const matrix = (v, shape) => `\\underset{${texShape(shape)}}{${value(v)}}`;
const aligned = (left, ...rights) => `\\begin{aligned} ${left} &= ${rights.join(" \\\\ &= ")} \\end{aligned}`;
const transpose = (v) => (Array.isArray(v) && Array.isArray(v[0]) ? v[0].map((_, j) => v.map((row) => row[j])) : v);

/** The symbolic formulas of a layer's forward and backward pass (DESIGN.md's notation). */
function forwardSymbols(l, activation) {
  const z = `Z^{[${l}]} = W^{[${l}]} A^{[${l - 1}]} + b^{[${l}]}`;
  const a = activation === "linear" ? `A^{[${l}]} = Z^{[${l}]}` : `A^{[${l}]} = \\operatorname{${activation}}\\left(Z^{[${l}]}\\right)`;
  return [z, a];
}

function deltaSymbol(l, activation, last, lossNote) {
  if (last && lossNote) return lossNote;
  const derivative = DERIVATIVE[activation];
  return derivative ? `dZ^{[${l}]} = dA^{[${l}]} \\odot g'\\left(Z^{[${l}]}\\right),\\quad g' = ${derivative(l)}`
    : `dZ^{[${l}]} = dA^{[${l}]}`;
}

const weightSymbols = (l) => [`dW^{[${l}]} = dZ^{[${l}]} A^{[${l - 1}]\\top}`,
  `db^{[${l}]} = \\textstyle\\sum_{s=1}^{m} dZ^{[${l}]}_{:,s}`];
const backSymbol = (l) => `dA^{[${l - 1}]} = W^{[${l}]\\top} dZ^{[${l}]}`;

const UPDATE_SYMBOLS = {
  sgd: ["\\theta \\leftarrow \\theta - \\eta \\, d\\theta"],
  momentum: ["v \\leftarrow \\beta v + d\\theta", "\\theta \\leftarrow \\theta - \\eta \\, v"],
  nesterov: ["v \\leftarrow \\beta v + d\\theta", "\\theta \\leftarrow \\theta - \\eta \\left(d\\theta + \\beta v\\right)"],
  rmsprop: ["s \\leftarrow \\rho s + (1 - \\rho)\\, d\\theta^2",
    "\\theta \\leftarrow \\theta - \\eta \\, \\frac{d\\theta}{\\sqrt{s} + \\epsilon}"],
  adam: ["m \\leftarrow \\beta_1 m + (1 - \\beta_1)\\, d\\theta", "v \\leftarrow \\beta_2 v + (1 - \\beta_2)\\, d\\theta^2",
    "\\theta \\leftarrow \\theta - \\eta \\, \\frac{\\hat m}{\\sqrt{\\hat v} + \\epsilon}",
    "\\hat m = \\frac{m}{1 - \\beta_1^t},\\quad \\hat v = \\frac{v}{1 - \\beta_2^t}"],
};

// The neuron view has no engine notes: the loss and the output's dZ written here for the three losses
// the page builds (bce + sigmoid, cross-entropy + softmax, mse + linear: each gives dZ = (A - Y)/m).
const LOSS_SYMBOLS = {
  bce: "L = -\\frac{1}{m}\\sum_{s=1}^{m}\\left[y^{(s)} \\log a^{(s)} + \\left(1 - y^{(s)}\\right) \\log\\left(1 - a^{(s)}\\right)\\right]",
  cross_entropy: "L = -\\frac{1}{m}\\sum_{s=1}^{m} \\sum_{k} y^{(s)}_{k} \\log a^{(s)}_{k}",
  mse: "L = \\frac{1}{2m}\\sum_{s=1}^{m}\\left(a^{(s)} - y^{(s)}\\right)^2",
};
const OUTPUT_OF_LOSS = { bce: "sigmoid", cross_entropy: "softmax", mse: "linear" };
const outputIsSimple = (stages) => OUTPUT_OF_LOSS[stages.loss] === stages.activations[stages.layerCount - 1];

/** The note the engine wrote for the loss and for dZ[L] (they depend on the loss). */
function notes(stages) {
  if (stages.view === "neuron") {
    const L = stages.layerCount;
    return {
      loss: LOSS_SYMBOLS[stages.loss],
      lastDelta: outputIsSimple(stages) ? `dZ^{[${L}]} = \\frac{1}{m}\\left(A^{[${L}]} - Y\\right)` : undefined,
    };
  }
  const found = {};
  for (const stage of stages.stages) {
    for (const step of stage.steps) {
      if (step.note?.quantity === "loss" && step.phase === "forward" && !found.loss) found.loss = step.note.latex;
      if (step.note?.quantity === "dZ" && step.phase === "backward" && step.note.layer === stages.layerCount) {
        found.lastDelta = step.note.latex;
      }
    }
  }
  return found;
}

// ---- The current stage ------------------------------------------------------------------------

/** parts = {phase, formula, sentence}; context = {optimizer, lr, sample} */
export function renderStage(parts, stages, k, context) {
  if (stages.view === "neuron") {
    renderNeuronStage(parts, stages, k, context);
    return;
  }
  const stage = stages.stage(k);
  const total = stages.count;
  const l = stage.layer;
  const L = stages.layerCount;
  const activation = stages.activations[l - 1];
  const phaseKey = { input: "net.stage_input", forward: "net.stage_forward", loss: "net.stage_loss",
    backward: "net.stage_backward", update: "net.stage_update" }[stage.kind];
  parts.phase.dataset.phase = stage.kind === "backward" ? "backward" : stage.kind === "update" ? "update" : "forward";
  fill(parts.phase, "net.stage_counter", { step: String(k + 1), total: String(total), stage: t(phaseKey, { layer: String(l) }) });
  const found = notes(stages);
  const layer = l ? stages.layer(l, k) : null;
  let lines = [];
  const sentence = [];
  if (stage.kind === "input") {
    const X = stages.valueAt(stages.ids.X, k);
    lines = [`A^{[0]} = X = ${matrix(X, stages.nodes.get(stages.ids.X)?.shape)}`];
    sentence.push(["net.explain_input", { m: String(stages.m), features: String(stages.sizes[0]) }]);
  } else if (stage.kind === "forward") {
    lines = forwardSymbols(l, activation);
    sentence.push(["net.explain_forward", {
      layer: String(l), previous: String(l - 1), shape: shapeText(layer.shapes.Z), activation: activation ?? "",
    }]);
  } else if (stage.kind === "loss") {
    const loss = stages.lossAt(k);
    lines = [`${found.loss ?? "L"} = ${number(loss)}`];
    sentence.push(["net.explain_loss", { loss: formatNumber(loss ?? NaN), name: t(`loss.${stages.loss ?? "bce"}`) }]);
  } else if (stage.kind === "backward") {
    lines = [deltaSymbol(l, activation, l === L, found.lastDelta), ...weightSymbols(l)];
    if (l > 1) lines.push(backSymbol(l));
    sentence.push([l === L ? "net.explain_backward_last" : "net.explain_backward", {
      layer: String(l), previous: String(l - 1), shape: shapeText(layer.shapes.W),
    }]);
    sentence.push(["net.explain_one_over_m", {}]);
    if (l > 1) sentence.push(["net.explain_backward_on", { layer: String(l), previous: String(l - 1) }]);
  } else {
    const update = updateStage(stages, context);
    lines = update.lines;
    sentence.push(...update.sentence);
  }
  renderFormulas(parts.formula, lines, parts.phase.dataset.phase);
  writeSentence(parts.sentence, sentence);
}

function writeSentence(box, sentence) {
  const gap = t("net.sentence_gap");
  box.replaceChildren(...sentence.flatMap(([key, params]) => [fill(el("span"), key, params), gap]).slice(0, -1));
}

function updateStage(stages, context) {
  const lines = UPDATE_SYMBOLS[context.optimizer] ?? UPDATE_SYMBOLS.sgd;
  const update = stages.update;
  const sentence = [["net.explain_update", { optimizer: t(`opt.${context.optimizer}`), rate: formatNumber(context.lr) }]];
  if (update) {
    sentence.push(["net.explain_update_loss", {
      before: formatNumber(update.loss_before ?? NaN), after: formatNumber(update.loss_after ?? NaN),
      predicted: formatNumber(update.loss_predicted ?? NaN),
    }]);
  }
  return { lines, sentence };
}

// ---- The current stage, neuron by neuron ------------------------------------------------------

const ACTIVATION_LATEX = {
  tanh: (z, a, l, i) => [`\\tanh\\left(z^{[${l}]}_{${i}}\\right)`, `\\tanh\\left(${number(z)}\\right)`, number(a)],
  sigmoid: (z, a, l, i) => [`\\sigma\\left(z^{[${l}]}_{${i}}\\right) = \\frac{1}{1 + e^{-z^{[${l}]}_{${i}}}}`,
    `\\sigma\\left(${number(z)}\\right)`, number(a)],
  relu: (z, a, l, i) => [`\\max\\left(0, z^{[${l}]}_{${i}}\\right)`, `\\max\\left(0, ${number(z)}\\right)`, number(a)],
  softmax: (z, a, l, i) => [`\\frac{e^{z^{[${l}]}_{${i}}}}{\\sum_{k} e^{z^{[${l}]}_{k}}}`, number(a)],
  linear: (z, a, l, i) => [`z^{[${l}]}_{${i}}`, number(a)],
};

/** g'(z) times da, in symbols and with the unit's numbers: [symbolic, numeric]. */
function derivativeLatex(u, l, i) {
  const da = `da^{[${l}]}_{${i}}`;
  if (u.activation === "tanh") {
    return [`${da} \\left(1 - \\left(a^{[${l}]}_{${i}}\\right)^2\\right)`, `${operand(u.da)} \\cdot \\left(1 - ${operand(u.a)}^2\\right)`];
  }
  if (u.activation === "sigmoid") {
    return [`${da} \\, a^{[${l}]}_{${i}} \\left(1 - a^{[${l}]}_{${i}}\\right)`,
      `${operand(u.da)} \\cdot ${operand(u.a)} \\cdot \\left(1 - ${operand(u.a)}\\right)`];
  }
  if (u.activation === "relu") {
    return [`${da} \\, \\mathbf{1}\\left[z^{[${l}]}_{${i}} > 0\\right]`, `${operand(u.da)} \\cdot \\mathbf{1}\\left[${number(u.z)} > 0\\right]`];
  }
  return [da, number(u.da)];
}

/** w1·a1 + w2·a2 + … (+ tail): the first TERMS products written out, TERMS_PER_ROW to a row of an aligned. */
function sumOfProducts(pairs, tail = null) {
  const terms = pairs.slice(0, TERMS).map(([w, a]) => `${operand(w)} \\cdot ${operand(a)}`);
  if (pairs.length > TERMS) terms.push("\\cdots");
  if (tail !== null) terms.push(tail);
  const rows = [];
  for (let k = 0; k < terms.length; k += TERMS_PER_ROW) rows.push(terms.slice(k, k + TERMS_PER_ROW).join(" + "));
  return rows.join(" \\\\ &\\phantom{=} + ");
}

function rowLatex(values) {
  const cells = values.slice(0, TABLE_COLUMNS).map((x) => number(x));
  if (values.length > TABLE_COLUMNS) cells.push("\\cdots");
  return `\\begin{bmatrix} ${cells.join(" & ")} \\end{bmatrix}`;
}

/** The neuron view: one unit's forward or backward pass for the sample shown, with its numbers. */
function renderNeuronStage(parts, stages, k, context) {
  const stage = stages.stage(k);
  const L = stages.layerCount;
  const s = Math.min(Math.max(context.sample ?? 0, 0), stages.m - 1);
  const sample = String(s + 1);
  const l = stage.layer;
  const i = (stage.unit ?? 0) + 1;
  const stageName = {
    input: () => t("net.stage_input"),
    "neuron-forward": () => t("net.stage_neuron_forward", { layer: String(l), unit: String(i) }),
    loss: () => t("net.stage_loss"),
    "neuron-backward": () => t("net.stage_neuron_backward", { layer: String(l), unit: String(i) }),
    update: () => t("net.stage_update"),
  }[stage.kind]();
  parts.phase.dataset.phase = stage.kind === "neuron-backward" ? "backward" : stage.kind === "update" ? "update" : "forward";
  fill(parts.phase, "net.stage_counter", { step: String(k + 1), total: String(stages.count), stage: stageName });
  let lines = [];
  const sentence = [];
  if (stage.kind === "input") {
    const x = Array.from({ length: stages.sizes[0] }, (_, j) => stages.value("X", j, s));
    lines = [`a^{[0]} = x^{(${sample})} = \\begin{bmatrix} ${x.slice(0, TABLE_ROWS).map((v) => number(v)).join(" \\\\ ")}${x.length > TABLE_ROWS ? " \\\\ \\vdots" : ""} \\end{bmatrix}`];
    sentence.push(["net.explain_neuron_input", { sample, m: String(stages.m), features: String(stages.sizes[0]) }]);
  } else if (stage.kind === "neuron-forward") {
    const u = stages.unit(l, stage.unit, s);
    const sum = sumOfProducts(u.inputs.map(({ w, a }) => [w, a]), operand(u.b));
    lines = [aligned(`z^{[${l}]}_{${i}}`, `\\sum_{j} w^{[${l}]}_{${i}j} \\, a^{[${l - 1}]}_{j} + b^{[${l}]}_{${i}}`,
      sum, number(u.z))];
    const activation = ACTIVATION_LATEX[u.activation] ?? ACTIVATION_LATEX.linear;
    lines.push(aligned(`a^{[${l}]}_{${i}}`, ...activation(u.z, u.a, l, i)));
    sentence.push(["net.explain_neuron_forward", {
      unit: String(i), layer: String(l), previous: String(l - 1), sample, inputs: String(u.inputs.length),
      activation: u.activation ?? "",
    }]);
    if (stages.m > 1) sentence.push(["net.explain_neuron_others", { others: String(stages.m - 1) }]);
  } else if (stage.kind === "loss") {
    lines = [`${LOSS_SYMBOLS[stages.loss] ?? "L"} = ${number(stages.lossAt(k))}`];
    sentence.push(["net.explain_loss", { loss: formatNumber(stages.lossAt(k) ?? NaN), name: t(`loss.${stages.loss ?? "bce"}`) }]);
  } else if (stage.kind === "neuron-backward") {
    const u = stages.unit(l, stage.unit, s);
    const dz = `dz^{[${l}]}_{${i}}`;
    if (l === L && outputIsSimple(stages) && u.y !== undefined) {
      lines = [aligned(dz, `\\frac{a^{[${l}]}_{${i}} - y_{${i}}}{m}`, `\\frac{${number(u.a)} - ${operand(u.y)}}{${stages.m}}`, number(u.dz))];
      sentence.push(["net.explain_neuron_backward_last", { unit: String(i), sample, m: String(stages.m) }]);
    } else if (l === L) {
      lines = [aligned(dz, `\\frac{\\partial L}{\\partial z^{[${l}]}_{${i}}}`, number(u.dz))];
      sentence.push(["net.explain_neuron_backward_last", { unit: String(i), sample, m: String(stages.m) }]);
    } else {
      const back = sumOfProducts(u.next.map(({ w, dz: next }) => [w, next]));
      lines = [aligned(`da^{[${l}]}_{${i}}`, `\\sum_{k} w^{[${l + 1}]}_{k${i}} \\, dz^{[${l + 1}]}_{k}`, back, number(u.da))];
      const [symbolic, numeric] = derivativeLatex(u, l, i);
      lines.push(aligned(dz, `da^{[${l}]}_{${i}} \\, g'\\left(z^{[${l}]}_{${i}}\\right)`, symbolic, numeric, number(u.dz)));
      sentence.push(["net.explain_neuron_backward", {
        unit: String(i), layer: String(l), next: String(l + 1), sample,
      }]);
    }
    lines.push(aligned(`\\frac{\\partial L}{\\partial w^{[${l}]}_{${i}j}}`,
      `\\sum_{s=1}^{m} dz^{[${l}](s)}_{${i}} \\, a^{[${l - 1}](s)}_{j}`, rowLatex(u.inputs.map(({ dw }) => dw))));
    lines.push(aligned(`\\frac{\\partial L}{\\partial b^{[${l}]}_{${i}}}`, `\\sum_{s=1}^{m} dz^{[${l}](s)}_{${i}}`, number(u.db)));
    sentence.push(["net.explain_neuron_weights", { m: String(stages.m), inputs: String(u.inputs.length) }]);
  } else {
    const update = updateStage(stages, context);
    lines = update.lines;
    sentence.push(...update.sentence);
  }
  renderFormulas(parts.formula, lines, parts.phase.dataset.phase);
  writeSentence(parts.sentence, sentence);
}

// ---- The selected layer -----------------------------------------------------------------------

function matrixTable(name, label, shape, v, kind) {
  const rows = Array.isArray(v) ? (Array.isArray(v[0]) ? v : v.map((x) => [x])) : [[v]];
  const table = el("table", { className: `matrix ${kind}`, data: { testid: `matrix-${name}`, shape: shapeText(shape) } });
  const body = el("tbody");
  for (const row of rows.slice(0, TABLE_ROWS)) {
    const cells = row.slice(0, TABLE_COLUMNS).map((x) => (x === undefined
      ? el("td", { className: "num later", data: { value: "" }, attrs: { title: t("net.cell_later") } }, "·")
      : el("td", {
        className: `num${x === null || !Number.isFinite(x) ? " bad" : ""}`,
        data: { value: dataNumber(x) }, attrs: { title: x === null ? "NaN" : fullText(x) },
      }, x === null ? "⚠" : formatNumber(x))));
    if (row.length > TABLE_COLUMNS) cells.push(el("td", { className: "more" }, "…"));
    body.append(el("tr", {}, ...cells));
  }
  if (rows.length > TABLE_ROWS) body.append(el("tr", {}, el("td", { className: "more", attrs: { colspan: String(Math.min(rows[0].length, TABLE_COLUMNS) + 1) } }, "⋮")));
  table.append(body);
  const caption = el("figcaption", {}, el("span", { className: "matrix-name" }, label), " ",
    el("span", { className: "matrix-shape" }, shapeText(shape)));
  return el("figure", { className: `matrix-box ${kind}` }, caption, el("div", { className: "matrix-scroll" }, table));
}

/** parts = {heading, about, formulas, matrices}; the layer's numbers known at stage k. */
export function renderLayer(parts, stages, l, k, context) {
  const layer = stages.layer(l, k);
  if (!layer) return;
  const L = stages.layerCount;
  const activation = layer.activation;
  fill(parts.heading, "net.layer_heading", { layer: String(l) });
  fill(parts.about, "net.layer_about", {
    units: String(stages.sizes[l]), inputs: String(stages.sizes[l - 1]), activation: activation ?? "",
  });
  const found = notes(stages);
  const lines = [];
  const [zSymbol, aSymbol] = forwardSymbols(l, activation);
  const rightOf = (formula) => formula.slice(formula.indexOf(" = ") + 3);
  if (layer.Z !== undefined) {
    lines.push(aligned(`Z^{[${l}]}`, rightOf(zSymbol),
      `${matrix(layer.W, layer.shapes.W)} ${matrix(layer.Aprev, layer.shapes.Aprev)} + ${matrix(layer.b, layer.shapes.b)}`,
      matrix(layer.Z, layer.shapes.Z)));
    if (activation !== "linear") lines.push(aligned(`A^{[${l}]}`, rightOf(aSymbol), matrix(layer.A, layer.shapes.A)));
  } else {
    lines.push(zSymbol, aSymbol);
  }
  if (layer.dZ !== undefined) {
    const delta = deltaSymbol(l, activation, l === L, found.lastDelta).split(",\\quad")[0];
    lines.push(aligned(`dZ^{[${l}]}`, rightOf(delta), matrix(layer.dZ, layer.shapes.Z)));
    if (layer.dW !== undefined) {
      const previous = [...(layer.shapes.Aprev ?? [])].reverse();
      lines.push(aligned(`dW^{[${l}]}`, `dZ^{[${l}]} A^{[${l - 1}]\\top}`,
        `${matrix(layer.dZ, layer.shapes.Z)} ${matrix(transpose(layer.Aprev), previous)}`, matrix(layer.dW, layer.shapes.W)));
    }
    if (layer.db !== undefined) lines.push(aligned(`db^{[${l}]}`, rightOf(weightSymbols(l)[1]), matrix(layer.db, layer.shapes.b)));
  }
  if (layer.Wafter !== undefined) {
    const rate = number(context.lr);
    const after = matrix(layer.Wafter, layer.shapes.W);
    lines.push(context.optimizer === "sgd"
      ? aligned(`W^{[${l}]}`, `W^{[${l}]} - \\eta \\, dW^{[${l}]}`, `${value(layer.W)} - ${rate} ${value(layer.dW)}`, after)
        .replace("&= W", "&\\leftarrow W")
      : aligned(`W^{[${l}]}`, after).replace("&=", "&\\leftarrow"));
  }
  renderFormulas(parts.formulas, lines, layer.Wafter !== undefined ? "update" : layer.dZ !== undefined ? "backward" : "forward");

  const boxes = [
    matrixTable("W", `W[${l}]`, layer.shapes.W, layer.W, "value"),
    matrixTable("b", `b[${l}]`, layer.shapes.b, layer.b, "value"),
  ];
  const pending = [];
  const add = (known, name, label, shape, v, kind) => {
    if (known) boxes.push(matrixTable(name, label, shape, v, kind));
    else pending.push(label);
  };
  add(layer.Z !== undefined, "Z", `Z[${l}]`, layer.shapes.Z, layer.Z, "value");
  if (activation !== "linear") add(layer.A !== undefined, "A", `A[${l}]`, layer.shapes.A, layer.A, "value");
  add(layer.dZ !== undefined, "dZ", `dZ[${l}]`, layer.shapes.Z, layer.dZ, "grad");
  add(layer.dW !== undefined, "dW", `dW[${l}]`, layer.shapes.W, layer.dW, "grad");
  add(layer.db !== undefined, "db", `db[${l}]`, layer.shapes.b, layer.db, "grad");
  if (layer.Wafter !== undefined) {
    boxes.push(matrixTable("W-after", t("net.after", { name: `W[${l}]` }), layer.shapes.W, layer.Wafter, "value"));
    boxes.push(matrixTable("b-after", t("net.after", { name: `b[${l}]` }), layer.shapes.b, layer.bafter, "value"));
    for (const [part, v] of Object.entries(layer.Wstate ?? {})) {
      if (Array.isArray(v)) boxes.push(matrixTable(`state-${part}`, t(`net.state_${part}`, { layer: String(l) }), layer.shapes.W, v, "state"));
    }
  }
  const later = pending.length ? fill(el("p", { className: "hint pending" }), "net.not_yet", { names: pending.join(", ") }) : null;
  parts.matrices.replaceChildren(...boxes, later ?? "");
}

/** Outside an iteration (training): the layer's weights and biases only. */
export function renderLayerWeights(parts, l, params, sizes, activation) {
  fill(parts.heading, "net.layer_heading", { layer: String(l) });
  fill(parts.about, "net.layer_about", { units: String(sizes[l]), inputs: String(sizes[l - 1]), activation: activation ?? "" });
  const [zSymbol, aSymbol] = forwardSymbols(l, activation);
  renderFormulas(parts.formulas, [zSymbol, aSymbol], "forward");
  const W = params?.[`W${l}`];
  const b = params?.[`b${l}`];
  parts.matrices.replaceChildren(
    ...(W ? [matrixTable("W", `W[${l}]`, [sizes[l], sizes[l - 1]], W, "value")] : []),
    ...(b ? [matrixTable("b", `b[${l}]`, [sizes[l], 1], b, "value")] : []),
  );
}
