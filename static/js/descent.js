// The gradient-descent lab (/descent): a loss surface as contours, several optimizers run from one
// start side by side, their loss curves, the learning rate and its four behaviours, Taylor's promise
// and the one-parameter view. This module owns the view state and wires the parts together; every
// number comes from /api/v1 (the descent contract: app/routes/descent.py).
import { ApiError, getLimits } from "./api.js";
import { getSurfaces, postRun, postSurface } from "./descent_api.js";
import { swatch } from "./descent_chart.js";
import { ContourPlot } from "./descent_contour.js";
import { LabForm, numberSettings } from "./descent_form.js";
import { LineView } from "./descent_line.js";
import { drawLosses } from "./descent_losses.js";
import { DEFAULT_OPTIMIZERS, OPTIMIZERS, changedHyper, optimizerRequest, presetRates, sameRates } from "./descent_optimizers.js";
import { RateControl } from "./descent_rate.js";
import { readDescentState, readLanguageField, readSettings, writeDescentState } from "./descent_state.js";
import { StepExplanation, runAt } from "./descent_step.js";
import { TaylorPanel } from "./descent_taylor.js";
import { DescentTimeline } from "./descent_timeline.js";
import { el, onWidthChange } from "./dom.js";
import { shareLink } from "./share_link.js";
import { formatNumber } from "./format.js";
import { addPageTables, fill, language, preferredLanguage, setLanguage, t, translatePage } from "./i18n.js";

// The lab's own words load with the language; the other pages never fetch them.
addPageTables({ en: () => import("./lang/descent_en.js"), zh: () => import("./lang/descent_zh.js") });

const DEFAULT_SURFACE = "quadratic";
const FALLBACK_SOURCE = "f = (a - 1)^2 + 4 * b^2";
const DEFAULT_STEPS = 100;
const DEFAULT_FACTOR = 1000;
const GRID = 120;
const STEP_URL_DELAY_MS = 250;
const STATUS_DELAY_MS = 300; // a run that answers sooner never says "running"

class Lab {
  constructor(root) {
    this.root = root;
    this.limits = null;
    this.surfaces = [];
    this.state = null;
    this.surfaceAnswer = null;
    this.runs = [];
    this.drawn = 0; // runs drawn so far: tests and scripts wait on the box's data-runs
    this.drawnKey = null; // the run request whose answer is on screen
    this.error = null;
    this.status = null;
    this.surfaceController = null;
    this.runController = null; // the run in flight, if any
    this.runKey = null; // its request
    this.runPending = false; // the slider moved on while it was in flight
    this.legendKey = null; // what the legend shows
    this.statusText = null; // what the status line says
    this.statusTimer = null;
    this.stepTimer = null;
    const find = (selector) => root.querySelector(selector);
    this.parts = {
      status: find("#status-line"),
      error: find("#error"),
      contourBox: find("#contour-box"),
      nonFinite: find("#non-finite-note"),
      legend: find("#legend"),
      lossChart: find("#loss-chart"),
      shortcuts: find("#shortcuts"),
      shareNote: find("#share-note"),
      languageButtons: [...root.querySelectorAll("[data-lang]")],
      pageLinks: [...root.querySelectorAll("a[data-page-link]")],
    };
    this.contour = new ContourPlot(find("#contour"), { onPick: (start) => this.change({ start }) });
    this.timeline = new DescentTimeline(find("#timeline"), {
      onStep: (step) => this.showStep(step),
      onHelp: () => this.openShortcuts(),
    });
    this.timeline.listen(root);
    this.explanation = new StepExplanation(find("#explanation"), { onFollow: (focus) => this.change({ focus }) });
    this.taylor = null; // made once the limits are known
    this.line = new LineView(find("#line-view"), { onParameter: (parameter) => this.change({ parameter }) });
    for (const button of this.parts.languageButtons) {
      button.addEventListener("click", () => this.switchLanguage(button.dataset.lang));
    }
    find("#share").addEventListener("click", () => this.share());
    // The charts are drawn at their box's width: a new width (a phone turned, a window resized) redraws.
    this.lossWidth = 0;
    onWidthChange(this.parts.lossChart, (width) => {
      this.lossWidth = width;
      if (this.runs.length) this.showStep(this.timeline.step);
    });
  }

