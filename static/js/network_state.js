// The network page's view state in the URL: one table says, per field, which query parameter holds it
// and how to read it back. Reading clamps to the server's limits (GET /api/v1/limits), because a URL
// is input like any other; writing never adds a history entry.
import { writeUrlFields } from "./url_fields.js";
import { isLanguage } from "./i18n.js";

export const ACTIVATIONS = ["tanh", "relu", "sigmoid", "linear"];
export const OPTIMIZERS = ["sgd", "momentum", "nesterov", "rmsprop", "adam"];
export const COMPARED = ["sgd", "momentum", "adam"]; // compared unless the link names others
export const VIEWS = ["step", "train", "compare"];
export const DETAILS = ["layer", "neuron"];
export const OWN = "own";
const DATASET_ID = /^[a-z][a-z0-9-]{0,31}$/;
const MAX_URL_POINTS = 300;

const clamp = (x, low, high) => Math.min(Math.max(x, low), high);

function readWhole(text, low, high) {
  if (!/^\d{1,10}$/.test(text)) return null;
  return clamp(Number(text), low, high);
}

function readNumber(text, low, high) {
  const x = Number(text);
  if (!text.trim() || !Number.isFinite(x)) return null;
  return clamp(x, low, high);
}

/** "8-tanh,4-relu": the hidden layers, units then activation. */
function readArchitecture(text, limits) {
  if (text === "") return [];
  const layers = [];
  for (const part of text.split(",").slice(0, limits.max_layers - 1)) {
    const match = /^(\d{1,6})-([a-z]+)$/.exec(part.trim());
    if (!match || !ACTIVATIONS.includes(match[2])) return null;
    layers.push({ units: clamp(Number(match[1]), 1, limits.max_units), activation: match[2] });
  }
  return layers;
}

const writeArchitecture = (layers) => layers.map((layer) => `${layer.units}-${layer.activation}`).join(",");

/** "sgd,adam": optimizers to compare, known names only, each once, in the page's order. */
function readOptimizers(text) {
  const names = new Set(text.split(","));
  const chosen = OPTIMIZERS.filter((name) => names.has(name));
  return chosen.length ? chosen : null;
}

/** "0.5,1.2,0;-0.3,0.8,1": the user's own points (x1, x2, label, or x, y), a few hundred at most. */
function readPoints(text, limits) {
  const rows = [];
  for (const part of text.split(";").slice(0, MAX_URL_POINTS)) {
    const cells = part.split(",").map(Number);
    if (cells.length < 2 || cells.length > 3 || !cells.every(Number.isFinite)) continue;
    if (cells.some((x) => Math.abs(x) > limits.max_abs_value)) continue;
    if (cells.length === 3 && !(Number.isInteger(cells[2]) && cells[2] >= 0 && cells[2] < limits.max_classes)) continue;
    rows.push(cells);
  }
  return rows.length ? rows : null;
}

const short = (x) => String(Number(x.toPrecision(4)));
const writePoints = (rows) => rows.slice(0, MAX_URL_POINTS).map((row) => row.map(short).join(",")).join(";");

const FIELDS = {
  lang: { param: "lang", read: (text) => (isLanguage(text) ? text : null), write: String },
  view: { param: "view", read: (text) => (VIEWS.includes(text) ? text : null), write: String },
  detail: { param: "by", read: (text) => (DETAILS.includes(text) ? text : null), write: String },
  compared: { param: "cmp", read: readOptimizers, write: (names) => names.join(",") },
  dataset: { param: "data", read: (text) => (DATASET_ID.test(text) ? text : null), write: String },
  points: { param: "points", read: (text, limits) => readWhole(text, 2, limits.max_points), write: String },
  noise: { param: "noise", read: (text) => readNumber(text, 0, 1), write: String },
  classes: { param: "classes", read: (text, limits) => readWhole(text, 2, limits.max_classes), write: String },
  own: { param: "pts", read: readPoints, write: writePoints },
  layers: { param: "arch", read: readArchitecture, write: writeArchitecture },
  optimizer: { param: "opt", read: (text) => (OPTIMIZERS.includes(text) ? text : null), write: String },
  lr: {
    param: "lr",
    read: (text, limits) => {
      const rate = Number(text);
      if (!text.trim() || !Number.isFinite(rate) || rate <= 0) return null;
      return clamp(rate, limits.min_learning_rate, limits.max_learning_rate);
    },
    write: String,
  },
  beta: { param: "beta", read: (text) => readNumber(text, 0, 0.9999), write: String },
  beta1: { param: "beta1", read: (text) => readNumber(text, 0, 0.9999), write: String },
  beta2: { param: "beta2", read: (text) => readNumber(text, 0, 0.999999), write: String },
  rho: { param: "rho", read: (text) => readNumber(text, 0, 0.9999), write: String },
  batch: { param: "batch", read: (text, limits) => readWhole(text, 1, limits.max_points), write: String },
  seed: { param: "seed", read: (text, limits) => readWhole(text, 0, limits.max_seed), write: String },
  iterations: { param: "iters", read: (text, limits) => readWhole(text, 1, limits.max_iterations), write: String },
  stage: { param: "stage", read: (text) => readWhole(text, 0, 999), write: String },
  layer: { param: "layer", read: (text, limits) => readWhole(text, 1, limits.max_layers), write: String },
};

export const NETWORK_FIELDS = Object.freeze(Object.keys(FIELDS));

/** The lang field alone: it is needed before the limits have loaded. */
export function readLanguage(search) {
  const text = new URLSearchParams(search).get("lang");
  return text !== null && isLanguage(text) ? text : null;
}

/** Every field, clamped; missing or unreadable fields are null. */
export function readNetworkState(search, limits) {
  const params = new URLSearchParams(search);
  const state = {};
  for (const [field, spec] of Object.entries(FIELDS)) {
    const text = params.get(spec.param);
    state[field] = text === null ? null : spec.read(text, limits);
  }
  return state;
}

/** Put fields into the URL (null removes one), without a new history entry. */
export function writeNetworkState(changes) {
  return writeUrlFields(FIELDS, changes);
}
