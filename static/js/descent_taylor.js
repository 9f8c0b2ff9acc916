// Taylor's promise at the followed point: L(theta), the first-order prediction L(theta) - eta ||g||^2
// and the real L(theta - eta g) for the current rate, then predicted against real decrease as eta grows
// (POST /descent/taylor), and where the prediction, and with it the guarantee, stops holding.
import katex from "/static/vendor/katex/katex.mjs";
import { postTaylor } from "./descent_api.js";
import { drawChart, swatch } from "./descent_chart.js";
import { el, onWidthChange } from "./dom.js";
import { dataNumber, formatNumber, fullText } from "./format.js";
import { fill, language, t } from "./i18n.js";
import { number as latexNumber } from "./latex.js";

const KATEX_OPTIONS = { displayMode: true, throwOnError: false, trust: false, strict: "ignore", output: "htmlAndMathml" };
const ETAS = 60; // eta_k = k * eta / HERE, k = 1..ETAS: the current rate is the HERE-th, the range 4x it
const HERE = 15;
const DELAY_MS = 60;
// NOTE: float64 rounds a loss to about 1e-16 of its size; when every promised decrease is below 1e-12
// of the loss, the real decrease is too close to that noise to compare: there is no slope left.
const FLAT = 1e-12;
const PREDICTED = { colour: "#57606a", dash: "6 4", symbol: null };
const ACTUAL = { colour: "#D55E00", dash: "", symbol: "circle" };

function shown(value) {
  return value === null || value === undefined ? "⚠" : formatNumber(value);
}

export class TaylorPanel {
  /** limits: GET /api/v1/limits (the rates asked about stay within the learning-rate bounds). */
  constructor(root, limits) {
    this.root = root;
    this.limits = limits;
    this.formula = root.querySelector("#taylor-formula");
    this.numbers = root.querySelector("#taylor-numbers");
    this.chart = root.querySelector("#taylor-chart");
    this.legend = root.querySelector("#taylor-legend");
    this.verdict = root.querySelector("#taylor-verdict");
    this.controller = null;
    this.timer = null;
    this.answer = null;
    this.request = null;
    // NOTE: the chart is drawn at its box's width, watched here: reading clientWidth while drawing would
    // force a layout in the middle of a redraw.
    this.width = 0;
    onWidthChange(this.chart, (width) => {
      this.width = width;
      if (this.answer && this.request && this.chart.firstElementChild) this.render(); // not over a message
    });
  }

  /**
   * {spec, point, rate}: ask the server (after a short pause, newest wins), then draw. A string instead
   * says why there is nothing to show.
   */
  show(request) {
    window.clearTimeout(this.timer);
    this.controller?.abort();
    if (typeof request === "string") {
      this.clear();
      this.verdict.textContent = request;
      return;
    }
    const key = JSON.stringify(request);
    this.root.dataset.point = request.point.join(",");
    if (key === this.key && this.answer) {
      this.render();
      return;
    }
    this.root.dataset.state = "loading";
    this.timer = window.setTimeout(() => this.fetch(request, key), DELAY_MS);
  }

  async fetch(request, key) {
    const controller = new AbortController();
    this.controller = controller;
    const { min_learning_rate: low, max_learning_rate: high } = this.limits;
    const etas = [...new Set(Array.from({ length: ETAS }, (_, i) =>
      Math.min(Math.max(Number(((i + 1) * request.rate / HERE).toPrecision(12)), low), high)))];
    try {
      this.answer = await postTaylor({ ...request.spec, point: request.point, etas }, { signal: controller.signal });
    } catch (error) {
      if (error?.name === "AbortError") return;
      this.answer = null;
      this.key = null;
      this.clear();
      this.verdict.textContent = String(error?.message ?? error);
      return;
    }
    this.key = key;
    this.request = request;
    this.render();
  }

  clear() {
    this.formula.replaceChildren();
    this.numbers.replaceChildren();
    this.chart.replaceChildren();
    this.legend.replaceChildren();
    this.verdict.replaceChildren();
    this.root.dataset.state = "empty";
  }

