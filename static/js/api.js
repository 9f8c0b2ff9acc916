// The server's JSON API (/api/v1): the same endpoints external clients call.
// Every failure becomes an ApiError carrying the error envelope's code, message and where.

const API = "/api/v1";

export class ApiError extends Error {
  constructor(code, message, where = {}, status = 0) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.where = where ?? {};
    this.status = status;
  }
}

/** One call to /api/v1: the page modules of other pages build their endpoints on it. */
export async function request(path, { method = "GET", body, signal } = {}) {
  const init = { method, signal, headers: { accept: "application/json" } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`${API}${path}`, init);
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new ApiError("network", String(error?.message ?? error));
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch (error) {
    if (error?.name === "AbortError") throw error;
  }
  if (!response.ok) {
    const envelope = payload?.error;
    throw new ApiError(envelope?.code ?? "http_error", envelope?.message ?? `HTTP ${response.status}`,
      envelope?.where, response.status);
  }
  if (payload === null || typeof payload !== "object") {
    throw new ApiError("bad_response", `${path} did not answer with a JSON object`, {}, response.status);
  }
  return payload;
}

export async function getExamples({ signal } = {}) {
  return (await request("/examples", { signal })).examples;
}

export function getLimits({ signal } = {}) {
  return request("/limits", { signal });
}

/** POST /trace: {source, values, params?, learning_rate?, gradcheck?} -> {nodes, output, steps, ...}. */
export function postTrace(body, { signal } = {}) {
  return request("/trace", { method: "POST", body, signal });
}

/** POST /trace/state: the same body plus {step} -> what is known at that step. */
export function postTraceState(body, { signal } = {}) {
  return request("/trace/state", { method: "POST", body, signal });
}

/** GET /ops: the op table with its text and LaTeX templates ({a}, {b}, {out}). */
export function getOps({ signal } = {}) {
  return request("/ops", { signal });
}
