// The one-parameter view, for the first lesson: the loss along a (or b) with the other held fixed, the
// tangent at the point (its slope is the partial derivative, POST /descent/line), and where one plain
// gradient step along that parameter alone would land.
import { postLine } from "./descent_api.js";
import { drawChart, swatch } from "./descent_chart.js";
import { el, onWidthChange } from "./dom.js";
import { formatNumber } from "./format.js";
import { fill, t } from "./i18n.js";

const POINTS = 121;
const DELAY_MS = 60;
const CURVE = { colour: "#0072B2", dash: "", symbol: null };
const TANGENT = { colour: "#D55E00", dash: "6 3", symbol: null };

function number(value, className) {
  return el("span", { className: `num ${className}` }, value === null ? "⚠" : formatNumber(value));
}

export class LineView {
  /** onParameter(name): the user chose a or b. */
  constructor(root, { onParameter }) {
    this.root = root;
    this.chart = root.querySelector("#line-chart");
    this.sentence = root.querySelector("#line-sentence");
    this.buttons = [...root.querySelectorAll("[data-parameter]")];
    for (const button of this.buttons) button.addEventListener("click", () => onParameter(button.dataset.parameter));
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
    this.key = null;
  }

  /** {spec, point, parameter: "a"|"b", span, rate}; a string instead says why there is nothing to show. */
  show(request, parameter) {
    window.clearTimeout(this.timer);
    this.controller?.abort();
    for (const button of this.buttons) {
      button.setAttribute("aria-pressed", String(button.dataset.parameter === (request?.parameter ?? parameter)));
    }
    if (typeof request === "string") {
      this.chart.replaceChildren();
      delete this.chart.dataset.slope;
      this.sentence.textContent = request;
      return;
    }
    const key = JSON.stringify({ ...request, rate: null });
    if (key === this.key && this.answer) {
      this.request = request;
      this.render();
      return;
    }
    this.timer = window.setTimeout(() => this.fetch(request, key), DELAY_MS);
  }

  async fetch(request, key) {
    const controller = new AbortController();
    this.controller = controller;
    const body = { ...request.spec, point: request.point, parameter: request.parameter === "a" ? 0 : 1,
      span: request.span, points: POINTS };
    try {
      this.answer = await postLine(body, { signal: controller.signal });
    } catch (error) {
      if (error?.name === "AbortError") return;
      this.answer = null;
      this.key = null;
      this.chart.replaceChildren();
      this.sentence.textContent = String(error?.message ?? error);
      return;
    }
    this.key = key;
    this.request = request;
    this.render();
  }

  render() {
    const { answer, request } = this;
    if (!answer || !request) return;
    const name = request.parameter;
    const here = request.point[name === "a" ? 0 : 1];
    const slope = answer.slope;
    const next = slope === null ? null : here - request.rate * slope;
    const xs = answer.xs;
    const curve = xs.map((x, i) => ({ x, y: answer.values[i] }));
    const tangent = (answer.tangent ?? []).map(([x, y]) => ({ x, y }));
    const finiteValues = answer.values.filter((v) => v !== null && Number.isFinite(v));
    const low = Math.min(...finiteValues);
    const high = Math.max(...finiteValues);
    const pad = (high - low) * 0.08 || 1;
    drawChart(this.chart, {
      width: this.width,
      series: [
        { key: "loss", ...CURVE, points: curve },
        { key: "tangent", ...TANGENT, points: tangent },
      ],
      marks: next !== null && next !== here ? [{ x: next, className: "next", text: t("lab.line_next", { name }) }] : [],
      dots: [{ x: here, y: answer.at, className: "here", testid: "line-point" }],
      xDomain: [xs[0], xs[xs.length - 1]],
      yDomain: finiteValues.length ? [low - pad, high + pad] : undefined,
      xLabel: name,
      label: t("lab.line_label", { name }),
    });
    this.chart.dataset.slope = String(slope);
    this.chart.dataset.at = String(answer.at);
    this.chart.dataset.parameter = name;
    const legend = el("span", { className: "line-legend" }, swatch(CURVE), t("lab.line_series"), " ", swatch(TANGENT),
      t("lab.line_tangent"));
    const params = { name, value: number(here, "value"), slope: number(slope, "grad"),
      move: number(slope === null ? null : Math.abs(request.rate * slope), "") };
    const key = slope === null || slope === 0 ? "lab.line_zero" : slope > 0 ? "lab.line_positive" : "lab.line_negative";
    this.sentence.replaceChildren(fill(el("span"), key, params), el("br"), legend);
  }
}
