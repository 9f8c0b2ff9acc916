"""Networks under /api/v1: one iteration traced, training (at once or streamed), optimizers compared.

THE CONTRACT (final; the page and external clients rely on these names)
=======================================================================

Every request body starts with the same network part (every field bounded by engine.limits, unknown
fields refused, numbers strict: no strings, no NaN or Infinity):

    {
      "layers": [{"units": 16, "activation": "tanh"}, {"units": 16, "activation": "tanh"},
                 {"units": 1, "activation": "sigmoid"}],
          # hidden layers, then the output layer; the input size comes from the data. activation:
          # tanh | relu | sigmoid | linear (hidden; default tanh). The output's may be left out: it
          # follows from the loss (sigmoid for bce, softmax for cross_entropy, linear for mse).
      "loss": "bce" | "cross_entropy" | "mse",
      "data": {"dataset": "moons", "points": 200, "noise": 0.1, "classes": 3, "seed": 0}
           OR {"custom": [[x1, x2, label], ...], "kind": "classification" | "regression", "seed": 0},
          # noise and classes: absent = the set's default (classes only for spiral and blobs);
          # custom rows are x..., label (or x, y for regression); kind absent = from the loss;
          # data.seed seeds the toy set AND the train/test split (the same split for every request).
      "test_fraction": 0.2,                     # 0 .. max_test_fraction
      "optimizer": {"name": "sgd" | "momentum" | "nesterov" | "rmsprop" | "adam",
                    "learning_rate": 0.01, "beta": 0.9 (momentum, nesterov), "beta1": 0.9, "beta2": 0.999 (adam),
                    "rho": 0.9 (rmsprop), "eps": 1e-8 (adam, rmsprop)},
      "batch_size": null,                       # null = full batch
      "batch_index": 0,                         # the batch the (first) iteration takes: see "Batches" below
      "seed": 0,                                # initial weights AND batch order: same seed, same weights and
                                                # batches, whatever the optimizer
      "l2": 0.0,
      "params": {"W1": [[...]], "b1": [[...], ...], ...}?,   # start here instead (an answer's params/params_after,
                                                             # as lists); every W[l] (n_l × n_{l-1}) and b[l] (n_l × 1)
      "optimizer_state": {"t"?, "velocity"?, "m"?, "v"?, "mean_square"?}?   # go on (an answer's optimizer.state)
    }

Batches (engine.train.BatchOrder): with batch_size b smaller than the training points, pass e over them
shuffles them with numpy.random.default_rng([seed, 1, e]) and cuts size // b batches of b; batch k of a
run is batch k % (size // b) of pass k // (size // b). To go on where an answer stopped, send its params,
its optimizer.state and batch_index = the iterations done so far: the next iterations see the batches
the whole run would have. With the full batch every iteration sees every point, and batch_index does
nothing.

POST /api/v1/network/iteration    network part + {"view": "layer" | "neuron", "encoding": "list" | "compact"}
    One iteration on batch number batch_index (0-based) of the run's batch order. Answer:
    {
      "view": "layer" | "neuron",
      "network": {sizes, activations, loss, l2, parameters, layers: [{layer, units, inputs, activation, init,
                  init_formula}], m, and in the layer view node_ids: {X, Y, L, L_data,
                  layers: [{layer, W, b, WA, Z, A}]}},
      "data": {"dataset", "kind", "features", "classes", "size", "train_size", "test_size", "batch_size",
               "batch_index", "batch_rows": [the training rows in the batch, 0-based, in the order /data/points
               lists the training points; column s of X is row batch_rows[s]]},
      "trace": the trace contract of DESIGN.md: nodes, output, steps (forward, backward, then one update
               step per parameter, with the optimizer's state on it), update {learning_rate, loss_before,
               loss_after, loss_predicted, optimizer}; "encoding": "compact" when asked (large tensors as
               {dtype, shape, base64}, step tensors that are a node's value or grad as {ref, field}),
      "non_finite": null | WHERE (layer view, rule first_non_finite: where a number first stopped being finite
                    in this iteration),
      "params": the parameters before, "params_after": after the update (lists, W[l] rows, b[l] a column),
      "optimizer": {name, learning_rate, formula, beta..., "state": {...}}   (send state back as optimizer_state)
    }
    With "compact", params, params_after and optimizer.state are compact too (tensors of 256 numbers or more
    as {dtype, shape, base64}); requests take lists only, so decode them before sending them back.
    The neuron view (every weight, z and a a scalar node; nets of at most max_neuron_parameters and
    graphs of at most max_neuron_nodes: use a small batch_size) computes the same numbers as the layer view.

POST /api/v1/network/train        network part + {"iterations": 500, "grid": 50, "eval_every": null,
                                                 "divergence_factor": 100, "encoding": "list" | "compact"}
    -> {
         "status": "finished" | "diverged" | "stopped",     # stopped: max_run_seconds ran out first
         "stop_reason": null | "max_run_seconds",
         "iterations": iterations done,
         "history": {"iteration", "train_loss", "train_accuracy", "test_loss", "test_accuracy"} (one entry per
                    evaluation, every eval_every iterations; accuracies null for regression, test_* null
                    without a test set) + "batch_loss" (every iteration, before its update),
         "metrics": {"train_loss", "train_accuracy", "test_loss", "test_accuracy"} at the end,
         "params", "initial_params",
         "boundary": {"kind": "grid", "x1": [...], "x2": [...], "probabilities": [class][row: x2][column: x1],
                      "predicted": [row][column]} (2 features) | {"kind": "curve", "x", "y"} (1-D regression) | null,
         "divergence": null | {"iteration", "learning_rate", "reason", "loss", "initial_loss", "where": WHERE,
                               "message", "message_zh"},
              # reason: loss_exploded (the loss passed divergence_factor x its first value while every number
              # stayed finite; rule largest_relative_update; this is what a learning rate of 1e6 gives, at
              # iteration 2) | non_finite_loss | non_finite_gradient | non_finite_parameter (rule
              # first_non_finite). A divergence_factor of 1e300 lets a run go on until a number overflows.
         "optimizer": {name, learning_rate, formula, ..., "state"},
         "network": {...as above, without m and node_ids}, "data": {...as above}
       }
    A run is the same for the same request: weights from seed, batch order from seed, data from data.seed.
    With "compact", params, initial_params, optimizer.state and boundary.probabilities are compact (tensors
    of 256 numbers or more as {dtype, shape, base64}: float64, little-endian, row-major); the default is lists.

    WHERE, one place in the drawing (app.schemas.DivergenceWhere, engine.nn):
        {"phase": "forward" | "backward" | "update", "layer": 1..L, "unit": 0-based row of that layer,
         "quantity": Z | A | WA | W | b | loss | L2 | dZ | dA | dW | db | dL2, "node": layer-view node id,
         "label": "Z1" ..., "status": nan | inf | overflow | div0 | exploded,
         "rule": "first_non_finite" | "largest_relative_update", "growth": number | null}
        first_non_finite: the first number that stopped being finite, in forward then backward order
        (a scalar such as the loss is placed at its input's unit holding the largest number).
        largest_relative_update (status exploded): the unit whose incoming weights and bias the last update
        changed the most relative to their size before it; growth = ||delta [W_i, b_i]|| / ||[W_i, b_i]||.

POST /api/v1/network/train/stream     the /network/train body -> text/event-stream, events:
    "start"     {"iterations", "max_seconds", "network", "data", "params"?: the initial ones (small nets)}
    "progress"  {"iteration", "iterations", "train_loss", "train_accuracy", "test_loss", "test_accuracy"
                 (the latest evaluation), "history": {the evaluations since the last event, same keys as
                 /network/train's history}, "batch_loss": [losses of the iterations since the last event],
                 and about 4 times a second "boundary", plus for nets of at most stream_params_max
                 parameters "params" and "optimizer": {name, ..., "state"}}
                 -- one per stream_event_seconds (0.05 s: about 20 a second) of training;
    "done"      {the /network/train answer}
    "error"     {"error": {"code", "message", "where"}} (a failure after the stream began).
    Errors found before training starts (bad fields, too many runs: 429) are the usual JSON envelope.
    To stop a run, abort the request (fetch + AbortController): the server sees the closed connection
    at once, and the run ends after its current 0.05 s slice (a slice still waiting for a thread never
    runs). Every run also ends after its iterations or max_run_seconds (wall-clock time, waiting
    included). GET /api/v1/network/runs -> {"active", "max_active_runs", "max_run_seconds",
    "stream_threads"}.

Where the work runs (app.compute): /train and /compare in the long-run lane (long_run_threads at once,
long_run_queue waiting, else 429 server_busy); a client that goes away while its run waits there takes
the run out of the queue, and one that goes away while it trains stops it. Streamed runs in a lane of
their own: at most max_active_runs of them (else 429), their slices taking turns on stream_threads
threads. So a crowd of live runs slows each other down, and neither the runs of /train nor the short
computations (descent, one iteration, long programs: app.compute.compute) wait for them.

POST /api/v1/network/compare      network part + {"iterations", "grid", ..., "optimizers": ["sgd", "momentum",
                                  "adam"]} (each entry a name, or an optimizer object whose absent fields
                                  come from "optimizer"; optimizer_state is refused: each starts afresh)
    -> {"runs": [{"optimizer": {name, learning_rate, ..., state}, "status", "stop_reason", "iterations",
                  "history", "metrics", "params", "boundary", "divergence"}],
        "initial_params", "network", "data"}
       Every run starts from the same initial weights (seed, or params) and sees the same batches.

Changed from the first draft: history keys are train_loss/train_accuracy (not loss/accuracy) as the
engine names them, plus batch_loss; status "ok" is "finished" (and "stopped" exists); the boundary is
{kind, x1, x2, probabilities, predicted} or {kind, x, y}; optimizer state comes back as optimizer.state;
GET /data/points also has a POST form (see app/routes/data.py).
"""
from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, TypeVar

