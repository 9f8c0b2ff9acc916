// The data and what the network makes of it: points (shape and colour per class; test points hollow)
// over the decision boundary as a heatmap (a canvas under the SVG, one cell per grid point, the colour
// of the predicted class, stronger where the network is surer) with the boundary line as a contour,
// or for regression the fitted curve. Clicking adds a point when the data are the user's own.
import * as d3 from "/static/vendor/d3/d3.mjs";
import { formatNumber } from "./format.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 320;
const HEIGHT = 300;
const MARGIN = { top: 8, right: 8, bottom: 28, left: 40 };
// Okabe–Ito, one per class, with a shape each so the classes survive grey-scale and colour blindness.
export const CLASS_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
  "#000000", "#999999", "#8C510A"];
const CLASS_SYMBOLS = [d3.symbolCircle, d3.symbolSquare, d3.symbolTriangle, d3.symbolDiamond, d3.symbolCross,
  d3.symbolStar, d3.symbolWye, d3.symbolCircle, d3.symbolSquare, d3.symbolTriangle];
const POINT_AREA = 46;
let plots = 0;

const finite = (x) => typeof x === "number" && Number.isFinite(x);

function rgb(hex) {
  const value = Number.parseInt(hex.slice(1), 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

function paddedExtent(values, fallback) {
  const shown = values.filter(finite);
  if (shown.length === 0) return fallback;
  let [low, high] = d3.extent(shown);
  const margin = Math.max((high - low) * 0.1, 1e-3);
  [low, high] = [low - margin, high + margin];
  return [low, high];
}

export class DataPlot {
  /** onAdd(x, y) when the plot is clicked while adding points is on. */
  constructor(box, { onAdd, compact = false }) {
    this.box = box;
    this.onAdd = onAdd;
    this.adding = false;
    this.scales = null;
    const size = compact ? { width: 200, height: 190 } : { width: WIDTH, height: HEIGHT };
    this.width = size.width;
    this.height = size.height;
    this.stack = document.createElement("div");
    this.stack.className = "plot-stack";
    this.canvas = document.createElement("canvas");
    this.canvas.className = "heat";
    this.svg = document.createElementNS(SVG_NS, "svg");
    this.svg.setAttribute("class", "plot-svg");
    this.svg.setAttribute("viewBox", `0 0 ${this.width} ${this.height}`);
    this.svg.setAttribute("role", "img");
    this.stack.append(this.canvas, this.svg);
    box.replaceChildren(this.stack);
    const area = {
      left: MARGIN.left / this.width, top: MARGIN.top / this.height,
      width: (this.width - MARGIN.left - MARGIN.right) / this.width,
      height: (this.height - MARGIN.top - MARGIN.bottom) / this.height,
    };
    Object.assign(this.canvas.style, {
      left: `${area.left * 100}%`, top: `${area.top * 100}%`, width: `${area.width * 100}%`, height: `${area.height * 100}%`,
    });
    this.svg.addEventListener("click", (event) => this.click(event));
    plots += 1;
    this.clipId = `plot-clip-${plots}`;
  }

  setAdding(adding) {
    this.adding = adding;
    this.box.classList.toggle("adding", adding);
  }

  click(event) {
    if (!this.adding || !this.scales) return;
    const box = this.svg.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * this.width;
    const py = ((event.clientY - box.top) / box.height) * this.height;
    if (px < MARGIN.left || px > this.width - MARGIN.right || py < MARGIN.top || py > this.height - MARGIN.bottom) return;
    this.onAdd(this.scales.x.invert(px), this.scales.y.invert(py));
  }

  /**
   * data = {task, classes, points: [{x: [x1, x2?], y, test}], boundary: null | {kind: "grid", x1, x2,
   * probabilities, predicted} | {kind: "curve", x, y}, label, highlight: index of a training point to ring}
   */
  show(data) {
    const { task, points, boundary } = data;
    const regression = task === "regression";
    const xs = regression ? points.map((point) => point.x[0]) : points.map((point) => point.x[0]);
    const ys = regression ? points.map((point) => point.y) : points.map((point) => point.x[1]);
    let xDomain;
    let yDomain;
    if (!regression && boundary?.kind === "grid") {
      xDomain = [boundary.x1[0], boundary.x1.at(-1)];
      yDomain = [boundary.x2[0], boundary.x2.at(-1)];
    } else {
      xDomain = paddedExtent(xs.concat(boundary?.kind === "curve" ? boundary.x : []), [-1.5, 1.5]);
      const curve = boundary?.kind === "curve" ? boundary.y.filter(finite) : [];
      const pointRange = paddedExtent(ys, [-1.5, 1.5]);
      const spread = pointRange[1] - pointRange[0];
      yDomain = paddedExtent(ys.concat(curve.filter((v) => v > pointRange[0] - spread && v < pointRange[1] + spread)),
        [-1.5, 1.5]);
    }
    const x = d3.scaleLinear().domain(xDomain).range([MARGIN.left, this.width - MARGIN.right]);
    const y = d3.scaleLinear().domain(yDomain).range([this.height - MARGIN.bottom, MARGIN.top]);
    this.scales = { x, y };
    this.svg.setAttribute("aria-label", data.label ?? "");
    this.box.dataset.points = String(points.length);
    this.drawHeat(regression ? null : boundary, data.classes);

    const root = d3.select(this.svg);
    root.selectAll("*").remove();
    root.append("rect").attr("class", "plot-frame").attr("x", MARGIN.left).attr("y", MARGIN.top)
      .attr("width", this.width - MARGIN.left - MARGIN.right).attr("height", this.height - MARGIN.top - MARGIN.bottom);
    root.append("g").attr("class", "axis x-axis").attr("transform", `translate(0,${this.height - MARGIN.bottom})`)
      .call(d3.axisBottom(x).ticks(4).tickFormat((v) => formatNumber(v)).tickSizeOuter(0));
    root.append("g").attr("class", "axis y-axis").attr("transform", `translate(${MARGIN.left},0)`)
      .call(d3.axisLeft(y).ticks(4).tickFormat((v) => formatNumber(v)).tickSizeOuter(0));

    root.append("clipPath").attr("id", this.clipId).append("rect").attr("x", MARGIN.left).attr("y", MARGIN.top)
      .attr("width", this.width - MARGIN.left - MARGIN.right).attr("height", this.height - MARGIN.top - MARGIN.bottom);
    if (!regression && boundary?.kind === "grid") this.drawContour(root, boundary, x, y);
    if (regression && boundary?.kind === "curve") {
      const pairs = boundary.x.map((bx, i) => ({ x: bx, y: boundary.y[i] }));
      const visible = (v) => finite(v) && v >= yDomain[0] - (yDomain[1] - yDomain[0]) && v <= yDomain[1] + (yDomain[1] - yDomain[0]);
      root.append("path").attr("class", "fit").attr("clip-path", `url(#${this.clipId})`)
        .attr("d", d3.line().defined((p) => visible(p.y)).x((p) => x(p.x)).y((p) => y(p.y))(pairs));
      const mean = d3.mean(boundary.y.filter(finite));
      this.box.dataset.curveMean = mean === undefined ? "" : String(mean);
    } else {
      delete this.box.dataset.curveMean;
    }

    const ring = Number.isInteger(data.highlight) ? points.filter((point) => !point.test)[data.highlight] : null;
    this.box.dataset.highlight = ring ? String(data.highlight) : "";
    if (ring) {
      root.append("circle").attr("class", "sample-ring").attr("r", 9)
        .attr("cx", x(ring.x[0])).attr("cy", y(regression ? ring.y : ring.x[1]));
    }
    const inside = root.append("g").attr("class", "points");
    inside.selectAll("path").data(points).join("path")
      .attr("class", (point) => `point ${regression ? "class-0" : `class-${point.y}`}${point.test ? " test" : ""}`)
      .attr("transform", (point) => `translate(${x(point.x[0])},${y(regression ? point.y : point.x[1])})`)
      .attr("d", (point) => d3.symbol(regression ? d3.symbolCircle : CLASS_SYMBOLS[point.y % CLASS_SYMBOLS.length],
        POINT_AREA)());
  }

  drawHeat(boundary, classes) {
    const canvas = this.canvas;
    if (!boundary || boundary.kind !== "grid" || !Array.isArray(boundary.probabilities)) {
      canvas.hidden = true;
      this.box.dataset.boundary = "none";
      delete this.box.dataset.boundaryCounts;
      delete this.box.dataset.boundaryMean;
      return;
    }
    canvas.hidden = false;
    const probabilities = boundary.probabilities;
    const rows = boundary.x2.length;
    const columns = boundary.x1.length;
    canvas.width = columns;
    canvas.height = rows;
    const context = canvas.getContext("2d");
    const image = context.createImageData(columns, rows);
    const k = Math.max(probabilities.length, 2);
    const counts = new Array(probabilities.length).fill(0);
    let sure = 0;
    for (let r = 0; r < rows; r += 1) {
      for (let c = 0; c < columns; c += 1) {
        let best = 0;
        let top = -1;
        for (let cls = 0; cls < probabilities.length; cls += 1) {
          const p = probabilities[cls]?.[r]?.[c];
          if (finite(p) && p > top) {
            top = p;
            best = cls;
          }
        }
        counts[best] += 1;
        sure += top;
        const [red, green, blue] = rgb(CLASS_COLOURS[best % CLASS_COLOURS.length]);
        const strength = top < 0 ? 0 : 0.12 + 0.5 * Math.max(0, (top - 1 / k) / (1 - 1 / k));
        // row 0 of the grid is the lowest x2: the canvas's row 0 is at the top
        const at = ((rows - 1 - r) * columns + c) * 4;
        image.data[at] = Math.round(255 + (red - 255) * strength);
        image.data[at + 1] = Math.round(255 + (green - 255) * strength);
        image.data[at + 2] = Math.round(255 + (blue - 255) * strength);
        image.data[at + 3] = 255;
      }
    }
    context.putImageData(image, 0, 0);
    this.box.dataset.boundary = "grid";
    this.box.dataset.boundaryCounts = counts.join(",");
    this.box.dataset.boundaryMean = String(Number((sure / (rows * columns)).toPrecision(6)));
    this.box.dataset.classes = String(classes ?? probabilities.length);
  }

  /** The boundary line: where the predicted class changes (margin of a class over the others = 0). */
  drawContour(root, boundary, x, y) {
    const probabilities = boundary.probabilities;
    const rows = boundary.x2.length;
    const columns = boundary.x1.length;
    if (!Array.isArray(probabilities) || rows < 2 || columns < 2) return;
    const dx = (boundary.x1.at(-1) - boundary.x1[0]) / (columns - 1);
    const dy = (boundary.x2.at(-1) - boundary.x2[0]) / (rows - 1);
    const project = d3.geoTransform({
      point(gx, gy) {
        this.stream.point(x(boundary.x1[0] + (gx - 0.5) * dx), y(boundary.x2[0] + (gy - 0.5) * dy));
      },
    });
    const path = d3.geoPath(project);
    const lines = root.append("g").attr("class", "boundary-lines").attr("clip-path", `url(#${this.clipId})`);
    const classes = probabilities.length === 2 ? [1] : d3.range(probabilities.length);
    for (const cls of classes) {
      const margin = new Array(rows * columns);
      for (let r = 0; r < rows; r += 1) {
        for (let c = 0; c < columns; c += 1) {
          let others = -Infinity;
          for (let k = 0; k < probabilities.length; k += 1) {
            if (k !== cls) others = Math.max(others, probabilities[k]?.[r]?.[c] ?? 0);
          }
          const value = (probabilities[cls]?.[r]?.[c] ?? 0) - others;
          margin[r * columns + c] = finite(value) ? value : 0;
        }
      }
      const [contour] = d3.contours().size([columns, rows]).thresholds([0])(margin);
      if (contour?.coordinates?.length) lines.append("path").attr("class", "boundary-line").attr("d", path(contour));
    }
  }
}
