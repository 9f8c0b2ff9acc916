// Formula lines in KaTeX that fit their box, on a phone too. A line a little wider than its box is drawn
// smaller, down to MIN_SCALE of its size (about the size of the text around it); one that would need more
// is broken after its top-level "=" signs (and between two equations joined by ",\quad") into aligned
// rows, then if need be inside a long bracket, and fitted the same way; what is still too wide (a matrix
// wider than a phone) keeps its size and scrolls inside its box, never the page. A box that gets a new
// width is fitted again. Each line keeps its LaTeX as written, unbroken, in data-latex.
import katex from "/static/vendor/katex/katex.mjs";
import { el } from "./dom.js";

const KATEX = { displayMode: true, throwOnError: false, trust: false, strict: "ignore", output: "htmlAndMathml" };
const MIN_SCALE = 0.8;
const SLACK_PX = 1; // sub-pixel widths and rounding: fit into one pixel less than the box has

const fittedWidth = new WeakMap(); // box -> the content width its lines were fitted to
const watched = new Set(); // the boxes fitted again on a new width, or once KaTeX's fonts have loaded
let observer = null;

/** Draw `lines` (LaTeX) into `box`, one .formula-line each, fitted to the box's width. */
export function renderFormulas(box, lines, phase) {
  box.dataset.phase = phase ?? "";
  box.replaceChildren(...lines.map((latex) => {
    const line = el("div", { className: "formula-line", data: { latex } });
    katex.render(latex, line, KATEX);
    return line;
  }));
  watch(box);
  fit(box);
}

function watch(box) {
  if (!observer) {
    observer = new ResizeObserver((entries) => {
      for (const { target } of entries) if (fittedWidth.get(target) !== target.clientWidth) fit(target);
    });
    // NOTE: a formula first measured in a fallback font is narrower or wider once KaTeX's own font arrives.
    document.fonts?.addEventListener("loadingdone", () => {
      for (const one of watched) if (one.isConnected) fit(one);
    });
  }
  if (!watched.has(box)) {
    watched.add(box);
    fittedWidth.set(box, box.clientWidth);
    observer.observe(box);
  }
}

/**
 * The width the line's formula takes when it is wider than its box (else the box's width). NOTE: not the
 * bounding box of KaTeX's boxes: brackets and struts reach past them; the scroll width counts all of it.
 */
const naturalWidth = (line) => line.scrollWidth;

function setScale(line, scale) {
  line.style.fontSize = scale >= 1 ? "" : `${Math.floor(scale * 1000) / 10}%`;
}

function fit(box) {
  const width = box.clientWidth;
  fittedWidth.set(box, width);
  if (width === 0) return; // not shown: fitted when it is (the observer sees the new width)
  const room = width - SLACK_PX;
  const lines = [...box.querySelectorAll(":scope > .formula-line")];
  // Every line back to one row at full size, then all measured at once (one layout, not one per line).
  for (const line of lines) {
    if (line.dataset.rows) {
      katex.render(line.dataset.latex, line, KATEX);
      delete line.dataset.rows;
    }
    setScale(line, 1);
  }
  const natural = lines.map(naturalWidth);
  let tooWide = [];
  lines.forEach((line, i) => {
    if (natural[i] <= width) return; // (the scroll width is the box's width when the line fits)
    if (room / natural[i] >= MIN_SCALE) setScale(line, room / natural[i]);
    else tooWide.push(line);
  });
  // Rows at each "=", then also inside a long bracket, each try measured for all lines at once. What is
  // still too wide at MIN_SCALE keeps its full size and scrolls in its box: smaller would not help.
  for (const deep of [false, true]) {
    const broken = [];
    for (const line of tooWide) {
      const rows = breakAtRelations(line.dataset.latex, deep);
      if (!rows) continue;
      katex.render(rows, line, KATEX);
      line.dataset.rows = String(rows.split(" \\\\ ").length);
      broken.push(line);
    }
    const widths = broken.map(naturalWidth);
    broken.forEach((line, i) => {
      if (widths[i] > width && room / widths[i] >= MIN_SCALE) setScale(line, room / widths[i]);
    });
    tooWide = tooWide.filter((line) => !broken.includes(line) || room / widths[broken.indexOf(line)] < MIN_SCALE);
  }
}