import anyio
import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from engine.data import CLASSIFICATION, REGRESSION, Dataset
from engine.errors import ValueInputError
from engine.nn import MLP, MLPSpec, first_non_finite, iteration, mlp_spec, neuron_iteration
from engine.train import TrainConfig, Trainer, optimizer_json, params_json
from engine.values import to_json

from ..compute import compute, run_long, stream_slice
from ..errors import ApiError, fields_renamed, refusals
from ..rate_limit import charge
from ..schemas import (CompareAnswer, CompareRequest, ErrorEnvelope, IterationAnswer, IterationRequest, NetworkRequest,
                       OptimizerSpec, TrainAnswer, TrainRequest, event_stream)
from ..settings import get_settings
from .data import describe, load_points, split_points
from .trace import json_response

log = logging.getLogger("backprop_explorer")

router = APIRouter(prefix="/network", tags=["network"])

ERRORS = {**refusals(413, 415),
          422: {"model": ErrorEnvelope, "description": "A field cannot be used; see error.where"}}
STOPPED = "stopped"
HISTORY = ("iteration", "train_loss", "train_accuracy", "test_loss", "test_accuracy")
CLIENT_CLOSED = 499  # what a run whose client went away answers, to nobody (as nginx logs it)
T = TypeVar("T")


# ---- From a request to the engine's objects --------------------------------------------------------

