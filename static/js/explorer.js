// The explorer page (/): the program and its inputs on the left, the computational graph animated
// step by step in the centre with its timeline, and the explanation of the current step on the right.
//
// ---- Panel contract (for the panels below the explanation: descent, gradient check, export) ----
// A panel module exports an object and registers it in the `// ---- panels ----` block at the end
// of this file:  registerPanel({ id, mount(container, context), show(trace, request) }).
// - id: lowercase [a-z0-9-]; the container is the element `[data-panel="<id>"]` inside #panels in
//   templates/explorer.html (put your <section data-panel="<id>"> there; one is created if missing).
// - mount(container, context) is called once, after the limits have loaded and before the first
//   trace; show(trace, request) after every successful trace (trace = POST /api/v1/trace answer,
//   request = the {source, values} that produced it). Neither is called again after an error, so
//   the last good trace stays on screen.
// - context = {
//     api,                 // the module static/js/api.js (postTrace, postTraceState, getOps, ...)
//     t,                   // t(key, params) from i18n.js: every visible string
//     limits,              // GET /api/v1/limits
//     state: { get(field), set(field, value) },  // URL fields "panels" (array of open panel ids),
//                          // "lr" (number) and "params" (array of names); set clamps and returns
//                          // what a reloaded page will read back; null / [] removes the field
//     retrace(values),     // merge {name: value} into the input boxes and re-trace; -> Promise of
//                          // the new trace (null when it failed)
//     onLanguageChange(cb) // cb(lang) after the language switched and static text was translated
//   }
// Static text in a panel's HTML can use data-i18n / data-i18n-attr like the rest of the page.
import * as api from "./api.js";
import { ApiError } from "./api.js";
import { el, onWidthChange } from "./dom.js";
import { shareLink } from "./share_link.js";
import { Explanation } from "./explanation.js";
import { formatValue } from "./format.js";
import { GraphView } from "./graph_view.js";
import { fill, language, preferredLanguage, setLanguage, t, translatePage } from "./i18n.js";
import { layoutTrace } from "./layout.js";
import { InputError, ProgramForm } from "./program_form.js";
import { Replay } from "./replay.js";
import { readLanguage, readState, urlState, writeState } from "./state.js";
import { Timeline } from "./timeline.js";

const DEFAULT_EXAMPLE = "worked-example";
const PANEL_FIELDS = ["panels", "lr", "params"];
const STEP_URL_DELAY_MS = 250;
// The table view and the list of steps load their code the first time someone opens them.
const lazy = (load) => {
  let module = null;
  return () => (module ??= load());
};
const nodeTable = lazy(() => import("./node_table.js"));
const stepList = lazy(() => import("./step_list.js"));

/** The same nodes, ops, inputs and shapes: a re-trace that only changed numbers keeps its layout. */
function structureOf(trace) {
  return trace.nodes.map((node) => `${node.id}:${node.op}:${node.inputs.join(",")}:${node.shape.join("x")}:${node.label}`)
    .join("|");
}

