// The network drawn with d3: neurons in columns (input, hidden layers, output), every weight a line
// whose thickness is |w| and whose colour and dash say its sign (blue solid +, vermillion dashed −, so
// grey-scale keeps the difference); in backward mode the lines carry the gradients ∂L/∂w instead.
// In the neuron view one unit is in focus with the lines it uses. The drawing fits its box (zoom 1);
// it zooms (buttons, pinch, ctrl + wheel) and, zoomed in, pans (drag, or arrow keys when focused).
// Tests read data-weight / data-grad on the lines and data-value / data-grad on the neurons.
import * as d3 from "/static/vendor/d3/d3.mjs";
import { dataNumber, formatNumber, fullText } from "./format.js";
import { t } from "./i18n.js";

const MAX_SHOWN = 10; // units drawn per column; the rest are summarised as "+N"
const ROW = 46;
const TOP = 40;
const BOTTOM = 18;
const SIDE = 34;
const MIN_WIDTH = 40;
const THIN = 0.75;
const THICK = 6;
const MAX_SCALE = 8;
const PAN_STEP = 40;
const ZOOM_MS = 200;
const PAN_KEYS = { ArrowLeft: [1, 0], ArrowRight: [-1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };

const finite = (x) => typeof x === "number" && Number.isFinite(x);

/** The units of a column that are drawn: all of them, or the first MAX_SHOWN - 1 and a "+N". */
function shownUnits(count) {
  if (count <= MAX_SHOWN) return { units: d3.range(count), hidden: 0 };
  return { units: d3.range(MAX_SHOWN - 1), hidden: count - (MAX_SHOWN - 1) };
}

const cell = (matrix, i, j) => (Array.isArray(matrix) ? (Array.isArray(matrix[i]) ? matrix[i][j] : matrix[i]) : undefined);

export class NetworkDrawing {
  /** onLayer(l) when a layer's band is clicked. */
  constructor(svg, { onLayer }) {
    this.svg = svg;
    this.onLayer = onLayer;
    this.picture = null;
    this.width = 0;
    this.height = 0;
    this.shape = "";
    this.target = null; // the scale the zoom buttons last aimed at
    this.reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
    const root = d3.select(svg);
    this.viewport = root.append("g").attr("class", "viewport");
    // A page scrolls under a finger or a wheel: only two fingers, ctrl + wheel (a trackpad's pinch) or
    // the buttons zoom, and one finger or the mouse pans only once zoomed in.
    const zoomedIn = () => d3.zoomTransform(svg).k > 1.001;
    this.zoom = d3.zoom().scaleExtent([1, MAX_SCALE])
      .filter((event) => {
        if (event.type === "wheel") return event.ctrlKey || event.metaKey;
        if (event.type.startsWith("touch")) return event.touches.length > 1 || zoomedIn();
        return !event.button && !event.ctrlKey && zoomedIn();
      })
      .on("zoom", (event) => {
        if (event.sourceEvent) this.target = null; // a pinch or a drag: the buttons start from here
        this.viewport.attr("transform", event.transform);
        svg.dataset.zoom = String(Number(event.transform.k.toFixed(3)));
        const zoomed = event.transform.k > 1.001;
        svg.classList.toggle("zoomed", zoomed);
        // Zoomed in, the drawing is a tab stop, so that the arrow keys can pan it.
        if (zoomed) svg.setAttribute("tabindex", "0");
        else svg.removeAttribute("tabindex");
      });
    root.call(this.zoom).on("dblclick.zoom", null);
    svg.dataset.zoom = "1";
    svg.addEventListener("keydown", (event) => {
      const move = PAN_KEYS[event.key];
      if (!move || !zoomedIn() || event.altKey || event.ctrlKey || event.metaKey) return;
      event.preventDefault(); // the page's own arrow keys step the timeline: not while panning
      const k = d3.zoomTransform(svg).k;
      root.call(this.zoom.translateBy, (move[0] * PAN_STEP) / k, (move[1] * PAN_STEP) / k);
    });
    // A click on a layer's band, on one of its weights or on one of its neurons selects that layer.
    d3.select(svg).on("click", (event) => {
      const target = event.target.closest?.("[data-band], line.weight, g.neuron");
      if (!target) return;
      const layer = Number(target.dataset.band ?? target.dataset.layer);
      this.onLayer(Math.max(layer, 1));
    });
  }

  /**
   * picture = {sizes, activations, weights: {l: W}, biases: {l: b}, grads: {l: dW} (known ones),
   * biasGrads, values: {l: A column of the shown sample}, deltas: {l: dZ column}, mode: "forward" |
   * "backward" | "update" | "plain", active: l or null, selected: l or null, problem: {layer, units}}
   */
  draw(picture, width) {
    this.picture = picture;
    const previousWidth = this.width;
    this.width = Math.max(width || this.width || 600, 240);
    const { sizes } = picture;
    const columns = sizes.map((count) => shownUnits(count));
    const tallest = d3.max(columns, (column) => column.units.length + (column.hidden ? 1 : 0));
    const height = TOP + tallest * ROW + BOTTOM;
    const x = (l) => SIDE + (l * (this.width - 2 * SIDE)) / Math.max(sizes.length - 1, 1);
    const y = (column, k) => {
      const rows = column.units.length + (column.hidden ? 1 : 0);
      return TOP + (tallest - rows) * ROW / 2 + k * ROW + ROW / 2 - 6;
    };
    const radius = Math.max(7, Math.min(13, (this.width - 2 * SIDE) / Math.max(sizes.length - 1, 1) / 6));

    const svg = d3.select(this.svg);
    svg.attr("viewBox", `0 0 ${this.width} ${height}`).attr("width", this.width).attr("height", height)
      .attr("data-mode", picture.mode).attr("data-sizes", sizes.join("-"))
      .attr("data-focus", picture.focus ? `${picture.focus.layer}-${picture.focus.unit}` : null);
    const root = this.viewport;
    root.selectAll("*").remove();
    // A new network or a new box width is fitted again; a new stage keeps the zoom the student chose.
    const shape = sizes.join("-");
    this.zoom.extent([[0, 0], [this.width, height]]).translateExtent([[0, 0], [this.width, height]]);
    if (shape !== this.shape || this.width !== previousWidth || height !== this.height) this.fit(false);
    this.shape = shape;
    this.height = height;
    const focus = picture.focus ?? null;

    const gradMode = picture.mode === "backward";
    const magnitudes = [];
    for (let l = 1; l < sizes.length; l += 1) {
      const matrix = gradMode ? picture.grads?.[l] : picture.weights?.[l];
      if (!matrix) continue;
      for (const i of columns[l].units) for (const j of columns[l - 1].units) {
        const v = cell(matrix, i, j);
        if (finite(v)) magnitudes.push(Math.abs(v));
      }
    }
    const largest = d3.max(magnitudes) || 1;
    const thickness = (v) => (finite(v) ? THIN + (THICK - THIN) * Math.min(Math.abs(v) / largest, 1) : THIN);

    // bands: the click targets of layers 1..L (from the previous column to this one)
    const bands = root.append("g").attr("class", "bands");
    for (let l = 1; l < sizes.length; l += 1) {
      const left = (x(l - 1) + x(l)) / 2 + 4;
      const right = l === sizes.length - 1 ? this.width - 2 : (x(l) + x(l + 1)) / 2 - 4;
      const band = bands.append("rect").attr("class", "band").attr("data-band", l).attr("data-testid", `layer-band-${l}`)
        .attr("x", Math.min(left, x(l) - radius - 6)).attr("y", 2)
        .attr("width", Math.max(right - Math.min(left, x(l) - radius - 6), MIN_WIDTH)).attr("height", height - 4)
        .attr("rx", 6);
      band.classed("active", picture.active === l).classed("selected", picture.selected === l)
        .classed("diverged", picture.problem?.layer === l);
      band.append("title").text(t("net.band_title", { layer: String(l) }));
    }

    for (let l = 1; l < sizes.length; l += 1) {
      const weights = picture.weights?.[l];
      const grads = picture.grads?.[l];
      const group = root.append("g").attr("class", "weights").attr("data-layer", l)
        .classed("known-grad", Boolean(grads)).classed("current", picture.active === l);
      const lines = [];
      for (const i of columns[l].units) {
        for (const j of columns[l - 1].units) {
          lines.push({ i, j, w: cell(weights, i, j), g: grads ? cell(grads, i, j) : undefined });
        }
      }
      // In focus: the unit's incoming lines; backward also the outgoing ones its gradient comes back along.
      const inFocus = (d) => focus !== null && ((focus.layer === l && focus.unit === d.i)
        || (focus.phase === "backward" && focus.layer === l - 1 && focus.unit === d.j));
      group.selectAll("line").data(lines).join("line")
        .attr("class", (d) => {
          const shown = gradMode ? d.g : d.w;
          const sign = !finite(shown) ? "bad" : shown < 0 ? "neg" : "pos";
          const idle = gradMode && d.g === undefined ? " idle" : "";
          const lit = focus === null ? "" : inFocus(d) ? " focus" : " dim";
          return `weight ${sign}${gradMode ? " grad" : ""}${idle}${lit}`;
        })
        .attr("x1", x(l - 1)).attr("x2", x(l))
        .attr("y1", (d) => y(columns[l - 1], columns[l - 1].units.indexOf(d.j)))
        .attr("y2", (d) => y(columns[l], columns[l].units.indexOf(d.i)))
        .attr("stroke-width", (d) => (gradMode ? (d.g === undefined ? THIN : thickness(d.g)) : thickness(d.w)))
        .attr("data-layer", l).attr("data-from", (d) => d.j).attr("data-to", (d) => d.i)
        .attr("data-weight", (d) => (d.w === undefined ? "" : dataNumber(d.w)))
        .attr("data-grad", (d) => (d.g === undefined ? "" : dataNumber(d.g)))
        .append("title").text((d) => t(d.g === undefined ? "net.weight_title" : "net.weight_grad_title", {
          layer: String(l), from: String(d.j + 1), to: String(d.i + 1),
          weight: d.w === undefined ? "—" : fullText(d.w), grad: d.g === undefined ? "—" : fullText(d.g),
        }));
    }

    const names = root.append("g").attr("class", "column-labels");
    sizes.forEach((count, l) => {
      const name = l === 0 ? t("net.col_input", { units: String(count) })
        : l === sizes.length - 1 ? t("net.col_output") : t("net.col_layer", { layer: String(l) });
      const anchor = l === 0 ? "start" : l === sizes.length - 1 ? "end" : "middle";
      const dx = l === 0 ? -SIDE + 4 : l === sizes.length - 1 ? SIDE - 4 : 0;
      const label = names.append("text").attr("class", "column-label").attr("x", x(l) + dx).attr("y", 14)
        .attr("text-anchor", anchor);
      label.append("tspan").text(name);
      if (l > 0) label.append("tspan").attr("class", "activation").attr("x", x(l) + dx).attr("dy", 14)
        .text(picture.activations[l - 1] ?? "");
    });

    const neurons = root.append("g").attr("class", "neurons");
    sizes.forEach((count, l) => {
      const column = columns[l];
      const values = picture.values?.[l];
      const deltas = picture.deltas?.[l];
      const problemUnits = picture.problem?.layer === l ? picture.problem.units : null;
      column.units.forEach((unit, k) => {
        const value = values?.[unit];
        const delta = deltas?.[unit];
        const bias = l > 0 ? cell(picture.biases?.[l], unit, 0) : undefined;
        const biasGrad = l > 0 ? cell(picture.biasGrads?.[l], unit, 0) : undefined;
        const bad = (value !== undefined && !finite(value)) || (problemUnits !== null && problemUnits !== undefined
          && (problemUnits === "all" || problemUnits.includes(unit)));
        const focused = focus !== null && focus.layer === l && focus.unit === unit;
        const current = focus === null ? picture.active === l : focused;
        const node = neurons.append("g")
          .attr("class", `neuron${l === 0 ? " input" : ""}${bad ? " bad" : ""}${value !== undefined ? " has-value" : ""}`
            + `${gradMode && delta !== undefined ? " has-grad" : ""}${current ? " current" : ""}${focused ? " focus" : ""}`)
          .attr("data-layer", l).attr("data-unit", unit)
          .attr("data-value", value === undefined ? "" : dataNumber(value))
          .attr("data-grad", delta === undefined ? "" : dataNumber(delta))
          .attr("data-bias", bias === undefined ? "" : dataNumber(bias))
          .attr("data-bias-grad", biasGrad === undefined ? "" : dataNumber(biasGrad))
          .attr("transform", `translate(${x(l)},${y(column, k)})`);
        node.append("circle").attr("r", radius);
        if (bad) node.append("text").attr("class", "marker").attr("text-anchor", "middle").attr("dy", "0.35em").text("⚠");
        const shown = gradMode && delta !== undefined ? delta : value;
        if (shown !== undefined && column.units.length <= MAX_SHOWN) {
          node.append("text").attr("class", gradMode && delta !== undefined ? "neuron-grad" : "neuron-value")
            .attr("text-anchor", "middle").attr("y", radius + 12)
            .text(finite(shown) ? formatNumber(shown) : "⚠");
        }
        const lines = [l === 0 ? t("net.neuron_input", { unit: String(unit + 1) })
          : t("net.neuron_title", { layer: String(l), unit: String(unit + 1) })];
        if (value !== undefined) lines.push(t("net.neuron_value", { value: fullText(value) }));
        if (delta !== undefined) lines.push(t("net.neuron_delta", { value: fullText(delta) }));
        if (bias !== undefined) lines.push(t("net.neuron_bias", { value: fullText(bias) }));
        node.append("title").text(lines.join("\n"));
      });
      if (column.hidden) {
        neurons.append("text").attr("class", "more-units").attr("text-anchor", "middle")
          .attr("x", x(l)).attr("y", y(column, column.units.length) + 4)
          .text(t("net.more_units", { count: String(column.hidden) }));
      }
    });
    return this.svg;
  }

  /** Back to the whole network in the box (zoom 1). */
  fit(animate = true) {
    this.target = 1;
    this.transition(animate).call(this.zoom.transform, d3.zoomIdentity);
  }

  /** Zoom about the middle; quick presses add up (from the scale the last press aimed at). */
  zoomBy(factor) {
    const from = this.target ?? d3.zoomTransform(this.svg).k;
    this.target = Math.min(Math.max(from * factor, 1), MAX_SCALE);
    this.transition(true).call(this.zoom.scaleTo, this.target);
  }

  transition(animate) {
    const root = d3.select(this.svg);
    return animate && !this.reducedMotion.matches ? root.transition("zoom").duration(ZOOM_MS) : root;
  }
}
