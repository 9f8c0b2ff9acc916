// The gradient-descent panel: choose parameters and a learning rate, apply updates through the API
// (POST /trace with params + learning_rate), and watch each parameter move, the new loss beside its
// first-order Taylor prediction, and the loss history. Every number comes from the server.
import { drawLineChart } from "./chart.js";
import { el } from "./dom.js";
import { dataNumber, formatValue, fullText } from "./format.js";
import { fill } from "./i18n.js";
import { translateWithin } from "./panel_box.js";

const RATE_MIN = 1e-4;
const RATE_MAX = 10;
const DEFAULT_RATE = 0.1;
const RUN_STEPS = 10;
const MAX_HISTORY = 200;

const clone = (values) => JSON.parse(JSON.stringify(values ?? {}));
const isNumber = (x) => typeof x === "number" && Number.isFinite(x);
const allFinite = (value) => (Array.isArray(value) ? value.every(allFinite) : isNumber(value));
const largest = (value) => (Array.isArray(value) ? Math.max(...value.map(largest)) : Math.abs(value));
const clampRate = (rate) => Math.min(Math.max(rate, RATE_MIN), RATE_MAX);

/** Equal as numbers, allowing for a round trip through text (the input boxes). */
function same(x, y) {
  if (Array.isArray(x) || Array.isArray(y)) {
    return Array.isArray(x) && Array.isArray(y) && x.length === y.length && x.every((item, i) => same(item, y[i]));
  }
  return x === y || (isNumber(x) && isNumber(y) && Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y)));
}

function sameValues(a, b) {
  const keys = Object.keys(a ?? {});
  return keys.length === Object.keys(b ?? {}).length && keys.every((key) => Object.hasOwn(b, key) && same(a[key], b[key]));
}

function number(value, className = "value") {
  return el("span", { className: `num ${className}`, attrs: { title: fullText(value) } }, formatValue(value));
}

function headings(t, ...columns) {
  return el("thead", {}, el("tr", {}, ...columns.map(([key, className]) =>
    el("th", { className, attrs: { scope: "col" } }, t(key)))));
}

class DescentPanel {
  mount(body, context) {
    this.context = context;
    const button = (testid, key, className) => el("button", { className, attrs: { type: "button" },
      data: key ? { testid, i18n: key } : { testid } });
    const p = {
      params: el("div", { className: "param-choices", data: { testid: "descent-params" } }),
      slider: el("input", { className: "rate-slider", data: { testid: "descent-lr-slider",
        i18nAttr: "aria-label:descent.lr_slider" },
      attrs: { type: "range", min: String(Math.log10(RATE_MIN)), max: String(Math.log10(RATE_MAX)), step: "0.01" } }),
      rate: el("input", { className: "rate-number", data: { testid: "descent-lr" },
        attrs: { id: "descent-rate", type: "number", min: String(RATE_MIN), max: String(RATE_MAX), step: "any",
          inputmode: "decimal" } }),
      step: button("descent-step", "descent.step", "primary"),
      run: button("descent-run"),
      reset: button("descent-reset", "descent.reset"),
      message: el("p", { className: "panel-message", attrs: { role: "status" }, data: { testid: "descent-message" } }),
      moves: el("table", { className: "panel-table", data: { testid: "descent-moves" } }),
      loss: el("dl", { className: "loss-summary", data: { testid: "descent-loss" } }),
      verdict: el("p", { className: "descent-verdict", data: { testid: "descent-verdict" } }),
      chart: el("div", { className: "chart-box", data: { testid: "descent-chart" } }),
      history: el("table", { className: "panel-table", data: { testid: "descent-history" } }),
    };
    p.legend = el("p", { className: "chart-legend", attrs: { "aria-hidden": "true" } },
      el("span", { data: { i18n: "descent.chart_real" } }),
      el("span", { className: "legend-predicted", data: { i18n: "descent.chart_predicted" } }));
    p.historyBox = el("div", { className: "history-scroll" }, p.history);
    p.chartHeading = el("h3", { data: { i18n: "descent.chart" } });
    this.parts = p;
    body.append(
      el("p", { className: "hint", data: { i18n: "descent.rule" } }),
      el("fieldset", { className: "param-fieldset" }, el("legend", { data: { i18n: "descent.params" } }), p.params),
      el("div", { className: "rate-row" },
        el("label", { attrs: { for: "descent-rate" }, data: { i18n: "descent.lr" } }), p.slider, p.rate),
      el("div", { className: "button-row" }, p.step, p.run, p.reset),
      p.message, el("div", { className: "table-scroll" }, p.moves), p.loss, p.verdict, p.chartHeading, p.chart, p.legend, p.historyBox,
    );
    translateWithin(body, context.t);

    Object.assign(this, { examples: [], source: null, start: {}, current: {}, inputs: [], inputsKey: null,
      history: [], last: null, previousMoves: null, problem: null, busy: false, controller: null, ownTrace: false });
    const urlRate = context.state.get("lr");
    this.rateFromUser = urlRate !== null;
    this.rate = clampRate(urlRate ?? DEFAULT_RATE);
    this.chosen = context.state.get("params");

    p.slider.addEventListener("input", () => {
      this.rate = Number((10 ** Number(p.slider.value)).toPrecision(3));
      this.renderRate("slider");
    });
    p.slider.addEventListener("change", () => this.saveRate());
    const typed = () => {
      const rate = Number(p.rate.value.replaceAll("\u2212", "-"));
      if (p.rate.value.trim() !== "" && Number.isFinite(rate) && rate > 0) {
        this.rate = clampRate(rate);
        this.saveRate();
      }
      this.renderRate();
    };
    p.rate.addEventListener("change", typed);
    p.rate.addEventListener("keydown", (event) => event.key === "Enter" && typed());
    p.step.addEventListener("click", () => this.run(1));
    p.run.addEventListener("click", () => this.run(RUN_STEPS));
    p.reset.addEventListener("click", () => this.reset());
    context.onLanguageChange(() => this.render());
    context.api.getExamples().then((examples) => {
      this.examples = examples;
      if (this.source !== null && this.history.length === 0 && !this.rateFromUser) this.rate = this.exampleRate();
      this.render();
    }, () => {});
    this.render();
  }