  async start() {
    const languageReady = this.applyLanguage(readLanguageField(window.location.search) ?? preferredLanguage(navigator.languages));
    const loading = Promise.all([getLimits(), getSurfaces()]);
    await languageReady;
    this.status = { key: "lab.status.loading" };
    this.renderStatus();
    try {
      [this.limits, this.surfaces] = await loading;
    } catch (error) {
      this.status = null;
      this.showError(error, "lab.error_startup");
      return;
    }
    this.taylor = new TaylorPanel(this.root.querySelector("#taylor"), this.limits);
    this.form = new LabForm(this.root.querySelector("#lab-form"), { onChange: (patch) => this.change(patch) });
    this.form.setSurfaces(this.surfaces);
    this.rate = new RateControl(this.root.querySelector(".rate-box"), {
      limits: this.limits,
      onRate: (lr, { final }) => this.change({ lr }, { final }),
      onLinked: (linked) => this.change({ linked }),
    });
    this.state = this.readUrl();
    this.initialStep = readDescentState(window.location.search, this.limits).step;
    this.form.show(this.state);
    this.showRate();
    await this.refreshSurface();
  }

  // ---- State ------------------------------------------------------------------------------

  surface(id = this.state?.surface) {
    return this.surfaces.find((surface) => surface.id === id) ?? null;
  }

  defaultSettings(surface) {
    return Object.fromEntries(numberSettings(surface).map((setting) => [setting.name, setting.default]));
  }

  /** The custom surface's own example program, from the surface list. */
  defaultSource() {
    const setting = this.surface("custom")?.settings?.find((one) => one.name === "source");
    return typeof setting?.default === "string" && setting.default.trim() ? setting.default : FALLBACK_SOURCE;
  }

  /** The state from the URL, clamped; what it does not say takes the surface's defaults. */
  readUrl() {
    const search = window.location.search;
    const read = readDescentState(search, this.limits);
    const surface = this.surface(read.surface) ?? this.surface(DEFAULT_SURFACE) ?? this.surfaces[0];
    const optimizers = (read.optimizers ?? DEFAULT_OPTIMIZERS).filter((name) => OPTIMIZERS[name]);
    return {
      surface: surface.id,
      settings: { ...this.defaultSettings(surface), ...readSettings(search, surface) },
      source: read.source ?? this.defaultSource(),
      start: read.start ?? surface.start,
      optimizers,
      hyper: read.hyper ?? {},
      rates: read.rates?.rates ?? null, // {name: rate}; null: the surface's good rate, once the surface is known
      linked: read.rates?.linked ?? true, // one rate for every optimizer, moved together by the slider
      steps: read.steps ?? Math.min(DEFAULT_STEPS, this.limits.max_descent_steps),
      factor: read.factor ?? DEFAULT_FACTOR,
      focus: read.focus && optimizers.includes(read.focus) ? read.focus : optimizers[0],
      parameter: read.parameter ?? "a",
    };
  }

  writeUrl() {
    const s = this.state;
    writeDescentState({
      surface: s.surface,
      source: s.surface === "custom" ? s.source : null,
      start: s.start,
      optimizers: s.optimizers,
      hyper: changedHyper(s.hyper),
      rates: s.rates ? { linked: s.linked, rates: s.rates, names: s.optimizers } : null,
      steps: s.steps === DEFAULT_STEPS ? null : s.steps,
      factor: s.factor === DEFAULT_FACTOR ? null : s.factor,
      focus: s.focus === s.optimizers[0] ? null : s.focus,
      parameter: s.parameter === "a" ? null : s.parameter,
    }, { settings: s.settings, settingNames: this.surfaces.flatMap((surface) => numberSettings(surface).map((x) => x.name)) });
  }

  /** The rate the slider moves: every optimizer's when linked, else the followed one's (null before the surface). */
  focusRate(state = this.state) {
    return state?.rates?.[state.focus] ?? null;
  }

  showRate() {
    const s = this.state;
    this.rate.showTarget({ linked: s.linked, name: t(`lab.opt.${s.focus}`) });
    if (this.surfaceAnswer) {
      const { presets, critical } = this.rateTarget(s.linked ? "sgd" : s.focus);
      this.rate.setSurface(presets, critical);
    }
    const rate = this.focusRate();
    if (rate !== null) this.rate.show(rate);
  }

