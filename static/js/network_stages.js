// One iteration of POST /api/v1/network/iteration cut into the stages a student steps through:
// the inputs, forward layer by layer, the loss, backward layer by layer (last layer first), and the
// update. It says what is known at each stage: a layer's Z and A once its forward stage is reached,
// dZ, dW, db once its backward stage is, the new weights at the update. Pure: no DOM.

const column = (matrix, s) => (Array.isArray(matrix) ? matrix.map((row) => (Array.isArray(row) ? row[s] : row)) : undefined);

/** The trace's node ids for X, Y, L and each layer's W, b, Z, A: from network.node_ids, else by label. */
function nodeIds(answer, layers) {
  const described = answer.network?.node_ids;
  if (described?.layers?.length === layers) {
    return {
      X: described.X, Y: described.Y, L: described.L,
      layers: described.layers.map((entry) => ({ W: entry.W, b: entry.b, Z: entry.Z, A: entry.A })),
    };
  }
  const byName = new Map();
  for (const node of answer.trace.nodes) {
    for (const name of [node.label, ...(node.aliases ?? [])]) if (!byName.has(name)) byName.set(name, node.id);
  }
  return {
    X: byName.get("X"), Y: byName.get("Y"), L: answer.trace.output,
    layers: Array.from({ length: layers }, (_, k) => {
      const l = k + 1;
      const a = byName.get(`A${l}`);
      return { W: byName.get(`W${l}`), b: byName.get(`b${l}`), Z: byName.get(`Z${l}`) ?? a, A: a };
    }),
  };
}

export class IterationStages {
  constructor(answer) {
    this.answer = answer;
    this.view = "layer";
    const trace = answer.trace;
    this.nodes = new Map(trace.nodes.map((node) => [node.id, node]));
    const network = answer.network ?? {};
    this.sizes = network.sizes ?? null;
    this.activations = network.activations ?? [];
    this.loss = network.loss ?? null;
    const x = trace.nodes.find((node) => node.label === "X");
    this.layerCount = this.sizes ? this.sizes.length - 1
      : trace.nodes.filter((node) => /^W\d+$/.test(node.label)).length;
    this.ids = nodeIds(answer, this.layerCount);
    if (!this.sizes) {
      this.sizes = [x?.shape?.[0] ?? 1, ...this.ids.layers.map((ids) => this.nodes.get(ids.W)?.shape?.[0] ?? 1)];
    }
    const X = this.nodes.get(this.ids.X);
    this.m = X?.shape?.[1] ?? 1;
    this.update = trace.update ?? null;
    this.stages = this.buildStages(trace.steps);
    this.updates = new Map(trace.steps.filter((step) => step.phase === "update").map((step) => [step.node, step]));
  }

  get count() {
    return this.stages.length;
  }

  /** input, forward 1..L, loss, backward L..1, update; each with its steps. */
  buildStages(steps) {
    const L = this.layerCount;
    const stages = [{ kind: "input", layer: 0, steps: [] }];
    for (let l = 1; l <= L; l += 1) stages.push({ kind: "forward", layer: l, steps: [] });
    stages.push({ kind: "loss", layer: L, steps: [] });
    for (let l = L; l >= 1; l -= 1) stages.push({ kind: "backward", layer: l, steps: [] });
    stages.push({ kind: "update", layer: null, steps: [] });
    const forwardIndex = (l) => l;
    const lossIndex = L + 1;
    const backwardIndex = (l) => L + 2 + (L - l);
    const updateIndex = stages.length - 1;
    this.forwardStage = new Map();
    this.gradStage = new Map();
    for (const step of steps) {
      const note = step.note ?? {};
      let index;
      if (step.phase === "forward") {
        if (note.layer === 0 && note.quantity === "A") index = 0;
        else if (["Y", "loss", "L2"].includes(note.quantity) || !Number.isInteger(note.layer)) index = lossIndex;
        else index = forwardIndex(Math.min(Math.max(note.layer, 1), L));
        this.forwardStage.set(step.node, Math.min(index, this.forwardStage.get(step.node) ?? Infinity));
      } else if (step.phase === "backward") {
        let layer = Number.isInteger(note.layer) ? note.layer : L;
        if (note.quantity === "dA") layer += 1;
        index = backwardIndex(Math.min(Math.max(layer, 1), L));
        this.gradStage.set(step.node, Math.max(index, this.gradStage.get(step.node) ?? -1));
      } else {
        index = updateIndex;
      }
      stages[index].steps.push(step);
    }
    // Inputs with no step of their own (W, b appear as forward steps of their layer) are known at once.
    for (const node of this.nodes.values()) if (!this.forwardStage.has(node.id)) this.forwardStage.set(node.id, 0);
    this.updateIndex = updateIndex;
    return stages;
  }

