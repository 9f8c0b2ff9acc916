// One iteration of POST /api/v1/network/iteration in the neuron view ("view": "neuron": every weight, z
// and a is a scalar node) cut into the stages a student steps through neuron by neuron: the inputs;
// forward unit by unit (z = Σ w a + b, then a = g(z)); the loss; backward unit by unit, last layer first
// (dz, then the gradients of the unit's incoming weights and bias); the update. The server's numbers are
// read by node label (W1[i,j], b1[i], X[j,s], Z1[i,s], A1[i,s], Y[k,s], 1-based) and put back together
// into the layer matrices, so the layer panel shows the same matrices as the layer view. Pure: no DOM.

const CELL = /^([A-Za-z]+\d*)\[(\d+)(?:,(\d+))?\]$/;

/** rows × columns of `fill(i, j)`. */
const grid = (rows, columns, fill) => Array.from({ length: rows }, (_, i) => Array.from({ length: columns }, (_, j) => fill(i, j)));

export class NeuronStages {
  constructor(answer) {
    this.answer = answer;
    this.view = "neuron";
    const trace = answer.trace;
    this.nodes = new Map(trace.nodes.map((node) => [node.id, node]));
    const network = answer.network ?? {};
    this.sizes = network.sizes;
    this.activations = network.activations ?? [];
    this.loss = network.loss ?? null;
    this.layerCount = this.sizes.length - 1;
    this.update = trace.update ?? null;
    this.output = trace.output;
    this.cells = new Map(); // "W1" -> Map("i,j" -> node id), 0-based
    for (const node of trace.nodes) {
      for (const name of [node.label, ...(node.aliases ?? [])]) this.remember(name, node.id);
    }
    this.m = network.m ?? (this.cells.get("X")?.size ?? 0) / Math.max(this.sizes[0], 1);
    this.updates = new Map(trace.steps.filter((step) => step.phase === "update").map((step) => [step.node, step]));
    this.stages = this.buildStages();
  }

  remember(name, id) {
    const match = CELL.exec(name);
    if (!match) return;
    const [, tensor, row, column] = match;
    if (!this.cells.has(tensor)) this.cells.set(tensor, new Map());
    const key = `${Number(row) - 1},${column === undefined ? 0 : Number(column) - 1}`;
    if (!this.cells.get(tensor).has(key)) this.cells.get(tensor).set(key, id);
  }

  /** The node id of tensor[i][j] (0-based), or undefined. */
  id(tensor, i, j = 0) {
    return this.cells.get(tensor)?.get(`${i},${j}`);
  }

  value(tensor, i, j = 0) {
    return this.nodes.get(this.id(tensor, i, j))?.value;
  }

  grad(tensor, i, j = 0) {
    return this.nodes.get(this.id(tensor, i, j))?.grad;
  }

  get count() {
    return this.stages.length;
  }

  /** input; forward unit by unit, layer 1 to L; loss; backward unit by unit, layer L to 1; update. */
  buildStages() {
    const L = this.layerCount;
    const stages = [{ kind: "input", layer: 0, steps: [] }];
    this.forwardAt = [];
    this.backwardAt = [];
    for (let l = 1; l <= L; l += 1) {
      this.forwardAt[l] = stages.length;
      for (let unit = 0; unit < this.sizes[l]; unit += 1) stages.push({ kind: "neuron-forward", layer: l, unit, steps: [] });
    }
    this.lossIndex = stages.length;
    stages.push({ kind: "loss", layer: L, steps: [] });
    for (let l = L; l >= 1; l -= 1) {
      this.backwardAt[l] = stages.length;
      for (let unit = 0; unit < this.sizes[l]; unit += 1) stages.push({ kind: "neuron-backward", layer: l, unit, steps: [] });
    }
    this.updateIndex = stages.length;
    stages.push({ kind: "update", layer: null, steps: [] });
    return stages;
  }

  stage(k) {
    return this.stages[Math.min(Math.max(k, 0), this.stages.length - 1)];
  }

  /** The stage that stands for {kind, layer} of either view: a layer's stage is its first unit's. */
  indexOf({ kind, layer, unit = 0 }) {
    const l = Math.min(Math.max(Number(layer) || 1, 1), this.layerCount);
    const within = Math.min(Math.max(Number(unit) || 0, 0), this.sizes[l] - 1);
    if (kind === "forward" || kind === "neuron-forward") return this.forwardAt[l] + within;
    if (kind === "backward" || kind === "neuron-backward") return this.backwardAt[l] + within;
    if (kind === "loss") return this.lossIndex;
    if (kind === "update") return this.updateIndex;
    return 0;
  }

  /** Unit `unit` of layer l has its z and a at stage k (the inputs, layer 0, from the start). */
  forwardKnown(l, unit, k) {
    return l === 0 || k >= this.forwardAt[l] + unit;
  }

  backwardKnown(l, unit, k) {
    return k >= this.backwardAt[l] + unit;
  }

  /** A tensor's values (or gradients) as rows × columns; a row not known at stage k is all undefined. */
  matrix(tensor, rows, columns, known, read = "value") {
    if (!this.cells.has(tensor)) return undefined;
    return grid(rows, columns, (i, j) => (known(i) ? this[read](tensor, i, j) : undefined));
  }

