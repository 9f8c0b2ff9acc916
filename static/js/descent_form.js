// The inputs of the descent page: the surface and its settings, a typed f(a, b), the start, the
// optimizers with their own learning rates and hyper-parameters, the number of steps and the divergence factor. It shows the
// state it is given and reports what the user changed as a patch; it decides nothing itself.
import { el } from "./dom.js";
import { swatch } from "./descent_chart.js";
import { OPTIMIZERS, OPTIMIZER_NAMES } from "./descent_optimizers.js";
import { MINUS } from "./format.js";
import { fill, language, t } from "./i18n.js";

const SOURCE_DELAY_MS = 700;
const LOG_SETTING_RANGE = 100; // a setting whose max/min is at least this gets a logarithmic slider
const SLIDER_SPAN = 10_000; // an integer setting with a wider range (a seed) gets a box only
const NAMED_SETTINGS = ["condition", "angle", "data_seed"];

/** The settings shown as boxes and sliders: a text setting (the typed source) has its own box. */
export function numberSettings(surface) {
  return (surface?.settings ?? []).filter((setting) => setting.kind !== "text");
}

/** A number typed by a person: a real minus or a hyphen, spaces around; null when it is not one. */
export function parseNumber(text) {
  const cleaned = String(text).trim().replaceAll(MINUS, "-");
  if (!cleaned || cleaned.length > 40 || !/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(cleaned)) return null;
  const x = Number(cleaned);
  return Number.isFinite(x) ? x : null;
}

/** A number for an input box: every digit, with a real minus. */
export function boxText(x) {
  return String(x).replace("-", MINUS);
}

function numberBox(id, testid) {
  return el("input", { className: "number-box", attrs: { id, type: "text", inputmode: "decimal", autocomplete: "off" },
    data: { testid } });
}

/** Call read(box) when the box is committed (change or Enter); mark it invalid when read returns false. */
function onCommit(box, read) {
  const commit = () => box.setAttribute("aria-invalid", String(read(box) === false));
  box.addEventListener("change", commit);
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      commit();
    }
  });
}

