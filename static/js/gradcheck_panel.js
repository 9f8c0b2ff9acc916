// The gradient-check panel: ask the server for the same trace with gradcheck: true and show, per
// input, backprop's (analytic) gradient beside the centered-difference (numeric) one, their relative
// error and a verdict told by colour, symbol and word together.
import { el } from "./dom.js";
import { dataNumber, formatValue, fullText } from "./format.js";
import { fill } from "./i18n.js";
import { translateWithin } from "./panel_box.js";

const VERDICT_SYMBOLS = { pass: "✓", warn: "!", fail: "✗", undefined: "?" };

function number(value, className) {
  return el("span", { className: `num ${className}`, attrs: { title: fullText(value) } }, formatValue(value));
}

class GradcheckPanel {
  mount(body, context) {
    this.context = context;
    this.parts = {
      run: el("button", { className: "primary", attrs: { type: "button" },
        data: { testid: "gradcheck-run", i18n: "gradcheck.run" } }),
      message: el("p", { className: "panel-message", attrs: { role: "status" }, data: { testid: "gradcheck-message" } }),
      summary: el("p", { className: "gradcheck-summary", data: { testid: "gradcheck-summary" } }),
      table: el("table", { className: "panel-table gradcheck", data: { testid: "gradcheck-table" } }),
    };
    body.append(
      el("p", { className: "hint", data: { i18n: "gradcheck.method" } }),
      el("p", { className: "hint", data: { i18n: "gradcheck.thresholds" } }),
      el("div", { className: "button-row" }, this.parts.run),
      this.parts.message, this.parts.summary,
      el("div", { className: "table-scroll" }, this.parts.table),
    );
    translateWithin(body, context.t);
    this.request = null;
    this.rows = null;
    this.problem = null;
    this.busy = false;
    this.controller = null;
    this.parts.run.addEventListener("click", () => this.check());
    context.onLanguageChange(() => this.render());
    this.render();
  }

  show(trace, request) {
    const same = this.request && request.source === this.request.source
      && JSON.stringify(request.values) === JSON.stringify(this.request.values);
    this.request = { source: request.source, values: request.values };
    if (!same) {
      // The numbers belong to other values: clear them rather than show a stale verdict.
      this.controller?.abort();
      this.rows = null;
      this.problem = null;
    }
    this.render();
  }

  async check() {
    if (!this.request) return;
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.busy = true;
    this.problem = null;
    this.render();
    try {
      const answer = await this.context.api.postTrace({ ...this.request, gradcheck: true }, { signal: controller.signal });
      this.rows = answer.gradcheck ?? [];
    } catch (error) {
      if (error?.name === "AbortError") return;
      this.rows = null;
      this.problem = { key: "gradcheck.error", params: { message: error?.message ?? "" } };
    } finally {
      if (this.controller === controller) {
        this.controller = null;
        this.busy = false;
        this.render();
      }
    }
  }

  render() {
    const t = this.context.t;
    const { run, message, summary, table } = this.parts;
    run.disabled = this.busy || !this.request;
    message.classList.toggle("warning", Boolean(this.problem));
    if (this.busy) message.textContent = t("gradcheck.working");
    else if (this.problem) message.textContent = t(this.problem.key, this.problem.params);
    else if (this.rows === null) message.textContent = t("gradcheck.press");
    else message.textContent = "";
    message.hidden = message.textContent === "";
    if (this.rows === null) {
      summary.hidden = true;
      table.hidden = true;
      table.replaceChildren();
      return;
    }
    const passed = this.rows.filter((row) => row.verdict === "pass").length;
    summary.hidden = false;
    fill(summary, this.rows.length ? "gradcheck.summary" : "gradcheck.no_inputs",
      { passed: String(passed), total: String(this.rows.length) });
    table.hidden = this.rows.length === 0;
    const heading = (key, className = "") => el("th", { className, attrs: { scope: "col" } }, t(key));
    table.replaceChildren(
      el("caption", {}, t("gradcheck.caption")),
      el("thead", {}, el("tr", {},
        heading("gradcheck.col_input"), heading("gradcheck.col_analytic", "num grad"),
        heading("gradcheck.col_numeric", "num grad"), heading("gradcheck.col_rel_error", "num"),
        heading("gradcheck.col_verdict"))),
      el("tbody", {}, ...this.rows.map((row) => this.row(row))),
    );
  }

  row(row) {
    const t = this.context.t;
    const verdict = Object.hasOwn(VERDICT_SYMBOLS, row.verdict) ? row.verdict : "undefined";
    return el("tr", {
      data: { nodeId: row.node, label: row.label, analytic: dataNumber(row.analytic), numeric: dataNumber(row.numeric),
        relError: dataNumber(row.rel_error), verdict },
    },
    el("th", { attrs: { scope: "row" } }, el("code", {}, row.label)),
    el("td", { className: "num grad" }, number(row.analytic, "grad")),
    el("td", { className: "num grad" }, number(row.numeric, "grad")),
    el("td", { className: "num" }, row.rel_error === null ? "—" : number(row.rel_error, "")),
    el("td", {}, el("span", { className: `verdict verdict-${verdict}`, data: { testid: "gradcheck-verdict" },
      attrs: { title: t(`gradcheck.verdict_title.${verdict}`) } },
    el("span", { className: "verdict-symbol", attrs: { "aria-hidden": "true" } }, VERDICT_SYMBOLS[verdict]),
    " ", t(`gradcheck.verdict.${verdict}`))));
  }
}

export const panel = new GradcheckPanel();
