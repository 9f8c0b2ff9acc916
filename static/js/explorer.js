// The explorer page (/): load the worked example (or the program in the URL), trace it through
// the API, and show every node's value and gradient and every step.
import { ApiError, getExamples, getLimits, postTrace } from "./api.js";
import { el } from "./dom.js";
import { formatValue } from "./format.js";
import { fill, language, preferredLanguage, setLanguage, t, translatePage } from "./i18n.js";
import { renderNodeTable, renderProblems } from "./node_table.js";
import { InputError, ProgramForm } from "./program_form.js";
import { readLanguage, readState, writeState } from "./state.js";
import { renderSteps } from "./step_list.js";

const DEFAULT_EXAMPLE = "worked-example";

class Explorer {
  constructor(root) {
    this.root = root;
    this.parts = {
      status: root.querySelector("#status-line"),
      error: root.querySelector("#error"),
      results: root.querySelector("#results"),
      caption: root.querySelector("#nodes-caption"),
      nodes: root.querySelector("#nodes tbody"),
      problems: root.querySelector("#problems"),
      explanation: root.querySelector("#explanation"),
      forward: root.querySelector("#forward-steps"),
      backward: root.querySelector("#backward-steps"),
      explain: root.querySelector("#example-explain"),
      languageButtons: [...root.querySelectorAll("[data-lang]")],
      pageLinks: [...root.querySelectorAll("a[data-page-link]")],
    };
    // The view, so a language switch can redraw without asking the server again.
    this.view = { status: null, trace: null, error: null };
    this.pending = null;
    this.revealOutcome = false;
    this.form = new ProgramForm(root.querySelector("#program-form"), {
      onTrace: () => this.traceForm(),
      onExample: (id) => this.openExample(id),
    });
    for (const button of this.parts.languageButtons) {
      button.addEventListener("click", () => this.switchLanguage(button.dataset.lang));
    }
  }

  async start() {
    this.applyLanguage(readLanguage(window.location.search) ?? preferredLanguage(navigator.languages));
    this.view.status = { key: "status.loading" };
    this.render();
    let examples;
    let limits;
    try {
      [examples, limits] = await Promise.all([getExamples(), getLimits()]);
    } catch (error) {
      this.view = { status: null, trace: null, error: { cause: error, titleKey: "error.startup" } };
      this.render();
      return;
    }
    this.form.setLimits(limits);
    this.form.setExamples(examples);
    const state = readState(window.location.search, limits);
    if (state.source !== null) {
      this.form.show({ source: state.source, values: state.values ?? {} });
    } else {
      const example = this.form.example(state.example) ?? this.form.example(DEFAULT_EXAMPLE) ?? examples[0];
      if (example) this.form.show({ source: example.source, values: example.values, exampleId: example.id });
    }
    await this.traceForm({ remember: false });
  }

  // ---- Language ----------------------------------------------------------------------------