_SIZE = re.compile(r"layers\.(\d+)$")
_ACTIVATION = re.compile(r"activations\.(\d+)$")
_RENAMED = {"optimizer": "optimizer.name", "learning_rate": "optimizer.learning_rate", "beta": "optimizer.beta",
            "beta1": "optimizer.beta1", "beta2": "optimizer.beta2", "eps": "optimizer.eps", "rho": "optimizer.rho",
            "first_batch": "batch_index"}


def _request_field(field: str) -> str:
    """The engine's name for a field (sizes with the input first, activations apart) as the request names it."""
    if match := _SIZE.match(field):
        layer = int(match[1])
        return "data" if layer == 0 else f"layers.{layer - 1}.units"
    if match := _ACTIVATION.match(field):
        return f"layers.{match[1]}.activation"
    if field == "activations":
        return "layers"
    if field == "test":
        return "data"
    return _RENAMED.get(field, field)


@dataclass
class Problem:
    """A request's network and its data, checked."""
    spec: MLPSpec
    name: str
    points: Dataset
    train: Dataset
    test: Dataset | None

    def data(self, batch_size: int) -> dict[str, Any]:
        return {"dataset": self.name, **describe(self.points), "train_size": self.train.size,
                "test_size": 0 if self.test is None else self.test.size, "batch_size": batch_size}

    def batch_size(self, request: NetworkRequest) -> int:
        return min(request.batch_size or self.train.size, self.train.size)


