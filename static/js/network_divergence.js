// When training diverges, say where and why instead of showing NaN: the iteration, the learning rate
// that did it, and the first layer and node that went non-finite (from the server's report), or, when
// the loss only exploded while staying finite, the unit whose weights jumped the most.
import { el } from "./dom.js";
import { formatNumber } from "./format.js";
import { fill, t } from "./i18n.js";

const sizeOf = (row) => Math.sqrt(row.reduce((sum, x) => sum + (Number.isFinite(x) ? x * x : 0), 0));
const rowsOf = (matrix) => (Array.isArray(matrix) ? matrix.map((row) => (Array.isArray(row) ? row : [row])) : []);

/** The unit (layer, row of W) whose incoming weights moved furthest from their start. */
function biggestJump(params, initial) {
  let best = null;
  for (const name of Object.keys(params ?? {})) {
    const match = /^W(\d+)$/.exec(name);
    if (!match || !initial?.[name]) continue;
    const now = rowsOf(params[name]);
    const before = rowsOf(initial[name]);
    now.forEach((row, unit) => {
      const moved = sizeOf(row.map((x, j) => x - (before[unit]?.[j] ?? 0)));
      if (!best || moved > best.moved) {
        best = { layer: Number(match[1]), unit, moved, size: sizeOf(row), start: sizeOf(before[unit] ?? []) };
      }
    });
  }
  return best;
}

/** The sentence for the first node that went non-finite, and the layer to highlight. */
function whereParts(parts, where, iteration, rate, layers) {
  const layer = where.quantity === "loss" || !Number.isInteger(where.layer) || where.layer < 1 ? layers : where.layer;
  const what = where.quantity === "loss" ? t("net.div_the_loss")
    : t("net.div_quantity", { name: `${where.quantity ?? where.label}[${layer}]` });
  parts.push(fill(el("span"), "net.div_non_finite", {
    iteration, rate, what: el("strong", {}, what), layer: String(layer),
    status: t(`net.div_status_${["nan", "inf", "overflow", "div0"].includes(where.status) ? where.status : "inf"}`),
    phase: t(`net.div_phase_${["forward", "backward", "update"].includes(where.phase) ? where.phase : "forward"}`),
  }));
  return { highlight: { layer, units: "all" } };
}

/**
 * The iteration shown in the step view went non-finite (its answer's non_finite): where, in words.
 * `value` is that node's value in the trace: its rows holding a non-finite number are the units marked.
 */
export function explainNonFinite(where, learningRate, iteration, layers, value) {
  const rate = el("strong", { className: "num", data: { testid: "divergence-rate" } }, formatNumber(learningRate));
  const parts = [];
  const { highlight } = whereParts(parts, where, String(iteration), rate, layers);
  const units = rowsOf(value).flatMap((row, unit) => (row.some((x) => x === null || !Number.isFinite(x)) ? [unit] : []));
  if (units.length && where.quantity !== "loss") highlight.units = units;
  parts.push(t("net.sentence_gap"), el("span", {}, t("net.div_advice")));
  return { highlight, parts };
}

/**
 * {highlight: {layer, units}, parts: [DOM nodes of the sentence]} for a diverged run: `result` is the
 * /network/train answer (status "diverged", divergence, params, initial_params); layers = L.
 */
export function explainDivergence(result, layers) {
  const report = result?.divergence ?? {};
  const where = report.where ?? null;
  const rate = el("strong", { className: "num", data: { testid: "divergence-rate" } }, formatNumber(report.learning_rate ?? NaN));
  const iteration = String(report.iteration ?? "?");
  const parts = [];
  let highlight = null;
  if (where) {
    ({ highlight } = whereParts(parts, where, iteration, rate, layers));
  } else {
    const ratio = report.loss && report.initial_loss ? report.loss / report.initial_loss : null;
    parts.push(fill(el("span"), "net.div_exploded", {
      iteration, rate, loss: formatNumber(report.loss ?? NaN), first: formatNumber(report.initial_loss ?? NaN),
      ratio: ratio === null ? "—" : formatNumber(ratio),
    }));
    const jump = biggestJump(result.params, result.initial_params);
    if (jump) {
      highlight = { layer: jump.layer, units: [jump.unit] };
      parts.push(t("net.sentence_gap"), fill(el("span"), "net.div_jump", {
        unit: String(jump.unit + 1), layer: String(jump.layer), start: formatNumber(jump.start), size: formatNumber(jump.size),
      }));
    }
  }
  parts.push(t("net.sentence_gap"), el("span", {}, t("net.div_advice")));
  return { highlight, parts };
}
