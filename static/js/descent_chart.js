// A small SVG line chart with d3 for the descent page: loss curves, the Taylor comparison and the
// one-parameter view. It draws what it is given: series of {x, y} points (a null or non-finite y is a
// gap), vertical marks (the current step, the current rate) and highlighted points.
import * as d3 from "/static/vendor/d3/d3.mjs";
import { formatNumber } from "./format.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const MARGIN = { top: 12, right: 14, bottom: 34, left: 62 };
const MIN_TICK_GAP = 22;
const MIN_WIDTH = 280;
const MAX_WIDTH = 640;
export const SYMBOLS = {
  circle: d3.symbolCircle, square: d3.symbolSquare, triangle: d3.symbolTriangle, diamond: d3.symbolDiamond,
  cross: d3.symbolCross, star: d3.symbolStar, wye: d3.symbolWye,
};

/** A tick label function with just enough digits that neighbouring ticks read differently. */
export function tickFormat(ticks) {
  const sorted = [...ticks].sort((p, q) => p - q);
  let step = Infinity;
  for (let i = 1; i < sorted.length; i += 1) step = Math.min(step, sorted[i] - sorted[i - 1]);
  const largest = Math.max(...sorted.map(Math.abs), 0);
  const digits = Number.isFinite(step) && step > 0 && largest > 0
    ? Math.min(Math.max(Math.ceil(Math.log10(largest / step)) + 1, 2), 8) : 3;
  return (value) => formatNumber(value, digits);
}

const finite = (point) => point.y !== null && Number.isFinite(point.y) && Number.isFinite(point.x);

function powerTicks(low, high) {
  const ticks = low <= 0 && high >= 0 ? [0] : [];
  const top = Math.ceil(Math.log10(Math.max(Math.abs(low), Math.abs(high), 1)));
  for (let k = top; k >= -3; k -= 1) ticks.push(10 ** k, -(10 ** k));
  return ticks.filter((tick) => tick >= low && tick <= high);
}

function spaced(ticks, scale) {
  const kept = [];
  for (const tick of ticks) {
    if (kept.every((other) => Math.abs(scale(other) - scale(tick)) >= MIN_TICK_GAP)) kept.push(tick);
  }
  return kept;
}

/**
 * One path with `type` drawn at every [px, py] point: markers as a single element, not one each (the
 * browser styles, lays out and paints hundreds of them on every redraw otherwise). Null for no points.
 */
export function symbolsAt(type, size, points) {
  if (points.length === 0) return null;
  const path = d3.path();
  let dx = 0;
  let dy = 0;
  // d3's symbol types draw around (0, 0) with these five calls; this context moves them to (dx, dy).
  const shifted = {
    moveTo: (px, py) => path.moveTo(px + dx, py + dy),
    lineTo: (px, py) => path.lineTo(px + dx, py + dy),
    arc: (px, py, r, from, to, anticlockwise) => path.arc(px + dx, py + dy, r, from, to, anticlockwise),
    rect: (px, py, w, h) => path.rect(px + dx, py + dy, w, h),
    closePath: () => path.closePath(),
  };
  for (const [px, py] of points) {
    dx = px;
    dy = py;
    type.draw(shifted, size);
  }
  return path.toString();
}

// Each chart keeps its skeleton (axes, labels, clip, layers) and is redrawn by setting attributes: a
// slider dragged over the loss curves rebuilds no elements it does not have to.
const SKELETONS = new WeakMap();

/** The chart's SVG in its box, with its parts made once: {svg, root, clipRect, xAxis, yAxis, ...}. */
function skeleton(box) {
  let svg = box.querySelector("svg.chart");
  const known = svg && SKELETONS.get(svg);
  if (known) return known;
  if (!svg) {
    svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("class", "chart");
    svg.setAttribute("role", "img");
    box.append(svg);
  }
  const root = d3.select(svg);
  root.selectAll("*").remove();
  const clipId = `clip-${box.dataset.testid ?? Math.random().toString(36).slice(2)}`;
  const parts = {
    svg,
    root,
    clipRect: root.append("clipPath").attr("id", clipId).append("rect"),
    xAxis: root.append("g").attr("class", "axis x-axis"),
    yAxis: root.append("g").attr("class", "axis y-axis"),
    xLabel: root.append("text").attr("class", "axis-label").attr("text-anchor", "middle"),
    yLabel: root.append("text").attr("class", "axis-label").attr("text-anchor", "middle"),
    zero: root.append("line").attr("class", "zero-line"),
  };
  const plot = root.append("g").attr("clip-path", `url(#${clipId})`);
  parts.plot = plot;
  parts.marks = plot.append("g").attr("class", "marks");
  parts.series = plot.append("g").attr("class", "series-layer");
  parts.dots = plot.append("g").attr("class", "dots");
  SKELETONS.set(svg, parts);
  return parts;
}