  /** What is known about layer l (1..L) at stage k, in the shape of the layer view's IterationStages.layer. */
  layer(l, k) {
    if (l < 1 || l > this.layerCount) return null;
    const n = this.sizes[l];
    const p = this.sizes[l - 1];
    const m = this.m;
    const anyForward = this.forwardKnown(l, 0, k);
    const anyBackward = this.backwardKnown(l, 0, k);
    const forward = (i) => this.forwardKnown(l, i, k);
    const backward = (i) => this.backwardKnown(l, i, k);
    const always = () => true;
    const previous = l === 1 ? "X" : `A${l - 1}`;
    const update = k >= this.updateIndex;
    const after = (tensor, columns) => grid(n, columns, (i, j) => this.updates.get(this.id(tensor, i, j))?.after);
    const state = {};
    if (update) {
      const first = this.updates.get(this.id(`W${l}`, 0, 0))?.state ?? {};
      for (const [part, x] of Object.entries(first)) {
        if (typeof x === "number" && part !== "t") state[part] = grid(n, p, (i, j) => this.updates.get(this.id(`W${l}`, i, j))?.state?.[part]);
      }
    }
    return {
      layer: l,
      activation: this.activations[l - 1] ?? null,
      shapes: { W: [n, p], b: [n, 1], Z: [n, m], A: [n, m], Aprev: [p, m] },
      W: this.matrix(`W${l}`, n, p, always),
      b: this.matrix(`b${l}`, n, 1, always),
      Aprev: this.matrix(previous, p, m, (j) => this.forwardKnown(l - 1, j, k)),
      Z: anyForward ? this.matrix(`Z${l}`, n, m, forward) : undefined,
      A: anyForward ? this.matrix(`A${l}`, n, m, forward) : undefined,
      dZ: anyBackward ? this.matrix(`Z${l}`, n, m, backward, "grad") : undefined,
      dW: anyBackward ? this.matrix(`W${l}`, n, p, backward, "grad") : undefined,
      db: anyBackward ? this.matrix(`b${l}`, n, 1, backward, "grad") : undefined,
      Wafter: update ? after(`W${l}`, p) : undefined,
      bafter: update ? after(`b${l}`, 1) : undefined,
      Wstate: update ? state : undefined,
    };
  }

  lossAt(k) {
    return k >= this.lossIndex ? this.nodes.get(this.output)?.value : undefined;
  }

  /**
   * The numbers of one unit for sample s: its incoming weights and inputs, bias, z, a, and backward
   * da, dz, the gradients of its weights and bias, the target y (output units) and its outgoing weights.
   */
  unit(l, i, s) {
    const p = this.sizes[l - 1];
    const previous = l === 1 ? "X" : `A${l - 1}`;
    const next = l < this.layerCount ? Array.from({ length: this.sizes[l + 1] }, (_, k) => ({
      w: this.value(`W${l + 1}`, k, i), dz: this.grad(`Z${l + 1}`, k, s),
    })) : [];
    return {
      layer: l, unit: i, sample: s, activation: this.activations[l - 1] ?? null,
      inputs: Array.from({ length: p }, (_, j) => ({ w: this.value(`W${l}`, i, j), a: this.value(previous, j, s),
        dw: this.grad(`W${l}`, i, j) })),
      b: this.value(`b${l}`, i), db: this.grad(`b${l}`, i),
      z: this.value(`Z${l}`, i, s), a: this.value(`A${l}`, i, s),
      da: this.grad(`A${l}`, i, s), dz: this.grad(`Z${l}`, i, s),
      y: l === this.layerCount ? this.value("Y", i, s) : undefined,
      next,
    };
  }

  /** The drawing's picture at stage k for sample s: the units known so far, the current one in focus. */
  picture(k, s) {
    const stage = this.stage(k);
    const L = this.layerCount;
    const update = k >= this.updateIndex;
    const weights = {};
    const biases = {};
    const grads = {};
    const biasGrads = {};
    const values = { 0: Array.from({ length: this.sizes[0] }, (_, j) => this.value("X", j, s)) };
    const deltas = {};
    for (let l = 1; l <= L; l += 1) {
      const layer = this.layer(l, k);
      weights[l] = layer.Wafter ?? layer.W;
      biases[l] = layer.bafter ?? layer.b;
      if (layer.dW) grads[l] = layer.dW;
      if (layer.db) biasGrads[l] = layer.db;
      const units = (known, read) => Array.from({ length: this.sizes[l] }, (_, i) => (known(l, i, k) ? read(i) : undefined));
      values[l] = units(this.forwardKnown.bind(this), (i) => this.value(`A${l}`, i, s));
      if (layer.dZ) deltas[l] = units(this.backwardKnown.bind(this), (i) => this.grad(`Z${l}`, i, s));
    }
    const neuron = stage.kind === "neuron-forward" || stage.kind === "neuron-backward";
    return {
      sizes: this.sizes, activations: this.activations, weights, biases, grads, biasGrads, values, deltas,
      mode: stage.kind === "neuron-backward" ? "backward" : update ? "update" : "forward",
      active: neuron ? stage.layer : null,
      focus: neuron
        ? { layer: stage.layer, unit: stage.unit, phase: stage.kind === "neuron-backward" ? "backward" : "forward" } : null,
    };
  }
}