// ---- Breaking a formula into rows -------------------------------------------------------------

/**
 * The tokens of a formula with their depth: inside how many groups ({...}, (...), [...], \left...\right,
 * \begin...\end) each stands. A command is one token ("\\quad"); \left and \right take their delimiter.
 */
function* tokens(latex) {
  let depth = 0;
  for (let i = 0; i < latex.length;) {
    let token = latex[i];
    if (token === "\\") token = /^\\(?:[A-Za-z]+|.?)/.exec(latex.slice(i))[0];
    if (token === "\\left" || token === "\\right") {
      const delimiter = /^\s*(\\(?:[A-Za-z]+|.)|.)/.exec(latex.slice(i + token.length));
      token += delimiter ? delimiter[0] : "";
    }
    const opens = /^(\\(left|begin)(?![A-Za-z])|[{([])/.test(token);
    const closes = /^(\\(right|end)(?![A-Za-z])|[})\]])/.test(token);
    if (closes) depth -= 1;
    yield { at: i, token, depth, opens };
    if (opens) depth += 1;
    i += token.length;
  }
}

/**
 * Where a formula may break, outside every group: after each "=", and between two equations joined by
 * ",\quad" ({at, end, kind}: the text from at to end is left out).
 */
function breakPoints(latex) {
  const points = [];
  let comma = -1;
  for (const { at, token, depth } of tokens(latex)) {
    if (depth !== 0) continue;
    if (token === "=") points.push({ kind: "equals", at, end: at + 1 });
    else if (token === "\\quad" && comma >= 0) points.push({ kind: "equation", at: comma + 1, end: at + token.length });
    if (token === ",") comma = at;
    else if (token.trim()) comma = -1;
  }
  return points;
}

/**
 * A bracket \left( ... \right) cut before the "+" nearest its middle (outside any inner group), as
 * [...\right.", "\left. + ..."]; null when the text has no such bracket.
 */
function cutInsideBracket(text) {
  let opened = -1;
  let pluses = [];
  for (const { at, token, depth, opens } of tokens(text)) {
    if (depth === 0 && opens && /^\\left(?![A-Za-z])/.test(token)) {
      opened = at;
      pluses = [];
    } else if (depth === 1 && token === "+" && opened >= 0) {
      pluses.push(at);
    } else if (depth === 0 && opened >= 0 && /^\\right(?![A-Za-z])/.test(token)) {
      if (pluses.length) {
        const middle = (opened + at) / 2;
        const cut = pluses.reduce((best, plus) => (Math.abs(plus - middle) < Math.abs(best - middle) ? plus : best));
        return [`${text.slice(0, cut).trim()} \\right.`, `\\left. ${text.slice(cut).trim()}`];
      }
      opened = -1;
    }
  }
  return null;
}

/**
 * "a = b = c" as aligned rows "a &= b \\ &= c" (and each equation of "p = q,\quad r = s" its own row);
 * `deep`: a long bracket on a right side is cut into two rows too. null: nothing to break.
 */
function breakAtRelations(latex, deep = false) {
  const rows = [];
  let equation = { left: null, rights: [] };
  let start = 0;
  let cut = false;
  const rowsOf = (right, first) => {
    const relation = first ? `${equation.left} &= ` : "&= ";
    const halves = deep ? cutInsideBracket(right) : null;
    if (!halves) return [`${relation}${right}`];
    cut = true;
    return [`${relation}${halves[0]}`, `&\\qquad ${halves[1]}`];
  };
  const finish = (text) => {
    if (equation.left === null) rows.push(`& ${text.trim()}`);
    else rows.push(...[...equation.rights, text.trim()].flatMap((right, k) => rowsOf(right, k === 0)));
    equation = { left: null, rights: [] };
  };
  for (const point of breakPoints(latex)) {
    const text = latex.slice(start, point.at);
    if (point.kind === "equals") {
      if (equation.left === null) equation.left = text.trim();
      else equation.rights.push(text.trim());
    } else {
      finish(text);
    }
    start = point.end;
  }
  finish(latex.slice(start));
  if (rows.length < 2 || (deep && !cut)) return null;
  return `\\begin{aligned} ${rows.join(" \\\\ ")} \\end{aligned}`;
}