/** The finite stretches of a series, each drawn as its own line: a non-finite y is a gap. */
function stretches(points) {
  const runs = [];
  let current = [];
  for (const point of points) {
    if (finite(point)) current.push(point);
    else if (current.length) {
      runs.push(current);
      current = [];
    }
  }
  if (current.length) runs.push(current);
  return runs;
}

/**
 * drawChart(box, {series: [{key, colour, dash, symbol, points, pointEvery}], marks: [{x, className, text}],
 *                 dots: [{x, y, className, symbol, testid}], xLabel, yLabel, label, xDomain, yDomain,
 *                 integerX, symlog: null | the constant of a symmetric-log y axis, aspect, width?})
 * The drawing is as wide as its box (so its text keeps its size on a phone) and aspect × as tall.
 * A symmetric-log y axis (linear near zero, logarithmic beyond) suits a loss that blows up.
 */
export function drawChart(box, options) {
  const { series, marks = [], dots = [], xLabel = "", yLabel = "", label = "", integerX = false,
    symlog = null, aspect = 0.56 } = options;
  // NOTE: reading clientWidth right after other drawing forces a layout; a caller that watches the box's
  // width (a ResizeObserver) passes it instead.
  const width = Math.round(Math.min(Math.max(options.width || box.clientWidth || 360, MIN_WIDTH), MAX_WIDTH));
  const height = Math.round(Math.min(Math.max(width * aspect, 170), 260));
  const parts = skeleton(box);
  const { svg, root } = parts;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("aria-label", label);

  const lines = series.map((one) => stretches(one.points));
  let [xLow, xHigh] = [Infinity, -Infinity];
  let [yLow, yHigh] = [Infinity, -Infinity];
  const extend = (point) => {
    if (point.x < xLow) xLow = point.x;
    if (point.x > xHigh) xHigh = point.x;
    if (point.y < yLow) yLow = point.y;
    if (point.y > yHigh) yHigh = point.y;
  };
  for (const runs of lines) for (const run of runs) for (const point of run) extend(point);
  for (const dot of dots) if (finite(dot)) extend(dot);
  // Nothing finite to draw: an empty chart.
  root.attr("display", xLow <= xHigh ? null : "none");
  if (!(xLow <= xHigh)) return svg;

  if (options.xDomain) [xLow, xHigh] = options.xDomain;
  if (options.yDomain) [yLow, yHigh] = options.yDomain;
  if (yLow === yHigh) {
    const pad = Math.abs(yLow) * 0.1 || 1;
    [yLow, yHigh] = [yLow - pad, yHigh + pad];
  }
  const x = d3.scaleLinear().domain([xLow, xHigh > xLow ? xHigh : xLow + 1])
    .range([MARGIN.left, width - MARGIN.right]);
  const wide = symlog !== null && symlog > 0;
  const y = (wide ? d3.scaleSymlog().constant(symlog) : d3.scaleLinear())
    .domain([yLow, yHigh]).range([height - MARGIN.bottom, MARGIN.top]);
  if (!wide) y.nice(4);
  const yTicks = wide ? spaced(powerTicks(yLow, yHigh), y) : y.ticks(4);
  let xTicks = x.ticks(5);
  if (integerX) xTicks = xTicks.filter(Number.isInteger);

  parts.clipRect.attr("x", MARGIN.left).attr("y", MARGIN.top - 4)
    .attr("width", width - MARGIN.left - MARGIN.right).attr("height", height - MARGIN.top - MARGIN.bottom + 8);
  parts.xAxis.attr("transform", `translate(0,${height - MARGIN.bottom})`)
    .call(d3.axisBottom(x).tickValues(xTicks).tickFormat(tickFormat(xTicks)).tickSizeOuter(0));
  parts.yAxis.attr("transform", `translate(${MARGIN.left},0)`)
    .call(d3.axisLeft(y).tickValues(yTicks).tickFormat(wide ? (value) => formatNumber(value, 3) : tickFormat(yTicks))
      .tickSizeOuter(0));
  parts.xLabel.attr("display", xLabel ? null : "none").attr("x", (MARGIN.left + width - MARGIN.right) / 2)
    .attr("y", height - 3).text(xLabel);
  parts.yLabel.attr("display", yLabel ? null : "none")
    .attr("transform", `translate(12,${(MARGIN.top + height - MARGIN.bottom) / 2}) rotate(-90)`).text(yLabel);
  const crossesZero = y.domain()[0] < 0 && y.domain()[1] > 0;
  parts.zero.attr("display", crossesZero ? null : "none").attr("x1", MARGIN.left).attr("x2", width - MARGIN.right)
    .attr("y1", crossesZero ? y(0) : 0).attr("y2", crossesZero ? y(0) : 0);

  parts.marks.selectAll("g.mark").data(marks.filter((mark) => Number.isFinite(mark.x))).join((enter) => {
    const group = enter.append("g");
    group.append("line");
    group.append("text");
    return group;
  }).each(function drawMark(mark) {
    const group = d3.select(this).attr("class", `mark ${mark.className ?? ""}`);
    group.select("line").attr("x1", x(mark.x)).attr("x2", x(mark.x))
      .attr("y1", MARGIN.top).attr("y2", height - MARGIN.bottom);
    const right = x(mark.x) > (MARGIN.left + width - MARGIN.right) / 2;
    group.select("text").attr("display", mark.text ? null : "none").attr("x", x(mark.x) + (right ? -4 : 4))
      .attr("y", MARGIN.top + 10).attr("text-anchor", right ? "end" : "start").text(mark.text ?? "");
  });

  const line = d3.line().x((point) => x(point.x)).y((point) => y(point.y));
  parts.series.selectAll("g.series").data(series, (one) => one.key).join("g").each(function drawSeries(one, i) {
    const group = d3.select(this).attr("class", `series ${one.className ?? ""}`).attr("data-series", one.key);
    group.selectAll("path.line").data(lines[i]).join("path").attr("class", "line").attr("d", line)
      .attr("stroke", one.colour ?? "#1b1f24").attr("stroke-dasharray", one.dash || null);
    const every = Math.max(1, one.pointEvery ?? 1);
    const marked = [];
    if (one.symbol) {
      let k = 0;
      for (const point of one.points) {
        if (!finite(point)) continue;
        if (k % every === 0) marked.push([x(point.x), y(point.y)]);
        k += 1;
      }
    }
    group.selectAll("path.point").data(marked.length ? [marked] : []).join("path").attr("class", "point")
      .attr("d", (points) => symbolsAt(SYMBOLS[one.symbol] ?? d3.symbolCircle, 30, points))
      .attr("fill", one.colour ?? null).attr("data-count", (points) => String(points.length));
  }).order();

  parts.dots.selectAll("path.dot").data(dots.filter(finite)).join("path").each(function drawDot(dot) {
    d3.select(this).attr("class", `dot ${dot.className ?? ""}`)
      .attr("transform", `translate(${x(dot.x)},${y(dot.y)})`)
      .attr("d", d3.symbol(SYMBOLS[dot.symbol] ?? d3.symbolCircle, dot.size ?? 60)())
      .attr("fill", dot.colour ?? null).attr("data-testid", dot.testid ?? null);
  });
  return svg;
}

/** A small picture of one series' look (its dash and marker), for legends: never colour alone. */
export function swatch({ colour, dash, symbol }, { width = 36, height = 16 } = {}) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", "swatch");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("aria-hidden", "true");
  const root = d3.select(svg);
  const line = root.append("line").attr("x1", 1).attr("x2", width - 1).attr("y1", height / 2).attr("y2", height / 2)
    .attr("stroke", colour ?? "currentColor").attr("stroke-width", 2.5);
  if (dash) line.attr("stroke-dasharray", dash);
  if (symbol) {
    root.append("path").attr("d", d3.symbol(SYMBOLS[symbol] ?? d3.symbolCircle, 44)())
      .attr("transform", `translate(${width / 2},${height / 2})`).attr("fill", colour ?? "currentColor")
      .attr("stroke", "#ffffff").attr("stroke-width", 1);
  }
  return svg;
}
