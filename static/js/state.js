// The view state lives in the URL so any moment is a shareable link. One table says, per field,
// which query parameter holds it and how to read it back; reading clamps to the server's limits,
// because a URL is input like any other.
import { isLanguage } from "./i18n.js";

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const EXAMPLE_ID = /^[a-z0-9-]{1,64}$/;

/** A value is a finite number, a list of them, or a list of equal-length lists (as the API takes). */
export function isValue(value, limits) {
  const number = (x) => typeof x === "number" && Number.isFinite(x) && Math.abs(x) <= limits.max_abs_value;
  const vector = (xs) => Array.isArray(xs) && xs.length > 0 && xs.length <= limits.max_tensor_side && xs.every(number);
  if (number(value)) return true;
  if (vector(value)) return true;
  return Array.isArray(value) && value.length > 0 && value.length <= limits.max_tensor_side
    && value.every(vector) && value.every((row) => row.length === value[0].length);
}

function readValues(text, limits) {
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return null;
  const values = {};
  for (const [name, value] of Object.entries(parsed).slice(0, limits.max_inputs)) {
    if (NAME.test(name) && name.length <= limits.max_name_chars && isValue(value, limits)) values[name] = value;
  }
  return values;
}

const FIELDS = {
  lang: { param: "lang", read: (text) => (isLanguage(text) ? text : null), write: String },
  example: { param: "example", read: (text) => (EXAMPLE_ID.test(text) ? text : null), write: String },
  source: {
    param: "src",
    read: (text, limits) => (text.trim() ? text.slice(0, limits.max_source_chars) : null),
    write: String,
  },
  values: { param: "values", read: readValues, write: (values) => JSON.stringify(values) },
};

/** The lang field alone: it is needed before the limits have loaded. */
export function readLanguage(search) {
  const text = new URLSearchParams(search).get(FIELDS.lang.param);
  return text === null ? null : FIELDS.lang.read(text);
}

/** {lang, example, source, values}; a field missing from the URL or unreadable is null. */
export function readState(search, limits) {
  const query = new URLSearchParams(search);
  const state = {};
  for (const [field, spec] of Object.entries(FIELDS)) {
    const text = query.get(spec.param);
    state[field] = text === null ? null : spec.read(text, limits);
  }
  return state;
}

/** Put the given fields into the URL (null removes one), without a new history entry. */
export function writeState(changes) {
  const url = new URL(window.location.href);
  for (const [field, value] of Object.entries(changes)) {
    const spec = FIELDS[field];
    if (!spec) throw new Error(`no URL field named ${field}`);
    if (value === null || value === undefined) url.searchParams.delete(spec.param);
    else url.searchParams.set(spec.param, spec.write(value));
  }
  window.history.replaceState(null, "", url);
  return url;
}