  /**
   * The four preset rates and the critical rate of one optimizer on this surface. Linked, the slider
   * shows plain gradient descent's: the classic 2/lambda_max. The server states the critical rate of
   * plain descent with the surface and those of momentum and Nesterov (which depend on beta) with a run.
   */
  rateTarget(name) {
    const answer = this.surfaceAnswer;
    let critical = null;
    if (Number.isFinite(answer?.lambda_max) && answer.lambda_max > 0) {
      const run = this.runs.find((one) => one.name === name);
      const rate = name === "sgd" ? answer.critical_lr : run?.critical ?? null;
      if (OPTIMIZERS[name].adaptive || (Number.isFinite(rate) && rate > 0)) {
        critical = { name, rate: OPTIMIZERS[name].adaptive ? null : rate, lambdaMax: answer.lambda_max,
          beta: run?.beta ?? null };
      }
    }
    const box = answer?.box ?? this.surface()?.box;
    const presets = presetRates(this.state.surface, critical?.rate, { optimizer: name,
      width: box ? box[0][1] - box[0][0] : null });
    return { presets, critical };
  }

  /** The rates after a patch: the slider's lr, one optimizer's own rate, or linking them again. */
  nextRates(s, patch, next) {
    const { min_learning_rate: low, max_learning_rate: high } = this.limits;
    const clamp = (rate) => Math.min(Math.max(rate, low), high);
    if (!s.rates) return;
    if ("lr" in patch) {
      const rate = clamp(patch.lr);
      next.rates = next.linked ? sameRates(rate) : { ...s.rates, [next.focus]: rate };
    }
    if (patch.rates) {
      next.rates = { ...s.rates };
      for (const [name, rate] of Object.entries(patch.rates)) next.rates[name] = clamp(rate);
      // A rate of its own for one optimizer unlinks the slider from the others.
      if (next.linked && next.optimizers.some((name) => next.rates[name] !== next.rates[next.optimizers[0]])) {
        next.linked = false;
      }
    }
    if (patch.linked === true) next.rates = sameRates(this.focusRate(next));
  }

  /** The surface part of every request: {surface, its settings, source for a typed one}. */
  spec() {
    const s = this.state;
    const spec = { surface: s.surface, ...s.settings };
    if (s.surface === "custom") spec.source = s.source;
    return spec;
  }

  /**
   * Apply a patch from any control. A new surface, setting or source redraws the contours and reruns;
   * a new start, rate, optimizer list, hyper-parameter, step count or factor only reruns; the focus and
   * the line view's parameter only redraw the step.
   */
  change(patch, { final = true } = {}) {
    if (!this.state) return;
    const s = this.state;
    const next = { ...s, ...patch };
    if (patch.hyper) {
      next.hyper = { ...s.hyper };
      for (const [name, fields] of Object.entries(patch.hyper)) next.hyper[name] = { ...s.hyper[name], ...fields };
    }
    if (patch.surface && patch.surface !== s.surface) {
      const surface = this.surface(patch.surface);
      if (!surface) return;
      next.settings = this.defaultSettings(surface);
      next.start = surface.start;
      next.rates = null;
    }
    if (patch.start) {
      const cap = this.limits.max_coordinate;
      next.start = patch.start.map((x) => Math.min(Math.max(x, -cap), cap));
    }
    if (patch.steps) next.steps = Math.min(Math.max(Math.round(patch.steps), 1), this.limits.max_descent_steps);
    if (patch.factor) next.factor = Math.min(Math.max(patch.factor, 1), this.limits.max_divergence_factor);
    if (patch.optimizers && !patch.optimizers.includes(next.focus)) next.focus = patch.optimizers[0];
    this.nextRates(s, patch, next);
    delete next.lr;
    this.state = next;
    const surfaceChanged = ["surface", "settings", "source"].some((key) => key in patch);
    const rerun = ["start", "lr", "rates", "linked", "optimizers", "hyper", "steps", "factor"].some((key) => key in patch);
    if (final) this.form.show(next);
    this.showRate();
    if (surfaceChanged) {
      this.writeUrl();
      this.refreshSurface();
      return;
    }
    if (rerun) {
      if (final) this.writeUrl();
      this.contour.drawStart(next.start);
      this.run({ keepStep: false, final });
      return;
    }
    this.writeUrl();
    this.showStep(this.timeline.step);
  }

  // ---- The server -------------------------------------------------------------------------

