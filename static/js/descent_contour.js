// The contour plot: the loss surface as filled contours (d3.contours over the server's grid), every
// optimizer's path up to the step shown, the gradient arrow at the followed point, the start marker
// and divergence markers. A click (or tap) on the plot picks a new start. Every number drawn is also
// kept, in ASCII, in data attributes for tests and screen readers' titles.
//
// Redrawing is the hot path (a slider moved, a step played): the contours sit in a layer of their own,
// drawn once per surface, and each run keeps its four elements, whose attributes are set again.
import * as d3 from "/static/vendor/d3/d3.mjs";
import { SYMBOLS, symbolsAt, tickFormat } from "./descent_chart.js";
import { formatNumber } from "./format.js";

const WIDTH = 560;
const MARGIN = { top: 10, right: 12, bottom: 50, left: 48 };
const LEVELS = 18;
const ARROW_PX = 56;
const MAX_MARKERS = 120;
const LOW = "#8fb9d6";
const MIDDLE = "#dce9f2";
const HIGH = "#fdfcf7";

export const isPoint = (point) => Array.isArray(point) && point.length === 2
  && Number.isFinite(point[0]) && Number.isFinite(point[1]);

/** Contour levels at quantiles (k/N)^2 of the finite values: dense near the minimum, one ring per band. */
function levels(values) {
  const sorted = values.filter(Number.isFinite).sort((p, q) => p - q);
  if (sorted.length === 0) return [];
  const chosen = [];
  for (let k = 1; k < LEVELS; k += 1) chosen.push(d3.quantileSorted(sorted, (k / LEVELS) ** 2));
  return [...new Set(chosen)].filter(Number.isFinite);
}

export class ContourPlot {
  /** svg: the <svg> element; onPick([a, b]) is called when the user clicks a point of the plot. */
  constructor(svg, { onPick }) {
    this.svg = svg;
    this.root = d3.select(svg);
    this.onPick = onPick;
    this.x = null;
    this.y = null;
    this.box = null;
    const defs = this.root.append("defs");
    const hatch = defs.append("pattern").attr("id", "nonfinite-hatch").attr("patternUnits", "userSpaceOnUse")
      .attr("width", 8).attr("height", 8).attr("patternTransform", "rotate(45)");
    hatch.append("rect").attr("width", 8).attr("height", 8).attr("class", "hatch-back");
    hatch.append("line").attr("x1", 0).attr("y1", 0).attr("x2", 0).attr("y2", 8).attr("class", "hatch-line");
    defs.append("marker").attr("id", "arrow-head").attr("viewBox", "0 0 10 10").attr("refX", 8).attr("refY", 5)
      .attr("markerWidth", 7).attr("markerHeight", 7).attr("orient", "auto-start-reverse")
      .append("path").attr("d", "M0,0 L10,5 L0,10 z").attr("class", "arrow-head");
    defs.append("clipPath").attr("id", "plot-clip").append("rect").attr("class", "clip-rect");
    // NOTE: its own compositing layer (will-change, set through the CSSOM as the CSP allows): thousands of
    // contour vertices are rasterised once per surface, not again whenever a path or the start moves.
    const background = this.root.append("g").attr("class", "contour-background");
    background.node().style.willChange = "transform";
    this.layers = {
      fill: background.append("g").attr("class", "contour-fill").attr("clip-path", "url(#plot-clip)"),
      lines: background.append("g").attr("class", "contour-lines").attr("clip-path", "url(#plot-clip)"),
      nonFinite: background.append("g").attr("class", "non-finite").attr("clip-path", "url(#plot-clip)"),
      axes: background.append("g").attr("class", "axes"),
      minima: background.append("g").attr("class", "minima").attr("clip-path", "url(#plot-clip)"),
      runs: this.root.append("g").attr("class", "runs").attr("clip-path", "url(#plot-clip)"),
      arrow: this.root.append("g").attr("class", "gradient-arrow-layer"),
      start: this.root.append("g").attr("class", "start-layer"),
      warnings: this.root.append("g").attr("class", "warnings"),
    };
    svg.addEventListener("click", (event) => this.pick(event));
  }