class Explorer {
  constructor(root, panels) {
    this.root = root;
    this.panels = panels;
    this.languageListeners = [];
    this.limits = null;
    this.ops = new Map();
    this.trace = null; // the last trace that worked: it stays on screen through later errors
    this.request = null;
    this.replay = null;
    this.structure = null;
    this.error = null;
    this.status = null;
    this.pending = null;
    this.editTimer = null;
    this.stepTimer = null;
    this.view = "graph";
    this.revealOutcome = false;
    this.reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
    const find = (selector) => root.querySelector(selector);
    this.parts = {
      status: find("#status-line"),
      error: find("#error"),
      graphBox: find("#graph-box"),
      graphView: find("#graph-view"),
      tableView: find("#table-view"),
      caption: find("#nodes-caption"),
      nodes: find("#nodes tbody"),
      problems: find("#problems"),
      steps: find("#steps"),
      forward: find("#forward-steps"),
      backward: find("#backward-steps"),
      explain: find("#example-explain"),
      explanation: find("#explanation"),
      shortcuts: find("#shortcuts"),
      shareNote: find("#share-note"),
      inputs: find("#inputs-details"),
      languageButtons: [...root.querySelectorAll("[data-lang]")],
      viewButtons: [...root.querySelectorAll("[data-view]")],
      pageLinks: [...root.querySelectorAll("a[data-page-link]")],
    };
    this.form = new ProgramForm(find("#program-form"), {
      onEdit: (kind, delay) => this.scheduleTrace(kind, delay),
      onSubmit: () => this.traceForm({ kind: "submit" }),
      onExample: (id) => this.openExample(id),
    });
    this.graph = new GraphView(find("#graph"));
    this.explanation = new Explanation(root);
    this.timeline = new Timeline(find("#timeline"), {
      onStep: (step, { animate }) => this.showStep(step, animate),
      onHelp: () => this.openShortcuts(),
    });
    this.timeline.listen(root);
    for (const button of this.parts.languageButtons) {
      button.addEventListener("click", () => this.switchLanguage(button.dataset.lang));
    }
    for (const button of this.parts.viewButtons) {
      button.addEventListener("click", () => this.setView(button.dataset.view, true));
    }
    find("#zoom-in").addEventListener("click", () => this.graph.zoomBy(1.4));
    find("#zoom-out").addEventListener("click", () => this.graph.zoomBy(1 / 1.4));
    find("#zoom-fit").addEventListener("click", () => this.graph.fit());
    find("#share").addEventListener("click", () => this.share());
    // A new width (a phone turned sideways, a window resized) fits the graph again.
    onWidthChange(this.parts.graphBox, () => {
      if (this.trace) this.graph.fit(false);
    });
    this.parts.steps.addEventListener("toggle", () => this.renderStepList());
    for (const list of [this.parts.forward, this.parts.backward]) {
      list.addEventListener("click", (event) => {
        const item = event.target.closest("li[data-step-index]");
        if (item) this.goTo(Number(item.dataset.stepIndex));
      });
    }
  }

  async start() {
    const languageReady = this.applyLanguage(readLanguage(window.location.search)
      ?? preferredLanguage(navigator.languages));
    const loading = Promise.all([api.getExamples(), api.getLimits(), api.getOps().catch(() => ({ ops: [] }))]);
    await languageReady;
    this.status = { key: "status.loading" };
    this.renderStatus();
    let examples;
    try {
      const [loaded, limits, ops] = await loading;
      examples = loaded;
      this.limits = limits;
      this.ops = new Map(ops.ops.map((op) => [op.name, op]));
    } catch (error) {
      this.status = null;
      this.showError(error, "error.startup");
      return;
    }
    this.form.setLimits(this.limits);
    this.form.setExamples(examples);
    this.mountPanels();
    const state = readState(window.location.search, this.limits);
    this.setView(state.view ?? "graph", false);
    if (state.source !== null) {
      this.form.show({ source: state.source, values: state.values ?? {} });
    } else {
      const example = this.form.example(state.example) ?? this.form.example(DEFAULT_EXAMPLE) ?? examples[0];
      if (example) this.form.show({ source: example.source, values: example.values, exampleId: example.id });
    }
    this.renderExampleExplanation();
    await this.traceForm({ kind: "load", step: state.step });
  }

  // ---- Panels -------------------------------------------------------------------------------

  panelContext() {
    return {
      api,
      t,
      limits: this.limits,
      state: urlState(this.limits, PANEL_FIELDS),
      retrace: (values) => this.retraceWith(values),
      onLanguageChange: (callback) => this.languageListeners.push(callback),
    };
  }

  mountPanels() {
    const host = this.root.querySelector("#panels");
    for (const panel of this.panels) {
      let container = host.querySelector(`[data-panel="${panel.id}"]`);
      if (!container) {
        container = el("section", { className: "panel-box", data: { panel: panel.id } });
        host.append(container);
      }
      try {
        panel.mount(container, this.panelContext());
      } catch (error) {
        console.error(`panel ${panel.id} failed to mount`, error);
      }
    }
  }

