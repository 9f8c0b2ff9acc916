// Where each node and edge goes: layers left to right (values flow right), laid out by dagre, or
// for large graphs by a linear-time layering of the same kind. Box sizes are estimated from text
// length rather than measured, so 1,000 nodes need no reflow.
import { Graph, layout } from "../vendor/dagre/dagre.esm.js";

export const CHAR_WIDTH = 7.6; // px per character at the node font size (monospace digits)
export const LINE_HEIGHT = 18;
export const PADDING = 8;
export const MAX_LABEL_CHARS = 18;
const MIN_WIDTH = 84;
const MAX_WIDTH = 200;
const HEATMAP_HEIGHT = 30;
const PARALLEL_GAP = 22;
const RANK_SEP = 96;
const NODE_SEP = 22;
const MARGIN = 12;
// dagre up to this size; beyond, its ordering and positioning alone take seconds.
export const DAGRE_MAX_NODES = 400;
const MAX_ROUTED_SPAN = 4;
const LAYERED_SWEEPS = 4;

export function isTensor(node) {
  return Array.isArray(node.shape) && node.shape.length > 0;
}

/** Width and height of a node's box: label + op line, value line, gradient line (+ heatmaps). */
export function nodeSize(node) {
  const label = Math.min(String(node.label).length, MAX_LABEL_CHARS);
  const op = String(node.op).length;
  const chars = Math.max(label + op + 2, 12);
  const width = Math.min(Math.max(chars * CHAR_WIDTH + 2 * PADDING, MIN_WIDTH), MAX_WIDTH);
  const height = 3 * LINE_HEIGHT + PADDING + (isTensor(node) ? HEATMAP_HEIGHT + 4 : 0);
  return { width: Math.round(width), height };
}

/** A parallel edge bowed away from its twin: ends a little apart, middle further. */
function spread(points, shift) {
  const first = points[0];
  const last = points[points.length - 1];
  if (points.length > 3) return points.map((p) => ({ x: p.x, y: p.y + shift }));
  return [
    { x: first.x, y: first.y + shift * 0.4 },
    { x: (first.x + last.x) / 2, y: (first.y + last.y) / 2 + shift * 1.8 },
    { x: last.x, y: last.y + shift * 0.4 },
  ];
}

/**
 * Each node's layer, left to right: one more than its deepest input; a leaf (input or constant) just
 * before its first use, so a weight used once at the end of a long program is drawn there.
 */
export function ranksOf(trace) {
  const index = new Map(trace.nodes.map((node, i) => [node.id, i]));
  const rank = new Array(trace.nodes.length).fill(0);
  const firstUse = new Array(trace.nodes.length).fill(Infinity);
  trace.nodes.forEach((node, i) => {
    for (const input of node.inputs) rank[i] = Math.max(rank[i], rank[index.get(input)] + 1);
  });
  trace.nodes.forEach((node, i) => {
    for (const input of node.inputs) {
      const j = index.get(input);
      firstUse[j] = Math.min(firstUse[j], rank[i]);
    }
  });
  trace.nodes.forEach((node, i) => {
    if (node.inputs.length === 0 && Number.isFinite(firstUse[i])) rank[i] = firstUse[i] - 1;
  });
  return { index, rank };
}

/** An edge dagre did not route: an S-curve from the right side of one box to the left side of the other. */
function directPoints(from, to) {
  const start = { x: from.x + from.width, y: from.y + from.height / 2 };
  const end = { x: to.x, y: to.y + to.height / 2 };
  const bend = Math.max((end.x - start.x) / 3, 24);
  return [start, { x: start.x + bend, y: start.y }, { x: end.x - bend, y: end.y }, end];
}

/** dagre's layered layout, fed only the edges that span at most MAX_ROUTED_SPAN layers. */
function dagrePlace(trace, sizes, { index, rank }) {
  const graph = new Graph({ multigraph: true });
  graph.setGraph({ rankdir: "LR", nodesep: NODE_SEP, ranksep: RANK_SEP, edgesep: 14, marginx: MARGIN, marginy: MARGIN });
  graph.setDefaultEdgeLabel(() => ({}));
  trace.nodes.forEach((node, i) => graph.setNode(node.id, sizes[i]));
  const routed = new Set();
  trace.nodes.forEach((node, i) => {
    node.inputs.forEach((input, operand) => {
      // NOTE: dagre turns an edge across k layers into k - 1 dummy nodes; a weight shared along a long
      // program makes tens of thousands of them (minutes of layout). Long edges are drawn directly.
      if (rank[i] - rank[index.get(input)] > MAX_ROUTED_SPAN) return;
      graph.setEdge(input, node.id, {}, String(operand));
      routed.add(`${node.id}:${operand}`);
    });
  });
  layout(graph);
  const boxes = new Map();
  for (const node of trace.nodes) {
    const box = graph.node(node.id);
    boxes.set(node.id, { x: box.x - box.width / 2, y: box.y - box.height / 2, width: box.width, height: box.height });
  }
  const points = (node, input, operand) => (routed.has(`${node.id}:${operand}`)
    ? graph.edge(input, node.id, String(operand)).points : null);
  return { boxes, points };
}