  async refreshSurface() {
    this.surfaceController?.abort();
    this.cancelRun();
    const controller = new AbortController();
    this.surfaceController = controller;
    this.status = { key: "lab.status.running" };
    this.renderStatus();
    let answer;
    try {
      answer = await postSurface({ ...this.spec(), grid: Math.min(GRID, this.limits.max_surface_grid) },
        { signal: controller.signal });
    } catch (error) {
      if (error?.name === "AbortError") return;
      this.status = null;
      this.showError(error, "lab.error_surface");
      return;
    }
    if (this.surfaceController !== controller) return;
    this.surfaceAnswer = answer;
    this.form.clearSourceError();
    this.runs = []; // the paths drawn belong to the old surface
    if (this.state.rates === null) this.state.rates = sameRates(this.rateTarget("sgd").presets.good);
    this.form.show(this.state);
    this.showRate();
    this.writeUrl();
    const nonFinite = this.contour.drawSurface(answer);
    this.parts.nonFinite.hidden = !nonFinite;
    this.contour.drawStart(this.state.start);
    this.drawnKey = null; // a redrawn surface always gets its paths again
    await this.run({ keepStep: false });
  }

  runRequest() {
    const s = this.state;
    return {
      ...this.spec(),
      start: s.start,
      steps: s.steps,
      divergence_factor: s.factor,
      optimizers: s.optimizers.map((name) => optimizerRequest(name, s.rates[name], s.hyper)),
      include: [], // the paths alone: the Taylor panel asks /descent/taylor, and no state is drawn
    };
  }

  cancelRun() {
    this.runController?.abort();
    this.runController = null;
    this.runKey = null;
    this.runPending = false;
  }

  /**
   * Ask the server for every path and draw the answer. `final` is false while the slider is dragged:
   * then a run already in flight is not cancelled (the server cannot stop a run it has started, so a
   * drag would pile them up) but drawn when it comes, and the newest rate is asked for right after.
   */
  async run({ keepStep, final = true }) {
    const request = this.runRequest();
    const key = JSON.stringify(request);
    // The slider reports a rate while it moves and again when it is let go: the same request twice.
    if (this.runController ? key === this.runKey : key === this.drawnKey) {
      this.runPending = false;
      return;
    }
    if (this.runController && !final) {
      this.runPending = true;
      return;
    }
    this.cancelRun();
    const controller = new AbortController();
    this.runController = controller;
    this.runKey = key;
    this.status = { key: "lab.status.running" };
    this.renderStatus();
    let answer;
    performance.mark("descent-run-sent");
    try {
      answer = await postRun(request, { signal: controller.signal });
    } catch (error) {
      if (error?.name === "AbortError" || this.runController !== controller) return;
      this.runController = null;
      this.status = null;
      this.showError(error, "lab.error_run");
      this.runNext();
      return;
    }
    if (this.runController !== controller) return;
    this.runController = null;
    this.drawnKey = key;
    performance.mark("descent-run-received");
    this.runNext(); // a newer rate goes to the server now, and this answer is drawn while it works
    if (this.runController === null) this.status = null;
    this.error = null;
    this.renderError();
    this.parts.contourBox.classList.remove("stale");
    this.runs = answer.runs.map((run, i) => {
      const name = run.optimizer?.name ?? request.optimizers[i].name;
      return {
        name,
        style: OPTIMIZERS[name],
        rate: run.optimizer?.learning_rate ?? request.optimizers[i].learning_rate,
        beta: run.optimizer?.beta ?? null,
        critical: run.critical_lr ?? null,
        path: run.path,
        losses: run.losses,
        gradients: run.gradients,
        status: run.status,
        divergedAt: run.diverged_at ?? null,
        reason: run.reason ?? null,
        threshold: run.threshold ?? null,
      };
    });
    this.nameRuns();
    this.showRate(); // momentum's and Nesterov's critical rates come with their runs
    const count = Math.max(1, ...this.runs.map((run) => run.path.length));
    let step = count - 1;
    if (this.initialStep !== null && this.initialStep !== undefined) {
      step = this.initialStep;
      this.initialStep = null;
    } else if (keepStep) {
      step = this.timeline.step;
    }
    this.timeline.load(count, step);
    this.drawn += 1;
    this.parts.contourBox.dataset.runs = String(this.drawn);
    this.renderLegend();
    this.renderStatus();
    this.showStep(this.timeline.step);
    performance.mark("descent-drawn");
  }

