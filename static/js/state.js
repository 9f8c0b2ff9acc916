// The view state lives in the URL so any moment is a shareable link. One table says, per field,
// which query parameter holds it and how to read it back; reading clamps to the server's limits,
// because a URL is input like any other.
import { writeUrlFields } from "./url_fields.js";
import { isLanguage } from "./i18n.js";

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const EXAMPLE_ID = /^[a-z0-9-]{1,64}$/;
const PANEL_ID = /^[a-z][a-z0-9-]{0,31}$/;
const MAX_PANELS = 16;
const VIEWS = ["graph", "table"];

/** A value is a finite number, a list of them, or a list of equal-length lists (as the API takes). */
export function isValue(value, limits) {
  const number = (x) => typeof x === "number" && Number.isFinite(x) && Math.abs(x) <= limits.max_abs_value;
  const vector = (xs) => Array.isArray(xs) && xs.length > 0 && xs.length <= limits.max_tensor_side && xs.every(number);
  if (number(value)) return true;
  if (vector(value)) return true;
  return Array.isArray(value) && value.length > 0 && value.length <= limits.max_tensor_side
    && value.every(vector) && value.every((row) => row.length === value[0].length);
}

export function isName(text, limits) {
  return typeof text === "string" && NAME.test(text) && text.length <= limits.max_name_chars;
}

function readJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function readValues(text, limits) {
  const parsed = readJson(text);
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return null;
  const values = {};
  for (const [name, value] of Object.entries(parsed).slice(0, limits.max_inputs)) {
    if (isName(name, limits) && isValue(value, limits)) values[name] = value;
  }
  return values;
}

function readList(text, keep, max) {
  const items = text.split(",").map((item) => item.trim()).filter(keep);
  return [...new Set(items)].slice(0, max);
}

function readInteger(text, low, high) {
  if (!/^\d{1,9}$/.test(text)) return null;
  return Math.min(Math.max(Number(text), low), high);
}

function readRate(text, limits) {
  const rate = Number(text);
  if (!text.trim() || !Number.isFinite(rate) || rate <= 0) return null;
  return Math.min(Math.max(rate, limits.min_learning_rate), limits.max_learning_rate);
}

const joinList = (items) => items.join(",");

/**
 * field -> {param, read(text, limits) -> value or null, write(value) -> text}.
 * `step` is the index of the step shown (0-based, as in POST /api/v1/trace/state); the explorer
 * clamps it again to the trace it belongs to.
 */
const FIELDS = {
  lang: { param: "lang", read: (text) => (isLanguage(text) ? text : null), write: String },
  example: { param: "example", read: (text) => (EXAMPLE_ID.test(text) ? text : null), write: String },
  source: {
    param: "src",
    read: (text, limits) => (text.trim() ? text.slice(0, limits.max_source_chars) : null),
    write: String,
  },
  values: { param: "values", read: readValues, write: (values) => JSON.stringify(values) },
  step: { param: "step", read: (text, limits) => readInteger(text, 0, limits.max_steps - 1), write: String },
  view: { param: "view", read: (text) => (VIEWS.includes(text) ? text : null), write: String },
  panels: {
    param: "panels",
    read: (text) => readList(text, (id) => PANEL_ID.test(id), MAX_PANELS),
    write: joinList,
  },
  lr: { param: "lr", read: readRate, write: String },
  params: {
    param: "params",
    read: (text, limits) => readList(text, (name) => isName(name, limits), limits.max_params),
    write: joinList,
  },
};

export const STATE_FIELDS = Object.freeze(Object.keys(FIELDS));

/** The lang field alone: it is needed before the limits have loaded. */
export function readLanguage(search) {
  const text = new URLSearchParams(search).get(FIELDS.lang.param);
  return text === null ? null : FIELDS.lang.read(text);
}

/** One field from a query string, clamped; null when missing or unreadable. */
export function readField(search, field, limits) {
  const spec = FIELDS[field];
  if (!spec) throw new Error(`no URL field named ${field}`);
  const text = new URLSearchParams(search).get(spec.param);
  return text === null ? null : spec.read(text, limits);
}

/** Every field; a field missing from the URL or unreadable is null. */
export function readState(search, limits) {
  const state = {};
  for (const field of STATE_FIELDS) state[field] = readField(search, field, limits);
  return state;
}

/** Put the given fields into the URL (null removes one), without a new history entry. */
export function writeState(changes) {
  return writeUrlFields(FIELDS, changes);
}

/**
 * A field-level view of the URL for one owner: get(field) reads and clamps, set(field, value)
 * clamps by writing then reading back, so what a panel stores is what a reloaded page will read.
 */
export function urlState(limits, fields = STATE_FIELDS) {
  const allowed = new Set(fields);
  const check = (field) => {
    if (!allowed.has(field)) throw new Error(`URL field ${field} is not available here`);
  };
  return {
    get(field) {
      check(field);
      return readField(window.location.search, field, limits);
    },
    set(field, value) {
      check(field);
      const empty = value === null || value === undefined || (Array.isArray(value) && value.length === 0);
      writeState({ [field]: empty ? null : value });
      const clamped = readField(window.location.search, field, limits);
      writeState({ [field]: empty || clamped === null || (Array.isArray(clamped) && clamped.length === 0) ? null : clamped });
      return clamped;
    },
  };
}
