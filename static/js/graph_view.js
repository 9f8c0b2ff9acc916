// The computational graph in SVG: boxes from the layout, drawn once per trace with d3; each step
// then only changes the nodes and edges whose shown state changed, and animates the step's
// movement (values flowing right, gradients flowing left) as an overlay that a newer step cancels.
import * as d3 from "/static/vendor/d3/d3.mjs";
import { dataNumber, formatNumber, formatOperand, formatValue, fullText, prettyFormula } from "./format.js";
import { t } from "./i18n.js";
import { LINE_HEIGHT, MAX_LABEL_CHARS, PADDING, isTensor } from "./layout.js";
import { PENDING, edgeKey } from "./replay.js";

const OK = "ok";
const NO_GRADIENT = "none";
const HEATMAP_ROWS = 4;
const HEATMAP_COLUMNS = 8;
const LABEL_CHAR_WIDTH = 6.6;
const MIN_SCALE = 0.002;
const MAX_SCALE = 4;
const MAX_FIT_SCALE = 1.6;
const DIAMOND = "M0,-6L6,0L0,6L-6,0Z";

const curve = d3.line().curve(d3.curveBasis);

function truncate(text, most) {
  const chars = [...String(text)];
  return chars.length <= most ? chars.join("") : `${chars.slice(0, most - 1).join("")}…`;
}

function shortNumber(value, status, shape) {
  if (status === PENDING) return "?";
  if (shape.length > 0) return `[${shape.join("×")}]${status === OK ? "" : " ⚠"}`;
  if (value === null || value === undefined) return `⚠ ${status === "nan" ? "NaN" : "∞"}`;
  return formatNumber(value);
}

/** A heatmap's cells: up to 4 rows of up to 8 columns, read from a vector or a matrix. */
function heatmapCells(value) {
  if (!Array.isArray(value)) return [];
  const rows = Array.isArray(value[0]) ? value.slice(0, HEATMAP_ROWS) : [value];
  return rows.flatMap((row, r) => row.slice(0, HEATMAP_COLUMNS).map((cell, c) => ({ r, c, cell })));
}

function heatColour(cell, biggest) {
  if (cell === null) return "#000000";
  if (biggest === 0) return d3.interpolatePuOr(0.5);
  return d3.interpolatePuOr(0.5 + 0.5 * Math.max(-1, Math.min(1, cell / biggest)));
}

function biggestMagnitude(value) {
  let biggest = 0;
  for (const { cell } of heatmapCells(value)) if (cell !== null) biggest = Math.max(biggest, Math.abs(cell));
  return biggest;
}

export class GraphView {
  constructor(svgElement, { onNodeClick } = {}) {
    this.svg = d3.select(svgElement);
    this.token = 0;
    this.trace = null;
    this.layout = null;
    this.shown = new Map(); // id -> the key of what the node shows now
    this.edgeShown = new Map(); // edge key -> the key of what the edge shows now
    this.onNodeClick = onNodeClick;
    this.defs = this.svg.append("defs");
    this.addMarker("arrow", "arrow");
    this.addMarker("arrow-value", "arrow value");
    this.addMarker("arrow-grad", "arrow grad", true);
    this.viewport = this.svg.append("g").attr("class", "viewport");
    this.edgeLayer = this.viewport.append("g").attr("class", "edges");
    this.nodeLayer = this.viewport.append("g").attr("class", "nodes");
    this.labelLayer = this.viewport.append("g").attr("class", "edge-labels");
    this.overlay = this.viewport.append("g").attr("class", "overlay");
    this.zoom = d3.zoom().scaleExtent([MIN_SCALE, MAX_SCALE])
      .on("zoom", (event) => this.viewport.attr("transform", event.transform));
    this.svg.call(this.zoom).on("dblclick.zoom", null);
  }

  addMarker(id, className, reverse = false) {
    this.defs.append("marker").attr("id", id).attr("class", className)
      .attr("viewBox", "0 0 10 10").attr("refX", 9).attr("refY", 5)
      .attr("markerWidth", 7).attr("markerHeight", 7)
      .attr("orient", reverse ? "auto-start-reverse" : "auto")
      .append("path").attr("d", "M0,0L10,5L0,10Z");
  }

