// The descent page's view state in the URL: one table of fields, each read back clamped to the
// server's limits (GET /api/v1/limits) and to what the surface list allows, because a link is input
// like any other. Writing replaces the current history entry.
import { isLanguage } from "./i18n.js";
import { OPTIMIZERS, OPTIMIZER_NAMES } from "./descent_optimizers.js";

const SURFACE_ID = /^[a-z][a-z0-9_-]{0,31}$/;
const SETTING_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const PARAMETERS = ["a", "b"];

const clamp = (x, low, high) => Math.min(Math.max(x, low), high);

function readNumber(text) {
  const trimmed = String(text).trim().replaceAll("\u2212", "-");
  if (!trimmed || trimmed.length > 40) return null;
  const x = Number(trimmed);
  return Number.isFinite(x) ? x : null;
}

function readInteger(text, low, high) {
  if (!/^\d{1,9}$/.test(text)) return null;
  return clamp(Number(text), low, high);
}

function readPoint(text, limits) {
  const parts = text.split(",");
  if (parts.length !== 2) return null;
  const point = parts.map(readNumber);
  if (point.some((x) => x === null)) return null;
  return point.map((x) => clamp(x, -limits.max_coordinate, limits.max_coordinate));
}

function readOptimizers(text, limits) {
  const names = text.split(",").map((name) => name.trim()).filter((name) => OPTIMIZER_NAMES.includes(name));
  const unique = [...new Set(names)].slice(0, limits.max_descent_optimizers);
  return unique.length ? unique : null;
}

/** "momentum.beta:0.95,adam.eps:1e-6" -> {momentum: {beta: 0.95}, adam: {eps: 1e-6}}, each clamped. */
function readHyper(text) {
  const hyper = {};
  for (const item of text.split(",").slice(0, 32)) {
    const match = /^([a-z]+)\.([a-z0-9]+):(.+)$/.exec(item.trim());
    if (!match) continue;
    const [, name, field, valueText] = match;
    const spec = OPTIMIZERS[name]?.hyper.find((one) => one.name === field);
    const value = readNumber(valueText);
    if (!spec || value === null) continue;
    hyper[name] ??= {};
    hyper[name][field] = clamp(value, spec.min, spec.max);
  }
  return Object.keys(hyper).length ? hyper : null;
}

function writeHyper(hyper) {
  return Object.entries(hyper).flatMap(([name, fields]) =>
    Object.entries(fields).map(([field, value]) => `${name}.${field}:${value}`)).join(",");
}

function readRate(text, limits) {
  const rate = readNumber(text);
  return rate === null || rate <= 0 ? null : clamp(rate, limits.min_learning_rate, limits.max_learning_rate);
}

/**
 * The learning rates: "0.1" gives every optimizer 0.1 (linked: one slider moves them all);
 * "sgd:0.1,adam:0.02" gives each its own (an optimizer not listed takes the first rate listed).
 * -> {linked, rates: {name: rate} for every optimizer} or null.
 */
function readRates(text, limits) {
  if (!text.includes(":")) {
    const rate = readRate(text, limits);
    return rate === null ? null : { linked: true, rates: Object.fromEntries(OPTIMIZER_NAMES.map((name) => [name, rate])) };
  }
  const own = {};
  for (const item of text.split(",").slice(0, OPTIMIZER_NAMES.length)) {
    const [name, value, ...rest] = item.split(":");
    const rate = rest.length ? null : readRate(value ?? "", limits);
    if (OPTIMIZER_NAMES.includes(name.trim()) && rate !== null) own[name.trim()] ??= rate;
  }
  const first = Object.values(own)[0];
  if (first === undefined) return null;
  return { linked: false, rates: Object.fromEntries(OPTIMIZER_NAMES.map((name) => [name, own[name] ?? first])) };
}

/** {linked, rates, names}: one number when linked, else "name:rate" for each optimizer named. */
function writeRates({ linked, rates, names }) {
  if (linked) return String(rates[names[0]]);
  return names.map((name) => `${name}:${rates[name]}`).join(",");
}

