// When training diverges, say where and why instead of showing NaN: the iteration, the learning rate
// that did it, and the layer and node (and unit) the server's report names: the first to go non-finite,
// or where an exploding loss shows first; when the report names none, the unit whose weights jumped
// the most (the page's own reading of the parameters before and after).
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

const NON_FINITE = ["nan", "inf", "overflow", "div0"];
const PHASES = ["forward", "backward", "update"];

/** The layer and units a server report names: its layer (the output for the loss) and its unit, if any. */
function whereHighlight(where, layers) {
  const loss = where.quantity === "loss";
  const layer = loss || !Number.isInteger(where.layer) || where.layer < 1 ? layers : Math.min(where.layer, layers);
  const units = !loss && Number.isInteger(where.unit) && where.unit >= 0 ? [where.unit] : "all";
  return { layer, units };
}

/** "the loss L", "Z[2]" or "Z[2], unit 3": what the report names, in words. */
function whatOf(where, highlight) {
  if (where.quantity === "loss") return t("net.div_the_loss");
  const name = t("net.div_quantity", { name: `${where.quantity ?? where.label ?? "?"}[${highlight.layer}]` });
  return Array.isArray(highlight.units) ? t("net.div_quantity_unit", { name, unit: String(highlight.units[0] + 1) }) : name;
}

const phaseText = (phase) => t(`net.div_phase_${PHASES.includes(phase) ? phase : "unknown"}`);

/** The sentence for the first node that went non-finite, and the layer (and unit) to highlight. */
function whereParts(parts, where, iteration, rate, layers) {
  const highlight = whereHighlight(where, layers);
  parts.push(fill(el("span"), "net.div_non_finite", {
    iteration, rate, what: el("strong", {}, whatOf(where, highlight)), layer: String(highlight.layer),
    status: t(`net.div_status_${NON_FINITE.includes(where.status) ? where.status : "unknown"}`),
    phase: phaseText(where.phase),
  }));
  return { highlight };
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
  if (units.length && highlight.units === "all" && where.quantity !== "loss") highlight.units = units;
  parts.push(t("net.sentence_gap"), el("span", {}, t("net.div_advice")));
  return { highlight, parts };
}

/**
 * {highlight: {layer, units}, parts: [DOM nodes of the sentence]} for a diverged run: `result` is the
 * /network/train answer (status "diverged", divergence, params, initial_params); layers = L; `start`
 * the iteration the run started from (the server counts each run's iterations from 1). Iterations are
 * counted as on the page: iteration k ends with update k. A loss that exploded at the server's iteration
 * k was made by update k - 1; a number gone non-finite broke iteration k itself.
 * The server's divergence.where names the layer and node (and unit) whenever it knows them: a number
 * gone non-finite, or where an exploding loss shows first. Without it the page points at the unit whose
 * weights jumped the most; a status it does not know is told in general words, never as a crash.
 */
export function explainDivergence(result, layers, start = 0) {
  const report = result?.divergence ?? {};
  const where = report.where && typeof report.where === "object" ? report.where : null;
  const rate = el("strong", { className: "num", data: { testid: "divergence-rate" } }, formatNumber(report.learning_rate ?? NaN));
  const at = Number.isInteger(report.iteration) ? start + report.iteration : null;
  const parts = [];
  let highlight = null;
  const nonFinite = where !== null && (NON_FINITE.includes(where.status) || String(report.reason ?? "").startsWith("non_finite"));
  if (nonFinite) {
    ({ highlight } = whereParts(parts, where, at === null ? "?" : String(at), rate, layers));
  } else {
    const iteration = at === null ? "?" : String(Math.max(at - 1, 1));
    const ratio = report.loss && report.initial_loss ? report.loss / report.initial_loss : null;
    parts.push(fill(el("span"), "net.div_exploded", {
      iteration, rate, loss: formatNumber(report.loss ?? NaN), first: formatNumber(report.initial_loss ?? NaN),
      ratio: ratio === null ? "—" : formatNumber(ratio),
    }));
    if (where) {
      highlight = whereHighlight(where, layers);
      const box = el("span", { data: { testid: "divergence-where" } });
      // The engine's rule for a finite blow-up: the unit whose weights the last update changed the most,
      // relative to their size before (growth).
      if (Array.isArray(highlight.units) && typeof where.growth === "number" && Number.isFinite(where.growth)) {
        fill(box, "net.div_grew", { unit: el("strong", {}, String(highlight.units[0] + 1)), layer: String(highlight.layer),
          growth: formatNumber(where.growth) });
      } else {
        fill(box, "net.div_where", { what: el("strong", {}, whatOf(where, highlight)), layer: String(highlight.layer),
          phase: phaseText(where.phase) });
      }
      parts.push(t("net.sentence_gap"), box);
    } else {
      const jump = biggestJump(result?.params, result?.initial_params);
      if (jump) {
        highlight = { layer: Math.min(jump.layer, layers), units: [jump.unit] };
        parts.push(t("net.sentence_gap"), fill(el("span", { data: { testid: "divergence-where" } }), "net.div_jump", {
          unit: String(jump.unit + 1), layer: String(jump.layer), start: formatNumber(jump.start), size: formatNumber(jump.size),
        }));
      }
    }
  }
  parts.push(t("net.sentence_gap"), el("span", {}, t("net.div_advice")));
  return { highlight, parts };
}