  show(trace, request) {
    this.inputs = trace.nodes.filter((node) => node.op === "input").map((node) => node.label);
    if (this.ownTrace || (request.source === this.source && sameValues(request.values, this.current))) {
      this.current = clone(request.values);
    } else {
      this.restart(request);
    }
    this.render();
  }

  // ---- Choices ----------------------------------------------------------------------------------

  example() {
    return this.examples.find((example) => example.source === this.source) ?? null;
  }

  exampleRate() {
    return clampRate(this.example()?.learning_rate ?? DEFAULT_RATE);
  }

  /** The parameters ticked: the user's choice (also in the URL), else the example's. */
  params() {
    const names = this.chosen ?? this.example()?.params ?? [];
    return this.inputs.filter((name) => names.includes(name));
  }

  saveRate() {
    this.rateFromUser = true;
    this.context.state.set("lr", this.rate);
  }

  choose(name, ticked) {
    const names = new Set(this.params());
    if (ticked) names.add(name);
    else names.delete(name);
    this.chosen = this.inputs.filter((input) => names.has(input));
    this.context.state.set("params", this.chosen);
    this.problem = null;
    this.render();
  }

  // ---- Updates ----------------------------------------------------------------------------------

  /** A new program, or values the user changed: the history starts again from here. */
  restart(request) {
    this.controller?.abort();
    const newProgram = request.source !== this.source;
    Object.assign(this, { source: request.source, start: clone(request.values), current: clone(request.values),
      history: [], last: null, previousMoves: null, problem: null });
    if (!newProgram) return;
    if (this.chosen !== null && !this.chosen.some((name) => this.inputs.includes(name))) {
      this.chosen = null;
      this.context.state.set("params", null);
    }
    if (!this.rateFromUser) this.rate = this.exampleRate();
  }

  async run(count) {
    if (this.busy || this.source === null) return;
    const params = this.params();
    if (params.length === 0) {
      this.problem = { key: "descent.choose_param" };
      this.render();
      return;
    }
    const { api, limits } = this.context;
    const controller = new AbortController();
    Object.assign(this, { controller, busy: true, problem: null });
    this.render();
    const values = clone(this.current);
    let moved = false;
    try {
      for (let k = 0; k < count && !this.problem; k += 1) {
        const answer = await api.postTrace({ source: this.source, values, params, learning_rate: this.rate },
          { signal: controller.signal });
        if (!isNumber(answer.update?.loss_before)) {
          this.problem = { key: "descent.not_finite_start" };
          break;
        }
        const moves = this.record(answer);
        if (!isNumber(answer.update?.loss_after) || !moves.every((move) => allFinite(move.after))) {
          this.problem = { key: "descent.not_finite" };
        } else if (moves.some((move) => largest(move.after) > limits.max_abs_value)) {
          this.problem = { key: "descent.too_big", params: { max: formatValue(limits.max_abs_value) } };
        } else {
          for (const move of moves) values[move.label] = move.after;
          this.current = clone(values);
          moved = true;
        }
        this.render();
      }
      if (moved) {
        // Redraw the page at the moved parameters; show() knows this trace as ours.
        this.ownTrace = true;
        try {
          await this.context.retrace(Object.fromEntries(params.map((name) => [name, values[name]])));
        } finally {
          this.ownTrace = false;
        }
      }
    } catch (error) {
      if (error?.name !== "AbortError") this.problem = { key: "descent.error", params: { message: error?.message ?? "" } };
    } finally {
      if (this.controller === controller) Object.assign(this, { controller: null, busy: false });
      this.render();
    }
  }

