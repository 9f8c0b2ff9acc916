"""The gradient-descent lab: loss surfaces of two parameters (a, b) and optimizers run across them.

FINAL CONTRACT (refines /tmp/descent-contract.md; every field below is stable; numbers that are
not finite are JSON null; every cap is in GET /api/v1/limits)

Surface spec, the first fields of every POST body below (extra fields are refused; a setting that
belongs to another surface is accepted and ignored):
  {"surface": "quadratic" | "rosenbrock" | "himmelblau" | "saddle" | "logistic" | "network" | "custom",
   "condition": 10,      quadratic: eigenvalues of H are 1 and condition (min_condition..max_condition)
   "angle": 0,           quadratic: the axes turned by this many degrees (-90..90); H = R diag(1, condition) R^T
   "source": "f = ...",  custom: required; a program whose only inputs are a and b, elementwise ops only,
                         at most max_surface_nodes nodes; errors carry where.line and where.column
   "data_seed": 0}       logistic: the seed of the 40-point toy set (0..max_seed); network: the seed of its
                         40 points of two moons, of the 2-4-1 network's training and of the two directions

GET  /api/v1/surfaces
  -> {"surfaces": [{"id", "title": {"en", "zh"}, "description": {"en", "zh"}, "formula", "latex",
                    "box": [[a_min, a_max], [b_min, b_max]], "start": [a, b], "learning_rate" (a rate that works),
                    "minima": [[a, b], ...], "saddles": [[a, b], ...],
                    "settings": [{"name", "kind": "number" | "integer" | "text", "default", "min", "max"
                                  (text: "max_length"), "doc": {"en", "zh"}}],
                    quadratic only (at its default settings): "hessian", "lambda_min", "lambda_max", "critical_lr"}]}

POST /api/v1/descent/surface   spec + {"grid": 60 (2..max_surface_grid), "box"?: [[a_min, a_max], [b_min, b_max]],
                                       "point"?: [a, b]}
  -> {"id", "formula", "latex", "settings": {...the settings used}, "minima", "saddles",
      "box", "grid", "xs": [grid a values], "ys": [grid b values],
      "values": [[...]]  values[j][i] = L(xs[i], ys[j]) (rows follow b), null where not finite,
      "min", "max" (of the finite values), "nonfinite" (how many nulls), "levels": [suggested contour levels],
      quadratic: "hessian": [[h11, h12], [h21, h22]], "lambda_min", "lambda_max", "critical_lr" (= 2 / lambda_max),
      logistic and network: "data": {"x": [[x1, x2], ...], "labels": [0 | 1, ...]},
      network: "network": {"sizes": [2, 4, 1], "activations", "loss": "bce", "dataset", "points", "training"}
               (the loss at (a, b) is the network's at theta* + a d1 + b d2: trained weights, two directions),
      with "point": "at": {"point", "loss", "gradient": [dL/da, dL/db], "hessian", "lambda_min", "lambda_max",
                           "critical_lr"}   (the Hessian by central differences of the gradient, except the quadratic)}

POST /api/v1/descent/run       spec + {"start"?: [a, b] (the surface's start), "steps": 100 (0..max_descent_steps),
                                       "divergence_factor": 1000 (> 1), "tolerance": 1e-6,
                                       "optimizers": [{"name": "sgd" | "momentum" | "nesterov" | "rmsprop" | "adam",
                                                       "learning_rate"? (the surface's), "beta": 0.9, "beta1": 0.9,
                                                       "beta2": 0.999, "rho": 0.9, "eps": 1e-8, "label"?}]
                                                      (1..max_descent_optimizers; the same name may repeat),
                                       "include": ["state", "taylor"] (the per-step parts wanted besides the path;
                                                   [] answers runs without "state" and "taylor")}
  -> {"surface": {...as /descent/surface without the grid}, "start", "steps", "divergence_factor", "tolerance",
      "runs": [{"optimizer": {"name", "learning_rate", "formula", "label", and its own: "beta" | "rho", "eps" |
                              "beta1", "beta2", "eps"},
                "steps": n (updates made; < steps when it diverged),
                "path": [[a, b] x (n + 1)], "losses": [n + 1], "gradients": [[dL/da, dL/db] x (n + 1)],
                "state": [n + 1 snapshots, after k updates: sgd {}, momentum and nesterov {"velocity": [va, vb]},
                          rmsprop {"mean_square": [sa, sb]}, adam {"t", "m": [..], "v": [..]}],
                "status": "converged" | "running" | "diverged",
                "diverged_at": k | null, "reason": "loss_grew" | "not_finite" | "gradient_not_finite" |
                                                   "start_not_finite" | null,
                "converged_at": k | null (from step k on the gradient norm stays <= tolerance),
                "threshold": the loss past which a run counts as diverged, L0 + (factor - 1) |L0|,
                "reversals": share of steps turning back on the step before (zigzag, 0..1),
                "critical_lr": on the quadratic, the largest rate at which this optimizer with its beta converges
                               (sgd 2 / lambda_max, momentum (2 + 2 beta) / lambda_max, nesterov
                               (2 + 2 beta) / ((1 + 2 beta) lambda_max)); null for rmsprop, adam and other surfaces,
                "message": {"en", "zh"},
                "taylor": [n + 1 rows {"step", "loss": L(theta_k), "predicted": L - eta ||g||^2,
                                       "actual": L(theta_k - eta g_k), "next": L(theta_{k+1}),
                                       "next_predicted": L + g . (theta_{k+1} - theta_k)}]}]}
  Index k of path, losses, gradients, state and taylor is the same step. A diverged run ends at the
  step that diverged; the others have steps + 1 entries.

POST /api/v1/descent/taylor    spec + {"point"?: [a, b] (the surface's start),
                                       "etas"?: [1..max_etas learning rates] (30 up to 3 x critical when left out)}
  -> {"point", "loss", "gradient": [ga, gb], "gradient_norm_squared",
      "rows": [{"eta", "predicted", "actual", "predicted_decrease" (= eta ||g||^2), "actual_decrease",
                "ratio" (actual / predicted decrease)}],
      "breaks_at": the smallest eta whose real decrease is under half the promised one, or null}

POST /api/v1/descent/line      spec + {"point"?: [a, b], "parameter": 0 (a) | 1 (b), "span": 2.0,
                                       "points": 101 (2..max_line_points)}
  -> {"parameter", "name": "a" | "b", "fixed": {"b" | "a": value}, "point", "xs": [...], "values": [...],
      "slopes": [dL/dparameter at each x], "at": L(point), "slope": dL/dparameter at the point,
      "tangent": [[x_left, y], [x_right, y]]}

Errors: the one envelope {"error": {"code", "message", "where"}}, always 422 for bad input (NaN,
infinity, numbers past their bounds, counts past their caps with the cap's name in the message, a
custom source that does not parse, uses names other than a and b, or calls a tensor op).

Answers of gzip_minimum_bytes or more travel gzipped to clients that accept it, as every large answer
of the app does, but at level 1, compressed here in the worker thread that computed them (see _answer).

The engine is deterministic, so 200 answers are kept as sent (app.answer_cache, BACKPROP_ANSWER_CACHE_BYTES):
an identical request (the same route, body and gzip) is answered from there before any rate-limit charge,
and identical requests arriving together are computed and charged once.
"""
from __future__ import annotations

