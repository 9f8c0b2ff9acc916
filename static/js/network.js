// The network page (/network): settings on the left; in the centre the network drawn, with three
// views (step through one iteration stage by stage, layer by layer or, for small nets, neuron by neuron;
// train continuously with a live loss curve and the decision boundary; compare optimizers from identical
// initial weights); on the right the current stage explained and the selected layer's formulas and matrices.
import { ApiError, getLimits } from "./api.js";
import { el, onWidthChange } from "./dom.js";
import { shareLink } from "./share_link.js";
import { formatNumber } from "./format.js";
import { addPageTables, fill, language, preferredLanguage, setLanguage, t, translatePage } from "./i18n.js";
import * as api from "./network_api.js";
import { drawCurves, drawKey } from "./network_chart.js";
import { renderCompare } from "./network_compare.js";
import { explainDivergence, explainNonFinite } from "./network_divergence.js";
import { NetworkDrawing } from "./network_draw.js";
import { renderLayer, renderLayerWeights, renderStage } from "./network_explain.js";
import { NetworkForm } from "./network_form.js";
import { NeuronStages } from "./network_neurons.js";
import { DataPlot } from "./network_plot.js";
import {
  CLASSIFICATION, OWN_CURVE, isOwn, networkSpec, optimizerSpec, parameterCount, settingsKey, sizesOf,
} from "./network_spec.js";
import { IterationStages } from "./network_stages.js";
import { COMPARED, OPTIMIZERS, VIEWS, readLanguage, readNetworkState, writeNetworkState } from "./network_state.js";
import { Training } from "./network_train.js";
import { Timeline } from "./timeline.js";

const STAGE_URL_DELAY_MS = 250;
const TYPING = new Set(["INPUT", "TEXTAREA", "SELECT"]);
const KEYS = { ArrowRight: "forward", ArrowLeft: "back", " ": "play", Home: "reset", End: "end", "?": "help" };
const ZOOM_STEP = 1.5;

// This page's own words load with the shared table, so the other pages never download them.
addPageTables({ en: () => import("./lang/network_en.js"), zh: () => import("./lang/network_zh.js") });

