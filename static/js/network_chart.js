// Loss curves in SVG with d3: a few series of {x, y} over shared axes, told apart without colour too
// (each series has its own dash pattern and marker shape, markers thinned to about a dozen). The y axis
// is logarithmic when every loss is positive, because a falling loss spans decades, and fits the losses
// shown; points with a null or non-finite y are gaps.
import * as d3 from "/static/vendor/d3/d3.mjs";
import { formatNumber } from "./format.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 360;
const HEIGHT = 200;
const MARGIN = { top: 10, right: 12, bottom: 32, left: 54 };
const MARKERS = 12;
const SYMBOLS = { circle: d3.symbolCircle, diamond: d3.symbolDiamond, square: d3.symbolSquare,
  triangle: d3.symbolTriangle, cross: d3.symbolCross };

// A log axis fits its data: padded by a fraction of the data's span in decades (never rounded out to whole
// decades: losses all near 0.4 would get an axis from 0.1 to 1), and at least MIN_DECADES tall.
const LOG_PADDING = 0.08;
const MIN_DECADES = 0.05;

/** [low, high] of a log axis for positive data from `low` to `high`. */
function logDomain(low, high) {
  const bottom = Math.log10(low);
  const top = Math.log10(high);
  const span = Math.max(top - bottom, MIN_DECADES);
  const middle = (bottom + top) / 2;
  const pad = span * LOG_PADDING;
  return [10 ** (middle - span / 2 - pad), 10 ** (middle + span / 2 + pad)];
}

/** At most about six log ticks: 1, 2 and 5 times a power of ten when there are more, then every k-th. */
function fewTicks(ticks) {
  let kept = ticks;
  if (kept.length > 6) {
    const leading = (tick) => Math.round(tick / 10 ** Math.floor(Math.log10(tick) + 1e-9));
    const round = kept.filter((tick) => [1, 2, 5].includes(leading(tick)));
    if (round.length >= 2) kept = round;
  }
  return kept.length <= 6 ? kept : kept.filter((_, i) => i % Math.ceil(kept.length / 5) === 0);
}

const finite = (point) => point.y !== null && point.y !== undefined && Number.isFinite(point.y);

/**
 * drawCurves(box, {series: [{key, className, symbol, points: [{x, y}]}], xLabel, label}): the chart
 * fills its box's width (viewBox); each series gets data-series=key and data-points=count.
 */
export function drawCurves(box, { series, xLabel = "", label = "", empty = "" }) {
  const shown = series.map((one) => ({ ...one, points: one.points.filter(finite) }));
  const all = shown.flatMap((one) => one.points);
  if (all.length === 0) {
    const note = document.createElement("p");
    note.className = "hint chart-empty";
    note.textContent = empty;
    box.replaceChildren(note);
    return null;
  }
  box.querySelector(".chart-empty")?.remove();
  let svg = box.querySelector("svg.chart");
  if (!svg) {
    svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("class", "chart curves");
    svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
    svg.setAttribute("role", "img");
    box.append(svg);
  }
  svg.setAttribute("aria-label", label);
  const root = d3.select(svg);
  root.selectAll("*").remove();

  const [xLow, xHigh] = d3.extent(all, (point) => point.x);
  let [yLow, yHigh] = d3.extent(all, (point) => point.y);
  const positive = yLow > 0;
  if (positive) {
    [yLow, yHigh] = logDomain(yLow, yHigh);
  } else if (yLow === yHigh) {
    [yLow, yHigh] = [yLow - 1, yHigh + 1];
  }
  const x = d3.scaleLinear().domain([xLow, Math.max(xHigh, xLow + 1)]).range([MARGIN.left, WIDTH - MARGIN.right]);
  const y = (positive ? d3.scaleLog() : d3.scaleSymlog()).domain([yLow, yHigh])
    .range([HEIGHT - MARGIN.bottom, MARGIN.top]);
  let yTicks;
  if (positive) {
    const [low, high] = y.domain();
    const decades = Math.log10(high / low);
    const powersOfTen = y.ticks().filter((tick) => Math.abs(Math.log10(tick) % 1) < 1e-9);
    yTicks = decades > 1.5 && powersOfTen.length >= 2 ? powersOfTen : fewTicks(y.ticks(4));
  } else {
    yTicks = y.ticks ? y.ticks(4) : [];
  }
  const xTicks = x.ticks(5).filter(Number.isInteger);
  root.append("g").attr("class", "axis x-axis").attr("transform", `translate(0,${HEIGHT - MARGIN.bottom})`)
    .call(d3.axisBottom(x).tickValues(xTicks).tickFormat((value) => formatNumber(value)).tickSizeOuter(0));
  root.append("g").attr("class", "axis y-axis").attr("transform", `translate(${MARGIN.left},0)`)
    .call(d3.axisLeft(y).tickValues(yTicks).tickFormat((value) => formatNumber(value)).tickSizeOuter(0));
  if (xLabel) {
    root.append("text").attr("class", "axis-label").attr("x", (MARGIN.left + WIDTH - MARGIN.right) / 2)
      .attr("y", HEIGHT - 2).attr("text-anchor", "middle").text(xLabel);
  }
  const line = d3.line().defined(finite).x((point) => x(point.x)).y((point) => y(point.y));
  series.forEach((one, k) => {
    const group = root.append("g").attr("class", `series ${one.className ?? ""}`).attr("data-series", one.key)
      .attr("data-points", String(one.points.filter(finite).length));
    group.append("path").attr("class", "line").attr("d", line(one.points));
    const points = one.points.filter(finite);
    // Markers thinned, and staggered between series so that curves lying on top of each other
    // still show every series' own marker.
    const every = Math.max(1, Math.ceil(points.length / MARKERS));
    const phase = Math.floor((every * k) / series.length);
    const marked = points.filter((_, i) => (i + phase) % every === 0 || i === points.length - 1);
    const symbol = d3.symbol(SYMBOLS[one.symbol] ?? d3.symbolCircle, 40);
    group.selectAll("path.point").data(marked).join("path").attr("class", "point")
      .attr("transform", (point) => `translate(${x(point.x)},${y(point.y)})`).attr("d", symbol);
  });
  return svg;
}

/** A key for the chart: one entry per series, its line and marker drawn as in the chart. */
export function drawKey(box, entries) {
  box.replaceChildren(...entries.map((entry) => {
    const item = document.createElement("span");
    item.className = `key-item ${entry.className ?? ""}`;
    const sample = document.createElementNS(SVG_NS, "svg");
    sample.setAttribute("viewBox", "0 0 36 12");
    sample.setAttribute("class", "key-sample");
    sample.setAttribute("aria-hidden", "true");
    const group = d3.select(sample).append("g").attr("class", `series ${entry.className ?? ""}`);
    group.append("path").attr("class", "line").attr("d", "M2,6H34");
    group.append("path").attr("class", "point").attr("transform", "translate(18,6)")
      .attr("d", d3.symbol(SYMBOLS[entry.symbol] ?? d3.symbolCircle, 30)());
    item.append(sample, document.createTextNode(entry.text));
    return item;
  }));
}
