// The network page's part of a class (loaded with the classroom controls; network.js hands it the page).
// The URL says the settings, the view, the stage and the layer; what it cannot say is where training
// stands: the iteration reached, its parameters and optimizer state, the loss curves, the decision
// boundary, a run going on, the optimizers compared. The teacher's page packs those into the room's
// state (within the room-state limit: coarser, then fewer parts, until they fit); a student's page
// shows them as they are. A student's page never trains or compares: it shows what the teacher's page
// received, and asks only for the one iteration at the teacher's parameters, as the teacher's page
// itself does (a short computation, not a run), and only once the step view shows it: after a run in
// the train view, 200 students do not all fetch an iteration nobody looks at.
//
// The part's contract (classroom_ui.js): key(), busy(), snapshot(budget), follow(before), show(results),
// release().
import { bytesFromBase64 } from "./network_compact.js";
import { explainDivergence } from "./network_divergence.js";
import { readNetworkState } from "./network_state.js";

const VERSION = 1;
// Coarser and coarser packings, tried in order until one fits the budget; a network whose parameters
// cannot fit keeps its curves and boundary.
const LEVELS = [
  { points: 240, bits: 16, params: true, state: true, compare: { points: 240, bits: 16, params: true } },
  { points: 120, bits: 8, params: true, state: true, compare: { points: 120, bits: 8, params: false } },
  { points: 120, bits: 8, params: true, state: false, compare: { points: 60, bits: 8, params: false } },
  { points: 60, bits: 0, params: true, state: false, compare: { points: 60, bits: 0, params: false } },
  { points: 120, bits: 8, params: false, state: false, compare: { points: 60, bits: 8, params: false } },
  { points: 60, bits: 0, params: false, state: false, compare: { points: 30, bits: 0, params: false } },
  { points: 30, bits: 0, params: false, state: false, compare: null },
];
const DIGITS = 6; // significant digits of the thinned curves (the pages show 4)

// ---- Packing numbers ------------------------------------------------------------------------------

const isNumber = (x) => typeof x === "number" && Number.isFinite(x);
const rounded = (x) => (isNumber(x) ? Number(x.toPrecision(DIGITS)) : null);