  applyLanguage(code) {
    const lang = setLanguage(code);
    translatePage(this.root);
    for (const button of this.parts.languageButtons) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    }
    for (const link of this.parts.pageLinks) {
      const url = new URL(link.href, window.location.href);
      url.searchParams.set("lang", lang);
      link.href = `${url.pathname}${url.search}`;
    }
    this.form.renderExampleNames();
  }

  switchLanguage(code) {
    this.applyLanguage(code);
    writeState({ lang: language() });
    this.render();
  }

  // ---- Tracing -----------------------------------------------------------------------------

  openExample(id) {
    const example = this.form.example(id);
    if (!example) return;
    this.form.show({ source: example.source, values: example.values, exampleId: example.id });
    this.traceForm();
  }

  async traceForm({ remember = true } = {}) {
    let request;
    try {
      request = this.form.read();
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      this.showError(error);
      return;
    }
    if (remember) {
      this.revealOutcome = true;
      const exampleId = this.form.exampleId();
      writeState(exampleId
        ? { example: exampleId === DEFAULT_EXAMPLE ? null : exampleId, source: null, values: null }
        : { example: null, source: request.source, values: request.values });
    }
    await this.trace(request);
  }

  async trace(request) {
    // A newer request cancels an older one, so a slow answer never overwrites a newer view.
    this.pending?.abort();
    const controller = new AbortController();
    this.pending = controller;
    this.view.status = { key: "status.tracing" };
    this.renderStatus();
    try {
      const trace = await postTrace(request, { signal: controller.signal });
      this.view = { status: null, trace, error: null };
    } catch (error) {
      if (error?.name === "AbortError") return;
      this.view = { status: null, trace: null, error: { cause: error, titleKey: "error.title" } };
    } finally {
      if (this.pending === controller) this.pending = null;
    }
    this.render();
  }

  showError(cause) {
    this.view = { status: null, trace: null, error: { cause, titleKey: "error.title" } };
    this.revealOutcome = true;
    this.render();
  }

  /** On a phone the Trace button sits below the picture: bring the answer (or the error) into view. */
  reveal() {
    if (!this.revealOutcome) return;
    this.revealOutcome = false;
    const target = this.view.error ? this.parts.error : this.parts.status;
    target.scrollIntoView({ block: "nearest" });
  }

  // ---- Drawing -----------------------------------------------------------------------------

  render() {
    this.renderStatus();
    this.renderError();
    this.renderTrace();
    this.reveal();
  }

  renderStatus() {
    const { status, trace } = this.view;
    const line = this.parts.status;
    if (status) {
      fill(line, status.key);
    } else if (trace) {
      const output = trace.nodes.find((node) => node.id === trace.output);
      fill(line, "status.traced", {
        output: el("code", {}, output?.label ?? trace.output),
        value: output?.status === "ok"
          ? el("span", { className: "num value" }, formatValue(output.value))
          : `${t("problem.marker")} ${t(`status.${output?.status}`)}`,
        nodes: String(trace.nodes.length),
        steps: String(trace.steps.length),
      });
    } else {
      line.replaceChildren();
    }
  }

  renderError() {
    const box = this.parts.error;
    const problem = this.view.error;
    box.hidden = problem === null;
    if (problem === null) {
      box.replaceChildren();
      return;
    }
    const { cause, titleKey } = problem;
    const message = el("p", { className: "error-message" });
    const where = cause?.where ?? {};
    let place = null;
    if (cause instanceof InputError) {
      message.textContent = t(cause.key, cause.params);
    } else if (cause instanceof ApiError && (cause.code === "network" || cause.code === "bad_response")) {
      message.textContent = t(`error.${cause.code}`);
    } else {
      message.textContent = String(cause?.message ?? cause);
    }
    if (Number.isInteger(where.line) && Number.isInteger(where.column)) {
      place = fill(el("button", { className: "link-button", attrs: { type: "button" }, data: { testid: "error-where" } }),
        "error.where_line", { line: String(where.line), column: String(where.column) });
      place.addEventListener("click", () => this.form.selectPosition(where.line, where.column));
    } else if (typeof where.field === "string" && where.field) {
      place = fill(el("p", { className: "error-where" }), "error.where_field", { field: el("code", {}, where.field) });
    }
    box.replaceChildren(el("p", { className: "error-title" }, t(titleKey)), message, place);
    box.dataset.code = cause?.code ?? cause?.key ?? "error";
  }

  renderTrace() {
    const { trace } = this.view;
    this.parts.results.hidden = trace === null;
    this.parts.explanation.hidden = trace === null;
    if (trace === null) {
      this.parts.nodes.replaceChildren();
      this.parts.problems.replaceChildren();
      this.parts.forward.replaceChildren();
      this.parts.backward.replaceChildren();
      this.parts.explain.replaceChildren();
      this.parts.explain.hidden = true;
      return;
    }
    const output = trace.nodes.find((node) => node.id === trace.output);
    fill(this.parts.caption, "nodes.caption", { output: output?.label ?? trace.output });
    renderNodeTable(this.parts.nodes, trace);
    renderProblems(this.parts.problems, trace);
    renderSteps({ forward: this.parts.forward, backward: this.parts.backward }, trace);
    const example = this.form.example(this.form.exampleId());
    const explanation = example?.explain?.[language()] ?? "";
    this.parts.explain.textContent = explanation;
    this.parts.explain.hidden = explanation === "";
  }
}

new Explorer(document).start();
