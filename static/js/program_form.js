// The inputs panel: the example picker, the program text and the input values
// ("name = number", one per line), read into a trace request.
import { el } from "./dom.js";
import { language, t } from "./i18n.js";
import { isValue } from "./state.js";

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const CUSTOM = "";

/** A problem in what the user typed, told with a translation key and its parameters. */
export class InputError extends Error {
  constructor(key, params = {}) {
    super(key);
    this.name = "InputError";
    this.key = key;
    this.params = params;
  }
}

export function valuesToText(values) {
  return Object.entries(values)
    .map(([name, value]) => `${name} = ${typeof value === "number" ? String(value) : JSON.stringify(value)}`)
    .join("\n");
}

function readNumberOrList(text) {
  // People paste the typographic minus sign; JSON and Number want ASCII.
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

/** "x = -2\ny = 5" -> {x: -2, y: 5}; throws InputError naming the line. */
export function parseValuesText(text, limits) {
  const values = {};
  const lines = text.split(/\r?\n|;/);
  for (const [index, raw] of lines.entries()) {
    const line = index + 1;
    if (!raw.trim()) continue;
    const equals = raw.indexOf("=");
    if (equals < 0) throw new InputError("error.values_syntax", { line });
    const name = raw.slice(0, equals).trim();
    if (!NAME.test(name) || name.length > limits.max_name_chars) throw new InputError("error.values_name", { line });
    if (Object.hasOwn(values, name)) throw new InputError("error.values_twice", { line, name });
    const value = readNumberOrList(raw.slice(equals + 1));
    if (value === undefined) throw new InputError("error.values_syntax", { line });
    if (!isValue(value, limits)) throw new InputError("error.values_too_big", { line, max: limits.max_abs_value });
    values[name] = value;
    if (Object.keys(values).length > limits.max_inputs) {
      throw new InputError("error.values_too_many", { max: limits.max_inputs });
    }
  }
  return values;
}

export class ProgramForm {
  constructor(form, { onTrace, onExample }) {
    this.form = form;
    this.select = form.querySelector("#example");
    this.source = form.querySelector("#source");
    this.values = form.querySelector("#values");
    this.examples = [];
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      onTrace();
    });
    this.select.addEventListener("change", () => {
      if (this.select.value !== CUSTOM) onExample(this.select.value);
    });
    const markCustom = () => {
      this.select.value = CUSTOM;
    };
    for (const field of [this.source, this.values]) {
      field.addEventListener("input", markCustom);
      // Enter writes a new line; Ctrl+Enter (⌘+Enter) traces.
      field.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          form.requestSubmit();
        }
      });
    }
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

  /** Option texts follow the language; the choice stays. */
  renderExampleNames() {
    const chosen = this.select.value;
    const lang = language();
    this.select.replaceChildren(
      el("option", { attrs: { value: CUSTOM } }, t("inputs.example_custom")),
      ...this.examples.map((example) =>
        el("option", { attrs: { value: example.id } }, example.title?.[lang] ?? example.title?.en ?? example.id)),
    );
    this.select.value = chosen;
  }

  show({ source, values, exampleId = CUSTOM }) {
    this.source.value = source;
    this.values.value = valuesToText(values);
    this.select.value = this.example(exampleId) ? exampleId : CUSTOM;
  }

  /** {source, values} from the form, or an InputError. */
  read() {
    const source = this.source.value;
    if (!source.trim()) throw new InputError("error.source_empty");
    return { source, values: parseValuesText(this.values.value, this.limits) };
  }

  exampleId() {
    return this.select.value || null;
  }

  /** Select the program text at a 1-based line and column (where an error was found). */
  selectPosition(line, column) {
    const lines = this.source.value.split("\n");
    let offset = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length); i += 1) offset += lines[i].length + 1;
    offset = Math.min(offset + Math.max(column - 1, 0), this.source.value.length);
    this.form.closest("details")?.setAttribute("open", "");
    this.source.focus();
    this.source.setSelectionRange(offset, Math.min(offset + 1, this.source.value.length));
  }
}
