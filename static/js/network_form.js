// The settings column of the network page: data set (or the user's own points), the architecture
// editor, the optimizer with its hyper-parameters, the learning rate on a log slider, batch size,
// seed and iterations. It reads and shows a config object; every field is clamped to the limits.
import { el } from "./dom.js";
import { formatNumber } from "./format.js";
import { fill, language, t } from "./i18n.js";
import { ACTIVATIONS } from "./network_state.js";
import {
  CLASSIFICATION, DEFAULTS, OWN_CLASSES, OWN_CURVE, SETTINGS, isOwn, outputOf, parameterCount, problemOf, sizesOf,
} from "./network_spec.js";

const RATE_MIN_EXP = -4;
const RATE_MAX_EXP = 6;
const EDIT_DELAY_MS = 400;

const clamp = (x, low, high) => Math.min(Math.max(x, low), high);

export class NetworkForm {
  /** onChange(config, {reset}) after any edit; onUpload(file, kind) reads a file of points. */
  constructor(root, { onChange, onUpload }) {
    this.root = root;
    this.onChange = onChange;
    this.onUpload = onUpload;
    this.limits = null;
    this.datasets = [];
    this.config = structuredClone(DEFAULTS);
    this.addClass = 0;
    this.timer = null;
    const find = (selector) => root.querySelector(selector);
    this.parts = {
      dataset: find("#dataset"), about: find("#dataset-about"), generated: find("#generated-fields"),
      points: find("#points"), noise: find("#noise"), classes: find("#classes"), classesLabel: find("#classes-label"),
      ownTools: find("#own-tools"), ownHint: find("#own-hint"), classPicker: find("#class-picker"),
      upload: find("#upload"), clear: find("#clear-points"), uploadErrors: find("#upload-errors"),
      inputRow: find("#input-row"), rows: find("#layer-rows"), outputRow: find("#output-row"),
      addLayer: find("#add-layer"), summary: find("#arch-summary"),
      optimizer: find("#optimizer"), optimizerRule: find("#optimizer-rule"),
      beta: find("#beta"), beta1: find("#beta1"), beta2: find("#beta2"), rho: find("#rho"),
      lrSlider: find("#lr-slider"), lr: find("#lr"),
      batch: find("#batch"), seed: find("#seed"), iterations: find("#iterations"), error: find("#form-error"),
    };
    const p = this.parts;
    p.lrSlider.min = String(RATE_MIN_EXP);
    p.lrSlider.max = String(RATE_MAX_EXP);
    p.dataset.addEventListener("change", () => this.chooseDataset(p.dataset.value));
    for (const input of [p.points, p.noise, p.classes, p.beta, p.beta1, p.beta2, p.rho, p.batch, p.seed, p.iterations]) {
      input.addEventListener("input", () => this.edited(false));
      input.addEventListener("change", () => this.edited(true));
    }
    p.optimizer.addEventListener("change", () => this.edited(true));
    p.lrSlider.addEventListener("input", () => {
      p.lr.value = String(Number((10 ** Number(p.lrSlider.value)).toPrecision(3)));
      this.edited(false);
    });
    p.lrSlider.addEventListener("change", () => this.edited(true));
    p.lr.addEventListener("input", () => this.edited(false));
    p.lr.addEventListener("change", () => this.edited(true));
    p.addLayer.addEventListener("click", () => {
      const last = this.config.layers.at(-1) ?? { units: 4, activation: "tanh" };
      this.config.layers.push({ ...last });
      this.renderLayers();
      this.edited(true);
    });
    p.rows.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-remove]");
      if (!button) return;
      this.config.layers.splice(Number(button.dataset.remove), 1);
      this.renderLayers();
      this.edited(true);
    });
    p.rows.addEventListener("input", () => this.edited(false));
    p.rows.addEventListener("change", () => this.edited(true));
    p.classPicker.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-class]");
      if (!button) return;
      this.addClass = Number(button.dataset.class);
      this.renderClassPicker();
    });
    p.upload.addEventListener("change", () => {
      const file = p.upload.files?.[0];
      p.upload.value = "";
      if (file) this.onUpload(file, this.config.dataset === OWN_CURVE ? "regression" : CLASSIFICATION);
    });
    p.clear.addEventListener("click", () => {
      this.config.own = [];
      this.showUploadErrors(null);
      this.changed(true);
    });
  }

  setLimits(limits) {
    this.limits = limits;
    const p = this.parts;
    p.points.max = String(limits.max_points);
    p.classes.max = String(limits.max_classes);
    p.batch.max = String(limits.max_points);
    p.seed.max = String(limits.max_seed);
    p.iterations.max = String(limits.max_iterations);
    p.addLayer.dataset.max = String(limits.max_layers - 1);
  }

  setDatasets(datasets) {
    this.datasets = datasets;
    this.renderDatasetOptions();
  }

  info(id = this.config.dataset) {
    return this.datasets.find((dataset) => dataset.id === id) ?? null;
  }

  problem() {
    return problemOf(this.config, this.info());
  }

  /** Show the settings of a config (from the URL or defaults): every field clamped, unknown data sets replaced. */
  show(config) {
    const given = Object.entries(config).filter(([name, v]) => v !== null && SETTINGS.includes(name));
    const merged = { ...structuredClone(DEFAULTS), ...Object.fromEntries(given) };
    if (!isOwn(merged.dataset) && !this.info(merged.dataset)) merged.dataset = this.datasets[0]?.id ?? DEFAULTS.dataset;
    const info = this.info(merged.dataset);
    merged.points ??= info?.default_points ?? 200;
    merged.noise ??= info?.default_noise ?? 0.1;
    merged.classes ??= info?.classes ?? 3;
    merged.own ??= null;
    this.config = merged;
    this.render();
  }

  chooseDataset(id) {
    const previous = this.config.dataset;
    this.config.dataset = id;
    const info = this.info(id);
    if (info) {
      this.config.points = info.default_points ?? this.config.points;
      this.config.noise = info.default_noise ?? this.config.noise;
      if (info.classes) this.config.classes = info.classes;
    } else if (isOwn(id) && (previous !== id)) {
      this.config.own = this.startingPoints?.(id) ?? [];
      this.addClass = 0;
    }
    this.showUploadErrors(null);
    this.render();
    this.changed(true);
  }

  /** Points the user clicked onto the plot: x (and y for two features); the label is the chosen class. */
  addPoint(x1, x2) {
    const { limits } = this;
    const own = this.config.own ?? [];
    if (own.length >= limits.max_points) return false;
    const round = (x) => Number(x.toPrecision(4));
    own.push(this.config.dataset === OWN_CURVE ? [round(x1), round(x2)] : [round(x1), round(x2), this.addClass]);
    this.config.own = own;
    this.renderOwn();
    this.changed(true);
    return true;
  }

  setOwnPoints(rows) {
    this.config.own = rows;
    this.showUploadErrors(null);
    this.renderOwn();
    this.changed(true);
  }

  /** Row errors of an upload (the 422 envelope): the message and where it is. */
  showUploadErrors(error) {
    const box = this.parts.uploadErrors;
    box.hidden = error === null;
    if (error === null) {
      box.replaceChildren();
      return;
    }
    const where = error.where ?? {};
    const place = Number.isInteger(where.row)
      ? fill(el("p", { className: "upload-row", data: { testid: "upload-row" } }), "net.upload_row",
        { row: String(where.row), column: Number.isInteger(where.column) ? String(where.column) : "—" })
      : null;
    box.replaceChildren(el("p", { className: "error-title" }, t("net.upload_failed")),
      el("p", { className: "error-message" }, String(error.message ?? error)), place);
  }

  // ---- Reading the fields -------------------------------------------------------------------

  edited(now) {
    window.clearTimeout(this.timer);
    if (now) this.changed(false);
    else this.timer = window.setTimeout(() => this.changed(false), EDIT_DELAY_MS);
  }

  changed(immediate) {
    window.clearTimeout(this.timer);
    this.read();
    this.renderSummary();
    this.renderOptimizer();
    this.onChange(this.config, { immediate });
  }

  read() {
    const { limits, parts: p, config } = this;
    const whole = (input, low, high, fallback) => {
      const x = Number(input.value);
      return input.value.trim() !== "" && Number.isFinite(x) ? clamp(Math.round(x), low, high) : fallback;
    };
    const real = (input, low, high, fallback) => {
      const x = Number(input.value);
      return input.value.trim() !== "" && Number.isFinite(x) ? clamp(x, low, high) : fallback;
    };
    config.points = whole(p.points, 2, limits.max_points, config.points);
    config.noise = real(p.noise, 0, 1, config.noise);
    config.classes = whole(p.classes, 2, limits.max_classes, config.classes);
    config.optimizer = p.optimizer.value;
    config.beta = real(p.beta, 0, 0.9999, config.beta);
    config.beta1 = real(p.beta1, 0, 0.9999, config.beta1);
    config.beta2 = real(p.beta2, 0, 0.999999, config.beta2);
    config.rho = real(p.rho, 0, 0.9999, config.rho);
    const rate = Number(p.lr.value);
    if (p.lr.value.trim() !== "" && Number.isFinite(rate) && rate > 0) {
      config.lr = clamp(rate, limits.min_learning_rate, limits.max_learning_rate);
      p.lrSlider.value = String(clamp(Math.log10(config.lr), RATE_MIN_EXP, RATE_MAX_EXP));
    }
    p.lrSlider.setAttribute("aria-valuetext", formatNumber(config.lr));
    config.batch = p.batch.value.trim() === "" ? null : whole(p.batch, 1, limits.max_points, null);
    config.seed = whole(p.seed, 0, limits.max_seed, config.seed);
    config.iterations = whole(p.iterations, 1, limits.max_iterations, config.iterations);
    config.layers = [...p.rows.querySelectorAll("li")].map((row) => ({
      units: whole(row.querySelector("input"), 1, limits.max_units, 4),
      activation: ACTIVATIONS.includes(row.querySelector("select").value) ? row.querySelector("select").value : "tanh",
    }));
    return config;
  }

  // ---- Drawing the fields -------------------------------------------------------------------

  render() {
    const { config, parts: p } = this;
    this.renderDatasetOptions();
    p.points.value = String(config.points);
    p.noise.value = String(config.noise);
    p.classes.value = String(config.classes);
    p.optimizer.value = config.optimizer;
    p.beta.value = String(config.beta);
    p.beta1.value = String(config.beta1);
    p.beta2.value = String(config.beta2);
    p.rho.value = String(config.rho);
    p.lr.value = String(config.lr);
    p.lrSlider.value = String(clamp(Math.log10(config.lr), RATE_MIN_EXP, RATE_MAX_EXP));
    p.batch.value = config.batch === null ? "" : String(config.batch);
    p.seed.value = String(config.seed);
    p.iterations.value = String(config.iterations);
    this.renderLayers();
    this.renderOwn();
    this.renderOptimizer();
  }

  /** Called again after a language switch: the options and every generated label. */
  renderText() {
    this.renderDatasetOptions();
    this.renderLayers();
    this.renderOwn();
    this.renderOptimizer();
  }

  renderDatasetOptions() {
    const select = this.parts.dataset;
    const lang = language();
    const options = this.datasets.map((dataset) => el("option", { attrs: { value: dataset.id } },
      dataset.title?.[lang] ?? dataset.title?.en ?? dataset.id));
    options.push(el("option", { attrs: { value: OWN_CLASSES } }, t("net.own_classes")),
      el("option", { attrs: { value: OWN_CURVE } }, t("net.own_curve")));
    select.replaceChildren(...options);
    select.value = this.config.dataset;
    const info = this.info();
    this.parts.about.textContent = info ? (info.description?.[lang] ?? info.description?.en ?? "")
      : t(this.config.dataset === OWN_CURVE ? "net.own_curve_about" : "net.own_classes_about");
    const own = isOwn(this.config.dataset);
    this.parts.generated.hidden = own;
    this.parts.ownTools.hidden = !own;
    const chooseClasses = Boolean(info?.choose_classes);
    this.parts.classes.hidden = !chooseClasses;
    this.parts.classesLabel.hidden = !chooseClasses;
  }

  renderLayers() {
    const { limits, parts: p } = this;
    const rows = this.config.layers.map((layer, index) => {
      const units = el("input", {
        className: "units", data: { testid: `layer-units-${index + 1}` },
        attrs: { type: "number", inputmode: "numeric", min: "1", max: String(limits?.max_units ?? 256), step: "1",
          value: String(layer.units), id: `units-${index + 1}` },
      });
      const activation = el("select", { data: { testid: `layer-activation-${index + 1}` },
        attrs: { id: `activation-${index + 1}`, "aria-label": t("net.activation_of", { layer: String(index + 1) }) } },
      ...ACTIVATIONS.map((name) => el("option", { attrs: { value: name } }, name)));
      activation.value = layer.activation;
      const remove = el("button", {
        className: "remove", data: { remove: String(index), testid: `remove-layer-${index + 1}` },
        attrs: { type: "button", "aria-label": t("net.remove_layer", { layer: String(index + 1) }),
          title: t("net.remove_layer", { layer: String(index + 1) }) },
      }, "×");
      return el("li", { className: "layer-row" },
        el("label", { attrs: { for: `units-${index + 1}` } }, t("net.hidden_layer", { layer: String(index + 1) })),
        units, activation, remove);
    });
    p.rows.replaceChildren(...rows);
    p.addLayer.disabled = limits ? this.config.layers.length >= limits.max_layers - 1 : false;
    this.renderSummary();
  }

  renderSummary() {
    const { parts: p } = this;
    const problem = this.problem();
    const output = outputOf(problem);
    const sizes = sizesOf(this.config, problem);
    fill(p.inputRow, "net.input_layer", { units: String(problem.features) });
    fill(p.outputRow, "net.output_layer", {
      layer: String(sizes.length - 1), units: String(output.units), activation: output.activation,
      loss: t(`loss.${output.loss}`),
    });
    const count = parameterCount(sizes);
    fill(p.summary, "net.summary", { sizes: sizes.join(" → "), count: String(count) });
    const tooMany = this.limits && count > this.limits.max_parameters;
    p.error.hidden = !tooMany;
    p.error.textContent = tooMany ? t("net.too_many_parameters", { count: String(count), max: String(this.limits.max_parameters) }) : "";
  }

  renderOptimizer() {
    const { parts: p } = this;
    const name = p.optimizer.value || this.config.optimizer;
    for (const element of this.root.querySelectorAll("[data-opt]")) element.hidden = !element.dataset.opt.split(" ").includes(name);
    p.optimizerRule.textContent = t(`opt.${name}_rule`);
  }

  renderOwn() {
    const { parts: p } = this;
    if (!isOwn(this.config.dataset)) return;
    const count = this.config.own?.length ?? 0;
    const curve = this.config.dataset === OWN_CURVE;
    fill(p.ownHint, curve ? "net.own_curve_hint" : "net.own_classes_hint", { count: String(count) });
    p.classPicker.hidden = curve;
    this.renderClassPicker();
  }

  renderClassPicker() {
    const { limits } = this;
    const problem = this.problem();
    const shown = Math.min(Math.max(problem.classes + 1, 2), limits?.max_classes ?? 10);
    this.addClass = Math.min(this.addClass, shown - 1);
    const buttons = [];
    for (let c = 0; c < shown; c += 1) {
      buttons.push(el("button", {
        className: `class-choice class-${c}`,
        data: { class: String(c), testid: `add-class-${c}` },
        attrs: { type: "button", role: "radio", "aria-checked": String(c === this.addClass) },
      }, el("span", { className: `swatch class-${c}`, attrs: { "aria-hidden": "true" } }), t("net.class_name", { label: String(c) })));
    }
    this.parts.classPicker.replaceChildren(...buttons);
  }
}