def _problem(request: NetworkRequest) -> Problem:
    points = load_points(request.data, REGRESSION if request.loss == "mse" else CLASSIFICATION)
    train, test = split_points(points, request.test_fraction, request.data)
    activations = [layer.activation or "tanh" for layer in request.layers[:-1]]
    if request.layers[-1].activation is not None:
        activations.append(request.layers[-1].activation)
    with fields_renamed(_request_field):
        spec = mlp_spec([train.features, *(layer.units for layer in request.layers)], activations, request.loss,
                        l2=request.l2)
    return Problem(spec, request.data.dataset or "own", points, train, test)


def _config(request: NetworkRequest, spec: MLPSpec, optimizer: OptimizerSpec, **run: Any) -> TrainConfig:
    return TrainConfig(spec, optimizer.name, optimizer.learning_rate, batch_size=request.batch_size,
                       seed=request.seed, first_batch=request.batch_index, beta=optimizer.beta, beta1=optimizer.beta1,
                       beta2=optimizer.beta2, eps=optimizer.eps, rho=optimizer.rho, **run)


def _trainer(request: NetworkRequest, problem: Problem, optimizer: OptimizerSpec, **run: Any) -> Trainer:
    """A run from the request's start: the seeded weights, or its params and optimizer_state."""
    state = None if request.optimizer_state is None else request.optimizer_state.model_dump(exclude_none=True)
    with fields_renamed(_request_field):
        return Trainer(_config(request, problem.spec, optimizer, **run), problem.train, problem.test,
                       params=request.params, optimizer_state=state)


# ---- One iteration ------------------------------------------------------------------------------

def _iteration(request: IterationRequest) -> dict[str, Any]:
    problem = _problem(request)
    spec = problem.spec
    start = _trainer(request, problem, request.optimizer, iterations=1)
    params, optimizer = start.params, start.optimizer
    rows = start.batches.rows(request.batch_index)
    x, y = start.x[:, rows], start.y[:, rows]
    m = len(rows)
    if request.view == "neuron":
        with fields_renamed(_request_field):
            _, result, after = neuron_iteration(spec, params, x, y, optimizer)
        network, non_finite = {**spec.describe(), "m": m}, None
    else:
        model = MLP(spec)
        result, after = iteration(model, params, x, y, optimizer)
        net = model.graph(m)
        network, non_finite = net.describe(), first_non_finite(net, result)
    encoding = request.encoding
    return {"view": request.view, "network": network,
            "data": {**problem.data(m), "batch_index": request.batch_index, "batch_rows": rows.tolist()},
            "trace": result.to_dict(encoding), "non_finite": non_finite, "params": params_json(params, encoding),
            "params_after": params_json(after, encoding), "optimizer": optimizer_json(optimizer, encoding)}


@router.post("/iteration", responses={200: {"model": IterationAnswer}, **ERRORS},
             summary="One iteration traced: forward and backward layer by layer (or neuron by neuron), then the update")
async def post_iteration(request: IterationRequest) -> Response:
    return json_response(await compute(_iteration, request))


# ---- Training -------------------------------------------------------------------------------------

def _run(trainer: Trainer, deadline: float, stop: threading.Event | None = None) -> None:
    while trainer.step() and time.monotonic() < deadline and not (stop is not None and stop.is_set()):
        pass


def _run_fields(request: TrainRequest) -> dict[str, Any]:
    return {"iterations": request.iterations, "grid": request.grid, "eval_every": request.eval_every,
            "divergence_factor": request.divergence_factor}


def _answer(trainer: Trainer, problem: Problem, encoding: str) -> dict[str, Any]:
    answer = trainer.result(encoding).to_dict()
    answer["stop_reason"] = None
    if not trainer.done:
        answer["status"], answer["stop_reason"] = STOPPED, "max_run_seconds"
    answer["network"] = problem.spec.describe()
    answer["data"] = problem.data(trainer.batch_size)
    return answer


def _train(request: TrainRequest, stop: threading.Event | None = None) -> dict[str, Any]:
    problem = _problem(request)
    trainer = _trainer(request, problem, request.optimizer, **_run_fields(request))
    _run(trainer, time.monotonic() + get_settings().max_run_seconds, stop)
    return _answer(trainer, problem, request.encoding)