  showPanels(trace, request) {
    for (const panel of this.panels) {
      try {
        panel.show(trace, request);
      } catch (error) {
        console.error(`panel ${panel.id} failed to show the trace`, error);
      }
    }
  }

  async retraceWith(values) {
    this.form.setValues(values);
    const worked = await this.traceForm({ kind: "values" });
    return worked ? this.trace : null;
  }

  // ---- Language -----------------------------------------------------------------------------

  async applyLanguage(code) {
    const lang = await setLanguage(code);
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
    this.timeline.render();
  }

  async switchLanguage(code) {
    await this.applyLanguage(code);
    writeState({ lang: language() });
    this.renderStatus();
    this.renderError();
    this.renderExampleExplanation();
    if (this.trace) {
      this.graph.forget();
      this.showStep(this.timeline.step, false);
      this.renderTables();
    }
    for (const listener of this.languageListeners) listener(language());
  }

  // ---- Tracing ------------------------------------------------------------------------------

  openExample(id) {
    const example = this.form.example(id);
    if (!example) return;
    this.form.show({ source: example.source, values: example.values, exampleId: example.id });
    this.renderExampleExplanation();
    this.traceForm({ kind: "example" });
  }

  scheduleTrace(kind, delay) {
    window.clearTimeout(this.editTimer);
    if (kind === "source") this.renderExampleExplanation();
    this.editTimer = window.setTimeout(() => this.traceForm({ kind }), delay);
  }

  /**
   * Read the form and trace it. kind: "load" (from the URL: nothing written back), "submit",
   * "example", "source" (the program changed) or "values" (only numbers changed).
   * Resolves to whether a new trace is on screen.
   */
  async traceForm({ kind, step = null }) {
    window.clearTimeout(this.editTimer);
    let request;
    try {
      request = this.form.read();
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      this.pending?.abort();
      this.revealOutcome = kind === "submit";
      this.showError(error);
      return false;
    }
    if (kind !== "load") {
      const exampleId = this.form.exampleId();
      writeState(exampleId
        ? { example: exampleId === DEFAULT_EXAMPLE ? null : exampleId, source: null, values: null }
        : { example: null, source: request.source, values: request.values });
    }
    this.revealOutcome = kind === "submit";
    return this.trace_(request, kind, step);
  }

  async trace_(request, kind, wantedStep) {
    // A newer request cancels an older one, so a slow answer never overwrites a newer view.
    this.pending?.abort();
    const controller = new AbortController();
    this.pending = controller;
    this.status = { key: "status.tracing" };
    this.renderStatus();
    performance.mark("trace-start");
    let trace;
    try {
      trace = await api.postTrace(request, { signal: controller.signal });
    } catch (error) {
      if (error?.name === "AbortError") return false;
      if (this.pending === controller) this.pending = null;
      this.status = null;
      this.showError(error);
      return false;
    }
    if (this.pending === controller) this.pending = null;
    performance.mark("trace-received");
    const previous = this.replay ? { step: this.timeline.step, count: this.replay.count } : null;
    this.status = null;
    this.error = null;
    this.form.clearError();
    this.renderError();
    this.showTrace(trace, request);
    let step;
    if (wantedStep !== null && wantedStep !== undefined) step = wantedStep;
    else if (kind === "values" && previous && previous.step < previous.count - 1) step = previous.step;
    else step = this.replay.count - 1;
    this.timeline.load(this.replay.count, this.replay.clamp(step));
    this.showStep(this.timeline.step, false);
    this.renderStatus();
    this.showPanels(trace, request);
    this.reveal();
    return true;
  }

  showTrace(trace, request) {
    this.trace = trace;
    this.request = request;
    this.replay = new Replay(trace);
    this.nodes = new Map(trace.nodes.map((node) => [node.id, node]));
    this.output = this.nodes.get(trace.output);
    const structure = structureOf(trace);
    if (structure !== this.structure) {
      this.structure = structure;
      const layout = layoutTrace(trace);
      performance.mark("layout-done");
      this.graph.draw(trace, layout);
    } else {
      this.graph.retrace(trace);
    }
    this.parts.graphBox.classList.remove("stale");
    performance.mark("graph-drawn");
    this.renderTables();
  }