  // ---- Drawing a trace ------------------------------------------------------------------------

  /** Build every node and edge of a laid-out trace (replacing what was there) and fit it. */
  draw(trace, layout) {
    this.cancel();
    this.trace = trace;
    this.layout = layout;
    this.byId = new Map(trace.nodes.map((node, i) => [node.id, { node, i }]));
    this.shown.clear();
    this.edgeShown.clear();
    this.edgeLabels = new Map();
    this.labelLayer.selectChildren().remove();
    this.overlay.selectChildren().remove();

    this.edgePaths = new Map();
    this.edgesInto = new Map();
    const edgeSelection = this.edgeLayer.selectChildren("path").data(layout.edges, (edge) => edge.key)
      .join("path")
      .attr("class", "edge")
      .attr("data-key", (edge) => edge.key)
      .attr("data-source", (edge) => edge.source)
      .attr("data-target", (edge) => edge.target)
      .attr("d", (edge) => curve(edge.points.map((p) => [p.x, p.y])))
      .attr("marker-end", "url(#arrow)");
    edgeSelection.each((edge, i, paths) => {
      this.edgePaths.set(edge.key, { edge, path: paths[i] });
      if (!this.edgesInto.has(edge.target)) this.edgesInto.set(edge.target, []);
      this.edgesInto.get(edge.target).push(edge.key);
    });

    this.nodeGroups = new Map();
    const output = trace.output;
    const groups = this.nodeLayer.selectChildren("g").data(trace.nodes, (node) => node.id)
      .join((enter) => enter.append("g"))
      .attr("class", (node) => `node role-${node.role}${node.id === output ? " output" : ""}`)
      .attr("data-node-id", (node) => node.id)
      .attr("data-label", (node) => node.label)
      .attr("data-op", (node) => node.op)
      .attr("transform", (node) => {
        const box = layout.nodes.get(node.id);
        return `translate(${box.x},${box.y})`;
      });
    groups.selectChildren().remove();
    groups.each((node, i, elements) => {
      const box = layout.nodes.get(node.id);
      const g = d3.select(elements[i]);
      this.nodeGroups.set(node.id, g);
      g.append("title");
      g.append("rect").attr("class", "node-box").attr("width", box.width).attr("height", box.height)
        .attr("rx", 6).attr("ry", 6);
      g.append("rect").attr("class", "value-bar").attr("width", 5).attr("height", box.height).attr("rx", 2);
      g.append("line").attr("class", "grad-bar").attr("x1", 6).attr("x2", box.width - 6)
        .attr("y1", box.height - 2).attr("y2", box.height - 2);
      const label = g.append("text").attr("class", "node-label").attr("x", PADDING + 2).attr("y", LINE_HEIGHT - 3);
      label.text(truncate(node.label, MAX_LABEL_CHARS));
      g.append("text").attr("class", "node-op").attr("x", box.width - PADDING).attr("y", LINE_HEIGHT - 3)
        .attr("text-anchor", "end")
        .text(node.op);
      g.append("text").attr("class", "node-value").attr("x", PADDING + 2).attr("y", 2 * LINE_HEIGHT);
      g.append("text").attr("class", "node-grad").attr("x", PADDING + 2).attr("y", 3 * LINE_HEIGHT);
      if (isTensor(node)) {
        const half = (box.width - 3 * PADDING) / 2;
        const top = 3 * LINE_HEIGHT + 6;
        for (const [kind, left] of [["value", PADDING], ["grad", 2 * PADDING + half]]) {
          const heatmap = g.append("g").attr("class", `heatmap heatmap-${kind}`)
            .attr("transform", `translate(${left},${top})`).attr("data-width", half);
          heatmap.append("rect").attr("class", "heatmap-frame").attr("x", -2).attr("y", -2)
            .attr("width", half + 3).attr("height", 31);
          heatmap.append("g").attr("class", "cells");
        }
      }
    });
    if (this.onNodeClick) groups.on("click", (event, node) => this.onNodeClick(node.id));
    this.fit(false);
  }