/**
 * Large graphs: the same left-to-right layers, ordered within each layer by a few barycenter sweeps
 * (the idea of dagre's ordering, without its dummy nodes and exact crossing counts): linear time.
 */
function layeredPlace(trace, sizes, { index, rank }) {
  const layers = [];
  trace.nodes.forEach((node, i) => {
    (layers[rank[i]] ??= []).push(i);
  });
  const inputsOf = trace.nodes.map((node) => node.inputs.map((id) => index.get(id)));
  const usersOf = trace.nodes.map(() => []);
  inputsOf.forEach((inputs, i) => inputs.forEach((j) => usersOf[j].push(i)));
  const y = new Array(trace.nodes.length).fill(0);
  const stack = (layer) => {
    let total = -NODE_SEP;
    for (const i of layer) total += sizes[i].height + NODE_SEP;
    let top = -total / 2;
    for (const i of layer) {
      y[i] = top + sizes[i].height / 2;
      top += sizes[i].height + NODE_SEP;
    }
  };
  const present = layers.filter(Boolean);
  present.forEach(stack);
  const mean = (list, fallback) => (list.length ? list.reduce((sum, j) => sum + y[j], 0) / list.length : fallback);
  for (let sweep = 0; sweep < LAYERED_SWEEPS; sweep += 1) {
    const down = sweep % 2 === 0;
    const order = down ? present : [...present].reverse();
    for (const layer of order) {
      const key = new Map(layer.map((i) => [i, mean(down ? inputsOf[i] : usersOf[i], y[i])]));
      layer.sort((a, b) => key.get(a) - key.get(b));
      stack(layer);
    }
  }
  const boxes = new Map();
  let left = MARGIN;
  for (const layer of present) {
    const width = Math.max(...layer.map((i) => sizes[i].width));
    for (const i of layer) {
      boxes.set(trace.nodes[i].id, { x: left + (width - sizes[i].width) / 2, y: y[i] - sizes[i].height / 2, ...sizes[i] });
    }
    left += width + RANK_SEP;
  }
  return { boxes, points: () => null };
}

/**
 * {nodes: Map id -> {x, y, width, height} (x, y the top-left corner), edges: [{key, source, target,
 * operand, points}], width, height, engine}. An edge goes from an input (source) to the node using it
 * (target); `key` is `${target}:${operand}`, as a backward step names it (from, operand).
 */
export function layoutTrace(trace) {
  const sizes = trace.nodes.map(nodeSize);
  const ranks = ranksOf(trace);
  const engine = trace.nodes.length <= DAGRE_MAX_NODES ? "dagre" : "layered";
  const { boxes, points } = engine === "dagre" ? dagrePlace(trace, sizes, ranks) : layeredPlace(trace, sizes, ranks);
  // Shift everything so the drawing starts at the margin.
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const box of boxes.values()) {
    minX = Math.min(minX, box.x);
    minY = Math.min(minY, box.y);
    maxX = Math.max(maxX, box.x + box.width);
    maxY = Math.max(maxY, box.y + box.height);
  }
  const dx = MARGIN - minX;
  const dy = MARGIN - minY;
  for (const box of boxes.values()) {
    box.x += dx;
    box.y += dy;
  }
  const edges = [];
  for (const node of trace.nodes) {
    node.inputs.forEach((input, operand) => {
      const routed = points(node, input, operand);
      let path = routed ? routed.map((p) => ({ x: p.x + dx, y: p.y + dy })) : directPoints(boxes.get(input), boxes.get(node.id));
      // NOTE: parallel edges (x * x) would share one line; spread them apart so both uses of the
      // value, and the two gradients that flow back, can be seen.
      const twins = node.inputs.filter((other) => other === input).length;
      if (twins > 1) {
        const order = node.inputs.slice(0, operand).filter((other) => other === input).length;
        path = spread(path, (order - (twins - 1) / 2) * PARALLEL_GAP);
      }
      edges.push({ key: `${node.id}:${operand}`, source: input, target: node.id, operand, points: path });
    });
  }
  return {
    nodes: boxes, edges, engine,
    width: boxes.size ? maxX - minX + 2 * MARGIN : 0,
    height: boxes.size ? maxY - minY + 2 * MARGIN : 0,
  };
}
