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
    symbol: "diamond", dash: "12 3 2 3", colour: "#00785a",
    hyper: [
      { name: "rho", symbol: "ρ", default: 0.9, min: 0, max: 0.9999 },
      { name: "eps", symbol: "ε", default: 1e-8, min: 1e-12, max: 1 },
    ],
  },
  adam: {
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

/** The request entry for one optimizer: its name, the shared rate and its hyper-parameters. */
export function optimizerRequest(name, learningRate, hyper = {}) {
  const entry = { name, learning_rate: learningRate };
  for (const spec of OPTIMIZERS[name].hyper) entry[spec.name] = hyper[name]?.[spec.name] ?? spec.default;
  return entry;
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

// ---- Learning-rate presets: the four behaviours, for plain gradient descent ----
// On the quadratic bowl they are fractions of the critical rate 2 / lambda_max that the server
// computes; elsewhere they were picked by running plain gradient descent for 100 steps from each
// surface's own start (with the default divergence factor of 1000).
// NOTE: the logistic loss grows only linearly far from its minimum, so only an enormous rate makes
// its loss pass 1000 times its start: that is the lesson of its "divergent" preset.

export const PRESET_KINDS = Object.freeze(["crawl", "good", "oscillate", "diverge"]);

const CRITICAL_FRACTIONS = { crawl: 0.01, good: 0.5, oscillate: 0.9, diverge: 1.1 };

const SURFACE_PRESETS = {
  rosenbrock: { crawl: 1e-5, good: 0.001, oscillate: 0.002, diverge: 0.008 },
  himmelblau: { crawl: 1e-4, good: 0.01, oscillate: 0.03, diverge: 0.06 },
  saddle: { crawl: 0.002, good: 0.1, oscillate: 1.5, diverge: 2.2 },
  logistic: { crawl: 0.003, good: 1, oscillate: 10, diverge: 1e5 },
  custom: { crawl: 1e-3, good: 0.1, oscillate: 0.3, diverge: 2 },
};

/** {crawl, good, oscillate, diverge} -> learning rate, for one surface. */
export function presetRates(surfaceId, criticalRate) {
  if (Number.isFinite(criticalRate) && criticalRate > 0) {
    return Object.fromEntries(PRESET_KINDS.map((kind) =>
      [kind, Number((CRITICAL_FRACTIONS[kind] * criticalRate).toPrecision(3))]));
  }
  return SURFACE_PRESETS[surfaceId] ?? SURFACE_PRESETS.custom;
}