  /** The surface: {xs, ys, values (rows along b), minima, box}. Returns whether any value was not finite. */
  drawSurface(surface, { axisLabels = ["a", "b"] } = {}) {
    const { xs, ys } = surface;
    const box = surface.box ?? [[xs[0], xs[xs.length - 1]], [ys[0], ys[ys.length - 1]]];
    this.box = box;
    const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
    const ratio = (box[1][1] - box[1][0]) / (box[0][1] - box[0][0]);
    // NOTE: equal scales on both axes, so the gradient arrow is drawn at right angles to the contours.
    const plotHeight = Math.round(plotWidth * Math.min(Math.max(ratio, 0.5), 1.25));
    const height = plotHeight + MARGIN.top + MARGIN.bottom;
    this.svg.setAttribute("viewBox", `0 0 ${WIDTH} ${height}`);
    this.x = d3.scaleLinear().domain(box[0]).range([MARGIN.left, MARGIN.left + plotWidth]);
    this.y = d3.scaleLinear().domain(box[1]).range([MARGIN.top + plotHeight, MARGIN.top]);
    this.root.select(".clip-rect").attr("x", MARGIN.left).attr("y", MARGIN.top)
      .attr("width", plotWidth).attr("height", plotHeight);

    const columns = xs.length;
    const rows = ys.length;
    const flat = new Float64Array(columns * rows);
    const mask = new Float64Array(columns * rows);
    let nonFinite = 0;
    surface.values.forEach((row, i) => row.forEach((value, j) => {
      const ok = value !== null && Number.isFinite(value);
      flat[i * columns + j] = ok ? value : Infinity;
      mask[i * columns + j] = ok ? 0 : 1;
      if (!ok) nonFinite += 1;
    }));
    // Grid coordinates put sample (i, j) at (j + 0.5, i + 0.5); map them back to (a, b).
    const stepA = columns > 1 ? (xs[columns - 1] - xs[0]) / (columns - 1) : 1;
    const stepB = rows > 1 ? (ys[rows - 1] - ys[0]) / (rows - 1) : 1;
    const { x, y } = this;
    const toData = d3.geoTransform({
      point(gx, gy) {
        this.stream.point(x(xs[0] + (gx - 0.5) * stepA), y(ys[0] + (gy - 0.5) * stepB));
      },
    });
    const path = d3.geoPath(toData);
    // The server suggests levels (spread over the values it computed); quantiles of the grid otherwise.
    const suggested = (surface.levels ?? []).filter(Number.isFinite);
    const thresholds = suggested.length ? [...new Set(suggested)].sort((p, q) => p - q) : levels(Array.from(flat));
    const contours = d3.contours().size([columns, rows]).thresholds(thresholds)(flat);
    const colour = d3.scaleSequential()
      .domain([0, Math.max(thresholds.length - 1, 1)])
      .interpolator(d3.piecewise(d3.interpolateRgb, [LOW, MIDDLE, HIGH]));

    this.layers.fill.selectAll("*").remove();
    this.layers.fill.append("rect").attr("class", "contour-base")
      .attr("x", MARGIN.left).attr("y", MARGIN.top).attr("width", plotWidth).attr("height", plotHeight)
      .attr("fill", LOW);
    this.layers.fill.selectAll("path").data(contours).join("path")
      .attr("d", path).attr("fill", (_, i) => colour(i));
    this.layers.lines.selectAll("*").remove();
    this.layers.lines.selectAll("path").data(contours).join("path")
      .attr("d", path).attr("data-level", (level) => String(level.value));
    this.layers.nonFinite.selectAll("*").remove();
    if (nonFinite > 0) {
      const holes = d3.contours().size([columns, rows]).thresholds([0.5])(mask);
      this.layers.nonFinite.selectAll("path").data(holes).join("path").attr("d", path)
        .attr("fill", "url(#nonfinite-hatch)").attr("data-testid", "non-finite-region");
    }

    const axes = this.layers.axes;
    axes.selectAll("*").remove();
    axes.append("g").attr("class", "axis").attr("transform", `translate(0,${MARGIN.top + plotHeight})`)
      .call(d3.axisBottom(this.x).ticks(6).tickFormat(tickFormat(this.x.ticks(6))).tickSizeOuter(0));
    axes.append("g").attr("class", "axis").attr("transform", `translate(${MARGIN.left},0)`)
      .call(d3.axisLeft(this.y).ticks(6).tickFormat(tickFormat(this.y.ticks(6))).tickSizeOuter(0));
    axes.append("text").attr("class", "axis-label").attr("x", MARGIN.left + plotWidth / 2)
      .attr("y", MARGIN.top + plotHeight + 46).attr("text-anchor", "middle").text(axisLabels[0]);
    axes.append("text").attr("class", "axis-label").attr("x", 12).attr("y", MARGIN.top + plotHeight / 2)
      .attr("text-anchor", "middle").text(axisLabels[1]);

    const minima = (surface.minima ?? []).filter(isPoint);
    this.layers.minima.selectAll("*").remove();
    this.layers.minima.selectAll("path").data(minima).join("path")
      .attr("class", "minimum").attr("data-testid", "minimum")
      .attr("transform", ([a, b]) => `translate(${this.x(a)},${this.y(b)})`)
      .attr("d", d3.symbol(d3.symbolStar, 110));
    this.svg.dataset.levels = String(thresholds.length);
    this.svg.dataset.nonFinite = String(nonFinite);
    return nonFinite > 0;
  }