export class LabForm {
  /**
   * onChange(patch): patch has one or more of surface, settings, source, start, optimizers, rates ({name: rate},
   * one optimizer's own learning rate), hyper, steps, factor.
   */
  constructor(root, { onChange }) {
    this.root = root;
    this.onChange = onChange;
    this.surfaces = [];
    this.state = null;
    this.sourceTimer = null;
    const find = (selector) => root.querySelector(selector);
    this.parts = {
      surface: find("#surface"),
      description: find("#surface-description"),
      settings: find("#surface-settings"),
      customBox: find("#custom-box"),
      source: find("#custom-source"),
      sourceError: find("#custom-error"),
      draw: find("#custom-draw"),
      startA: find("#start-a"),
      startB: find("#start-b"),
      optimizers: find("#optimizer-rows"),
      steps: find("#steps"),
      factor: find("#factor"),
    };
    const p = this.parts;
    root.addEventListener("submit", (event) => event.preventDefault());
    p.surface.addEventListener("change", () => this.onChange({ surface: p.surface.value }));
    p.draw.addEventListener("click", () => this.commitSource());
    p.source.addEventListener("input", () => {
      window.clearTimeout(this.sourceTimer);
      this.sourceTimer = window.setTimeout(() => this.commitSource(), SOURCE_DELAY_MS);
    });
    p.source.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.commitSource();
      }
    });
    const readStart = () => {
      const a = parseNumber(p.startA.value);
      const b = parseNumber(p.startB.value);
      p.startA.setAttribute("aria-invalid", String(a === null));
      p.startB.setAttribute("aria-invalid", String(b === null));
      if (a !== null && b !== null) this.onChange({ start: [a, b] });
    };
    for (const box of [p.startA, p.startB]) onCommit(box, () => readStart());
    onCommit(p.steps, (box) => {
      const steps = parseNumber(box.value);
      if (steps === null || !Number.isInteger(steps) || steps < 1) return false;
      this.onChange({ steps });
      return true;
    });
    onCommit(p.factor, (box) => {
      const factor = parseNumber(box.value);
      if (factor === null || factor <= 1) return false;
      this.onChange({ factor });
      return true;
    });
    this.buildOptimizers();
  }

  commitSource() {
    window.clearTimeout(this.sourceTimer);
    const source = this.parts.source.value;
    if (source.trim() && source !== this.state?.source) this.onChange({ source });
  }

  setSurfaces(surfaces) {
    this.surfaces = surfaces;
    this.parts.surface.replaceChildren(...surfaces.map((surface) =>
      el("option", { attrs: { value: surface.id } }, surface.id)));
    this.renderTexts();
  }

  surface(id) {
    return this.surfaces.find((surface) => surface.id === id) ?? null;
  }

  /** The words that depend on the language: surface titles and descriptions come from the server in both. */
  renderTexts() {
    const lang = language();
    for (const option of this.parts.surface.options) {
      const surface = this.surface(option.value);
      option.textContent = surface?.title?.[lang] ?? surface?.title?.en ?? option.value;
    }
    const current = this.surface(this.state?.surface);
    this.parts.description.textContent = current?.description?.[lang] ?? current?.description?.en ?? "";
    for (const label of this.root.querySelectorAll("[data-setting-label]")) {
      const name = label.dataset.settingLabel;
      label.textContent = NAMED_SETTINGS.includes(name) ? t(`lab.setting.${name}`) : t("lab.setting.other", { name });
    }
    for (const box of this.root.querySelectorAll("[data-setting]")) {
      const setting = current?.settings?.find((one) => one.name === box.dataset.setting);
      box.title = setting?.doc?.[lang] ?? setting?.doc?.en ?? "";
    }
    for (const name of OPTIMIZER_NAMES) {
      const row = this.parts.optimizers.querySelector(`[data-optimizer="${name}"]`);
      fill(row.querySelector(".optimizer-name"), `lab.opt.${name}`);
      fill(row.querySelector(".optimizer-hint"), `lab.opt_hint.${name}`);
      row.querySelector(`#rate-${name}`).setAttribute("aria-label", t("lab.opt_rate", { name: t(`lab.opt.${name}`) }));
    }
  }

  buildOptimizers() {
    const rows = OPTIMIZER_NAMES.map((name) => {
      const spec = OPTIMIZERS[name];
      const check = el("input", { attrs: { type: "checkbox", id: `opt-${name}` }, data: { testid: `opt-${name}` } });
      check.addEventListener("change", () => {
        const chosen = OPTIMIZER_NAMES.filter((other) =>
          this.parts.optimizers.querySelector(`#opt-${other}`).checked);
        if (chosen.length === 0) {
          check.checked = true;
          return;
        }
        this.onChange({ optimizers: chosen });
      });
      const rateId = `rate-${name}`;
      const rateBox = numberBox(rateId, `lr-${name}`);
      onCommit(rateBox, () => {
        const rate = parseNumber(rateBox.value);
        if (rate === null || rate <= 0) return false;
        this.onChange({ rates: { [name]: rate } });
        return true;
      });
      const rate = el("span", { className: "hyper rate" },
        el("label", { attrs: { for: rateId } }, "η"), rateBox);
      const hyper = spec.hyper.map((field) => {
        const id = `hp-${name}-${field.name}`;
        const box = numberBox(id, id);
        onCommit(box, () => {
          const value = parseNumber(box.value);
          if (value === null || value < field.min || value > field.max) return false;
          this.onChange({ hyper: { [name]: { [field.name]: value } } });
          return true;
        });
        return el("span", { className: "hyper" }, el("label", { attrs: { for: id } }, field.symbol), box);
      });
      return el("div", { className: "optimizer-row", data: { optimizer: name } },
        el("label", { className: "optimizer-choice", attrs: { for: `opt-${name}` } }, check, swatch(spec),
          el("span", { className: "optimizer-name" }), el("span", { className: "optimizer-hint" })),
        el("div", { className: "hyper-row" }, rate, ...hyper));
    });
    this.parts.optimizers.replaceChildren(...rows);
  }

  /** Show the state: {surface, settings, source, start, optimizers, hyper, steps, factor}. */
  show(state) {
    const previous = this.state;
    this.state = state;
    const p = this.parts;
    p.surface.value = state.surface;
    const surface = this.surface(state.surface);
    p.customBox.hidden = state.surface !== "custom";
    if (document.activeElement !== p.source && p.source.value !== state.source) p.source.value = state.source;
    if (previous?.surface !== state.surface || !p.settings.childElementCount) this.buildSettings(surface);
    for (const setting of numberSettings(surface)) {
      const box = p.settings.querySelector(`[data-setting="${setting.name}"]`);
      const slider = p.settings.querySelector(`[data-setting-slider="${setting.name}"]`);
      const value = state.settings[setting.name] ?? setting.default;
      if (box && document.activeElement !== box) box.value = boxText(value);
      if (slider && document.activeElement !== slider) slider.value = String(slider.dataset.log ? Math.log10(value) : value);
    }
    p.startA.value = boxText(state.start[0]);
    p.startB.value = boxText(state.start[1]);
    for (const box of [p.startA, p.startB]) box.removeAttribute("aria-invalid");
    for (const name of OPTIMIZER_NAMES) {
      p.optimizers.querySelector(`#opt-${name}`).checked = state.optimizers.includes(name);
      const rateBox = p.optimizers.querySelector(`#rate-${name}`);
      const rate = state.rates?.[name];
      if (document.activeElement !== rateBox || rate === undefined) rateBox.value = rate === undefined ? "" : boxText(rate);
      rateBox.removeAttribute("aria-invalid");
      for (const field of OPTIMIZERS[name].hyper) {
        const box = p.optimizers.querySelector(`#hp-${name}-${field.name}`);
        box.value = boxText(state.hyper[name]?.[field.name] ?? field.default);
        box.removeAttribute("aria-invalid");
      }
    }
    p.steps.value = String(state.steps);
    p.factor.value = boxText(state.factor);
    this.renderTexts();
  }

  /** One row per setting of the surface: a box, and a slider (logarithmic over a wide range). */
  buildSettings(surface) {
    const rows = numberSettings(surface).map((setting) => {
      const id = `setting-${setting.name}`;
      const box = numberBox(id, id);
      box.dataset.setting = setting.name;
      const integer = setting.kind === "integer";
      const log = setting.min > 0 && setting.max / setting.min >= LOG_SETTING_RANGE;
      const slider = el("input", { className: "setting-slider", attrs: { type: "range",
        min: String(log ? Math.log10(setting.min) : setting.min), max: String(log ? Math.log10(setting.max) : setting.max),
        step: log ? "0.01" : integer ? "1" : "any", "aria-labelledby": `${id}-label` },
      data: { settingSlider: setting.name, testid: `${id}-slider` } });
      if (log) slider.dataset.log = "true";
      const send = (value) => {
        const clamped = Math.min(Math.max(value, setting.min), setting.max);
        this.onChange({ settings: { ...this.state.settings, [setting.name]: integer ? Math.round(clamped) : clamped } });
      };
      slider.addEventListener("change", () => {
        const raw = Number(slider.value);
        send(log ? Number((10 ** raw).toPrecision(3)) : raw);
      });
      slider.addEventListener("input", () => {
        const raw = Number(slider.value);
        box.value = boxText(log ? Number((10 ** raw).toPrecision(3)) : raw);
      });
      onCommit(box, () => {
        const value = parseNumber(box.value);
        if (value === null || value < setting.min || value > setting.max) return false;
        send(value);
        return true;
      });
      const withSlider = !integer || setting.max - setting.min <= SLIDER_SPAN;
      return el("div", { className: "setting-row" },
        el("label", { attrs: { for: id, id: `${id}-label` }, data: { settingLabel: setting.name } }), box,
        withSlider ? slider : null);
    });
    this.parts.settings.replaceChildren(...rows);
  }

  /** A typed f(a, b) that did not parse: the message, its place, and the line with a caret under it. */
  showSourceError({ line, column, message }) {
    const box = this.parts.sourceError;
    const lines = this.parts.source.value.split("\n");
    const text = lines[line - 1] ?? "";
    const where = fill(el("button", { className: "link-button", attrs: { type: "button" }, data: { testid: "custom-error-where" } }),
      "lab.error_where", { line: String(line), column: String(column) });
    where.addEventListener("click", () => this.select(line, column));
    box.replaceChildren(where,
      el("pre", { className: "source-error-line" }, `${text}\n${" ".repeat(Math.max(column - 1, 0))}`, el("span", { className: "caret" }, "^")),
      el("p", { className: "source-error-message" }, message));
    box.dataset.line = String(line);
    box.dataset.column = String(column);
    box.hidden = false;
    this.parts.source.setAttribute("aria-invalid", "true");
  }

  clearSourceError() {
    const box = this.parts.sourceError;
    box.hidden = true;
    box.replaceChildren();
    delete box.dataset.line;
    delete box.dataset.column;
    this.parts.source.removeAttribute("aria-invalid");
  }

  select(line, column) {
    const lines = this.parts.source.value.split("\n");
    let offset = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i += 1) offset += lines[i].length + 1;
    offset += Math.max(column - 1, 0);
    this.parts.source.focus();
    this.parts.source.setSelectionRange(offset, Math.min(offset + 1, this.parts.source.value.length));
  }
}