async def _while_connected(http: Request, work: Callable[..., T], *args: Any) -> T | None:
    """work(*args, stop) in the long-run lane, or None when the client goes away first: a run still
    waiting for its turn never runs, and a running one is told to stop (the thread cannot be killed)."""
    stop = threading.Event()
    answer: T | None = None
    refusal: Exception | None = None
    async with anyio.create_task_group() as group:
        async def watch() -> None:
            # NOTE: the body has been read, so the next message is the disconnect (or, from some servers,
            # an empty http.request now and then, which says nothing).
            while (await http.receive())["type"] != "http.disconnect":
                pass
            stop.set()
            group.cancel_scope.cancel()

        group.start_soon(watch)
        try:
            answer = await run_long(work, *args, stop)
        except Exception as error:  # NOTE: raised below, not wrapped in the task group's ExceptionGroup
            refusal = error
        group.cancel_scope.cancel()
    if refusal is not None:
        raise refusal
    return answer


def _long_answer(answer: dict[str, Any] | None) -> Response:
    return Response(status_code=CLIENT_CLOSED) if answer is None else json_response(answer)


@router.post("/train", responses={200: {"model": TrainAnswer}, **ERRORS, **refusals(429)},
             summary="Train for N iterations: history, final parameters, decision boundary, divergence if any")
async def post_train(request: TrainRequest, http: Request) -> Response:
    await charge(http, "training")
    return _long_answer(await _while_connected(http, _train, request))


def _compare(request: CompareRequest, stop: threading.Event | None = None) -> dict[str, Any]:
    if request.optimizer_state is not None:
        raise ValueInputError("compare starts every optimizer afresh from the same weights: leave out "
                              "optimizer_state", "optimizer_state", code="invalid_value")
    problem = _problem(request)
    deadline = time.monotonic() + get_settings().max_run_seconds
    runs, initial = [], None
    for position, entry in enumerate(request.optimizers):
        chosen = request.optimizer.model_copy(update={name: getattr(entry, name) for name in entry.model_fields_set})
        trainer = _trainer(request, problem, chosen, **_run_fields(request))
        left = len(request.optimizers) - position
        _run(trainer, time.monotonic() + max(0.0, deadline - time.monotonic()) / left, stop)
        answer = _answer(trainer, problem, request.encoding)
        initial = answer.pop("initial_params")
        for shared in ("network", "data"):
            answer.pop(shared)
        runs.append(answer)
    return {"runs": runs, "initial_params": initial, "network": problem.spec.describe(),
            "data": problem.data(problem.batch_size(request))}


@router.post("/compare", responses={200: {"model": CompareAnswer}, **ERRORS, **refusals(429)},
             summary="Several optimizers trained from identical initial weights, side by side")
async def post_compare(request: CompareRequest, http: Request) -> Response:
    await charge(http, "training")
    return _long_answer(await _while_connected(http, _compare, request))


# ---- Training streamed as server-sent events ---------------------------------------------------------