  /** The dot where the user chose to start (moved, not redrawn, when only the start changes). */
  drawStart(start) {
    const layer = this.layers.start;
    if (!this.x || !isPoint(start)) {
      layer.selectAll("*").remove();
      return;
    }
    const [a, b] = start;
    let group = layer.select("g.start-marker");
    if (group.empty()) {
      group = layer.append("g").attr("class", "start-marker").attr("data-testid", "start-marker");
      group.append("circle").attr("r", 9).attr("class", "start-ring");
      group.append("circle").attr("r", 2.5).attr("class", "start-dot");
      group.append("title");
    }
    const transform = `translate(${this.x(a)},${this.y(b)})`;
    const same = group.attr("transform") === transform && group.attr("data-a") === String(a)
      && group.attr("data-b") === String(b);
    if (same) return;
    group.attr("data-a", String(a)).attr("data-b", String(b)).attr("transform", transform);
    group.select("title").text(`(${formatNumber(a)}, ${formatNumber(b)})`);
  }

  /**
   * runs: [{name, title, style: {colour, dash, symbol}, path, status, divergedAt}]; step: the step shown;
   * follow: {point, gradient} for the arrow (the gradient of the loss there), or null.
   */
  drawRuns(runs, step, follow) {
    const layer = this.layers.runs;
    this.layers.warnings.selectAll("*").remove();
    if (!this.x) {
      layer.selectAll("*").remove();
      return;
    }
    const groups = layer.selectAll("g.run").data(runs).join((enter) => {
      const group = enter.append("g");
      group.append("path").attr("class", "run-halo");
      group.append("path").attr("class", "run-line");
      group.append("path").attr("class", "run-point");
      group.append("path").attr("class", "run-current").append("title");
      return group;
    });
    const plot = this;
    groups.each(function draw(run) {
      plot.drawRun(this, run, step);
    });
    this.drawArrow(follow);
  }

  /** One run's group: its path up to the step (with a white halo), a marker every few steps, where it is now. */
  drawRun(node, run, step) {
    const last = Math.min(step, run.path.length - 1);
    let count = 0;
    while (count <= last && isPoint(run.path[count])) count += 1;
    const shown = run.path.slice(0, count);
    const current = shown[count - 1];
    const { x, y } = this;
    const diverged = run.divergedAt !== null && run.divergedAt !== undefined;
    const group = d3.select(node).attr("class", `run run-${run.name}`)
      .attr("data-optimizer", run.name).attr("data-status", run.status)
      .attr("data-points", String(count))
      .attr("data-start-a", String(run.path[0]?.[0])).attr("data-start-b", String(run.path[0]?.[1]))
      .attr("data-a", current ? String(current[0]) : null).attr("data-b", current ? String(current[1]) : null)
      .attr("data-diverged-at", diverged ? String(run.divergedAt) : null);
    const d = d3.line().x(([a]) => x(a)).y(([, b]) => y(b))(shown);
    group.select(".run-halo").attr("d", d);
    group.select(".run-line").attr("d", d)
      .attr("stroke", run.style.colour).attr("stroke-dasharray", run.style.dash || null);
    const every = Math.max(1, Math.ceil(count / MAX_MARKERS));
    const type = SYMBOLS[run.style.symbol] ?? d3.symbolCircle;
    const marked = [];
    for (let k = 0; k < count - 1; k += every) marked.push([x(shown[k][0]), y(shown[k][1])]);
    group.select(".run-point").attr("d", symbolsAt(type, 22, marked)).attr("fill", run.style.colour)
      .attr("data-markers", String(marked.length));
    const here = group.select(".run-current").attr("data-testid", current ? `current-${run.name}` : null)
      .attr("fill", run.style.colour)
      .attr("display", current ? null : "none");
    if (current) {
      here.attr("d", d3.symbol(type, 120)()).attr("transform", `translate(${x(current[0])},${y(current[1])})`);
      here.select("title").text(`${run.title}: (${formatNumber(current[0])}, ${formatNumber(current[1])})`);
    }
    if (diverged && step >= run.divergedAt) this.drawDivergence(run, shown);
  }