  showError(cause, titleKey = "error.title") {
    this.error = { cause, titleKey };
    const where = cause?.where ?? {};
    if (Number.isInteger(where.line) && Number.isInteger(where.column)) {
      this.form.showError({ line: where.line, column: where.column, message: String(cause.message ?? "") });
    } else {
      this.form.clearError();
      this.form.markField(cause instanceof InputError ? cause.field : where.field);
    }
    this.parts.graphBox.classList.toggle("stale", this.trace !== null);
    this.renderStatus();
    this.renderError();
    this.reveal();
  }

  /** After Trace on a phone the picture sits above the inputs: bring the answer (or the error) into view. */
  reveal() {
    if (!this.revealOutcome) return;
    this.revealOutcome = false;
    const target = this.error ? this.parts.error : this.parts.status;
    target.scrollIntoView({ block: "nearest" });
  }

  // ---- Steps --------------------------------------------------------------------------------

  goTo(step) {
    this.timeline.pause();
    this.timeline.go(step, false);
  }

  stepDuration() {
    if (this.reducedMotion.matches) return 0;
    return this.timeline.interval() * 0.8;
  }

  showStep(step, animate) {
    if (!this.replay) return;
    const state = this.replay.stateAt(step);
    const duration = animate ? this.stepDuration() : 0;
    this.graph.update(state, this.replay, duration > 0 ? { duration } : null);
    performance.mark("step-shown");
    // While playing, a screen reader hears the pause, not every step read out at speed.
    this.parts.explanation.setAttribute("aria-live", this.timeline.playing ? "off" : "polite");
    this.explanation.show({
      step: state.current, nodes: this.nodes, ops: this.ops, output: this.output, gradBefore: state.gradBefore,
      total: this.replay.count,
    });
    this.markStepInList(state.step);
    if (this.view === "table") this.renderTableAt(state);
    window.clearTimeout(this.stepTimer);
    this.stepTimer = window.setTimeout(() => writeState({ step: state.step }), STEP_URL_DELAY_MS);
  }

  markStepInList(step) {
    for (const item of this.root.querySelectorAll(".steps li[aria-current]")) item.removeAttribute("aria-current");
    this.root.querySelector(`.steps li[data-step-index="${step}"]`)?.setAttribute("aria-current", "step");
  }

  openShortcuts() {
    const dialog = this.parts.shortcuts;
    if (!dialog.open) dialog.showModal();
  }

  // ---- Views --------------------------------------------------------------------------------

  setView(view, remember) {
    this.view = view === "table" ? "table" : "graph";
    this.parts.graphView.hidden = this.view !== "graph";
    this.parts.tableView.hidden = this.view !== "table";
    for (const button of this.parts.viewButtons) {
      button.setAttribute("aria-pressed", String(button.dataset.view === this.view));
    }
    if (remember) writeState({ view: this.view === "graph" ? null : this.view });
    if (this.view === "graph" && this.trace) this.graph.fit(false);
    this.renderTables();
  }

  /** The table view and the list of every step are built only while someone can see them. */
  async renderTables() {
    const trace = this.trace;
    if (!trace) return;
    const hasProblem = trace.nodes.some((node) => !["ok", "none"].includes(node.status)
      || !["ok", "none"].includes(node.grad_status));
    if (this.view === "table" || hasProblem) {
      const { renderNodeTable, renderProblems } = await nodeTable();
      if (trace !== this.trace) return;
      renderProblems(this.parts.problems, trace);
      if (this.view === "table") {
        fill(this.parts.caption, "nodes.caption", { output: this.output?.label ?? trace.output });
        renderNodeTable(this.parts.nodes, trace, this.replay.stateAt(this.timeline.step));
      } else {
        this.parts.nodes.replaceChildren();
      }
    } else {
      this.parts.problems.replaceChildren();
      this.parts.problems.hidden = true;
      this.parts.nodes.replaceChildren();
    }
    await this.renderStepList();
  }