  render() {
    const answer = this.answer;
    if (!answer) return;
    const rows = answer.rows;
    const rate = this.request.rate;
    const here = rows.reduce((best, row) => (Math.abs(row.eta - rate) < Math.abs(best.eta - rate) ? row : best));
    const squared = answer.gradient_norm_squared ?? null;
    const lines = [
      "L(\\theta - \\eta \\nabla L) \\approx L(\\theta) - \\eta \\lVert \\nabla L \\rVert^2",
      `= ${latexNumber(answer.loss)} - ${latexNumber(rate)} \\cdot ${latexNumber(squared)}`,
      `= ${latexNumber(here.predicted)}`,
    ];
    this.formula.replaceChildren(...lines.map((latex) => {
      const line = el("div", { className: "formula-line", data: { latex } });
      katex.render(latex, line, KATEX_OPTIONS);
      return line;
    }));

    const gap = here.actual === null || here.predicted === null ? null : here.actual - here.predicted;
    const entry = (key, value, testid, className) => [
      el("dt", {}, t(key)),
      el("dd", { className: `num ${className}`, data: { testid, value: dataNumber(value) },
        attrs: { title: value === null ? "" : fullText(value) } }, shown(value)),
    ];
    this.numbers.replaceChildren(
      ...entry("lab.taylor_loss", answer.loss, "taylor-loss", "value"),
      ...entry("lab.taylor_predicted", here.predicted, "taylor-predicted", "predicted"),
      ...entry("lab.taylor_actual", here.actual, "taylor-actual", "actual"),
      ...entry("lab.taylor_gap", gap, "taylor-gap", gap !== null && gap > 0 ? "worse" : ""),
    );
    this.root.dataset.rate = String(rate);

    const points = (field) => rows.map((row) => ({ x: row.eta, y: row[field] }));
    // A step that blows the loss up would flatten the promise to a line on the floor: past 20 times
    // the largest promised decrease the axis turns logarithmic.
    const promised = Math.max(...rows.map((row) => Math.abs(row.predicted_decrease ?? 0)), 1e-300);
    const real = Math.max(...rows.map((row) => Math.abs(row.actual_decrease ?? 0)));
    const flat = !(promised > FLAT * Math.abs(answer.loss ?? 0)) || squared === 0;
    drawChart(this.chart, {
      width: this.width,
      symlog: !flat && real > 20 * promised ? promised / 4 : null,
      series: [
        { key: "predicted", ...PREDICTED, points: points("predicted_decrease") },
        { key: "actual", ...ACTUAL, points: points("actual_decrease"), pointEvery: 3 },
      ],
      marks: [{ x: rate, className: "here", text: t("lab.taylor_here") }],
      xDomain: [0, rows[rows.length - 1].eta],
      xLabel: t("lab.taylor_axis"),
      label: t("lab.taylor_chart"),
    });
    this.legend.replaceChildren(
      el("li", {}, swatch(PREDICTED), t("lab.taylor_series_predicted")),
      el("li", {}, swatch(ACTUAL), t("lab.taylor_series_actual")),
    );
    this.renderVerdict(rows, flat, answer.breaks_at);
    this.root.dataset.state = "ready";
  }

  /**
   * Where the prediction stops holding (the server's breaks_at: the smallest eta whose real decrease is
   * under half the promised one) and where the step starts raising the loss.
   */
  renderVerdict(rows, flat, breaksAt) {
    const box = this.verdict;
    if (flat) {
      fill(box, "lab.taylor_flat");
      box.dataset.breaksAt = "";
      box.dataset.risesFrom = "";
      return;
    }
    const rise = rows.find((row) => row.actual_decrease === null || row.actual_decrease < 0);
    const parts = [];
    // Chinese sentences follow each other without a space.
    const gap = language() === "zh" ? "" : " ";
    const sentence = (key, params) => parts.push(fill(el("span"), key, params), gap);
    if (breaksAt === null || breaksAt === undefined) sentence("lab.taylor_always");
    else sentence("lab.taylor_holds", { eta: formatNumber(breaksAt) });
    if (rise) sentence("lab.taylor_breaks_at", { eta: formatNumber(rise.eta) });
    else sentence("lab.taylor_no_rise");
    box.replaceChildren(...parts.filter((part) => part !== ""));
    box.dataset.breaksAt = breaksAt === null || breaksAt === undefined ? "" : String(breaksAt);
    box.dataset.risesFrom = rise ? String(rise.eta) : "";
  }
}