  /** A warning sign where the run left the finite world or blew up, kept inside the plot's frame. */
  drawDivergence(run, shown) {
    const point = isPoint(run.path[run.divergedAt]) ? run.path[run.divergedAt] : shown[shown.length - 1];
    if (!point) return;
    const [xLow, xHigh] = this.x.range();
    const [yHigh, yLow] = this.y.range();
    const px = Math.min(Math.max(this.x(point[0]), xLow + 12), xHigh - 12);
    const py = Math.min(Math.max(this.y(point[1]), yLow + 12), yHigh - 12);
    const group = this.layers.warnings.append("g").attr("class", "divergence-marker")
      .attr("data-testid", `divergence-marker-${run.name}`).attr("data-step", String(run.divergedAt))
      .attr("transform", `translate(${px},${py})`);
    group.append("path").attr("d", "M0,-13 L12,9 L-12,9 Z").attr("stroke", run.style.colour);
    group.append("text").attr("y", 6).attr("text-anchor", "middle").text("!");
    group.append("title").text(`${run.title} ⚠ ${run.divergedAt}`);
  }

  /** −∇L at the followed point, a fixed length on screen: the way down, at right angles to the contour. */
  drawArrow(follow) {
    const layer = this.layers.arrow;
    layer.selectAll("*").remove();
    if (!follow || !isPoint(follow.point) || !isPoint(follow.gradient)) return;
    const [ga, gb] = follow.gradient;
    const x0 = this.x(follow.point[0]);
    const y0 = this.y(follow.point[1]);
    // Screen direction of −g: y grows downwards on screen.
    const dx = -ga * Math.abs(this.x(1) - this.x(0));
    const dy = gb * Math.abs(this.y(1) - this.y(0));
    const size = Math.hypot(dx, dy);
    const group = layer.append("g").attr("class", "gradient-arrow").attr("data-testid", "gradient-arrow")
      .attr("data-ga", String(ga)).attr("data-gb", String(gb))
      .attr("data-a", String(follow.point[0])).attr("data-b", String(follow.point[1]));
    if (!(size > 0) || !Number.isFinite(size)) return;
    const x1 = x0 + (dx / size) * ARROW_PX;
    const y1 = y0 + (dy / size) * ARROW_PX;
    group.append("line").attr("class", "arrow-halo").attr("x1", x0).attr("y1", y0).attr("x2", x1).attr("y2", y1);
    group.append("line").attr("class", "arrow-line").attr("x1", x0).attr("y1", y0).attr("x2", x1).attr("y2", y1)
      .attr("marker-end", "url(#arrow-head)");
    group.append("text").attr("class", "arrow-label").attr("x", x1 + (dx / size) * 12).attr("y", y1 + (dy / size) * 12 + 4)
      .attr("text-anchor", "middle").text("−∇L");
  }

  /** A click inside the frame becomes a start (rounded to a thousandth of the box). */
  pick(event) {
    if (!this.x) return;
    const matrix = this.svg.getScreenCTM();
    if (!matrix) return;
    const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
    const [xLow, xHigh] = this.x.range();
    const [yHigh, yLow] = this.y.range();
    if (point.x < xLow || point.x > xHigh || point.y < yLow || point.y > yHigh) return;
    const round = (value, [low, high]) => {
      const unit = 10 ** Math.floor(Math.log10((high - low) / 1000));
      return Number((Math.round(value / unit) * unit).toPrecision(12));
    };
    this.onPick([round(this.x.invert(point.x), this.box[0]), round(this.y.invert(point.y), this.box[1])]);
  }
}