/** A short, stable fingerprint of a request body: both pages must show the same network. */
export function fingerprint(value) {
  const text = JSON.stringify(value ?? null);
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

function toBase64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** Probabilities in [0, 1] as 8- or 16-bit integers (the largest one stands for a missing number). */
function quantize(values, bits) {
  const top = 2 ** bits - 2;
  const bytes = new Uint8Array(values.length * (bits / 8));
  values.forEach((p, i) => {
    const q = isNumber(p) ? Math.round(Math.min(Math.max(p, 0), 1) * top) : top + 1;
    if (bits === 16) {
      bytes[2 * i] = q >> 8;
      bytes[2 * i + 1] = q & 255;
    } else {
      bytes[i] = q;
    }
  });
  return toBase64(bytes);
}

function dequantize(text, bits, count) {
  const bytes = bytesFromBase64(text);
  const top = 2 ** bits - 2;
  const values = new Array(count);
  for (let i = 0; i < count; i += 1) {
    const q = bits === 16 ? (bytes[2 * i] << 8) | bytes[2 * i + 1] : bytes[i];
    values[i] = q > top || q === undefined || Number.isNaN(q) ? null : q / top;
  }
  return values;
}

/**
 * A decision boundary packed: a grid's axes as [low, high, count] and its class probabilities as
 * `bits`-bit integers (class 0 is what the others leave), or a regression curve rounded. bits 0: none.
 */
export function packBoundary(boundary, bits) {
  if (!boundary || bits === 0) return null;
  if (boundary.kind === "curve") {
    return { kind: "curve", x: boundary.x.map(rounded), y: boundary.y.map(rounded) };
  }
  if (boundary.kind !== "grid" || !Array.isArray(boundary.probabilities)) return null;
  const axis = (xs) => [xs[0], xs.at(-1), xs.length];
  const classes = boundary.probabilities.length;
  const channels = boundary.probabilities.slice(classes === 1 ? 0 : 1).map((rows) => quantize(rows.flat(), bits));
  return { kind: "grid", x1: axis(boundary.x1), x2: axis(boundary.x2), classes, bits, p: channels };
}

export function unpackBoundary(packed) {
  if (!packed) return null;
  if (packed.kind === "curve") return { kind: "curve", x: packed.x, y: packed.y };
  const axis = ([low, high, count]) => Array.from({ length: count },
    (_, k) => (count === 1 ? low : low + ((high - low) * k) / (count - 1)));
  const x1 = axis(packed.x1);
  const x2 = axis(packed.x2);
  const cells = x1.length * x2.length;
  const rowsOf = (flat) => Array.from({ length: x2.length }, (_, r) => flat.slice(r * x1.length, (r + 1) * x1.length));
  const others = packed.p.map((text) => dequantize(text, packed.bits, cells));
  let flats = others;
  if (packed.classes > 1) {
    const first = Array.from({ length: cells }, (_, i) => (others.some((channel) => channel[i] === null) ? null
      : Math.max(0, 1 - others.reduce((sum, channel) => sum + channel[i], 0))));
    flats = [first, ...others];
  }
  const probabilities = flats.map(rowsOf);
  const predicted = rowsOf(Array.from({ length: cells }, (_, i) => {
    let best = 0;
    flats.forEach((channel, c) => {
      if ((channel[i] ?? -1) > (flats[best][i] ?? -1)) best = c;
    });
    return best;
  }));
  return { kind: "grid", x1, x2, probabilities, predicted };
}

/** At most `count` indices of a series of n, evenly spread, the first and the last always in. */
function spread(n, count) {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  const picked = new Set(Array.from({ length: count }, (_, k) => Math.round((k * (n - 1)) / (count - 1))));
  return [...picked].sort((a, b) => a - b);
}

/** A curve's points [{x, y}] thinned to [[x, y], ...]; the first and the last finite one keep every digit. */
export function thinPoints(points, count) {
  const lastFinite = points.findLastIndex((point) => isNumber(point.y));
  const kept = new Set(spread(points.length, count));
  if (lastFinite >= 0) kept.add(lastFinite);
  const exact = (i) => i === 0 || i === lastFinite;
  return [...kept].sort((a, b) => a - b).map((i) => [points[i].x, exact(i) ? points[i].y : rounded(points[i].y)]);
}

const unthinPoints = (rows) => (Array.isArray(rows) ? rows.map(([x, y]) => ({ x, y })) : []);

/** A /network/train history ({iteration, train_loss, ...} arrays) thinned alike. */
function thinHistory(history, count) {
  if (!history) return null;
  const n = history.iteration?.length ?? 0;
  const indices = spread(n, count);
  const thinned = {};
  for (const name of ["iteration", "train_loss", "test_loss", "train_accuracy", "test_accuracy"]) {
    const values = history[name];
    if (!Array.isArray(values)) continue;
    thinned[name] = indices.map((i) => (name === "iteration" || i === n - 1 ? values[i] : rounded(values[i])));
  }
  return thinned;
}

function packCompare(answer, level) {
  if (!answer || !level) return null;
  return {
    initial_params: level.params ? answer.initial_params ?? null : null,
    runs: (answer.runs ?? []).map((run) => ({
      optimizer: { name: run.optimizer?.name ?? run.optimizer, learning_rate: run.optimizer?.learning_rate ?? null },
      status: run.status, iterations: run.iterations, divergence: run.divergence ?? null,
      history: thinHistory(run.history, level.points), boundary: packBoundary(run.boundary, level.bits),
      params: level.params ? run.params ?? null : null,
    })),
  };
}

function unpackCompare(packed) {
  if (!packed) return null;
  return {
    initial_params: packed.initial_params,
    runs: packed.runs.map((run) => ({
      ...run, boundary: unpackBoundary(run.boundary), initial_params: packed.initial_params,
    })),
  };
}

const byteLength = (value) => new TextEncoder().encode(JSON.stringify(value)).length;

// ---- The part ---------------------------------------------------------------------------------

/** `page` is network.js's page object: its training, spec, view, comparison, and its own drawing calls. */
export function extend(page) {
  return new NetworkResults(page);
}

class NetworkResults {
  constructor(page) {
    this.page = page;
    this.ids = new WeakMap();
    this.nextId = 1;
    this.shown = null; // {signature, position}: the teacher's position this page stands at
    this.followedRun = null; // the run object that stands for the teacher's run going on
    this.fromDivergedRun = false;
    this.stale = false; // the step view's iteration is not yet the one at the teacher's position
  }

  id(object) {
    if (object === null || typeof object !== "object") return 0;
    if (!this.ids.has(object)) this.ids.set(object, this.nextId++);
    return this.ids.get(object);
  }

  // ---- The teacher ---------------------------------------------------------------------------

  /** Changes whenever what snapshot() would pack changes (cheap: read every 150 ms). */
  key() {
    const { training } = this.page;
    const run = training.run;
    return [this.id(this.page.spec), training.position.iteration, this.id(training.position.params),
      training.running, run?.last ?? "", this.id(run?.params), training.history.train.length,
      training.history.test.length, this.id(training.boundary), this.id(training.result),
      this.page.view === "compare" ? this.id(this.page.compareAnswer) : 0].join(" ");
  }

  /** A run is going on: its progress is sent a few times a second, not at every event. */
  busy() {
    return this.page.training.running;
  }

  /** Where training stands, packed within `budget` bytes of JSON (null: nothing to show beyond the URL). */
  snapshot(budget) {
    const { page } = this;
    if (!page.spec) return null;
    for (const level of LEVELS) {
      const packed = this.pack(level);
      if (byteLength(packed) <= budget) return packed;
    }
    const { training } = page;
    return { v: VERSION, spec: fingerprint(page.spec), at: training.position.iteration, running: training.running,
      reached: training.run?.last ?? null };
  }

  pack(level) {
    const { page } = this;
    const { training } = page;
    const running = training.running;
    const params = running ? training.run.params : training.position.params;
    const result = training.result;
    return {
      v: VERSION,
      spec: fingerprint(page.spec),
      at: training.position.iteration,
      running,
      reached: running ? training.run.last ?? training.run.start : null,
      params: level.params ? params ?? null : null,
      optimizer_state: level.state && !running ? training.position.optimizerState ?? null : null,
      history: { train: thinPoints(training.history.train, level.points), test: thinPoints(training.history.test, level.points) },
      boundary: packBoundary(training.boundary, level.bits),
      boundary_at: training.boundaryIteration ?? null,
      result: result ? { status: result.status, iterations: result.iterations ?? null, divergence: result.divergence ?? null,
        initial_params: level.params && result.status === "diverged" ? result.initial_params ?? null : null } : null,
      compare: page.view === "compare" ? packCompare(page.compareAnswer, level.compare) : null,
    };
  }

  // ---- A student ------------------------------------------------------------------------------

  /**
   * The URL now holds the teacher's settings and view: show them (network.js's followUrl). New settings
   * start afresh, as on the teacher's page, and forget the position shown; a new view, stage, layer or
   * detail keeps where training stands. The step view's iteration is asked for only if it is not yet the
   * one at the teacher's position.
   */
  async follow(before) {
    const { page } = this;
    if (await page.followUrl(before)) {
      this.shown = null;
      this.stale = false;
    }
    if (this.stale && page.view === "step") await this.loadIteration();
  }

  /** Show the teacher's results on this page. -> a note for the student's bar (a classroom key) or null. */
  async show(results) {
    const { page } = this;
    const { training } = page;
    if (!results || results.v !== VERSION || !page.spec || results.spec !== fingerprint(page.spec)) return null;
    // The teacher's run, shown as going on: this page's Train waits, its progress line says "running".
    training.stop();
    this.followedRun = null;
    training.history = { train: unthinPoints(results.history?.train), test: unthinPoints(results.history?.test) };
    training.boundary = unpackBoundary(results.boundary);
    training.boundaryIteration = results.boundary_at ?? null;
    training.result = results.result ? { ...results.result, params: results.params } : null;
    if (results.compare) page.compareAnswer = unpackCompare(results.compare);

    const tooBig = results.at > 0 && !results.params;
    let load = false;
    if (results.running) {
      this.followedRun = { controller: new AbortController(), start: results.at, body: null, last: results.reached,
        params: results.params ?? null, optimizerState: null, followed: true };
      training.run = this.followedRun;
    } else if (!tooBig) {
      const params = results.params ?? null;
      const signature = `${results.at} ${fingerprint(params)} ${fingerprint(results.optimizer_state ?? null)}`;
      const atStart = results.at === 0 && !params && !training.position.params && training.position.iteration === 0;
      const standing = atStart
        || (this.shown && this.shown.position === training.position && this.shown.signature === signature);
      if (!standing) {
        training.moveTo(params, results.optimizer_state ?? null, results.at);
        this.shown = { signature, position: training.position };
        load = true;
      }
    }
    const layers = page.stages?.layerCount ?? (page.config?.layers?.length ?? 0) + 1;
    if (training.result?.status === "diverged") {
      page.divergence = explainDivergence(training.result, layers);
      this.fromDivergedRun = true;
    } else if (this.fromDivergedRun) {
      page.divergence = null;
      this.fromDivergedRun = false;
    }
    this.stale ||= load;
    page.renderAll(); // the iteration reached, the curves and the boundary at once; the step view's next
    if (this.stale && page.view === "step") await this.loadIteration();
    return tooBig ? "classroom.net_too_big" : null;
  }

  /** The step view's iteration from where the teacher stands, at the teacher's stage (in the URL). */
  async loadIteration() {
    const { page } = this;
    this.stale = false;
    const stage = page.limits ? readNetworkState(window.location.search, page.limits).stage : null;
    if (!(await page.loadIteration(stage ?? 0))) this.stale = true;
  }

  /** The student explores alone: a run shown as the teacher's stops here (its numbers stay). */
  release() {
    const { training } = this.page;
    if (this.followedRun && training.run === this.followedRun) {
      training.run = null;
      this.page.renderTraining();
    }
    this.followedRun = null;
  }
}