def _event(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n\n"


class Run:
    """One streamed run, advanced by a worker thread one slice of time at a time; the loop only sends."""

    def __init__(self, trainer: Trainer, problem: Problem, encoding: str) -> None:
        settings = get_settings()
        self.trainer, self.problem, self.encoding = trainer, problem, encoding
        self.event_seconds = settings.stream_event_seconds
        self.boundary_seconds = settings.stream_boundary_seconds
        self.with_params = problem.spec.parameter_count <= settings.stream_params_max
        self.max_seconds = settings.max_run_seconds
        self.deadline = time.monotonic() + settings.max_run_seconds
        self.next_boundary = 0.0
        self.evaluations_sent = 0
        self.iterations_sent = 0
        self.over = False

    def start(self) -> bytes:
        trainer = self.trainer
        payload = {"iterations": trainer.config.iterations, "max_seconds": self.max_seconds,
                   "network": self.problem.spec.describe(), "data": self.problem.data(trainer.batch_size)}
        if self.with_params:
            payload["params"] = params_json(trainer.params, self.encoding)
        return _event("start", payload)

    def advance(self) -> bytes:
        """Train for one event's worth of time; answer the progress event, and "done" when the run is over."""
        trainer = self.trainer
        _run(trainer, min(time.monotonic() + self.event_seconds, self.deadline))
        now = time.monotonic()
        self.over = trainer.done or now >= self.deadline
        events = [_event("progress", self._progress(now))]
        if self.over:
            events.append(_event("done", _answer(trainer, self.problem, self.encoding)))
        return b"".join(events)

    def _progress(self, now: float) -> dict[str, Any]:
        trainer = self.trainer
        history = trainer.history
        new = {name: [to_json(value) if isinstance(value, float) else value
                      for value in getattr(history, name)[self.evaluations_sent:]] for name in HISTORY}
        payload: dict[str, Any] = {"iteration": trainer.iteration, "iterations": trainer.config.iterations}
        payload.update({name: to_json(getattr(history, name)[-1]) if history.iteration else None
                        for name in HISTORY[1:]})
        payload["history"] = new
        payload["batch_loss"] = history.batch_loss[self.iterations_sent:]
        self.evaluations_sent, self.iterations_sent = len(history.iteration), len(history.batch_loss)
        if now >= self.next_boundary or self.over:
            self.next_boundary = now + self.boundary_seconds
            payload["boundary"] = trainer.boundary(self.encoding)
            if self.with_params:
                payload["params"] = params_json(trainer.last_finite_params, self.encoding)
                payload["optimizer"] = optimizer_json(trainer.optimizer, self.encoding)
        return payload


# ---- Streamed runs: admitted up to max_active_runs, their slices taking turns in a lane of their own --

# A run admitted is here from its admission (before the first await, so that requests arriving together
# cannot all slip past max_active_runs) until its stream ends, however it ends: set up, then training.
ACTIVE_RUNS: set[object] = set()

def _admit() -> object:
    settings = get_settings()
    if len(ACTIVE_RUNS) >= settings.max_active_runs:
        raise ApiError(429, "rate_limited", f"{settings.max_active_runs} training runs are streaming already "
                                            "(max_active_runs); try again in a few seconds",
                       where={"limit": "max_active_runs"}, headers={"Retry-After": "5"})
    place = object()
    ACTIVE_RUNS.add(place)
    return place


async def _events(run: Run) -> AsyncIterator[bytes]:
    try:
        yield run.start()
        while not run.over:
            # NOTE: a slice waiting for its turn is cancelled at once when the client goes away
            # (EventStream listens); one already training finishes its 0.05 s first.
            yield await stream_slice(run.advance)
    except Exception:
        log.exception("a streamed training run failed")
        yield _event("error", {"error": {"code": "internal_error", "where": {},
                                         "message": "the training run failed on the server and was stopped"}})


class EventStream(StreamingResponse):
    """Server-sent events that end the moment the client goes away, whatever ASGI version the server
    speaks (Starlette listens for the disconnect only below 2.4), with their generator closed and
    `on_close` called however they end."""
    media_type = "text/event-stream"

    # NOTE: FastAPI reads the default status of a response class from its __init__ for OpenAPI.
    def __init__(self, content: AsyncIterator[bytes], on_close: Callable[[], None], status_code: int = 200,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(content, status_code, headers=headers)
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:
                async def stream() -> None:
                    try:
                        await self.stream_response(send)
                    except OSError:  # an ASGI 2.4 server's answer to a send after the client left
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()  # type: ignore[attr-defined]
            self.on_close()


def _stream_run(request: TrainRequest) -> Run:
    problem = _problem(request)
    return Run(_trainer(request, problem, request.optimizer, **_run_fields(request)), problem, request.encoding)


# Its refusals are JSON, though its answer is an event stream: so they are given by reference.
@router.post("/train/stream", responses={**refusals(413, 415, 422, 429, by_reference=True),
                                         200: {"content": event_stream("start", "progress", "done", "error")}},
             response_class=EventStream,
             summary="Train with live progress as server-sent events: start, progress (~20/s), done; abort to stop")
async def post_train_stream(body: TrainRequest, request: Request) -> EventStream:
    await charge(request, "training")
    place = _admit()
    try:
        run = await stream_slice(_stream_run, body)
    finally:
        ACTIVE_RUNS.discard(place)
    ACTIVE_RUNS.add(run)  # NOTE: no await between: the place passes to the run
    return EventStream(_events(run), on_close=lambda: ACTIVE_RUNS.discard(run),
                       headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/runs", summary="How many streamed training runs are going on now")
async def get_runs() -> dict[str, Any]:
    settings = get_settings()
    return {"active": len(ACTIVE_RUNS), "max_active_runs": settings.max_active_runs,
            "max_run_seconds": settings.max_run_seconds, "stream_threads": settings.stream_threads}
