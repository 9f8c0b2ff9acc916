// The drawn graph as files: a standalone SVG (the page's styles inlined, the whole drawing in view
// whatever the zoom) and a PNG drawn from it on a canvas. Loaded by export.js on the first click.
import * as d3 from "/static/vendor/d3/d3.mjs";
import { el } from "./dom.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const GRAPH = '[data-testid="graph"]';
const PADDING = 16;
const PNG_SCALE = 2;
const PNG_MAX_SIDE = 8192;
const PNG_MAX_PIXELS = 32e6;

// The presentation properties a standalone SVG needs from the page's style sheets: the inherited
// ones are written where they differ from the parent, the others where they differ from the initial value.
const INHERITED = [
  "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity", "stroke-dasharray",
  "stroke-dashoffset", "stroke-linecap", "stroke-linejoin", "visibility", "font-family", "font-size", "font-weight",
  "font-style", "letter-spacing", "text-anchor", "paint-order", "marker-start", "marker-mid", "marker-end", "color",
];
const OWN = { opacity: "1", display: "inline", "dominant-baseline": "auto", "text-decoration-line": "none" };

/** The drawn graph's <svg>, or null. */
function graphSvg() {
  const found = document.querySelector(GRAPH);
  return found instanceof SVGSVGElement ? found : found?.querySelector("svg") ?? null;
}

/** url("http://host/page#arrow") -> url(#arrow): a file has no page to point back to. */
function localReference(value) {
  return value.replace(/url\((["']?)[^"')]*?(#[^"')]+)\1\)/g, "url($2)");
}

function inlineStyles(original, copy) {
  const sources = [original, ...original.querySelectorAll("*")];
  const targets = [copy, ...copy.querySelectorAll("*")];
  const computedOf = new Map();
  sources.forEach((source, i) => {
    const target = targets[i];
    const computed = getComputedStyle(source);
    computedOf.set(source, computed);
    const parent = source === original ? null : computedOf.get(source.parentElement);
    const declarations = [];
    for (const name of INHERITED) {
      const value = computed.getPropertyValue(name);
      if (value && (!parent || value !== parent.getPropertyValue(name))) {
        declarations.push([name, localReference(value)]);
      }
    }
    for (const [name, initial] of Object.entries(OWN)) {
      const value = computed.getPropertyValue(name);
      if (value && value !== initial && source !== original) declarations.push([name, value]);
    }
    // Through the CSSOM, which the Content-Security-Policy allows (a style attribute it refuses).
    target.removeAttribute("style");
    for (const [name, value] of declarations) target.style.setProperty(name, value);
  });
}

/**
 * A standalone copy of the graph: styles inlined, the whole drawing in view whatever the zoom, on a
 * white background. -> {text, width, height}
 */
function standaloneSvg(svg) {
  const copy = svg.cloneNode(true);
  inlineStyles(svg, copy);
  copy.removeAttribute("id");
  copy.removeAttribute("class");
  // Measure the copy off screen: it is visible there even when the page shows the table view.
  const host = el("div", { className: "export-host", attrs: { "aria-hidden": "true" } });
  host.append(copy);
  document.body.append(host);
  let box;
  try {
    box = copy.getBBox();
  } finally {
    host.remove();
  }
  if (!box || box.width === 0 || box.height === 0) return null;
  const scale = d3.zoomTransform(svg).k || 1;
  const view = { x: box.x - PADDING * scale, y: box.y - PADDING * scale, width: box.width + 2 * PADDING * scale,
    height: box.height + 2 * PADDING * scale };
  const width = Math.ceil(view.width / scale);
  const height = Math.ceil(view.height / scale);
  copy.setAttribute("viewBox", `${view.x} ${view.y} ${view.width} ${view.height}`);
  copy.setAttribute("width", String(width));
  copy.setAttribute("height", String(height));
  copy.style.setProperty("background", "#ffffff");
  const paper = document.createElementNS(SVG_NS, "rect");
  for (const [name, value] of Object.entries({ x: view.x, y: view.y, width: view.width, height: view.height })) {
    paper.setAttribute(name, String(value));
  }
  paper.setAttribute("fill", "#ffffff");
  copy.prepend(paper);
  const text = `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(copy)}\n`;
  return { text, width, height };
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("the SVG could not be drawn"));
    image.src = url;
  });
}

/** The standalone SVG drawn onto a canvas, as a PNG Blob. */
async function pngBlob({ text, width, height }) {
  const scale = Math.min(PNG_SCALE, PNG_MAX_SIDE / width, PNG_MAX_SIDE / height,
    Math.sqrt(PNG_MAX_PIXELS / (width * height)));
  const canvas = el("canvas");
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  const url = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
  try {
    const image = await loadImage(url);
    const context = canvas.getContext("2d");
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.drawImage(image, 0, 0, canvas.width, canvas.height);
  } finally {
    URL.revokeObjectURL(url);
  }
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the canvas gave no PNG"))), "image/png");
  });
}

/** The graph as an SVG file's Blob, or null when nothing is drawn. */
export function svgFile() {
  const svg = graphSvg();
  const drawing = svg && standaloneSvg(svg);
  return drawing ? new Blob([drawing.text], { type: "image/svg+xml" }) : null;
}

/** The graph as a PNG file's Blob, or null when nothing is drawn. */
export async function pngFile() {
  const svg = graphSvg();
  const drawing = svg && standaloneSvg(svg);
  return drawing ? pngBlob(drawing) : null;
}
