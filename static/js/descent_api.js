// The descent endpoints of /api/v1 (their contract: the docstring of app/routes/descent.py).
import { request } from "./api.js";

/** GET /surfaces: the surfaces with their titles, boxes, default starts, minima and settings. */
export async function getSurfaces({ signal } = {}) {
  return (await request("/surfaces", { signal })).surfaces;
}

/** POST /descent/surface: the loss on a grid (values[row][column], rows along b) for the contours. */
export function postSurface(body, { signal } = {}) {
  return request("/descent/surface", { method: "POST", body, signal });
}

/** POST /descent/run: every optimizer's path, losses, gradients and status from one start. */
export function postRun(body, { signal } = {}) {
  return request("/descent/run", { method: "POST", body, signal });
}

/** POST /descent/taylor: first-order prediction against the real loss for many learning rates. */
export function postTaylor(body, { signal } = {}) {
  return request("/descent/taylor", { method: "POST", body, signal });
}

/** POST /descent/line: the loss along one parameter, with its tangent at the point. */
export function postLine(body, { signal } = {}) {
  return request("/descent/line", { method: "POST", body, signal });
}
