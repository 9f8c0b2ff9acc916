// The optimizers the page can run side by side, as data: their hyper-parameters (defaults and
// bounds, as the API accepts them) and how each path is drawn. Paths differ by dash and marker as
// well as by colour, so they stay apart in grey-scale and for colour-blind readers.

export const OPTIMIZERS = Object.freeze({
  sgd: {
    symbol: "circle", dash: "", colour: "#1b1f24",
    hyper: [],
  },
  momentum: {
    symbol: "square", dash: "9 4", colour: "#b36b00",
    hyper: [{ name: "beta", symbol: "β", default: 0.9, min: 0, max: 0.999 }],
  },
  nesterov: {
    symbol: "triangle", dash: "2 3", colour: "#a8457f",
    hyper: [{ name: "beta", symbol: "β", default: 0.9, min: 0, max: 0.999 }],
  },
  rmsprop: {
    adaptive: true,
    symbol: "diamond", dash: "12 3 2 3", colour: "#00785a",
    hyper: [
      { name: "rho", symbol: "ρ", default: 0.9, min: 0, max: 0.9999 },
      { name: "eps", symbol: "ε", default: 1e-8, min: 1e-12, max: 1 },
    ],
  },
  adam: {
    adaptive: true,
    symbol: "cross", dash: "5 2 1 2 1 2", colour: "#2f6fa3",
    hyper: [
      { name: "beta1", symbol: "β₁", default: 0.9, min: 0, max: 0.999 },
      { name: "beta2", symbol: "β₂", default: 0.999, min: 0, max: 0.99999 },
      { name: "eps", symbol: "ε", default: 1e-8, min: 1e-12, max: 1 },
    ],
  },
});

export const OPTIMIZER_NAMES = Object.freeze(Object.keys(OPTIMIZERS));
export const DEFAULT_OPTIMIZERS = Object.freeze(["sgd", "momentum", "adam"]);

/** The request entry for one optimizer: its name, its own learning rate and its hyper-parameters. */
export function optimizerRequest(name, learningRate, hyper = {}) {
  const entry = { name, learning_rate: learningRate };
  for (const spec of OPTIMIZERS[name].hyper) entry[spec.name] = hyper[name]?.[spec.name] ?? spec.default;
  return entry;
}

/** Every optimizer at one learning rate: {name: rate}. */
export function sameRates(rate) {
  return Object.fromEntries(OPTIMIZER_NAMES.map((name) => [name, rate]));
}

/** Only the hyper-parameters that differ from their defaults, for a short link. */
export function changedHyper(hyper) {
  const changed = {};
  for (const [name, fields] of Object.entries(hyper ?? {})) {
    for (const spec of OPTIMIZERS[name]?.hyper ?? []) {
      const value = fields?.[spec.name];
      if (value !== undefined && value !== spec.default) (changed[name] ??= {})[spec.name] = value;
    }
  }
  return changed;
}

// ---- Learning-rate presets: the four behaviours ----
// On the quadratic bowl they are fractions of the critical rate the server computes for the optimizer
// (2 / lambda_max for plain gradient descent, (2 + 2 beta) / lambda_max with momentum); elsewhere they
// were picked by running plain gradient descent for 100 steps from each surface's own start (with the
// default divergence factor of 1000). RMSProp and Adam move each parameter by about eta a step
// whatever the gradient's size, so theirs are fractions of the box's width, picked the same way.
// NOTE: the logistic loss grows only linearly far from its minimum, so only an enormous rate makes
// its loss pass 1000 times its start: that is the lesson of its "divergent" preset.

export const PRESET_KINDS = Object.freeze(["crawl", "good", "oscillate", "diverge"]);

const CRITICAL_FRACTIONS = { crawl: 0.01, good: 0.5, oscillate: 0.9, diverge: 1.1 };

const SURFACE_PRESETS = {
  rosenbrock: { crawl: 1e-5, good: 0.001, oscillate: 0.002, diverge: 0.008 },
  himmelblau: { crawl: 1e-4, good: 0.01, oscillate: 0.03, diverge: 0.06 },
  saddle: { crawl: 0.002, good: 0.1, oscillate: 1.5, diverge: 2.2 },
  logistic: { crawl: 0.003, good: 1, oscillate: 10, diverge: 1e5 },
  network: { crawl: 1e-4, good: 0.1, oscillate: 1, diverge: 30 },
  custom: { crawl: 1e-3, good: 0.1, oscillate: 0.3, diverge: 2 },
};

const WIDTH_FRACTIONS = { crawl: 1e-4, good: 0.01, oscillate: 0.1, diverge: 10 };
// NOTE: a cross-entropy grows only linearly far from its minimum: only an enormous step passes the factor.
const LINEAR_FAR_AWAY = ["logistic", "network"];
const WIDTH_FRACTIONS_LINEAR = { ...WIDTH_FRACTIONS, diverge: 1000 };

const rounded = (fractions, scale) => Object.fromEntries(PRESET_KINDS.map((kind) =>
  [kind, Number((fractions[kind] * scale).toPrecision(3))]));

/**
 * {crawl, good, oscillate, diverge} -> learning rate, for one surface and the optimizer the slider moves.
 * criticalRate: that optimizer's critical rate on the bowl (or null); width: the box's width along a.
 */
export function presetRates(surfaceId, criticalRate, { optimizer = "sgd", width = null } = {}) {
  if (Number.isFinite(criticalRate) && criticalRate > 0) return rounded(CRITICAL_FRACTIONS, criticalRate);
  if (OPTIMIZERS[optimizer]?.adaptive && Number.isFinite(width) && width > 0) {
    return rounded(LINEAR_FAR_AWAY.includes(surfaceId) ? WIDTH_FRACTIONS_LINEAR : WIDTH_FRACTIONS, width);
  }
  return SURFACE_PRESETS[surfaceId] ?? SURFACE_PRESETS.custom;
}
