// A small line chart in SVG with d3: a few series of {x, y} points over shared axes. It draws what it
// is given; the caller decides what the numbers mean. Points with a null or non-finite y are gaps.
import * as d3 from "/static/vendor/d3/d3.mjs";
import { formatNumber } from "./format.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 320;
const HEIGHT = 180;
const MARGIN = { top: 10, right: 12, bottom: 30, left: 52 };
const SYMBOLS = { circle: d3.symbolCircle, diamond: d3.symbolDiamond, square: d3.symbolSquare };

const WIDE = 1e4;
const MIN_TICK_GAP = 22;

const finite = (point) => point.y !== null && Number.isFinite(point.y);

/** 0 and ±10^k inside [low, high], the largest powers first. */
function powerTicks(low, high) {
  const ticks = low <= 0 && high >= 0 ? [0] : [];
  const top = Math.ceil(Math.log10(Math.max(Math.abs(low), Math.abs(high))));
  for (let k = top; k >= 0; k -= 1) ticks.push(10 ** k, -(10 ** k));
  return ticks.filter((tick) => tick >= low && tick <= high);
}

/** Keep ticks, in the order given, that stand at least MIN_TICK_GAP px from every tick kept. */
function spaced(ticks, scale) {
  const kept = [];
  for (const tick of ticks) {
    if (kept.every((other) => Math.abs(scale(other) - scale(tick)) >= MIN_TICK_GAP)) kept.push(tick);
  }
  return kept;
}

/**
 * drawLineChart(box, {series: [{key, className, symbol: "circle"|"diamond", dashed, points: [{x, y}]}],
 *                     xLabel, label})
 * The SVG scales with its box (viewBox); `label` is its accessible name.
 */
export function drawLineChart(box, { series, xLabel = "", label = "" }) {
  let svg = box.querySelector("svg.chart");
  if (!svg) {
    svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("class", "chart");
    svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
    svg.setAttribute("role", "img");
    box.append(svg);
  }
  svg.setAttribute("aria-label", label);
  const root = d3.select(svg);
  root.selectAll("*").remove();

  const shown = series.map((one) => ({ ...one, points: one.points.filter(finite) }));
  const all = shown.flatMap((one) => one.points);
  if (all.length === 0) return svg;

  const [xLow, xHigh] = d3.extent(all, (point) => point.x);
  let [yLow, yHigh] = d3.extent(all, (point) => point.y);
  if (yLow === yHigh) {
    const pad = Math.abs(yLow) * 0.1 || 1;
    [yLow, yHigh] = [yLow - pad, yHigh + pad];
  }
  const x = d3.scaleLinear().domain([xLow, Math.max(xHigh, xLow + 1)])
    .range([MARGIN.left, WIDTH - MARGIN.right]);
  // Numbers over many orders of magnitude (a diverging loss) get a symmetric log axis: linear near
  // zero, logarithmic beyond, negative values allowed.
  const smallest = d3.min(all, (point) => Math.abs(point.y) || null) ?? 1;
  const wide = Math.max(Math.abs(yLow), Math.abs(yHigh)) / Math.max(smallest, 1) > WIDE;
  const y = (wide ? d3.scaleSymlog() : d3.scaleLinear()).domain([yLow, yHigh])
    .range([HEIGHT - MARGIN.bottom, MARGIN.top]);
  if (!wide) y.nice(4);
  const yTicks = wide ? spaced(powerTicks(yLow, yHigh), y) : y.ticks(4);

  const xTicks = x.ticks(Math.min(6, Math.max(1, xHigh - xLow))).filter(Number.isInteger);
  root.append("g").attr("class", "axis x-axis")
    .attr("transform", `translate(0,${HEIGHT - MARGIN.bottom})`)
    .call(d3.axisBottom(x).tickValues(xTicks).tickFormat((value) => formatNumber(value)).tickSizeOuter(0));
  root.append("g").attr("class", "axis y-axis")
    .attr("transform", `translate(${MARGIN.left},0)`)
    .call(d3.axisLeft(y).tickValues(yTicks).tickFormat((value) => formatNumber(value)).tickSizeOuter(0));
  if (xLabel) {
    root.append("text").attr("class", "axis-label")
      .attr("x", (MARGIN.left + WIDTH - MARGIN.right) / 2).attr("y", HEIGHT - 2)
      .attr("text-anchor", "middle").text(xLabel);
  }
  if (y.domain()[0] < 0 && y.domain()[1] > 0) {
    root.append("line").attr("class", "zero-line")
      .attr("x1", MARGIN.left).attr("x2", WIDTH - MARGIN.right).attr("y1", y(0)).attr("y2", y(0));
  }

  const line = d3.line().defined(finite).x((point) => x(point.x)).y((point) => y(point.y));
  for (const one of series) {
    const group = root.append("g").attr("class", `series ${one.className ?? ""}`).attr("data-series", one.key);
    group.append("path").attr("class", one.dashed ? "line dashed" : "line").attr("d", line(one.points));
    const symbol = d3.symbol(SYMBOLS[one.symbol] ?? d3.symbolCircle, 36);
    group.selectAll("path.point").data(one.points.filter(finite)).join("path")
      .attr("class", "point")
      .attr("transform", (point) => `translate(${x(point.x)},${y(point.y)})`)
      .attr("d", symbol);
  }
  return svg;
}
