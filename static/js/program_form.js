// The inputs panel: the example picker, the program editor (line numbers, and a mark under the
// line and column a parse error points at) and, per input variable, a number box and a slider.
// It reports edits; the page decides when to trace.
import { el } from "./dom.js";
import { language, t } from "./i18n.js";
import { isName, isValue } from "./state.js";

export const CUSTOM = "";
const SOURCE_DELAY_MS = 450;
const VALUE_DELAY_MS = 250;
const SLIDER_DELAY_MS = 60;
const DEFAULT_VALUE = 1;
const TOKEN = /(#[^\n]*)|(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(\S)/g;

/** A problem in what the user typed, told with a translation key and its parameters. */
export class InputError extends Error {
  constructor(key, params = {}, field = null) {
    super(key);
    this.name = "InputError";
    this.key = key;
    this.params = params;
    this.field = field;
  }
}

/**
 * The names a program reads without assigning them, in order of first use: the inputs whose values
 * the request must carry. Only a lexical scan (the server parses): a name before "(" is a call,
 * a name before "=" at the start of a statement is assigned.
 */
export function inputNames(source) {
  const tokens = [];
  for (const match of source.matchAll(TOKEN)) {
    if (!match[1]) tokens.push({ name: match[3] ?? null, text: match[0], index: match.index });
  }
  const assigned = new Set();
  const used = [];
  let previousEnd = 0;
  let startsStatement = true;
  tokens.forEach((token, i) => {
    if (source.slice(previousEnd, token.index).includes("\n")) startsStatement = true;
    previousEnd = token.index + token.text.length;
    if (token.text === ";") {
      startsStatement = true;
      return;
    }
    const first = startsStatement;
    startsStatement = false;
    const next = tokens[i + 1];
    if (!token.name || next?.text === "(") return;
    if (first && next?.text === "=") assigned.add(token.name);
    else if (!assigned.has(token.name) && !used.includes(token.name)) used.push(token.name);
  });
  return used;
}

function readNumberOrList(text) {
  // People type the typographic minus sign; JSON and Number want ASCII.
  const ascii = text.trim().replaceAll("\u2212", "-");
  if (ascii.startsWith("[")) {
    try {
      return JSON.parse(ascii);
    } catch {
      return undefined;
    }
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(ascii)) return undefined;
  return Number(ascii);
}

function valueText(value) {
  return typeof value === "number" ? String(value) : JSON.stringify(value);
}

/** A slider range that holds the value with room on both sides: ±10, or ±2|v| rounded up. */
function sliderRange(value) {
  const size = Math.abs(value);
  const span = size <= 5 ? 10 : 10 ** Math.ceil(Math.log10(2 * size));
  return { min: -span, max: span, step: span / 200 };
}

export class ProgramForm {
  /** onEdit(kind, delay) after an edit ("source" or "values"); onSubmit(); onExample(id). */
  constructor(form, { onEdit, onSubmit, onExample }) {
    this.form = form;
    this.onEdit = onEdit;
    this.select = form.querySelector("#example");
    this.source = form.querySelector("#source");
    this.gutter = form.querySelector("#editor-gutter");
    this.backdrop = form.querySelector("#editor-backdrop");
    this.errorBox = form.querySelector("#source-error");
    this.rows = form.querySelector("#value-rows");
    this.examples = [];
    this.values = {}; // every value typed so far, also for names the program no longer uses
    this.names = [];
    this.error = null;
    this.limits = null;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      onSubmit();
    });
    this.select.addEventListener("change", () => {
      if (this.select.value !== CUSTOM) onExample(this.select.value);
    });
    this.source.addEventListener("input", () => {
      this.select.value = CUSTOM;
      this.clearError();
      this.renderEditor();
      this.syncRows();
      this.onEdit("source", SOURCE_DELAY_MS);
    });
    this.source.addEventListener("scroll", () => this.syncScroll());
    this.source.addEventListener("keydown", (event) => {
      // Enter writes a new line; Ctrl+Enter (⌘+Enter) traces now.
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    this.rows.addEventListener("input", (event) => this.valueEdited(event.target));
    this.rows.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        form.requestSubmit();
      }
    });
  }

  setLimits(limits) {
    this.limits = limits;
    this.source.maxLength = limits.max_source_chars;
  }

  setExamples(examples) {
    this.examples = examples;
    this.renderExampleNames();
  }

  example(id) {
    return this.examples.find((example) => example.id === id) ?? null;
  }

  exampleId() {
    return this.select.value || null;
  }

  /** Option texts and slider names follow the language; the choice stays. */
  renderExampleNames() {
    const chosen = this.select.value;
    const lang = language();
    this.select.replaceChildren(
      el("option", { attrs: { value: CUSTOM } }, t("inputs.example_custom")),
      ...this.examples.map((example) =>
        el("option", { attrs: { value: example.id } }, example.title?.[lang] ?? example.title?.en ?? example.id)),
    );
    this.select.value = chosen;
    for (const slider of this.rows.querySelectorAll("input[type=range]")) {
      slider.setAttribute("aria-label", t("inputs.slider", { name: slider.dataset.name }));
    }
  }

  show({ source, values, exampleId = CUSTOM }) {
    this.source.value = source;
    this.values = { ...values };
    this.select.value = this.example(exampleId) ? exampleId : CUSTOM;
    this.clearError();
    this.renderEditor();
    this.syncRows(true);
  }

  /** Put values into the boxes (a panel moved the parameters, say); names the program lacks are kept aside. */
  setValues(values) {
    Object.assign(this.values, values);
    for (const [name, value] of Object.entries(values)) {
      const row = this.rows.querySelector(`[data-row="${CSS.escape(name)}"]`);
      if (row) this.fillRow(row, value);
    }
  }

  // ---- The value rows -----------------------------------------------------------------------

  syncRows(rebuild = false) {
    const names = inputNames(this.source.value).filter((name) => this.limits === null || isName(name, this.limits));
    if (!rebuild && names.join(",") === this.names.join(",")) return;
    this.names = names;
    this.rows.replaceChildren(...names.map((name) => this.row(name)));
  }

  row(name) {
    const id = `value-${name}`;
    if (!(name in this.values)) this.values[name] = DEFAULT_VALUE;
    const box = el("input", {
      className: "value-box code",
      data: { testid: id, name },
      attrs: { id, type: "text", inputmode: "decimal", autocomplete: "off", spellcheck: "false" },
    });
    const slider = el("input", {
      className: "value-slider",
      data: { testid: `slider-${name}`, name },
      attrs: { type: "range", "aria-label": t("inputs.slider", { name }) },
    });
    const row = el("div", { className: "value-row", data: { row: name } },
      el("label", { attrs: { for: id } }, el("code", {}, name)), box, slider);
    this.fillRow(row, this.values[name]);
    return row;
  }

  fillRow(row, value) {
    const box = row.querySelector(".value-box");
    const slider = row.querySelector(".value-slider");
    box.value = valueText(value);
    box.removeAttribute("aria-invalid");
    const scalar = typeof value === "number";
    row.classList.toggle("tensor", !scalar);
    slider.hidden = !scalar;
    if (scalar) this.fitSlider(slider, value);
  }

  fitSlider(slider, value) {
    const low = Number(slider.min);
    const high = Number(slider.max);
    if (!(slider.dataset.fitted === "1" && value >= low && value <= high)) {
      const range = sliderRange(value);
      slider.min = String(range.min);
      slider.max = String(range.max);
      slider.step = String(range.step);
      slider.dataset.fitted = "1";
    }
    slider.value = String(value);
  }

  valueEdited(input) {
    const name = input.dataset.name;
    if (!name) return;
    const row = input.closest(".value-row");
    this.select.value = CUSTOM;
    if (input.type === "range") {
      const value = Number(Number(input.value).toPrecision(6));
      this.values[name] = value;
      row.querySelector(".value-box").value = String(value);
      row.querySelector(".value-box").removeAttribute("aria-invalid");
      this.onEdit("values", SLIDER_DELAY_MS);
      return;
    }
    const value = readNumberOrList(input.value);
    if (value !== undefined && this.limits && isValue(value, this.limits)) {
      this.values[name] = value;
      input.removeAttribute("aria-invalid");
      const slider = row.querySelector(".value-slider");
      slider.hidden = typeof value !== "number";
      row.classList.toggle("tensor", typeof value !== "number");
      if (typeof value === "number") this.fitSlider(slider, value);
    }
    this.onEdit("values", VALUE_DELAY_MS);
  }

  /** {source, values} from the form, or an InputError naming the box at fault. */
  read() {
    const source = this.source.value;
    if (!source.trim()) throw new InputError("error.source_empty");
    const values = {};
    for (const name of this.names) {
      const box = this.rows.querySelector(`[data-row="${CSS.escape(name)}"] .value-box`);
      const value = readNumberOrList(box.value);
      if (value === undefined) {
        box.setAttribute("aria-invalid", "true");
        throw new InputError("error.value_syntax", { name }, `values.${name}`);
      }
      if (!isValue(value, this.limits)) {
        box.setAttribute("aria-invalid", "true");
        throw new InputError("error.value_too_big", { name, max: this.limits.max_abs_value }, `values.${name}`);
      }
      values[name] = value;
    }
    if (this.names.length > this.limits.max_inputs) {
      throw new InputError("error.values_too_many", { max: this.limits.max_inputs });
    }
    return { source, values };
  }

  /** Mark the box of a value the server or the reader complained about. */
  markField(field) {
    const name = typeof field === "string" && field.startsWith("values.") ? field.slice("values.".length) : null;
    if (!name) return false;
    const box = this.rows.querySelector(`[data-row="${CSS.escape(name)}"] .value-box`);
    box?.setAttribute("aria-invalid", "true");
    return box !== null;
  }

  // ---- The editor ---------------------------------------------------------------------------

  /** Line numbers, and the backdrop that carries the error mark, follow the text. */
  renderEditor() {
    const text = this.source.value;
    const lines = text.split("\n");
    const numbers = lines.map((_, i) => String(i + 1)).join("\n");
    if (this.gutter.textContent !== numbers) this.gutter.textContent = numbers;
    this.source.rows = Math.min(Math.max(lines.length + 1, 4), 16);
    const error = this.error;
    if (!error) {
      this.backdrop.replaceChildren(`${text}\n`);
    } else {
      const offset = this.offsetOf(error.line, error.column);
      const atEnd = offset >= text.length || text[offset] === "\n";
      this.backdrop.replaceChildren(
        text.slice(0, offset),
        el("mark", { className: "error-mark", data: { testid: "error-mark" } }, atEnd ? " " : text[offset]),
        text.slice(atEnd ? offset : offset + 1),
        "\n",
      );
    }
    this.syncScroll();
  }

  syncScroll() {
    this.backdrop.scrollTop = this.source.scrollTop;
    this.backdrop.scrollLeft = this.source.scrollLeft;
    this.gutter.scrollTop = this.source.scrollTop;
  }

  offsetOf(line, column) {
    const lines = this.source.value.split("\n");
    let offset = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length); i += 1) offset += lines[i].length + 1;
    const length = lines[Math.min(line - 1, lines.length - 1)]?.length ?? 0;
    return Math.min(offset + Math.min(Math.max(column - 1, 0), length), this.source.value.length);
  }

  /** Show a parse error in place: the spot marked in the editor, and the line with a caret under it. */
  showError({ line, column, message }) {
    this.error = { line, column };
    this.renderEditor();
    const lines = this.source.value.split("\n");
    const text = lines[line - 1] ?? "";
    const prefix = `${line} | `;
    const caret = `${" ".repeat(prefix.length + Math.max(column - 1, 0))}^`;
    this.errorBox.replaceChildren(
      el("pre", { className: "source-error-line" }, `${prefix}${text}\n`, el("span", { className: "caret" }, caret)),
      el("p", { className: "source-error-message", data: { testid: "source-error-message" } }, message),
    );
    this.errorBox.hidden = false;
    this.source.setAttribute("aria-invalid", "true");
  }

  clearError() {
    if (!this.error && this.errorBox.hidden) return;
    this.error = null;
    this.errorBox.hidden = true;
    this.errorBox.replaceChildren();
    this.source.removeAttribute("aria-invalid");
    this.renderEditor();
  }

  /** Select the program text at a 1-based line and column (where an error was found). */
  selectPosition(line, column) {
    const offset = this.offsetOf(line, column);
    this.form.closest("details")?.setAttribute("open", "");
    this.source.focus();
    this.source.setSelectionRange(offset, Math.min(offset + 1, this.source.value.length));
  }
}