  /** The same structure with new numbers: keep the drawing, show everything afresh. */
  retrace(trace) {
    this.cancel();
    this.trace = trace;
    this.byId = new Map(trace.nodes.map((node, i) => [node.id, { node, i }]));
    this.forget();
  }

  /** Forget what each node shows, so the next update writes every node (after a language switch). */
  forget() {
    this.shown.clear();
    this.edgeShown.clear();
  }

  // ---- Zoom ---------------------------------------------------------------------------------

  size() {
    const box = this.svg.node().getBoundingClientRect();
    return { width: box.width || 1, height: box.height || 1 };
  }

  /** The box's height follows the graph's shape: no tall empty box for a wide graph on a phone. */
  fitHeight() {
    const { width } = this.size();
    const phone = width < 600;
    const natural = this.layout.height * Math.min(width / Math.max(this.layout.width, 1), MAX_FIT_SCALE) + 32;
    const most = Math.max(window.innerHeight * (phone ? 0.55 : 0.62), 280);
    const height = Math.round(Math.min(Math.max(natural, phone ? 220 : 320), most));
    if (Number(this.svg.attr("height")) !== height) this.svg.attr("height", height);
  }

  fit(animate = true) {
    if (!this.layout) return;
    this.fitHeight();
    const { width, height } = this.size();
    const graphWidth = Math.max(this.layout.width, 1);
    const graphHeight = Math.max(this.layout.height, 1);
    const scale = Math.max(Math.min(width / graphWidth, height / graphHeight, MAX_FIT_SCALE) * 0.94, MIN_SCALE);
    const transform = d3.zoomIdentity
      .translate((width - graphWidth * scale) / 2, (height - graphHeight * scale) / 2).scale(scale);
    (animate ? this.svg.transition("zoom").duration(250) : this.svg).call(this.zoom.transform, transform);
  }

  zoomBy(factor) {
    this.svg.transition("zoom").duration(200).call(this.zoom.scaleBy, factor);
  }

  /**
   * Pan (never zoom) so the node is on screen, when it is not: in one jump, placing it a quarter in
   * from the side the pass is heading away from, so the next steps stay on screen too.
   */
  reveal(id, phase) {
    const box = this.layout?.nodes.get(id);
    if (!box) return;
    const transform = d3.zoomTransform(this.svg.node());
    const { width, height } = this.size();
    const [left, top] = transform.apply([box.x, box.y]);
    const [right, bottom] = transform.apply([box.x + box.width, box.y + box.height]);
    if (left >= 0 && top >= 0 && right <= width && bottom <= height) return;
    const at = [phase === "backward" ? width * 0.75 : width * 0.25, height / 2];
    this.svg.call(this.zoom.translateTo, box.x + box.width / 2, box.y + box.height / 2, at);
  }

  // ---- One step -----------------------------------------------------------------------------

  /** Stop whatever a previous step was still animating and settle its elements. */
  cancel() {
    this.token += 1;
    this.overlay.selectAll("*").interrupt("step");
    this.overlay.selectChildren().remove();
    this.viewport.selectAll(".arriving").interrupt("step").attr("opacity", null).classed("arriving", false);
  }

  /**
   * Show the state at a step: state from Replay.stateAt, replay for the edges' progress.
   * animate = {duration} to animate the step's movement, or null to jump.
   */
  update(state, replay, animate = null) {
    this.cancel();
    const token = this.token;
    const current = state.current;
    const activeNode = current?.node ?? null;
    const activeEdges = new Set();
    if (current?.phase === "forward") for (const key of this.edgesInto.get(current.node) ?? []) activeEdges.add(key);
    if (current?.phase === "backward" && "from" in current) activeEdges.add(edgeKey(current.from, current.operand));

    this.trace.nodes.forEach((node, i) => this.updateNode(node, i, state, node.id === activeNode));
    for (const [key, { edge }] of this.edgePaths) {
      this.updateEdge(key, edge, state, replay, activeEdges.has(key) ? current.phase : null);
    }
    this.showSum(state);
    if (activeNode) this.reveal(activeNode, current.phase);
    if (animate && current) this.animate(current, activeEdges, animate.duration, token);
  }