  /** Keep one update's numbers: the moves, the losses, a point on the history. -> the moves */
  record(answer) {
    const update = answer.update ?? {};
    const labels = new Map(answer.nodes.map((node) => [node.id, node.label]));
    const moves = answer.steps.filter((step) => step.phase === "update")
      .map((step) => ({ label: labels.get(step.node) ?? step.node, before: step.before, grad: step.grad,
        after: step.after }));
    if (this.history.length === 0) this.history.push({ step: 0, loss: update.loss_before, predicted: null });
    const step = this.history[this.history.length - 1].step + 1;
    this.history.push({ step, loss: update.loss_after, predicted: update.loss_predicted });
    this.history = this.history.slice(-MAX_HISTORY);
    this.previousMoves = this.last?.moves ?? null;
    this.last = { step, moves, update, rate: this.rate };
    return moves;
  }

  async reset() {
    this.controller?.abort();
    Object.assign(this, { controller: null, busy: false, history: [], last: null, previousMoves: null, problem: null,
      current: clone(this.start), ownTrace: true });
    this.render();
    try {
      await this.context.retrace(clone(this.start));
    } finally {
      this.ownTrace = false;
    }
  }

  // ---- Drawing ----------------------------------------------------------------------------------

  render() {
    const t = this.context.t;
    const p = this.parts;
    fill(p.run, "descent.run", { count: String(RUN_STEPS) });
    this.renderParams();
    this.renderRate("render");
    p.step.disabled = p.run.disabled = this.busy || this.inputs.length === 0;
    p.reset.disabled = this.source === null;
    const message = this.busy ? { key: "descent.working" } : this.problem
      ?? (this.source !== null && this.inputs.length === 0 ? { key: "descent.no_inputs" } : null);
    p.message.textContent = message ? t(message.key, message.params ?? {}) : "";
    p.message.classList.toggle("warning", Boolean(this.problem) && !this.busy);
    p.message.hidden = !message;
    for (const part of [p.moves, p.loss, p.verdict]) part.hidden = !this.last;
    for (const part of [p.chartHeading, p.chart, p.legend, p.historyBox]) part.hidden = this.history.length === 0;
    if (this.last) {
      this.renderMoves();
      this.renderLoss();
      this.renderVerdict();
    } else {
      for (const part of [p.moves, p.loss, p.verdict]) part.replaceChildren();
    }
    if (this.history.length) this.renderHistory();
    else for (const part of [p.chart, p.history]) part.replaceChildren();
  }

  renderParams() {
    const box = this.parts.params;
    const key = JSON.stringify(this.inputs);
    if (key !== this.inputsKey) { // rebuilt only when the inputs change, so focus stays put
      this.inputsKey = key;
      box.replaceChildren(...this.inputs.map((name) => {
        const input = el("input", { attrs: { type: "checkbox", value: name }, data: { testid: `descent-param-${name}` } });
        input.addEventListener("change", () => this.choose(name, input.checked));
        return el("label", { className: "param-choice" }, input, el("code", {}, name),
          el("span", { className: "num value param-value" }));
      }));
    }
    const ticked = new Set(this.params());
    for (const label of box.children) {
      const input = label.querySelector("input");
      const value = this.current[input.value];
      const shown = label.querySelector(".param-value");
      input.checked = ticked.has(input.value);
      shown.textContent = value === undefined ? "" : `= ${formatValue(value)}`;
      shown.title = value === undefined ? "" : fullText(value);
    }
  }

