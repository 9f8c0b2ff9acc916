// Continuous training: a run streamed from POST /api/v1/network/train/stream (fetch + ReadableStream),
// stopped by aborting the request; where the run stands (parameters, optimizer state, iteration); the
// loss history; pause (the exact parameters at the paused iteration) and reset (the seeded start).
import * as api from "./network_api.js";

/**
 * A /network/train history as curve points, its iterations shifted by `offset`; a divergence report
 * adds the loss that stopped the run (the history only has the evaluations before it).
 */
export function historyPoints(history, offset = 0, divergence = null) {
  const iterations = history?.iteration ?? [];
  const train = history?.train_loss ?? history?.loss ?? [];
  const test = history?.test_loss ?? [];
  // The server numbers iterations from 1 and records each one's loss before its update; the page counts
  // updates done, so the loss at the initial weights stands at 0 and "iteration k" means k updates.
  const at = (i) => (iterations[i] ?? i + 1) - 1 + offset;
  const stopped = divergence && Number.isFinite(divergence.loss) && divergence.iteration > (iterations.at(-1) ?? 0)
    ? [{ x: divergence.iteration - 1 + offset, y: divergence.loss }] : [];
  return {
    train: train.map((y, i) => ({ x: at(i), y })).concat(stopped),
    test: test.map((y, i) => ({ x: at(i), y })).filter((point) => point.y !== null && point.y !== undefined),
  };
}

/**
 * The updates a /network/train answer's parameters have had. A run that diverged stopped inside its
 * last iteration, before that iteration's update: its params are those of the iteration before.
 */
function updatesDone(result, fallback = 0) {
  const ran = result.iterations ?? result.history?.iteration?.at(-1) ?? fallback;
  const stoppedAt = result.status === "diverged" ? result.divergence?.iteration : null;
  return Number.isInteger(stoppedAt) && stoppedAt >= 1 ? Math.min(ran, stoppedAt - 1) : ran;
}

export class Training {
  /** onChange(kind, payload) after progress, a finished or paused run, an error or a reset. */
  constructor({ onChange }) {
    this.onChange = onChange;
    this.reset();
  }

  reset() {
    this.stop();
    this.position = { params: null, optimizerState: null, iteration: 0 };
    this.history = { train: [], test: [] };
    this.boundary = null;
    this.boundaryIteration = null;
    this.result = null;
    this.resultStart = 0; // the iteration the run that gave `result` started from
  }

  get running() {
    return this.run !== null && this.run !== undefined;
  }

  stop() {
    this.run?.controller.abort();
    this.run = null;
  }

  /** Where the next run (or iteration) starts: the body fields beyond the NetworkSpec. */
  startFields() {
    const fields = {};
    if (this.position.params) fields.params = this.position.params;
    if (this.position.optimizerState) fields.optimizer_state = this.position.optimizerState;
    // With a smaller batch, iteration k takes batch k of the run's seeded order, as one long run would.
    if (this.position.iteration > 0) fields.batch_index = this.position.iteration;
    return fields;
  }

  /** Move on to new parameters (one iteration stepped, or a run done). */
  moveTo(params, optimizerState, iteration) {
    this.position = { params, optimizerState: optimizerState ?? null, iteration };
  }

  addPoint(iteration, loss) {
    this.history.train.push({ x: iteration, y: loss });
  }

  /** Train `iterations` more from where the run stands. Resolves when it ends, pauses or fails. */
  async train(spec, iterations) {
    if (this.running) return;
    const start = this.position.iteration;
    const body = { ...spec, iterations, ...this.startFields() };
    const controller = new AbortController();
    const run = { controller, start, body, last: null, params: null, optimizerState: null };
    this.run = run;
    this.result = null;
    this.onChange("started", { start });
    try {
      await api.streamTrain(body, {
        signal: controller.signal,
        onEvent: ({ event, data }) => {
          if (this.run !== run || !data) return;
          if (event === "start") this.onChange("start", { params: data.params ?? null });
          else if (event === "progress") this.progress(run, data);
          else if (event === "done") this.done(run, data);
          else if (event === "error") throw Object.assign(new Error(data?.error?.message ?? "error"), { envelope: data });
        },
      });
      if (this.run === run) {
        this.run = null;
        if (!this.result) this.onChange("ended", {});
      }
    } catch (error) {
      if (error?.name === "AbortError") return;
      if (this.run === run) this.run = null;
      const envelope = error?.envelope?.error;
      this.onChange("error", envelope ? Object.assign(new Error(envelope.message), { code: envelope.code, where: envelope.where }) : error);
    }
  }

  progress(run, data) {
    const iteration = run.start + (data.iteration ?? 0);
    run.last = iteration;
    const points = historyPoints(data.history, run.start);
    this.history.train.push(...points.train);
    this.history.test.push(...points.test);
    if (data.boundary) {
      this.boundary = data.boundary;
      this.boundaryIteration = iteration;
    }
    if (data.params) {
      run.params = data.params;
      run.paramsIteration = iteration;
      run.optimizerState = data.optimizer?.state ?? null;
    }
    this.onChange("progress", { iteration, data });
  }

  done(run, result) {
    this.result = result;
    this.resultStart = run.start;
    const ran = updatesDone(result);
    const before = { train: this.history.train.filter((p) => p.x <= run.start), test: this.history.test.filter((p) => p.x <= run.start) };
    const points = historyPoints(result.history, run.start, result.divergence);
    this.history = { train: before.train.concat(points.train), test: before.test.concat(points.test) };
    if (result.boundary) {
      this.boundary = result.boundary;
      this.boundaryIteration = run.start + ran;
    }
    if (result.params) this.moveTo(result.params, result.optimizer?.state ?? result.optimizer_state, run.start + ran);
    this.run = null;
    this.onChange("done", { result });
  }

  /**
   * Stop the run and stand exactly where it was: the parameters of the last iteration reported, from
   * the stream when it sends them, else by training the same seeded run to that iteration again.
   */
  async pause(spec) {
    const run = this.run;
    if (!run) return;
    this.stop();
    const reached = run.last ?? run.start;
    if (reached === run.start) {
      this.onChange("paused", { iteration: reached });
      return;
    }
    if (run.params) {
      // The stream sends small nets' parameters with each boundary: stand where they were sent.
      const at = run.paramsIteration;
      this.moveTo(run.params, run.optimizerState, at);
      this.history = { train: this.history.train.filter((p) => p.x <= at), test: this.history.test.filter((p) => p.x <= at) };
      this.onChange("paused", { iteration: at });
      return;
    }
    this.onChange("pausing", { iteration: reached });
    try {
      const result = await api.postTrain({ ...run.body, iterations: reached - run.start });
      const ran = updatesDone(result, reached - run.start);
      this.moveTo(result.params, result.optimizer?.state ?? result.optimizer_state, run.start + ran);
      const points = historyPoints(result.history, run.start);
      const before = { train: this.history.train.filter((p) => p.x <= run.start), test: this.history.test.filter((p) => p.x <= run.start) };
      this.history = { train: before.train.concat(points.train), test: before.test.concat(points.test) };
      if (result.boundary) {
        this.boundary = result.boundary;
        this.boundaryIteration = run.start + ran;
      }
      this.result = result.status === "diverged" ? result : null;
      this.resultStart = run.start;
      this.onChange("paused", { iteration: run.start + ran, result });
    } catch (error) {
      this.onChange("error", error);
    }
  }
}