  stage(k) {
    return this.stages[Math.min(Math.max(k, 0), this.stages.length - 1)];
  }

  /** The stage that stands for {kind, layer} of either view (a unit's stage maps to its layer's). */
  indexOf({ kind, layer }) {
    const L = this.layerCount;
    const l = Math.min(Math.max(Number(layer) || 1, 1), L);
    if (kind === "forward" || kind === "neuron-forward") return l;
    if (kind === "loss") return L + 1;
    if (kind === "backward" || kind === "neuron-backward") return L + 2 + (L - l);
    if (kind === "update") return this.updateIndex;
    return 0;
  }

  valueAt(id, k) {
    const node = this.nodes.get(id);
    if (!node || (this.forwardStage.get(id) ?? 0) > k) return undefined;
    return node.value;
  }

  gradAt(id, k) {
    const node = this.nodes.get(id);
    if (!node || !this.gradStage.has(id) || this.gradStage.get(id) > k) return undefined;
    return node.grad;
  }

  /** What is known about layer l (1..L) at stage k; undefined where not yet computed. */
  layer(l, k) {
    const ids = this.ids.layers[l - 1];
    if (!ids) return null;
    const update = k >= this.updateIndex;
    const W = this.nodes.get(ids.W)?.value;
    const b = this.nodes.get(ids.b)?.value;
    const previous = l === 1 ? this.ids.X : this.ids.layers[l - 2].A;
    return {
      layer: l,
      activation: this.activations[l - 1] ?? null,
      shapes: {
        W: this.nodes.get(ids.W)?.shape, b: this.nodes.get(ids.b)?.shape,
        Z: this.nodes.get(ids.Z)?.shape, A: this.nodes.get(ids.A)?.shape,
        Aprev: this.nodes.get(previous)?.shape,
      },
      W, b,
      Aprev: this.valueAt(previous, k),
      Z: this.valueAt(ids.Z, k),
      A: this.valueAt(ids.A, k),
      dA: ids.A !== ids.Z ? this.gradAt(ids.A, k) : undefined,
      dZ: this.gradAt(ids.Z, k),
      dW: this.gradAt(ids.W, k),
      db: this.gradAt(ids.b, k),
      dAprev: l > 1 ? this.gradAt(previous, k) : undefined,
      Wafter: update ? this.updates.get(ids.W)?.after : undefined,
      bafter: update ? this.updates.get(ids.b)?.after : undefined,
      Wstate: update ? this.updates.get(ids.W)?.state : undefined,
    };
  }

  /** The loss value once the loss stage is reached. */
  lossAt(k) {
    return this.valueAt(this.ids.L, k);
  }

  /** The drawing's picture at stage k for sample s (a column of X, Z, A). */
  picture(k, s) {
    const stage = this.stage(k);
    const L = this.layerCount;
    const weights = {};
    const biases = {};
    const grads = {};
    const biasGrads = {};
    const values = { 0: column(this.valueAt(this.ids.X, k), s) };
    const deltas = {};
    for (let l = 1; l <= L; l += 1) {
      const layer = this.layer(l, k);
      weights[l] = layer.Wafter ?? layer.W;
      biases[l] = layer.bafter ?? layer.b;
      if (layer.dW !== undefined) grads[l] = layer.dW;
      if (layer.db !== undefined) biasGrads[l] = layer.db;
      const a = column(layer.A, s);
      if (a) values[l] = a;
      const dz = column(layer.dZ, s);
      if (dz) deltas[l] = dz;
    }
    const mode = stage.kind === "backward" ? "backward" : stage.kind === "update" ? "update" : "forward";
    return {
      sizes: this.sizes, activations: this.activations, weights, biases, grads, biasGrads, values, deltas, mode,
      active: stage.kind === "forward" || stage.kind === "backward" ? stage.layer : null,
    };
  }
}