class NetworkPage {
  constructor(root) {
    this.root = root;
    this.limits = null;
    this.view = "step";
    this.detail = "layer"; // the step view's: "layer" by layer, or "neuron" by neuron (small nets)
    this.neuronRefusal = null; // {spec, error}: the server's 422 for this spec's neuron view
    this.compared = [...COMPARED];
    this.config = null;
    this.spec = null;
    this.points = null; // {task, classes, points: [{x, y, test}]}
    this.stages = null; // the step view's iteration, from where training stands
    this.iterationAnswer = null;
    this.iterationPosition = null; // where training stood when that iteration was asked for
    this.iterations = {}; // per detail ("layer", "neuron"): the last {spec, position, answer}
    this.stepping = false;
    this.selectedLayer = null;
    this.sample = 0;
    this.compareAnswer = null;
    this.divergence = null; // {highlight, parts}
    this.error = null;
    this.status = null;
    this.requests = {};
    this.frame = 0;
    this.stageTimer = null;
    this.reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
    const find = (selector) => root.querySelector(selector);
    this.parts = {
      status: find("#status-line"), error: find("#error"), divergence: find("#divergence"),
      netBox: find("#net-box"), legend: find("#net-legend"), layerButtons: find("#layer-buttons"),
      progress: find("#train-progress"), train: find("#train"), pause: find("#pause"),
      trainStep: find("#train-step"), trainReset: find("#train-reset"), compare: find("#compare"),
      nextIteration: find("#next-iteration"), restart: find("#step-restart"), sample: find("#sample"),
      plotCaption: find("#plot-caption"), plotLegend: find("#plot-legend"),
      lossChart: find("#loss-chart"), lossKey: find("#loss-key"),
      compareChart: find("#compare-chart"), compareKey: find("#compare-key"), compareRuns: find("#compare-runs"),
      shortcuts: find("#shortcuts"), shareNote: find("#share-note"), settings: find("#settings-details"),
      detailButtons: [...root.querySelectorAll("[data-detail]")], detailNote: find("#detail-note"),
      compareButtons: [...root.querySelectorAll("[data-compare]")], compareHint: find("#compare-hint"),
      zoomIn: find("#net-zoom-in"), zoomOut: find("#net-zoom-out"), zoomFit: find("#net-zoom-fit"),
      stage: { phase: find("#step-phase"), formula: find("#formula"), sentence: find("#sentence") },
      layer: { heading: find("#layer-heading"), about: find("#layer-about"), formulas: find("#layer-formulas"),
        matrices: find("#matrices") },
      explanation: find("#explanation"),
      languageButtons: [...root.querySelectorAll("[data-lang]")],
      viewButtons: [...root.querySelectorAll("[data-view]")],
      viewParts: [...root.querySelectorAll("[data-part]")],
      pageLinks: [...root.querySelectorAll("a[data-page-link]")],
    };
    const p = this.parts;
    this.form = new NetworkForm(find("#net-form"), {
      onChange: (config, options) => this.configChanged(config, options),
      onUpload: (file, kind) => this.upload(file, kind),
    });
    this.form.startingPoints = (id) => this.startingPoints(id);
    this.drawing = new NetworkDrawing(find("#net"), { onLayer: (layer) => this.selectLayer(layer) });
    this.plot = new DataPlot(find("#plot"), { onAdd: (x, y) => this.form.addPoint(x, y) });
    this.training = new Training({ onChange: (kind, payload) => this.trainingChanged(kind, payload) });
    this.timeline = new Timeline(find("#timeline"), {
      onStep: (stage, { animate }) => this.showStage(stage, animate),
      onHelp: () => this.openShortcuts(),
    });
    root.addEventListener("keydown", (event) => this.key(event));
    for (const button of p.languageButtons) button.addEventListener("click", () => this.switchLanguage(button.dataset.lang));
    for (const button of p.viewButtons) button.addEventListener("click", () => this.setView(button.dataset.view, true));
    for (const button of p.detailButtons) button.addEventListener("click", () => this.setDetail(button.dataset.detail));
    for (const button of p.compareButtons) {
      button.addEventListener("click", () => this.toggleCompared(button.dataset.compare));
    }
    p.zoomIn.addEventListener("click", () => this.drawing.zoomBy(ZOOM_STEP));
    p.zoomOut.addEventListener("click", () => this.drawing.zoomBy(1 / ZOOM_STEP));
    p.zoomFit.addEventListener("click", () => this.drawing.fit());
    p.layerButtons.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-layer]");
      if (button) this.selectLayer(Number(button.dataset.layer));
    });
    p.train.addEventListener("click", () => this.train());
    p.pause.addEventListener("click", () => this.pause());
    p.trainStep.addEventListener("click", () => this.stepIteration());
    p.trainReset.addEventListener("click", () => this.reset());
    p.nextIteration.addEventListener("click", () => this.stepIteration());
    p.restart.addEventListener("click", () => this.reset());
    p.compare.addEventListener("click", () => this.runCompare());
    p.sample.addEventListener("change", () => {
      const m = this.stages?.m ?? 1;
      this.sample = Math.min(Math.max(Math.round(Number(p.sample.value) || 1), 1), m) - 1;
      p.sample.value = String(this.sample + 1);
      this.renderNetwork();
      this.renderPlot();
      // The neuron view's sums are the numbers of the sample shown.
      if (this.view === "step" && this.stages?.view === "neuron") this.renderStageExplanation();
    });
    find("#share").addEventListener("click", () => this.share());
    onWidthChange(p.netBox, () => this.renderNetwork());
  }

  async start() {
    const languageReady = this.applyLanguage(readLanguage(window.location.search) ?? preferredLanguage(navigator.languages));
    const loading = Promise.all([getLimits(), api.getDatasets()]);
    await languageReady;
    this.status = { key: "net.status_loading" };
    this.renderStatus();
    try {
      const [limits, datasets] = await loading;
      this.limits = limits;
      this.form.setLimits(limits);
      this.form.setDatasets(datasets.datasets ?? []);
    } catch (error) {
      this.status = null;
      this.showError(error, "net.error_startup");
      return;
    }
    const state = readNetworkState(window.location.search, this.limits);
    this.selectedLayer = state.layer;
    this.detail = state.detail ?? "layer";
    this.compared = state.compared ?? [...COMPARED];
    this.form.show(state);
    this.config = this.form.read();
    this.setView(state.view ?? "step", false);
    await this.load({ stage: state.stage });
  }

  // ---- Settings and data --------------------------------------------------------------------

  configChanged(config) {
    this.config = config;
    this.writeConfig();
    this.training.reset();
    this.compareAnswer = null;
    this.initialParams = null;
    this.load({});
  }

  writeConfig() {
    const c = this.config;
    writeNetworkState({
      dataset: c.dataset, points: isOwn(c.dataset) ? null : c.points, noise: isOwn(c.dataset) ? null : c.noise,
      classes: this.form.info()?.choose_classes ? c.classes : null, own: isOwn(c.dataset) && c.own?.length ? c.own : null,
      layers: c.layers, optimizer: c.optimizer, lr: c.lr,
      beta: c.optimizer === "momentum" || c.optimizer === "nesterov" ? c.beta : null,
      beta1: c.optimizer === "adam" ? c.beta1 : null, beta2: c.optimizer === "adam" ? c.beta2 : null,
      rho: c.optimizer === "rmsprop" ? c.rho : null,
      batch: c.batch, seed: c.seed, iterations: c.iterations,
      stage: null,
    });
  }

  /** Everything that follows from the settings: the points, the spec and the first iteration. */
  async load({ stage = null }) {
    this.spec = networkSpec(this.config, this.form.info());
    this.iterations = {};
    this.divergence = null;
    this.renderDivergence();
    this.renderLayerButtons();
    const problem = this.form.problem();
    this.plot.setAdding(isOwn(this.config.dataset) && problem.features <= 2);
    const own = isOwn(this.config.dataset);
    if (own && (this.config.own?.length ?? 0) < 2) {
      this.points = { task: problem.task, classes: problem.classes, points: this.ownPoints() };
      this.stages = null;
      this.iterationAnswer = null;
      this.timeline.load(0, 0);
      this.status = { key: "net.status_need_points" };
      this.error = null;
      this.renderAll();
      return;
    }
    await Promise.all([this.loadPoints(), this.loadIteration(stage)]);
  }

  ownPoints() {
    return (this.config.own ?? []).map((row) => ({ x: row.slice(0, -1), y: row.at(-1), test: false }));
  }

  async loadPoints() {
    const signal = this.fresh("points");
    const c = this.config;
    try {
      const answer = isOwn(c.dataset)
        ? await api.postPoints({ data: this.spec.data, test_fraction: this.spec.test_fraction }, { signal })
        : await api.getPoints({ dataset: c.dataset, points: c.points, noise: c.noise, classes: this.form.info()?.choose_classes ? c.classes : null, seed: 0, test_fraction: this.spec.test_fraction }, { signal });
      const row = (test) => (values) => ({ x: values.slice(0, -1), y: values.at(-1), test });
      this.points = {
        task: answer.kind, classes: answer.classes,
        points: [...(answer.train ?? []).map(row(false)), ...(answer.test ?? []).map(row(true))],
      };
      this.renderPlot();
    } catch (error) {
      if (error?.name !== "AbortError") this.showError(error);
    }
  }

  /**
   * The iteration from where training stands (the seeded start, or the current parameters), in the
   * step view's detail. `stage`: the stage to show, a number or a {kind, layer} of either view.
   */
  async loadIteration(stage = null) {
    const signal = this.fresh("iteration");
    const position = this.training.position;
    const view = this.shownDetail();
    const kept = this.iterations[view];
    let answer;
    try {
      if (kept?.spec === this.spec && kept.position === position) {
        answer = kept.answer; // the other detail and back again: nothing to ask
      } else {
        this.status = { key: "net.status_working" };
        this.renderStatus();
        answer = await api.postIteration({ ...this.spec, ...this.training.startFields(), view }, { signal });
        this.iterations[view] = { spec: this.spec, position, answer };
      }
    } catch (error) {
      if (error?.name === "AbortError") return false;
      if (view === "neuron" && error instanceof ApiError && error.status === 422) {
        // Too many parameters or nodes for the neuron view (the server's caps): say so, show the layers.
        this.neuronRefusal = { spec: this.spec, error };
        return this.loadIteration(stage);
      }
      this.status = null;
      this.showError(error);
      return false;
    }
    this.status = null;
    this.error = null;
    this.renderError();
    this.iterationAnswer = answer;
    this.iterationPosition = position;
    this.stages = answer.view === "neuron" ? new NeuronStages(answer) : new IterationStages(answer);
    if (answer.non_finite && this.training.result?.status !== "diverged") {
      this.divergence = explainNonFinite(answer.non_finite, this.config.lr, this.training.position.iteration + 1,
        this.stages.layerCount, this.stages.nodes.get(answer.non_finite.node)?.value);
    } else if (this.training.result?.status !== "diverged") {
      this.divergence = null;
    }
    if (!this.training.position.params) this.initialParams = answer.params;
    this.sample = Math.min(this.sample, this.stages.m - 1);
    this.parts.sample.max = String(this.stages.m);
    this.parts.sample.value = String(this.sample + 1);
    if (this.selectedLayer !== null && this.selectedLayer > this.stages.layerCount) this.selectedLayer = null;
    const index = stage !== null && typeof stage === "object" ? this.stages.indexOf(stage) : stage ?? 0;
    this.timeline.load(this.stages.count, index);
    this.renderAll();
    return true;
  }

  // ---- Layer by layer, or neuron by neuron -------------------------------------------------------

  /** The settings' parameter count is within the server's cap for the neuron view. */
  neuronSmallEnough() {
    if (!this.limits || !this.config) return false;
    return parameterCount(sizesOf(this.config, this.form.problem())) <= this.limits.max_neuron_parameters;
  }

  /** Small enough for the neuron view, and the server did not refuse this very spec. */
  neuronPossible() {
    return this.neuronSmallEnough() && this.neuronRefusal?.spec !== this.spec;
  }

  shownDetail() {
    return this.detail === "neuron" && this.neuronPossible() ? "neuron" : "layer";
  }

  /** Switch the step view's detail, standing at the same stage (a layer's stage <-> its first unit's). */
  async setDetail(detail) {
    const wanted = detail === "neuron" ? "neuron" : "layer";
    if (wanted === "neuron" && this.neuronRefusal?.spec === this.spec) this.neuronRefusal = null; // ask again
    this.detail = wanted;
    writeNetworkState({ detail: wanted === "neuron" ? "neuron" : null, stage: null });
    this.renderDetailSwitch();
    if (!this.stages || (this.stages.view === "neuron") === (this.shownDetail() === "neuron")) return;
    const stage = this.stages.stage(this.timeline.step);
    await this.loadIteration({ kind: stage.kind, layer: stage.layer, unit: stage.unit ?? 0 });
  }

  renderDetailSwitch() {
    const shown = this.stages?.view ?? this.shownDetail();
    const possible = this.neuronSmallEnough();
    for (const button of this.parts.detailButtons) {
      button.setAttribute("aria-pressed", String(button.dataset.detail === shown));
      if (button.dataset.detail === "neuron") button.disabled = !possible;
    }
    const note = this.parts.detailNote;
    const state = !possible ? "too-big"
      : this.detail === "neuron" && this.neuronRefusal?.spec === this.spec ? "refused" : shown;
    if (state === "too-big" && this.config && this.limits) {
      const count = parameterCount(sizesOf(this.config, this.form.problem()));
      fill(note, "net.detail_too_big", { count: String(count), max: String(this.limits.max_neuron_parameters) });
    } else if (state === "refused") {
      fill(note, "net.detail_refused", { message: String(this.neuronRefusal.error.message) });
    } else if (state === "neuron") {
      fill(note, "net.detail_neuron_note", { m: String(this.stages?.m ?? "?") });
    } else {
      note.replaceChildren();
    }
    note.dataset.state = state;
  }

  /** A new request of a kind cancels the older one, so a slow answer never overwrites a newer view. */
  fresh(kind) {
    this.requests[kind]?.abort();
    const controller = new AbortController();
    this.requests[kind] = controller;
    return controller.signal;
  }

  startingPoints(id) {
    const points = this.points?.points ?? [];
    if (id === OWN_CURVE) return this.points?.task === "regression" ? points.map((p) => [p.x[0], p.y]) : [];
    return this.points?.task === CLASSIFICATION ? points.slice(0, 300).map((p) => [p.x[0], p.x[1] ?? 0, p.y]) : [];
  }

  async upload(file, kind) {
    if (file.size > this.limits.max_upload_chars * 4) {
      this.form.showUploadErrors({ message: t("net.upload_too_big", { max: String(this.limits.max_upload_chars) }) });
      return;
    }
    try {
      const text = await file.text();
      const answer = await api.parsePoints({ text, kind });
      this.form.setOwnPoints(answer.points);
    } catch (error) {
      this.form.showUploadErrors(error);
    }
  }

  // ---- Stepping through one iteration -------------------------------------------------------

  showStage(stage) {
    if (!this.stages) return;
    this.renderNetwork();
    this.parts.explanation.setAttribute("aria-live", this.timeline.playing ? "off" : "polite");
    renderStage(this.parts.stage, this.stages, stage, this.stageContext());
    this.renderLayerDetail();
    window.clearTimeout(this.stageTimer);
    this.stageTimer = window.setTimeout(() => writeNetworkState({ stage: stage || null }), STAGE_URL_DELAY_MS);
  }

  /** One iteration taken: stand at its new parameters and load the next one. */
  async stepIteration() {
    if (this.stepping) return;
    this.stepping = true;
    try {
      await this.takeStep();
    } finally {
      this.stepping = false;
    }
  }

  async takeStep() {
    if (this.training.running) await this.pause();
    // The iteration on screen must start where training stands (a run may have just moved it on).
    if (this.iterationPosition !== this.training.position && !(await this.loadIteration(this.timeline.step))) return;
    const answer = this.iterationAnswer;
    if (!answer || !this.stages) return;
    const before = this.training.position.iteration;
    if (before === 0) this.training.addPoint(0, answer.trace?.update?.loss_before ?? null);
    this.training.addPoint(before + 1, answer.trace?.update?.loss_after ?? null);
    this.training.moveTo(answer.params_after, answer.optimizer?.state ?? null, before + 1);
    await this.loadIteration(0);
    this.renderTraining();
  }

  selectLayer(layer) {
    const count = this.stages?.layerCount ?? this.config.layers.length + 1;
    this.selectedLayer = layer >= 1 && layer <= count ? layer : null;
    writeNetworkState({ layer: this.selectedLayer });
    this.renderNetwork();
    this.renderLayerDetail();
    this.renderLayerButtons();
  }

  // ---- Training -----------------------------------------------------------------------------

  async train() {
    if (this.training.running) return;
    this.divergence = null;
    this.renderDivergence();
    this.error = null;
    this.renderError();
    await this.training.train(this.spec, this.config.iterations);
  }

  async pause() {
    await this.training.pause(this.spec);
  }

  reset() {
    this.training.reset();
    this.divergence = null;
    this.renderDivergence();
    this.loadIteration(0);
    this.renderTraining();
    this.renderNetwork();
    this.renderLayerDetail();
  }

  trainingChanged(kind, payload) {
    const p = this.parts;
    p.train.disabled = this.training.running;
    p.pause.disabled = !this.training.running;
    if (kind === "start" && payload.params && !this.training.position.params) this.initialParams = payload.params;
    if (kind === "progress") {
      this.scheduleTrainingRender();
      return;
    }
    if (kind === "error") {
      this.showError(payload);
    }
    if (kind === "done" || kind === "paused") {
      const result = payload.result ?? this.training.result;
      if (result?.status === "diverged") {
        this.divergence = explainDivergence(result, this.stages?.layerCount ?? this.config.layers.length + 1,
          this.training.resultStart);
      }
      this.renderDivergence();
      this.loadIteration(0);
    }
    this.renderTraining();
    this.renderNetwork();
  }

  scheduleTrainingRender() {
    if (this.frame) return;
    this.frame = window.requestAnimationFrame(() => {
      this.frame = 0;
      this.renderTraining();
      if (this.view === "train") {
        this.renderNetwork();
        this.renderLayerDetail();
      }
    });
  }

  // ---- Comparing optimizers ------------------------------------------------------------------

  /** One optimizer more or less in the comparison (at least one stays). */
  toggleCompared(name) {
    const chosen = new Set(this.compared);
    if (chosen.has(name) && chosen.size > 1) chosen.delete(name);
    else chosen.add(name);
    this.compared = OPTIMIZERS.filter((one) => chosen.has(one));
    const standard = this.compared.join(",") === COMPARED.join(",");
    writeNetworkState({ compared: standard ? null : this.compared });
    this.renderCompareChoice();
  }

  renderCompareChoice() {
    for (const button of this.parts.compareButtons) {
      const on = this.compared.includes(button.dataset.compare);
      button.setAttribute("aria-pressed", String(on));
      button.disabled = on && this.compared.length === 1;
    }
    const names = this.compared.map((name) => t(`opt.${name}`)).join(t("net.list_separator"));
    fill(this.parts.compareHint, "net.compare_hint", { names });
  }

  async runCompare() {
    const signal = this.fresh("compare");
    this.parts.compare.disabled = true;
    this.status = { key: "net.status_comparing" };
    this.renderStatus();
    try {
      const optimizers = this.compared.map((name) => optimizerSpec(this.config, name));
      const body = { ...this.spec, iterations: this.config.iterations, optimizers };
      this.compareAnswer = await api.postCompare(body, { signal });
      this.status = null;
      this.renderCompare();
    } catch (error) {
      if (error?.name === "AbortError") return;
      this.status = null;
      this.showError(error);
    } finally {
      this.parts.compare.disabled = false;
      this.renderStatus();
    }
  }

  // ---- Classroom (classroom_boot.js: the host contract) ---------------------------------------

  /**
   * A student's page: the URL now holds the teacher's settings, view, stage and layer; show them. Only new
   * settings start afresh (the points, the seeded weights, the first iteration asked for again); a new view,
   * stage, layer or choice of optimizers is drawn from what the page has, and a new detail asks for the
   * iteration in that detail unless the page has it already. -> true when the settings changed.
   */
  async followUrl() {
    if (!this.limits || !this.config) return false;
    const state = readNetworkState(window.location.search, this.limits);
    const before = settingsKey(this.config);
    this.form.show(state);
    const config = this.form.read();
    this.config = config;
    this.selectedLayer = state.layer;
    this.compared = state.compared ?? [...COMPARED];
    this.detail = state.detail ?? "layer";
    if ((state.view ?? "step") !== this.view) this.setView(state.view ?? "step", false);
    if (settingsKey(config) !== before) {
      this.training.reset();
      this.compareAnswer = null;
      this.initialParams = null;
      await this.load({ stage: state.stage });
      return true;
    }
    this.timeline.pause();
    if (this.stages && (this.stages.view === "neuron") !== (this.shownDetail() === "neuron")) {
      await this.loadIteration(state.stage ?? 0);
      return false;
    }
    if (this.stages) this.timeline.go(state.stage ?? 0, false);
    this.renderLayerButtons();
    this.renderNetwork();
    this.renderLayerDetail();
    this.renderDetailSwitch();
    this.renderCompareChoice();
    return false;
  }

  // ---- Views, keys, language, share ----------------------------------------------------------

  setView(view, remember) {
    this.view = VIEWS.includes(view) ? view : "step";
    for (const button of this.parts.viewButtons) button.setAttribute("aria-pressed", String(button.dataset.view === this.view));
    for (const part of this.parts.viewParts) part.hidden = !part.dataset.part.split(" ").includes(this.view);
    this.root.body?.setAttribute("data-view", this.view);
    if (remember) writeNetworkState({ view: this.view === "step" ? null : this.view });
    if (this.view !== "step") this.timeline.pause();
    this.renderAll();
  }

  key(event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    const element = event.target;
    if (element instanceof Element && (TYPING.has(element.tagName) || element.isContentEditable)) return;
    if (element instanceof Element && element.closest("dialog[open]")) return;
    if (event.key === " " && element instanceof Element && element.closest("button, a, summary")) return;
    const action = KEYS[event.key];
    if (!action) return;
    event.preventDefault();
    if (action === "help") {
      this.openShortcuts();
    } else if (this.view === "step") {
      this.timeline.command(action);
    } else if (this.view === "train") {
      if (action === "play") {
        if (this.training.running) this.pause();
        else this.train();
      } else if (action === "forward") {
        this.stepIteration();
      } else if (action === "reset") {
        this.reset();
      }
    } else if (this.view === "compare" && action === "play") {
      this.runCompare();
    }
  }

  openShortcuts() {
    if (!this.parts.shortcuts.open) this.parts.shortcuts.showModal();
  }

  async applyLanguage(code) {
    const lang = await setLanguage(code);
    translatePage(this.root);
    document.title = t("net.page_title");
    for (const button of this.parts.languageButtons) button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    for (const link of this.parts.pageLinks) {
      const url = new URL(link.href, window.location.href);
      url.searchParams.set("lang", lang);
      link.href = `${url.pathname}${url.search}`;
    }
    this.timeline.render();
  }

  async switchLanguage(code) {
    await this.applyLanguage(code);
    writeNetworkState({ lang: language() });
    this.form.renderText();
    this.form.renderSummary();
    const result = this.training.result;
    if (result?.status === "diverged") {
      this.divergence = explainDivergence(result, this.stages?.layerCount ?? 1, this.training.resultStart);
    } else if (this.iterationAnswer?.non_finite) {
      this.divergence = explainNonFinite(this.iterationAnswer.non_finite, this.config.lr,
        this.training.position.iteration + 1, this.stages?.layerCount ?? 1,
        this.stages?.nodes.get(this.iterationAnswer.non_finite.node)?.value);
    }
    this.renderAll();
  }

  async share() {
    window.clearTimeout(this.stageTimer);
    if (this.stages) writeNetworkState({ stage: this.timeline.step || null });
    await shareLink(this.parts.shareNote, "net.share_copied");
  }

  // ---- Drawing ------------------------------------------------------------------------------

  renderAll() {
    this.renderStatus();
    this.renderError();
    this.renderDivergence();
    this.renderLayerButtons();
    this.renderNetwork();
    this.renderPlot();
    this.renderTraining();
    this.renderDetailSwitch();
    this.renderCompareChoice();
    if (this.view === "compare") this.renderCompare();
    this.renderStageExplanation();
    this.renderLayerDetail();
  }

  renderStageExplanation() {
    if (this.stages && this.view === "step") {
      renderStage(this.parts.stage, this.stages, this.timeline.step, this.stageContext());
    } else {
      this.renderPositionExplanation();
    }
  }

  /** What a stage's words need beyond the iteration: the optimizer, η and the sample shown. */
  stageContext() {
    return { optimizer: this.config.optimizer, lr: this.config.lr, sample: this.sample };
  }

  /** The sizes of the network as the settings say (before any answer arrives). */
  sizes() {
    return this.stages?.sizes ?? sizesOf(this.config, this.form.problem());
  }

  /** The parameters the train and compare views show: where training stands. */
  currentParams() {
    return this.training.run?.params ?? this.training.position.params ?? this.initialParams
      ?? this.iterationAnswer?.params ?? null;
  }

  renderNetwork() {
    if (!this.config) return;
    const width = this.parts.netBox.clientWidth;
    let picture;
    if (this.view === "step" && this.stages) {
      picture = this.stages.picture(this.timeline.step, this.sample);
    } else {
      const params = this.currentParams();
      const sizes = this.sizes();
      const weights = {};
      const biases = {};
      for (let l = 1; l < sizes.length; l += 1) {
        weights[l] = params?.[`W${l}`];
        biases[l] = params?.[`b${l}`];
      }
      picture = { sizes, activations: this.stages?.activations ?? [], weights, biases, mode: "plain", active: null };
    }
    picture.selected = this.selectedLayer;
    picture.problem = this.divergence?.highlight ?? null;
    this.drawing.draw(picture, width);
    this.renderLegend(picture.mode);
  }

  renderLegend(mode) {
    const key = mode === "backward" ? "net.legend_grad" : "net.legend_weight";
    const sample = mode === "forward" || mode === "backward" || mode === "update"
      ? t("net.legend_sample", { sample: String(this.sample + 1) }) : "";
    this.parts.legend.replaceChildren(
      el("span", { className: "legend-pos" }, t(`${key}_pos`)),
      el("span", { className: "legend-neg" }, t(`${key}_neg`)),
      el("span", { className: "legend-width" }, t("net.legend_width")),
      sample ? el("span", { className: "legend-sample" }, sample) : "",
    );
  }

  renderLayerButtons() {
    if (!this.config) return;
    const sizes = this.sizes();
    const buttons = [];
    for (let l = 1; l < sizes.length; l += 1) {
      buttons.push(el("button", {
        data: { layer: String(l), testid: `layer-button-${l}` },
        attrs: { type: "button", "aria-pressed": String(this.shownLayer() === l) },
      }, t("net.layer_button", { layer: String(l) })));
    }
    this.parts.layerButtons.replaceChildren(...buttons);
  }

  /**
   * The layer the detail panel shows: the one clicked, else (training) where a divergence started, else
   * the current stage's, else the first.
   */
  shownLayer() {
    if (this.selectedLayer) return this.selectedLayer;
    const problem = this.divergence?.highlight?.layer;
    if (this.view !== "step" && Number.isInteger(problem) && problem >= 1 && problem < this.sizes().length) return problem;
    if (this.view === "step" && this.stages) {
      const stage = this.stages.stage(this.timeline.step);
      if (stage.layer) return stage.layer;
    }
    return 1;
  }

  renderLayerDetail() {
    const layer = this.shownLayer();
    for (const button of this.parts.layerButtons.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(Number(button.dataset.layer) === layer));
    }
    if (this.view === "step" && this.stages) {
      renderLayer(this.parts.layer, this.stages, layer, this.timeline.step, this.stageContext());
    } else if (this.config) {
      const sizes = this.sizes();
      renderLayerWeights(this.parts.layer, Math.min(layer, sizes.length - 1), this.currentParams(), sizes,
        this.stages?.activations?.[layer - 1]);
    }
  }

  /** Outside the step view the explanation says where training stands. */
  renderPositionExplanation() {
    const parts = this.parts.stage;
    parts.formula.replaceChildren();
    delete parts.phase.dataset.phase;
    if (this.view === "compare") {
      fill(parts.phase, "net.view_compare");
      fill(parts.sentence, "net.explain_compare", { iterations: String(this.config?.iterations ?? 0), rate: formatNumber(this.config?.lr ?? 0) });
    } else {
      fill(parts.phase, "net.view_train");
      fill(parts.sentence, "net.explain_train", { iteration: String(this.training.position.iteration) });
    }
  }

  renderPlot() {
    if (!this.points) return;
    const boundary = this.view === "compare" ? null : this.training.boundary;
    const highlight = this.view === "step" && this.stages ? this.sample : null;
    this.plot.show({ ...this.points, boundary, highlight, label: t("net.plot_label") });
    const at = this.training.boundaryIteration;
    fill(this.parts.plotCaption, boundary ? "net.plot_caption_at" : "net.plot_caption", { iteration: String(at ?? 0) });
    const classes = this.points.task === "regression" ? [] : Array.from({ length: this.points.classes }, (_, c) => c);
    this.parts.plotLegend.replaceChildren(
      ...classes.map((c) => el("span", { className: `key-class class-${c}` }, t("net.class_name", { label: String(c) }))),
      el("span", { className: "key-test" }, t("net.test_points")),
      highlight !== null ? el("span", { className: "key-ring" }, t("net.sample_ring")) : "",
      this.plot.adding ? el("span", { className: "key-adding" }, t("net.click_to_add")) : "",
    );
  }

  renderTraining() {
    const history = this.training.history;
    drawCurves(this.parts.lossChart, {
      series: [
        { key: "train", className: "loss-train", symbol: "circle", points: history.train },
        { key: "test", className: "loss-test", symbol: "diamond", points: history.test },
      ],
      xLabel: t("net.iteration_axis"), label: t("net.loss_chart"), empty: t("net.loss_empty"),
    });
    drawKey(this.parts.lossKey, [
      { className: "loss-train", symbol: "circle", text: t("net.loss_train") },
      { className: "loss-test", symbol: "diamond", text: t("net.loss_test") },
    ]);
    const last = history.train.filter((point) => point.y !== null).at(-1);
    const p = this.parts;
    p.lossChart.dataset.points = String(history.train.length);
    p.lossChart.dataset.last = last ? String(last.y) : "";
    p.lossChart.dataset.first = history.train[0]?.y === undefined ? "" : String(history.train[0].y);
    const position = this.training.position.iteration;
    if (this.training.running) {
      fill(p.progress, "net.progress_running", { iteration: String(history.train.at(-1)?.x ?? position),
        loss: last ? formatNumber(last.y) : "—" });
    } else {
      fill(p.progress, "net.progress_stopped", { iteration: String(position), loss: last ? formatNumber(last.y) : "—" });
    }
    p.progress.dataset.iteration = String(position);
    p.train.disabled = this.training.running;
    p.pause.disabled = !this.training.running;
    if (this.view !== "step") this.renderPositionExplanation();
    this.renderPlot();
  }

  renderCompare() {
    if (!this.compareAnswer) {
      this.parts.compareChart.replaceChildren();
      this.parts.compareKey.replaceChildren();
      this.parts.compareRuns.replaceChildren();
      return;
    }
    renderCompare({ chart: this.parts.compareChart, key: this.parts.compareKey, runs: this.parts.compareRuns },
      this.compareAnswer, this.points ?? { task: "classification", classes: 2, points: [] }, this.sizes().length - 1);
  }

  renderDivergence() {
    const box = this.parts.divergence;
    box.hidden = !this.divergence;
    if (this.divergence) box.replaceChildren(el("p", { className: "error-title" }, t("net.div_title")), el("p", {}, ...this.divergence.parts));
    else box.replaceChildren();
  }

  renderStatus() {
    const line = this.parts.status;
    if (this.status) {
      fill(line, this.status.key);
      return;
    }
    if (!this.config || !this.stages) {
      line.replaceChildren();
      return;
    }
    const sizes = this.sizes();
    const data = this.iterationAnswer?.data ?? {};
    fill(line, "net.status_ready", {
      sizes: sizes.join(" → "), parameters: String(this.iterationAnswer?.network?.parameters ?? "?"),
      train: String(data.train_size ?? "?"), test: String(data.test_size ?? "?"), batch: String(data.batch_size ?? "?"),
    });
  }

  showError(cause, titleKey = "net.error_title") {
    this.error = { cause, titleKey };
    this.renderError();
    this.renderStatus();
  }

  renderError() {
    const box = this.parts.error;
    const problem = this.error;
    box.hidden = problem === null;
    if (problem === null) {
      box.replaceChildren();
      return;
    }
    const { cause, titleKey } = problem;
    const message = errorMessage(cause);
    const field = cause?.where?.field;
    box.replaceChildren(el("p", { className: "error-title" }, t(titleKey)), el("p", { className: "error-message" }, message),
      typeof field === "string" && field ? fill(el("p", { className: "error-where" }), "error.where_field", { field: el("code", {}, field) }) : "");
    box.dataset.code = cause?.code ?? "error";
  }
}