/** field -> {param, read(text, limits) -> value or null, write(value) -> text}. */
const FIELDS = {
  lang: { param: "lang", read: (text) => (isLanguage(text) ? text : null), write: String },
  surface: { param: "surface", read: (text) => (SURFACE_ID.test(text) ? text : null), write: String },
  source: {
    param: "src",
    read: (text, limits) => (text.trim() ? text.slice(0, limits.max_source_chars) : null),
    write: String,
  },
  start: { param: "start", read: readPoint, write: (point) => point.join(",") },
  optimizers: { param: "opt", read: readOptimizers, write: (names) => names.join(",") },
  hyper: { param: "hp", read: readHyper, write: writeHyper },
  rates: { param: "lr", read: readRates, write: writeRates },
  steps: { param: "steps", read: (text, limits) => readInteger(text, 1, limits.max_descent_steps), write: String },
  factor: {
    param: "factor",
    read: (text, limits) => {
      const factor = readNumber(text);
      return factor === null || factor <= 1 ? null : Math.min(factor, limits.max_divergence_factor);
    },
    write: String,
  },
  step: { param: "step", read: (text, limits) => readInteger(text, 0, limits.max_descent_steps), write: String },
  focus: { param: "focus", read: (text) => (OPTIMIZER_NAMES.includes(text) ? text : null), write: String },
  parameter: { param: "param", read: (text) => (PARAMETERS.includes(text) ? text : null), write: String },
};

export const DESCENT_FIELDS = Object.freeze(Object.keys(FIELDS));

/** The lang field alone: it is needed before the limits have loaded. */
export function readLanguageField(search) {
  const text = new URLSearchParams(search).get(FIELDS.lang.param);
  return text === null ? null : FIELDS.lang.read(text);
}

/** Every field of the query string, clamped; a missing or unreadable one is null. */
export function readDescentState(search, limits) {
  const params = new URLSearchParams(search);
  const state = {};
  for (const [field, spec] of Object.entries(FIELDS)) {
    const text = params.get(spec.param);
    state[field] = text === null ? null : spec.read(text, limits);
  }
  return state;
}

/**
 * A surface's own settings from the URL (one parameter per setting, named as the server names it:
 * condition=100), clamped to the bounds the surface list gives; an integer setting stays whole.
 */
export function readSettings(search, surface) {
  const params = new URLSearchParams(search);
  const settings = {};
  for (const setting of surface?.settings ?? []) {
    if (setting.kind === "text" || !SETTING_NAME.test(setting.name) || FIELDS[setting.name]) continue;
    const text = params.get(setting.name);
    const value = text === null ? null : readNumber(text);
    if (value === null) continue;
    const clamped = clamp(value, setting.min, setting.max);
    settings[setting.name] = setting.kind === "integer" ? Math.round(clamped) : clamped;
  }
  return settings;
}

/**
 * Write fields (null removes one) and settings (an object: every setting parameter the surfaces know
 * is removed, then these are written), without a new history entry.
 */
export function writeDescentState(changes, { settings, settingNames = [] } = {}) {
  const url = new URL(window.location.href);
  for (const [field, value] of Object.entries(changes)) {
    const spec = FIELDS[field];
    if (!spec) throw new Error(`no URL field named ${field}`);
    const empty = value === null || value === undefined || (Array.isArray(value) && value.length === 0)
      || (typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0);
    if (empty) url.searchParams.delete(spec.param);
    else url.searchParams.set(spec.param, spec.write(value));
  }
  if (settings) {
    for (const name of settingNames) {
      if (!FIELDS[name]) url.searchParams.delete(name);
    }
    for (const [name, value] of Object.entries(settings)) {
      if (SETTING_NAME.test(name) && !FIELDS[name]) url.searchParams.set(name, String(value));
    }
  }
  if (url.href !== window.location.href) window.history.replaceState(null, "", url);
  return url;
}