  /** The table view follows the step, as the graph does. */
  async renderTableAt(state) {
    const trace = this.trace;
    const { renderNodeTable } = await nodeTable();
    if (trace === this.trace && this.view === "table" && this.timeline.step === state.step) {
      renderNodeTable(this.parts.nodes, trace, state);
    }
  }

  async renderStepList() {
    if (!this.trace || !this.parts.steps.open) {
      this.parts.forward.replaceChildren();
      this.parts.backward.replaceChildren();
      return;
    }
    const trace = this.trace;
    const { renderSteps } = await stepList();
    if (trace !== this.trace) return;
    renderSteps({ forward: this.parts.forward, backward: this.parts.backward }, trace);
    this.markStepInList(this.timeline.step);
  }

  // ---- Share --------------------------------------------------------------------------------

  async share() {
    window.clearTimeout(this.stepTimer);
    if (this.replay) writeState({ step: this.timeline.step });
    await shareLink(this.parts.shareNote, "share.copied");
  }

  // ---- Words around the picture -------------------------------------------------------------

  renderExampleExplanation() {
    const example = this.form.example(this.form.exampleId());
    const text = example?.explain?.[language()] ?? example?.explain?.en ?? "";
    this.parts.explain.textContent = text;
    this.parts.explain.hidden = text === "";
  }

  renderStatus() {
    const line = this.parts.status;
    const trace = this.trace;
    if (this.status) {
      fill(line, this.status.key);
    } else if (this.error && trace) {
      fill(line, "status.stale");
    } else if (trace) {
      const output = this.output;
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
    const problem = this.error;
    box.hidden = problem === null;
    if (problem === null) {
      box.replaceChildren();
      delete box.dataset.code;
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
    const kept = this.trace ? el("p", { className: "error-kept" }, t("error.kept")) : null;
    // NOTE: replaceChildren writes a null as the text "null": only the parts this error has go in.
    const parts = [el("p", { className: "error-title" }, t(titleKey)), message, place, kept];
    box.replaceChildren(...parts.filter((part) => part !== null));
    box.dataset.code = cause?.code ?? cause?.key ?? "error";
  }
}

// ---- Panels: registered below, mounted once the limits are known, shown after every trace ----

const registered = [];

export function registerPanel(panel) {
  if (!panel || !/^[a-z][a-z0-9-]*$/.test(panel.id ?? "") || typeof panel.mount !== "function"
      || typeof panel.show !== "function") {
    throw new Error("a panel needs an id ([a-z0-9-]), mount(container, context) and show(trace, request)");
  }
  registered.push(panel);
}

// ---- panels ----
// Descent and gradient check load their code when first opened (panel_box.js: lazyPanel).
import { exportPanel } from "./export.js";
import { lazyPanel } from "./panel_box.js";

registerPanel(lazyPanel({ id: "descent", headingKey: "descent.heading", load: () => import("./descent_panel.js") }));
registerPanel(lazyPanel({ id: "gradcheck", headingKey: "gradcheck.heading", load: () => import("./gradcheck_panel.js") }));
registerPanel(exportPanel);
// ---- end panels ----

// ---- classroom ---- (its controls load only when used: classroom_boot.js; this page's part of them,
// following the teacher and the question to ask, is explorer_classroom.js, loaded with them)
import { classroom } from "./classroom_boot.js";

const explorer = new Explorer(document, registered);
let explorerClassroom = null;
const loadExplorerClassroom = async () => (explorerClassroom ??= await import("./explorer_classroom.js"));
classroom({
  page: "explorer",
  ready: explorer.start(),
  prepare: loadExplorerClassroom,
  state: (search) => (explorer.limits ? readState(search, explorer.limits) : {}),
  live: () => (explorer.replay ? { step: explorer.timeline.step } : {}),
  follow: async (before) => (await loadExplorerClassroom()).follow(explorer, before, DEFAULT_EXAMPLE),
  question: () => explorerClassroom?.question(explorer) ?? null,
});
// ---- end classroom ----
