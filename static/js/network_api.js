// The network endpoints of /api/v1: data sets, parsing the user's points, one iteration traced,
// training (all at once, or streamed as server-sent events read with fetch + ReadableStream),
// and comparing optimizers. Every failure is an ApiError with the envelope's code, message, where;
// a refusal of a training run also carries retryAfter, the seconds of its Retry-After (or null).
import { ApiError, request } from "./api.js";
import { decodeCompact } from "./network_compact.js";

const API = "/api/v1";

export function getDatasets({ signal } = {}) {
  return request("/datasets", { signal });
}

/** {text, kind} -> {points, features, classes}; a bad row is a 422 whose where names the row. */
export function parsePoints(body, { signal } = {}) {
  return request("/data/parse", { method: "POST", body, signal });
}

/** A toy set's points split into train and test: {kind, features, classes, train: rows, test: rows, bounds}. */
export function getPoints(query, { signal } = {}) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== null && value !== undefined) search.set(name, String(value));
  return request(`/data/points?${search}`, { signal });
}

/** The points of a network request's data part (the user's own), split as the network requests split them. */
export function postPoints(body, { signal } = {}) {
  return request("/data/points", { method: "POST", body, signal });
}

/**
 * One iteration traced. Asked for in the compact encoding (about a fifth of the list encoding's bytes for
 * the default network) and answered decoded, as the list encoding writes it: the same float64 numbers.
 */
export async function postIteration(body, { signal } = {}) {
  return decodeCompact(await request("/network/iteration", { method: "POST", body: { ...body, encoding: "compact" }, signal }));
}

export function postTrain(body, { signal } = {}) {
  return postRun("/network/train", body, signal);
}

export function postCompare(body, { signal } = {}) {
  return postRun("/network/compare", body, signal);
}

// ---- Training runs: refused with 429 and Retry-After when the server's training lane is full ----

async function post(path, body, signal, accept) {
  try {
    return await fetch(`${API}${path}`, {
      method: "POST", signal, body: JSON.stringify(body), headers: { accept, "content-type": "application/json" },
    });
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new ApiError("network", String(error?.message ?? error));
  }
}

async function readJson(response) {
  try {
    return await response.json();
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    return null;
  }
}

/** A response that is not ok, as the ApiError of its envelope, with retryAfter (seconds, or null). */
async function refusal(response) {
  const envelope = (await readJson(response))?.error;
  const error = new ApiError(envelope?.code ?? "http_error", envelope?.message ?? `HTTP ${response.status}`,
    envelope?.where, response.status);
  error.retryAfter = Number(response.headers.get("retry-after")) || null;
  return error;
}

async function postRun(path, body, signal) {
  const response = await post(path, body, signal, "application/json");
  if (!response.ok) throw await refusal(response);
  const payload = await readJson(response);
  if (payload === null || typeof payload !== "object") {
    throw new ApiError("bad_response", `${path} did not answer with a JSON object`, {}, response.status);
  }
  return payload;
}

/** One server-sent event from its lines: {event, data} with data parsed as JSON (null if it is not). */
function parseEvent(block) {
  let event = "message";
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return null;
  try {
    return { event, data: JSON.parse(data.join("\n")) };
  } catch {
    return { event, data: null };
  }
}

/**
 * POST /network/train/stream and call onEvent({event, data}) for each event as it arrives. Resolves
 * when the stream ends; rejects with ApiError on an HTTP error, with AbortError when signal aborts
 * (aborting is how a run is stopped: the server notices the closed connection).
 */
export async function streamTrain(body, { signal, onEvent }) {
  const response = await post("/network/train/stream", body, signal, "text/event-stream");
  if (!response.ok) throw await refusal(response);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value ?? new Uint8Array(), { stream: !done });
    const blocks = buffer.split(/\r?\n\r?\n/);
    buffer = done ? "" : blocks.pop();
    for (const block of blocks) {
      const parsed = block.trim() ? parseEvent(block) : null;
      if (parsed) onEvent(parsed);
    }
    if (done) return;
  }
}