import zlib
from functools import lru_cache
from typing import Any, Callable

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from engine.descent import OptimizerSpec, descend
from engine.landscape import (KINDS, Surface, catalogue, default_etas, grid, line, make_surface, point_view,
                              taylor)

from ..answer_cache import Answer, answer_cache_of, answer_key
from ..compute import compute
from ..errors import refusals
from ..rate_limit import charge
from ..schemas import (DescentRunRequest, ErrorEnvelope, LineRequest, SurfaceGridRequest, SurfaceSpec,
                       TaylorRequest)
from ..settings import get_settings

router = APIRouter(tags=["descent"])

ERRORS = {**refusals(413, 415),
          422: {"model": ErrorEnvelope, "description": "A field or the custom source cannot be used; see error.where"}}


GZIP_LEVEL = 1
GZIP_FORMAT = 31  # zlib's wbits for a gzip header and trailer


@lru_cache(maxsize=1)
def _catalogue() -> bytes:
    return orjson.dumps({"surfaces": catalogue()})


def _surface(spec: SurfaceSpec) -> Surface:
    return make_surface(spec.surface, condition=spec.condition, angle=spec.angle, source=spec.source,
                        data_seed=spec.data_seed)


async def _answer(work: Callable[[], dict[str, Any]], http: Request, request: BaseModel,
                  charged: str | None = None) -> Response:
    """The answer of `work` as JSON, computed, encoded and (for a client that accepts it) gzipped in a worker
    thread: a 200 x 200 grid or 8 optimizers x 2,000 steps on a typed f(a, b) takes long enough to stall
    the event loop, and a worker thread keeps other requests moving (app.compute).

    Kept in the answer cache under the route, gzip and `request`; only a request that computes is charged
    to the `charged` rate-limit group (a kept answer, or one computed for an identical request, is free)."""
    # NOTE: the app's GZipMiddleware compresses at level 5: 13 ms for the page's 5 x 500-step paths (280 KB),
    # 16 ms for a 200 x 200 grid, four times the run itself; level 1 takes 2 and 4 ms for answers 5-15%
    # bigger. An answer that already has its Content-Encoding passes the middleware untouched.
    minimum = get_settings().gzip_minimum_bytes
    accepts_gzip = "gzip" in http.headers.get("accept-encoding", "")  # as the middleware reads it

    def encoded() -> tuple[bytes, bool]:
        body = orjson.dumps(work())
        if accepts_gzip and len(body) >= minimum:
            return zlib.compress(body, GZIP_LEVEL, GZIP_FORMAT), True
        return body, False

    async def make() -> Answer:
        if charged is not None:
            await charge(http, charged)
        body, zipped = await compute(encoded)
        return Answer(body, {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"} if zipped else None)

    key = answer_key(http.url.path, accepts_gzip, request)
    answer = await answer_cache_of(http).get_or_make(key, make)
    return Response(answer.body, media_type="application/json", headers=answer.headers)


@router.get("/surfaces", summary="The loss surfaces of two parameters, their boxes, starts, minima and settings")
async def get_surfaces() -> Response:
    return Response(_catalogue(), media_type="application/json")


@router.post("/descent/surface", responses={**ERRORS, **refusals(429)},
             summary="A contour grid of one surface (and the gradient at a point)")
async def post_surface(request: SurfaceGridRequest, http: Request) -> Response:
    def work() -> dict[str, Any]:
        surface = _surface(request)
        box = request.box or KINDS[request.surface].box
        answer = {**surface.describe(), "box": [list(side) for side in box], "grid": request.grid,
                  **grid(surface, box, request.grid).to_dict()}
        if request.point is not None:
            answer["at"] = point_view(surface, request.point)
        return answer
    return await _answer(work, http, request, charged="descent")


@router.post("/descent/run", responses={**ERRORS, **refusals(429)},
             summary="Several optimizers from one start, step by step")
async def post_run(request: DescentRunRequest, http: Request) -> Response:
    def work() -> dict[str, Any]:
        surface = _surface(request)
        kind = KINDS[request.surface]
        specs = [OptimizerSpec(o.name, kind.learning_rate if o.learning_rate is None else o.learning_rate,
                               beta=o.beta, beta1=o.beta1, beta2=o.beta2, rho=o.rho, eps=o.eps, label=o.label)
                 for o in request.optimizers]
        include = set(request.include)
        return descend(surface, request.start or kind.start, specs, request.steps,
                       divergence_factor=request.divergence_factor, tolerance=request.tolerance,
                       include=include).to_dict(include)
    return await _answer(work, http, request, charged="descent")


@router.post("/descent/taylor", responses=ERRORS,
             summary="First-order prediction against the real loss after one step, as the learning rate grows")
async def post_taylor(request: TaylorRequest, http: Request) -> Response:
    def work() -> dict[str, Any]:
        surface = _surface(request)
        point = request.point or KINDS[request.surface].start
        return taylor(surface, point, request.etas or default_etas(surface, point))
    return await _answer(work, http, request)


@router.post("/descent/line", responses=ERRORS, summary="The loss along one parameter, with the tangent line")
async def post_line(request: LineRequest, http: Request) -> Response:
    def work() -> dict[str, Any]:
        surface = _surface(request)
        point = request.point or KINDS[request.surface].start
        return line(surface, point, request.parameter, request.span, request.points)
    return await _answer(work, http, request)