  renderRate(from = null) {
    const { slider, rate } = this.parts;
    if (from !== "slider") slider.value = String(Math.log10(this.rate));
    if (!(from === "render" && document.activeElement === rate)) rate.value = String(this.rate);
    slider.setAttribute("aria-valuetext", formatValue(this.rate));
    rate.dataset.value = String(this.rate);
  }

  renderMoves() {
    const t = this.context.t;
    const rows = this.last.moves.map((move) => el("tr", {
      data: { label: move.label, before: dataNumber(move.before), grad: dataNumber(move.grad),
        after: dataNumber(move.after) },
    },
    el("th", { attrs: { scope: "row" } }, el("code", {}, move.label)),
    el("td", { className: "num" }, number(move.before)),
    el("td", { className: "num" }, number(move.grad, "grad")),
    el("td", { className: "num" }, el("span", { className: "arrow", attrs: { "aria-hidden": "true" } }, "→ "),
      number(move.after))));
    this.parts.moves.replaceChildren(
      fill(el("caption"), "descent.moves_caption", { step: String(this.last.step), rate: formatValue(this.last.rate) }),
      headings(t, ["descent.col_param"], ["descent.col_before", "num value"], ["descent.col_grad", "num grad"],
        ["descent.col_after", "num value"]),
      el("tbody", {}, ...rows));
  }

  renderLoss() {
    const t = this.context.t;
    const { loss_before: before, loss_after: after, loss_predicted: predicted } = this.last.update;
    const gap = isNumber(after) && isNumber(predicted) ? after - predicted : null;
    const entries = [["loss_before", before, "value"], ["loss_after", after, "value"],
      ["loss_predicted", predicted, "predicted"], ["gap", gap, "gap"]];
    this.parts.loss.replaceChildren(...entries.flatMap(([name, value, className]) => [
      el("dt", {}, t(`descent.${name}`)),
      el("dd", { data: { testid: `descent-${name.replace("_", "-")}`, value: dataNumber(value) } },
        number(value, className)),
    ]));
  }

  renderVerdict() {
    const box = this.parts.verdict;
    const [previous, latest] = this.history.slice(-2);
    const sentences = [];
    const rose = isNumber(previous.loss) && isNumber(latest.loss) && latest.loss > previous.loss;
    if (isNumber(previous.loss) && isNumber(latest.loss)) {
      sentences.push(fill(el("span"), rose ? "descent.rose" : "descent.fell",
        { before: number(previous.loss), after: number(latest.loss) }));
    }
    const bounced = this.bounced();
    if (bounced.length) sentences.push(fill(el("span"), "descent.bounce", { names: bounced.join(", ") }));
    sentences.push(el("span", {}, this.context.t("descent.taylor")));
    box.classList.toggle("warning", rose);
    box.dataset.trend = rose ? "rose" : "fell";
    box.replaceChildren(...sentences.flatMap((sentence, i) => (i ? [" ", sentence] : [sentence])));
  }

  /** Scalar parameters whose last move went the other way than the move before. */
  bounced() {
    const before = new Map((this.previousMoves ?? []).map((move) => [move.label, move]));
    return this.last.moves.filter((move) => {
      const earlier = before.get(move.label);
      if (!earlier || ![move.before, move.after, earlier.before, earlier.after].every(isNumber)) return false;
      return Math.sign(move.after - move.before) * Math.sign(earlier.after - earlier.before) < 0;
    }).map((move) => move.label);
  }

  renderHistory() {
    const t = this.context.t;
    const points = (field) => this.history.filter((point) => point[field] !== null)
      .map((point) => ({ x: point.step, y: point[field] }));
    drawLineChart(this.parts.chart, {
      label: t("descent.chart"),
      xLabel: t("descent.chart_step"),
      series: [
        { key: "real", className: "real", symbol: "circle", points: points("loss") },
        { key: "predicted", className: "predicted", symbol: "diamond", dashed: true, points: points("predicted") },
      ],
    });
    const rows = this.history.map((point) => el("tr", {
      data: { step: String(point.step), loss: dataNumber(point.loss), predicted: dataNumber(point.predicted) },
    },
    el("th", { attrs: { scope: "row" } }, String(point.step)),
    el("td", { className: "num" }, number(point.loss)),
    el("td", { className: "num" }, point.predicted === null ? "" : number(point.predicted, "predicted"))));
    this.parts.history.replaceChildren(
      el("caption", {}, t("descent.history_caption")),
      headings(t, ["descent.history_step"], ["descent.history_loss", "num"], ["descent.history_predicted", "num"]),
      el("tbody", {}, ...rows.reverse()));
  }
}

export const panel = new DescentPanel();
