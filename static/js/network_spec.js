// What the network page asks the server: the page's settings turned into the NetworkSpec body of
// /api/v1/network/* (the task, the loss and the output layer follow from the data), and the sizes
// a drawing needs. Pure functions: no DOM, no requests.

export const OWN_CLASSES = "own";
export const OWN_CURVE = "own-curve";
export const CLASSIFICATION = "classification";
export const REGRESSION = "regression";
const TEST_FRACTION = 0.2;
const DATA_SEED = 0;

export const DEFAULTS = Object.freeze({
  dataset: "moons",
  layers: [{ units: 8, activation: "tanh" }, { units: 8, activation: "tanh" }],
  optimizer: "sgd",
  lr: 0.1,
  beta: 0.9,
  beta1: 0.9,
  beta2: 0.999,
  rho: 0.9,
  batch: null,
  seed: 0,
  iterations: 300,
});

// The fields of the settings form: a change of any of them starts training afresh. The URL's other fields
// (view, stage, layer, detail, compared, lang) only change what is shown.
export const SETTINGS = Object.freeze([...Object.keys(DEFAULTS), "points", "noise", "classes", "own"]);

/** The settings of a config as one text: equal texts, the same network trained on the same data. */
export const settingsKey = (config) => JSON.stringify(SETTINGS.map((name) => config?.[name] ?? null));

export const isOwn = (dataset) => dataset === OWN_CLASSES || dataset === OWN_CURVE;

/**
 * The shape of the problem: {task, features, classes}. `info` is the server's entry for a generated
 * set (GET /api/v1/datasets); own points say it themselves.
 */
export function problemOf(config, info) {
  if (config.dataset === OWN_CURVE) {
    return { task: REGRESSION, features: Math.max((config.own?.[0]?.length ?? 2) - 1, 1), classes: 0 };
  }
  if (config.dataset === OWN_CLASSES) {
    const rows = config.own ?? [];
    const labels = rows.map((row) => row[row.length - 1]);
    const classes = Math.max(2, ...labels.map((label) => label + 1));
    return { task: CLASSIFICATION, features: Math.max((rows[0]?.length ?? 3) - 1, 1), classes };
  }
  const task = info?.kind === REGRESSION ? REGRESSION : CLASSIFICATION;
  const classes = task === REGRESSION ? 0 : (info?.choose_classes || info?.chooseClasses
    ? config.classes ?? info?.classes ?? 2 : info?.classes ?? 2);
  return { task, features: info?.features ?? (task === REGRESSION ? 1 : 2), classes };
}

/** The loss and the output layer for a problem: mse + linear; bce + one sigmoid; cross-entropy + softmax. */
export function outputOf(problem) {
  if (problem.task === REGRESSION) return { loss: "mse", units: 1, activation: "linear" };
  if (problem.classes <= 2) return { loss: "bce", units: 1, activation: "sigmoid" };
  return { loss: "cross_entropy", units: problem.classes, activation: "softmax" };
}

/** (features, hidden units..., outputs) */
export function sizesOf(config, problem) {
  return [problem.features, ...config.layers.map((layer) => layer.units), outputOf(problem).units];
}

export function parameterCount(sizes) {
  let count = 0;
  for (let l = 1; l < sizes.length; l += 1) count += sizes[l] * (sizes[l - 1] + 1);
  return count;
}

function dataPart(config, info) {
  if (isOwn(config.dataset)) {
    return { custom: config.own ?? [], kind: config.dataset === OWN_CURVE ? REGRESSION : CLASSIFICATION, seed: DATA_SEED };
  }
  const data = { dataset: config.dataset, points: config.points, noise: config.noise, seed: DATA_SEED };
  if (info?.choose_classes || info?.chooseClasses) data.classes = config.classes;
  return data;
}

/** An optimizer of the API with the page's settings: its name, η, and the decays it uses. */
export function optimizerSpec(config, name = config.optimizer) {
  const optimizer = { name, learning_rate: config.lr };
  if (name === "momentum" || name === "nesterov") optimizer.beta = config.beta;
  if (name === "adam") Object.assign(optimizer, { beta1: config.beta1, beta2: config.beta2 });
  if (name === "rmsprop") optimizer.rho = config.rho;
  return optimizer;
}

/** The shared body part of every /network/* request (engine limits are checked again server-side). */
export function networkSpec(config, info) {
  const problem = problemOf(config, info);
  const output = outputOf(problem);
  const optimizer = optimizerSpec(config);
  return {
    layers: [...config.layers.map((layer) => ({ units: layer.units, activation: layer.activation })),
      { units: output.units, activation: output.activation }],
    loss: output.loss,
    data: dataPart(config, info),
    test_fraction: TEST_FRACTION,
    optimizer,
    batch_size: config.batch ?? null,
    seed: config.seed,
  };
}