  updateNode(node, i, state, active) {
    const valueStatus = state.status[i];
    const gradStatus = state.gradStatus[i];
    const value = state.value[i];
    const grad = state.grad[i];
    const key = `${valueStatus}|${gradStatus}|${dataNumber(value)}|${dataNumber(grad)}|${active}`;
    if (this.shown.get(node.id) === key) return;
    this.shown.set(node.id, key);
    const g = this.nodeGroups.get(node.id);
    const knownValue = valueStatus !== PENDING;
    const knownGrad = gradStatus !== PENDING && gradStatus !== NO_GRADIENT;
    const badValue = knownValue && valueStatus !== OK;
    const badGrad = knownGrad && gradStatus !== OK;
    g.attr("data-value", knownValue ? dataNumber(value) : "")
      .attr("data-grad", gradStatus === NO_GRADIENT ? NO_GRADIENT : knownGrad ? dataNumber(grad) : "")
      .attr("data-status", valueStatus)
      .attr("data-grad-status", gradStatus)
      .classed("has-value", knownValue)
      .classed("has-grad", knownGrad)
      .classed("bad", badValue || badGrad)
      .classed("current", active);
    g.select(".node-value").classed("pending", !knownValue)
      .text(`= ${shortNumber(value, valueStatus, node.shape)}`);
    g.select(".node-grad").classed("pending", !knownGrad)
      .text(gradStatus === NO_GRADIENT ? `∇ ${t("nodes.no_grad")}` : `∇ ${shortNumber(grad, gradStatus, node.shape)}`);
    g.select("title").text(t("graph.node_title", {
      label: node.label,
      op: node.op,
      value: knownValue ? (badValue ? t(`status.${valueStatus}`) : fullText(value)) : "?",
      grad: gradStatus === NO_GRADIENT ? t("nodes.no_grad")
        : knownGrad ? (badGrad ? t(`status.${gradStatus}`) : fullText(grad)) : "?",
    }));
    if (isTensor(node)) {
      this.paintHeatmap(g.select(".heatmap-value"), knownValue ? value : null, node);
      this.paintHeatmap(g.select(".heatmap-grad"), knownGrad ? grad : null, node);
    }
  }

  paintHeatmap(group, value, node) {
    const width = Number(group.attr("data-width"));
    const rows = node.shape.length > 1 ? Math.min(node.shape[0], HEATMAP_ROWS) : 1;
    const columns = Math.min(node.shape[node.shape.length - 1], HEATMAP_COLUMNS);
    const cellWidth = width / Math.max(columns, 1);
    const cellHeight = 28 / Math.max(rows, 1);
    const cells = value === null ? [] : heatmapCells(value);
    const biggest = biggestMagnitude(value);
    group.select(".cells").selectChildren("rect").data(cells).join("rect")
      .attr("x", (d) => d.c * cellWidth).attr("y", (d) => d.r * cellHeight)
      .attr("width", Math.max(cellWidth - 1, 1)).attr("height", Math.max(cellHeight - 1, 1))
      .attr("fill", (d) => heatColour(d.cell, biggest));
    group.classed("empty", cells.length === 0);
  }

  updateEdge(key, edge, state, replay, activePhase) {
    const target = this.byId.get(edge.target).i;
    const flowedForward = state.status[target] !== PENDING;
    const flowedBack = replay.edgeDone(key, state.step);
    const shownKey = `${flowedForward}|${flowedBack}|${activePhase}`;
    if (this.edgeShown.get(key) === shownKey) return;
    this.edgeShown.set(key, shownKey);
    const { path } = this.edgePaths.get(key);
    d3.select(path)
      .classed("fwd", flowedForward)
      .classed("bwd", flowedBack)
      .classed("active-fwd", activePhase === "forward")
      .classed("active-bwd", activePhase === "backward")
      .attr("marker-end", activePhase === "backward" ? null : flowedForward ? "url(#arrow-value)" : "url(#arrow)")
      .attr("marker-start", activePhase === "backward" ? "url(#arrow-grad)" : null);
    this.edgeLabel(key, flowedBack ? replay.steps[replay.edgeStep.get(key)] : null, activePhase === "backward");
  }

