// The API's "compact" encoding read back (POST /api/v1/network/iteration with "encoding": "compact"; the
// route's docs at /docs): a tensor of 256 numbers or more comes as {dtype: "float64", shape, base64}, its
// IEEE 754 bytes little-endian in row-major order, and a step's tensor that is some node's final value or
// gradient comes as {ref: node id, field: "value" | "grad"}. decodeCompact turns an answer back into what
// the "list" encoding writes: nested arrays of the very same float64 numbers, every non-finite one null.
import { ApiError } from "./api.js";

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The bytes a base64 text stands for. */
export function bytesFromBase64(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

/** Little-endian float64 bytes as numbers (a copy only on a big-endian machine). */
function float64s(bytes) {
  if (bytes.length % 8 !== 0) throw new Error(`${bytes.length} bytes are not whole float64 numbers`);
  if (LITTLE_ENDIAN) return new Float64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return Float64Array.from({ length: bytes.length / 8 }, (_, i) => view.getFloat64(8 * i, true));
}

const isEncodedTensor = (x) => x !== null && typeof x === "object" && !Array.isArray(x)
  && x.dtype === "float64" && Array.isArray(x.shape) && typeof x.base64 === "string";
const isReference = (x) => x !== null && typeof x === "object" && !Array.isArray(x)
  && typeof x.ref === "string" && (x.field === "value" || x.field === "grad") && Object.keys(x).length === 2;

/** {dtype, shape, base64} -> nested arrays of that shape (a number for shape []), non-finite numbers null. */
export function decodeTensor(encoded) {
  const numbers = float64s(bytesFromBase64(encoded.base64));
  const shape = encoded.shape;
  const product = (axes) => axes.reduce((total, n) => total * n, 1);
  if (!shape.every((n) => Number.isInteger(n) && n >= 0) || product(shape) !== numbers.length) {
    throw new Error(`shape ${JSON.stringify(shape)} does not hold ${numbers.length} numbers`);
  }
  let level = Array.from(numbers, (x) => (Number.isFinite(x) ? x : null));
  if (shape.length === 0) return level[0];
  // Row-major: cut the flat numbers into rows of the last axis, then group those by the axis before, ...
  for (let axis = shape.length - 1; axis >= 1; axis -= 1) {
    const n = shape[axis];
    const items = level;
    level = Array.from({ length: product(shape.slice(0, axis)) }, (_, g) => items.slice(g * n, (g + 1) * n));
  }
  return level;
}

/**
 * An answer in the compact encoding as the list encoding writes it (decoded in place: the parsed answer is
 * the caller's own). An answer in the list encoding comes back as it is. A malformed tensor or a reference
 * to no node is an ApiError "bad_response".
 */
export function decodeCompact(answer) {
  try {
    const references = [];
    const pending = [answer];
    while (pending.length) {
      const container = pending.pop();
      const keys = Array.isArray(container) ? container.keys() : Object.keys(container);
      for (const key of keys) {
        const item = container[key];
        if (item === null || typeof item !== "object") continue;
        if (isEncodedTensor(item)) container[key] = decodeTensor(item);
        else if (isReference(item)) references.push([container, key, item]);
        else pending.push(item);
      }
    }
    if (references.length) {
      const nodes = new Map((answer.trace?.nodes ?? []).map((node) => [node.id, node]));
      for (const [container, key, { ref, field }] of references) {
        if (!nodes.has(ref)) throw new Error(`a reference to ${ref}, which is no node of the trace`);
        container[key] = nodes.get(ref)[field];
      }
    }
    if (answer.trace?.encoding === "compact") delete answer.trace.encoding;
    return answer;
  } catch (error) {
    throw new ApiError("bad_response", `the compact answer could not be read: ${error?.message ?? error}`);
  }
}