  /** The rate the slider reached while a run was in flight. */
  runNext() {
    if (!this.runPending) return;
    this.runPending = false;
    this.run({ keepStep: false, final: false });
  }

  nameRuns() {
    for (const run of this.runs) run.title = t(`lab.opt.${run.name}`);
  }

  // ---- Drawing ----------------------------------------------------------------------------

  showStep(step) {
    if (!this.runs.length) return;
    const focusRun = this.runs.find((run) => run.name === this.state.focus) ?? this.runs[0];
    const at = runAt(focusRun, step);
    this.contour.drawStart(this.state.start);
    this.contour.drawRuns(this.runs, step, at.point ? { point: at.point, gradient: at.gradient } : null);
    drawLosses(this.parts.lossChart, this.runs, step, this.lossWidth);
    this.explanation.show(this.runs, step, focusRun.name, this.state.factor);
    const spec = this.spec();
    const cap = this.limits.max_coordinate;
    if (at.point && at.point.every((x) => Math.abs(x) <= cap)) {
      const box = this.surfaceAnswer?.box ?? this.surface().box;
      const parameterIndex = this.state.parameter === "a" ? 0 : 1;
      const span = (box[parameterIndex][1] - box[parameterIndex][0]) / 4;
      // The panels explain a plain gradient step from the followed point, at the followed optimizer's rate.
      const rate = focusRun.rate ?? this.focusRate();
      this.taylor.show({ spec, point: at.point, rate });
      this.line.show({ spec, point: at.point, parameter: this.state.parameter, span, rate });
    } else {
      // A diverged run can leave the finite numbers, or the square the server evaluates in.
      const why = at.point ? t("lab.point_far", { max: formatNumber(cap) }) : t("lab.no_point");
      this.taylor.show(why);
      this.line.show(why, this.state.parameter);
    }
    window.clearTimeout(this.stepTimer);
    this.stepTimer = window.setTimeout(() => writeDescentState({ step }), STEP_URL_DELAY_MS);
  }

  renderLegend() {
    const minima = (this.surfaceAnswer?.minima ?? []).length > 0;
    const key = JSON.stringify([language(), this.runs.map((run) => [run.name, run.title]), minima,
      this.parts.nonFinite.hidden]);
    if (key === this.legendKey) return;
    this.legendKey = key;
    const item = (testid, picture, key) => el("li", { data: { testid } }, picture, t(key));
    const mark = (className) => el("span", { className: `legend-mark ${className}`, attrs: { "aria-hidden": "true" } });
    this.parts.legend.replaceChildren(
      ...this.runs.map((run) => el("li", { data: { testid: `legend-${run.name}` } }, swatch(run.style), run.title)),
      item("legend-arrow", mark("arrow"), "lab.legend.arrow"),
      item("legend-start", mark("start"), "lab.legend.start"),
      ...(minima ? [item("legend-minimum", mark("minimum"), "lab.legend.minimum")] : []),
      ...(this.parts.nonFinite.hidden ? [] : [item("legend-non-finite", mark("non-finite"), "lab.legend.non_finite")]),
    );
  }

  openShortcuts() {
    const dialog = this.parts.shortcuts;
    if (!dialog.open) dialog.showModal();
  }

  // ---- Classroom (classroom_boot.js: the host contract) -------------------------------------

  /** A student's page: the URL now holds the teacher's state; redraw, rerun or move the step as change() would. */
  async followUrl() {
    if (!this.state) return;
    const s = this.state;
    const next = this.readUrl();
    const step = readDescentState(window.location.search, this.limits).step;
    const differs = (keys) => keys.some((key) => JSON.stringify(next[key]) !== JSON.stringify(s[key]));
    const surfaceChanged = differs(["surface", "settings", "source"]);
    if (next.rates === null && !surfaceChanged) {
      next.rates = s.rates;
      next.linked = s.linked;
    }
    const rerun = differs(["start", "rates", "linked", "optimizers", "hyper", "steps", "factor"]);
    this.state = next;
    this.form.show(next);
    this.showRate();
    if (surfaceChanged || rerun) {
      this.initialStep = step;
      await (surfaceChanged ? this.refreshSurface() : this.run({ keepStep: false }));
      return;
    }
    this.timeline.pause();
    const target = step ?? this.timeline.count - 1;
    if (target !== this.timeline.step) this.timeline.go(target, false);
    else this.showStep(this.timeline.step);
  }