  /** The local derivative on an edge the gradient has crossed; upstream × local = contribution on the active one. */
  edgeLabel(key, step, active) {
    let label = this.edgeLabels.get(key);
    if (!step) {
      if (label) label.attr("hidden", "").classed("active", false);
      return;
    }
    if (!label) {
      const { path } = this.edgePaths.get(key);
      const middle = path.getPointAtLength(path.getTotalLength() / 2);
      label = this.labelLayer.append("g").attr("class", "edge-label").attr("data-key", key)
        .attr("transform", `translate(${middle.x},${middle.y})`);
      label.append("rect").attr("rx", 3).attr("ry", 3).attr("height", 16).attr("y", -11);
      label.append("text").attr("text-anchor", "middle");
      this.edgeLabels.set(key, label);
    }
    const local = step.local === null ? prettyFormula(step.local_formula ?? "") : formatOperand(step.local);
    const text = active && step.local !== null
      ? t("graph.edge_product", {
        upstream: formatValue(step.upstream), local, contribution: formatValue(step.contribution),
      })
      : t("graph.edge_local", { local });
    const width = [...text].length * LABEL_CHAR_WIDTH + 8;
    label.attr("hidden", null).classed("active", active);
    label.select("rect").attr("x", -width / 2).attr("width", width);
    label.select("text").text(text);
    if (active) label.raise();
  }

  /** Where a gradient meets an earlier one (a value used twice): the sum, above the node. */
  showSum(state) {
    const current = state.current;
    if (!current || current.phase !== "backward" || !("from" in current) || state.gradBefore === undefined) return;
    if (Array.isArray(current.grad)) return;
    const box = this.layout.nodes.get(current.node);
    const text = t("graph.sum", {
      before: formatValue(state.gradBefore), contribution: formatOperand(current.contribution),
      grad: formatValue(current.grad),
    });
    const width = [...text].length * LABEL_CHAR_WIDTH + 10;
    const badge = this.overlay.append("g").attr("class", "sum-badge").attr("data-testid", "sum-badge")
      .attr("transform", `translate(${box.x + box.width / 2},${box.y - 12})`);
    badge.append("rect").attr("x", -width / 2).attr("y", -12).attr("width", width).attr("height", 18)
      .attr("rx", 4).attr("ry", 4);
    badge.append("text").attr("text-anchor", "middle").text(text);
  }

  // ---- Motion -------------------------------------------------------------------------------

  animate(step, activeEdges, duration, token) {
    if (token !== this.token || duration <= 0) return;
    const travel = duration * 0.7;
    const backward = step.phase === "backward";
    for (const key of activeEdges) {
      const { path } = this.edgePaths.get(key);
      const length = path.getTotalLength();
      const pulse = backward
        ? this.overlay.append("path").attr("class", "pulse grad").attr("d", DIAMOND)
        : this.overlay.append("circle").attr("class", "pulse value").attr("r", 5);
      pulse.transition("step").duration(travel).ease(d3.easeCubicInOut)
        .attrTween("transform", () => (progress) => {
          const at = path.getPointAtLength(length * (backward ? 1 - progress : progress));
          return `translate(${at.x},${at.y})`;
        })
        .remove();
    }
    const g = this.nodeGroups.get(step.node);
    if (!g) return;
    const field = backward ? g.select(".node-grad") : step.phase === "forward" ? g.select(".node-value") : null;
    if (field && activeEdges.size > 0) {
      field.classed("arriving", true).attr("opacity", 0)
        .transition("step").delay(travel).duration(duration * 0.2).attr("opacity", 1)
        .on("end", function settle() {
          d3.select(this).classed("arriving", false).attr("opacity", null);
        });
    }
  }
}
