// Numbers as people read them (4 significant digits, a real minus sign) and as tests read them
// (full precision, ASCII, in data attributes).

export const MINUS = "\u2212";
const SUPERSCRIPT = { "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷",
  "8": "⁸", "9": "⁹", "-": "⁻" };
const MAX_SHOWN_ELEMENTS = 12;

function withMinus(text) {
  return text.replaceAll("-", MINUS);
}

/** A finite number with 4 significant digits: 3, −12, 0.7311, 1.235×10⁻⁷. */
export function formatNumber(x, digits = 4) {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "∞" : `${MINUS}∞`;
  if (x === 0) return "0"; // also -0
  const size = Math.abs(x);
  if (size >= 1e-3 && size < 1e5) return withMinus(String(Number(x.toPrecision(digits))));
  const [mantissa, exponent] = x.toExponential(digits - 1).split("e");
  const power = [...String(Number(exponent))].map((c) => SUPERSCRIPT[c]).join("");
  return withMinus(`${Number(mantissa)}×10${power}`);
}

/** Every digit JavaScript has, for a hover title. */
export function formatFull(x) {
  return withMinus(String(x));
}

/** A value with full precision where it is one number, for a hover title. */
export function fullText(value) {
  return typeof value === "number" ? formatFull(value) : formatValue(value);
}

/**
 * A value from the trace: a number, a nested list of numbers, or null (not finite; the node's status
 * says why). Long tensors are cut with an ellipsis.
 */
export function formatValue(value, nonFinite = "⚠") {
  if (value === null || value === undefined) return nonFinite;
  if (typeof value === "number") return formatNumber(value);
  let budget = MAX_SHOWN_ELEMENTS;
  const walk = (items) => {
    const shown = [];
    for (const item of items) {
      if (budget <= 0) {
        shown.push("…");
        break;
      }
      if (Array.isArray(item)) {
        shown.push(walk(item));
      } else {
        budget -= 1;
        shown.push(item === null ? nonFinite : formatNumber(item));
      }
    }
    return `[${shown.join(", ")}]`;
  };
  return walk(value);
}

/** A number in parentheses when it is negative, as the second factor of a product. */
export function formatOperand(value) {
  const text = formatValue(value);
  return typeof value === "number" && value < 0 ? `(${text})` : text;
}

/** The ASCII form for data-value / data-grad: -4, 0.25, [1,2], NaN for a non-finite (null) value. */
export function dataNumber(value) {
  if (value === null || value === undefined) return "NaN";
  if (typeof value === "number") return String(value);
  return JSON.stringify(value);
}

/** Engine formula text made readable: a real minus, × for *, ^ for **, ∞ for inf. */
export function prettyFormula(text) {
  return withMinus(text)
    .replaceAll("**", "^")
    .replaceAll("*", "×")
    .replace(/\binf\b/g, "∞")
    .replace(/\bnan\b/g, "NaN");
}