/**
 * What went wrong, in the page's language where the page knows the code: the server's training lane is
 * full (server_busy; or rate_limited over max_active_runs, every streamed run of the server), or this
 * computer asked for too many runs (rate_limited); else the server's own message.
 */
function errorMessage(cause) {
  const code = cause?.code;
  if (cause instanceof ApiError && (code === "network" || code === "bad_response")) return t(`error.${code}`);
  if (code === "server_busy" || (code === "rate_limited" && cause?.where?.limit === "max_active_runs")) {
    const seconds = cause?.retryAfter;
    return seconds ? t("net.error_server_busy_wait", { seconds: String(seconds) }) : t("net.error_server_busy");
  }
  if (code === "rate_limited") return t("net.error_rate_limited");
  return String(cause?.message ?? cause);
}

// ---- classroom ---- (its controls load only when used: classroom_boot.js)
import { classroom } from "./classroom_boot.js";

const networkPage = new NetworkPage(document);
classroom({
  page: "network",
  ready: networkPage.start(),
  state: (search) => (networkPage.limits ? readNetworkState(search, networkPage.limits) : {}),
  live: () => (networkPage.stages && networkPage.view === "step" ? { stage: networkPage.timeline.step || null } : {}),
  follow: () => networkPage.followUrl(),
  results: () => import("./network_classroom.js").then((module) => module.extend(networkPage)),
});
// ---- end classroom ----