  // ---- Language ---------------------------------------------------------------------------

  async applyLanguage(code) {
    const lang = await setLanguage(code);
    translatePage(this.root);
    document.title = t("lab.title");
    for (const button of this.parts.languageButtons) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    }
    for (const link of this.parts.pageLinks) {
      const url = new URL(link.href, window.location.href);
      url.searchParams.set("lang", lang);
      link.href = `${url.pathname}${url.search}`;
    }
    this.timeline.render();
  }

  async switchLanguage(code) {
    await this.applyLanguage(code);
    writeDescentState({ lang: language() });
    this.form?.renderTexts();
    this.rate?.render();
    if (this.state) this.showRate();
    this.renderStatus();
    this.renderError();
    if (this.runs.length) {
      this.nameRuns();
      this.renderLegend();
      this.taylor.key = null;
      this.line.key = null;
      this.showStep(this.timeline.step);
    }
  }

  // ---- Words around the picture -----------------------------------------------------------

  renderStatus() {
    this.parts.contourBox.dataset.state = this.status ? "busy" : this.error ? "error" : "ready";
    window.clearTimeout(this.statusTimer);
    if (this.status) {
      // NOTE: a slider dragged asks for a run every frame and each answers in tens of ms: saying "running"
      // and then the same sentence as before would only make the line (and an aria-live region) flicker.
      const key = this.status.key;
      if (this.statusText === null) this.sayStatus(key);
      else this.statusTimer = window.setTimeout(() => this.sayStatus(key), STATUS_DELAY_MS);
    } else if (this.runs.length && this.state) {
      const { steps, start } = this.state;
      const key = this.runs.length === 1 ? "lab.status.ready_one" : "lab.status.ready";
      this.sayStatus(key, { count: String(this.runs.length), steps: String(steps), a: formatNumber(start[0]),
        b: formatNumber(start[1]) });
    } else {
      this.parts.status.replaceChildren();
      this.statusText = null;
    }
  }

  /** Fill the status line, unless it already says exactly that. */
  sayStatus(key, params = {}) {
    const text = JSON.stringify([language(), key, params]);
    if (text === this.statusText) return;
    this.statusText = text;
    fill(this.parts.status, key, params);
  }

  showError(cause, titleKey) {
    const where = cause?.where ?? {};
    if (Number.isInteger(where.line) && Number.isInteger(where.column) && this.state?.surface === "custom") {
      this.form.showSourceError({ line: where.line, column: where.column, message: String(cause.message ?? "") });
    }
    this.error = { cause, titleKey };
    this.parts.contourBox.classList.toggle("stale", this.runs.length > 0);
    this.renderStatus();
    this.renderError();
  }

  renderError() {
    const box = this.parts.error;
    const problem = this.error;
    if (problem === null && box.hidden) return; // nothing shown, nothing to clear
    box.hidden = problem === null;
    if (problem === null) {
      box.replaceChildren();
      delete box.dataset.code;
      return;
    }
    const { cause, titleKey } = problem;
    const message = el("p", { className: "error-message" });
    if (cause instanceof ApiError && (cause.code === "network" || cause.code === "bad_response")) {
      message.textContent = t("lab.error_network");
    } else {
      message.textContent = String(cause?.message ?? cause);
    }
    const kept = this.runs.length ? el("p", { className: "error-kept" }, t("lab.error_kept")) : null;
    box.replaceChildren(el("p", { className: "error-title" }, t(titleKey)), message, kept);
    box.dataset.code = cause?.code ?? "error";
  }

  async share() {
    window.clearTimeout(this.stepTimer);
    if (this.runs.length) writeDescentState({ step: this.timeline.step });
    await shareLink(this.parts.shareNote, "lab.share_copied");
  }
}

// ---- classroom ---- (its controls load only when used: classroom_boot.js)
import { classroom } from "./classroom_boot.js";

const lab = new Lab(document);
classroom({
  page: "descent",
  ready: lab.start(),
  state: (search) => (lab.limits ? readDescentState(search, lab.limits) : {}),
  live: () => (lab.runs.length ? { step: lab.timeline.step } : {}),
  follow: () => lab.followUrl(),
  flush: () => lab.state && lab.writeUrl(), // a rate being dragged is written to the URL only when let go
});
// ---- end classroom ----
