"""Network speed in process, each figure next to a baseline measured in the same run.

    python benchmarks/bench_nn.py            # about a minute
    python benchmarks/bench_nn.py --quick    # a few seconds, for a smoke run

The targets of issue 4, each against a baseline timed in this process:

1. One training step of a 784-128-64-10 MLP (relu, relu, softmax cross-entropy), batch 64, float64,
   one BLAS thread, through the engine's graph (engine.train.Trainer.step: forward and backward
   with record=False, then the update): <= 1.0x PyTorch CPU doing the same step, and <= 1.3x a
   hand-written NumPy forward/backward/update. Timed twice: with glibc's default malloc settings,
   then with freed memory kept for reuse (mallopt), because a fresh 800 KB array costs ~200 page
   faults under the defaults and that, not arithmetic, decides the hand-written figure.
2. MLP(2, [16, 16, 1]) on 100 two-moons points, one training step (half mean squared error, SGD):
   >= 1000x faster than micrograd doing the same step from the same weights.
3. Two moons (200 points) to 97% training accuracy: < 1 s of server time, for a whole 300-iteration
   Adam run with its history, metrics and decision boundary: engine.train.train, and the work of the
   POST /network/train handler (request to JSON bytes, the verdict's figure); baseline: the same run
   written in plain NumPy.
4. The trace of one 784-128-64-10 iteration (record=True, ~40 steps) serialised to JSON: <= 10 ms,
   with to_dict("compact") + orjson.dumps; baselines: the other encodings, and json.dumps of lists.
   For reference, the whole POST /network/iteration answer (compute and JSON, encoding compact).

PyTorch (torch==2.13.0) and micrograd come from the optional `bench` extra
(pip install -e ".[bench]"); without them their comparisons print "n/a". One BLAS thread: the
*_NUM_THREADS variables are set before NumPy is imported, and threadpoolctl (when installed) limits
every BLAS it finds. This machine may set OPENBLAS_CORETYPE, which pins OpenBLAS to older kernels:
run `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_nn.py` to let NumPy choose
(the header names the kernel in use). The script prints figures and exits 0: evidence, not a gate.
"""
from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"  # one BLAS thread, set before NumPy loads its BLAS

import argparse  # noqa: E402
import ctypes  # noqa: E402
import ctypes.util  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402
import orjson  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.data import CLASSIFICATION, REGRESSION, Dataset, make_dataset  # noqa: E402
from engine.limits import LIMITS  # noqa: E402
from engine.nn import MLP, init_params, iteration, mlp_spec  # noqa: E402
from engine.optim import SGD  # noqa: E402
from engine.train import TrainConfig, Trainer, train  # noqa: E402

try:
    import threadpoolctl
except ImportError:  # pragma: no cover - optional
    threadpoolctl = None
try:
    import torch
except ImportError:  # pragma: no cover - optional
    torch = None
try:
    from micrograd.engine import Value as MicroValue
    from micrograd.nn import MLP as MicroMLP
except ImportError:  # pragma: no cover - optional
    MicroValue = MicroMLP = None

if threadpoolctl is not None:
    _LIMITER = threadpoolctl.threadpool_limits(1)
if torch is not None:
    torch.set_num_threads(1)

BIG = (784, 128, 64, 10)
BATCH = 64
RATE = 0.01
UNLIMITED = LIMITS.raised(max_iterations=10 ** 9, max_training_work=10 ** 18)


# ---- Measuring --------------------------------------------------------------------------------

def median(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2]


def interleaved(functions: dict[str, Callable[[], Any]], rounds: int, per_round: int) -> dict[str, float]:
    """Median seconds per call; the functions take turns in rounds, so a burst of load slows all of them."""
    samples: dict[str, list[float]] = {name: [] for name in functions}
    clock = time.perf_counter
    for _ in range(rounds):
        for name, function in functions.items():
            for _ in range(per_round):
                start = clock()
                function()
                samples[name].append(clock() - start)
    return {name: median(found) for name, found in samples.items()}


def once(function: Callable[[], Any], repeats: int) -> float:
    clock = time.perf_counter
    found = []
    for _ in range(repeats):
        start = clock()
        function()
        found.append(clock() - start)
    return median(found)


def keep_freed_memory() -> bool:
    """glibc: serve large arrays from the heap and keep freed memory (no munmap/trim page faults)."""
    name = ctypes.util.find_library("c")
    if not name or platform.system() != "Linux":
        return False
    libc = ctypes.CDLL(name)
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_mmap_threshold, 32 << 20)) and bool(libc.mallopt(m_trim_threshold, 256 << 20))


# ---- 1. One step of 784-128-64-10 ---------------------------------------------------------------

def big_batch() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, BIG[0]))
    labels = rng.integers(0, BIG[-1], BATCH)
    return x, labels, np.eye(BIG[-1])[:, labels]


def engine_trainer(x: np.ndarray, labels: np.ndarray) -> Trainer:
    data = Dataset("bench", CLASSIFICATION, x, labels.astype(np.float64), BIG[-1])
    spec = mlp_spec(list(BIG), ["relu", "relu"], "cross_entropy")
    config = TrainConfig(spec, "sgd", RATE, iterations=10 ** 8, seed=0, eval_every=10 ** 8)
    return Trainer(config, data, limits=UNLIMITED)


class NumpyStep:
    """Baseline: the same step written by hand in NumPy, as the lessons write it, updating in place."""

    def __init__(self, params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> None:
        self.w = [params[f"W{l}"].copy() for l in (1, 2, 3)]
        self.b = [params[f"b{l}"].copy() for l in (1, 2, 3)]
        self.x, self.y = np.ascontiguousarray(x.T), y

    def gradients(self) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
        w, b, y = self.w, self.b, self.y
        m = y.shape[1]
        a, zs = [self.x], []
        for l in range(3):
            z = w[l] @ a[-1] + b[l]
            zs.append(z)
            a.append(np.maximum(z, 0.0) if l < 2 else z)
        shifted = a[-1] - a[-1].max(axis=0, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))
        loss = -np.sum(y * log_p) / m
        dz = (np.exp(log_p) - y) / m
        dws, dbs = [None] * 3, [None] * 3
        for l in (2, 1, 0):
            dws[l] = dz @ a[l].T
            dbs[l] = dz.sum(axis=1, keepdims=True)
            if l:
                dz = (w[l].T @ dz) * (zs[l - 1] > 0)
        return loss, dws, dbs

    def step(self) -> None:
        _, dws, dbs = self.gradients()
        for l in range(3):
            self.w[l] -= RATE * dws[l]
            self.b[l] -= RATE * dbs[l]


class TorchStep:
    """Baseline: PyTorch CPU, float64, autograd, the usual no_grad SGD update."""

    def __init__(self, params: dict[str, np.ndarray], x: np.ndarray, labels: np.ndarray) -> None:
        self.params = [torch.tensor(params[f"{kind}{l}"], requires_grad=True) for l in (1, 2, 3) for kind in "Wb"]
        self.x = torch.tensor(np.ascontiguousarray(x.T))
        self.labels = torch.tensor(labels)

    def loss(self) -> Any:
        a = self.x
        for l in range(3):
            w, b = self.params[2 * l], self.params[2 * l + 1]
            a = w @ a + b
            if l < 2:
                a = torch.relu(a)
        return torch.nn.functional.cross_entropy(a.T, self.labels)

    def step(self) -> None:
        loss = self.loss()
        loss.backward()
        with torch.no_grad():
            for p in self.params:
                p -= RATE * p.grad
                p.grad = None


def check_same_numbers(params: dict[str, np.ndarray], x: np.ndarray, labels: np.ndarray, y: np.ndarray) -> None:
    model = MLP(mlp_spec(list(BIG), ["relu", "relu"], "cross_entropy"), UNLIMITED)
    net, result = model.forward_backward(params, np.ascontiguousarray(x.T), y)
    loss, dws, _ = NumpyStep(params, x, y).gradients()
    engine_dw1 = result.grads[net.params["W1"]]
    if not (np.isclose(result.values[net.loss], loss, rtol=1e-12) and np.allclose(engine_dw1, dws[0], rtol=1e-9,
                                                                                    atol=1e-15)):
        raise SystemExit("the engine and the hand-written NumPy step disagree")
    if torch is not None:
        step = TorchStep(params, x, labels)
        torch_loss = step.loss()
        torch_loss.backward()
        if not (np.isclose(torch_loss.item(), loss, rtol=1e-12)
                and np.allclose(step.params[0].grad.numpy(), dws[0], rtol=1e-9, atol=1e-15)):
            raise SystemExit("PyTorch and the hand-written NumPy step disagree")


def bench_step(rounds: int, per_round: int) -> dict[str, float]:
    x, labels, y = big_batch()
    trainer = engine_trainer(x, labels)
    check_same_numbers(trainer.params, x, labels, y)
    contenders: dict[str, Callable[[], Any]] = {"engine": trainer.step,
                                                "numpy": NumpyStep(trainer.params, x, y).step}
    if torch is not None:
        contenders["torch"] = TorchStep(trainer.params, x, labels).step
    interleaved(contenders, 1, 10)  # warm-up
    gc.collect()
    return interleaved(contenders, rounds, per_round)


# ---- 2. MLP(2, [16, 16, 1]) against micrograd ---------------------------------------------------

def small_case() -> tuple[Trainer, np.ndarray, np.ndarray]:
    moons = make_dataset("moons", 100, seed=0)
    targets = 2.0 * moons.y - 1.0  # +-1, as in micrograd's own demo
    data = Dataset("moons+-1", REGRESSION, moons.x, targets, 0)
    spec = mlp_spec([2, 16, 16, 1], ["relu", "relu", "linear"], "mse")
    config = TrainConfig(spec, "sgd", 0.05, iterations=10 ** 8, seed=0, eval_every=10 ** 8)
    return Trainer(config, data, limits=UNLIMITED), moons.x, targets


def micrograd_model(params: dict[str, np.ndarray]) -> Any:
    model = MicroMLP(2, [16, 16, 1])  # relu, relu, linear: the same architecture
    for layer, (w, b) in zip(model.layers, ((params[f"W{l}"], params[f"b{l}"]) for l in (1, 2, 3))):
        for row, neuron in enumerate(layer.neurons):
            for column, weight in enumerate(neuron.w):
                weight.data = float(w[row, column])
            neuron.b.data = float(b[row, 0])
    return model


def micrograd_step(model: Any, points: np.ndarray, targets: np.ndarray) -> float:
    rows = points.tolist()
    m = len(rows)
    scores = [model(row) for row in rows]
    loss = sum(((score - float(t)) ** 2 for score, t in zip(scores, targets)), MicroValue(0.0)) * (1.0 / (2 * m))
    model.zero_grad()
    loss.backward()
    for p in model.parameters():
        p.data -= 0.05 * p.grad
    return loss.data


def bench_micrograd(repeats: int, engine_repeats: int) -> tuple[float, float | None]:
    trainer, points, targets = small_case()
    engine = once(trainer.step, 5) and once(trainer.step, engine_repeats)
    if MicroMLP is None:
        return engine, None
    fresh, _, _ = small_case()
    model = micrograd_model(fresh.params)
    first = micrograd_step(model, points, targets)
    fresh.step()
    if not np.isclose(first, fresh.history.batch_loss[0], rtol=1e-9):
        raise SystemExit("micrograd and the engine disagree on the first loss")
    return engine, once(lambda: micrograd_step(model, points, targets), repeats)


# ---- 3. Two moons to 97% --------------------------------------------------------------------------

MOONS_RATE, MOONS_ITERATIONS = 0.03, 300


def numpy_moons(x: np.ndarray, y: np.ndarray, params: dict[str, np.ndarray]) -> float:
    """Baseline: the same 300 Adam iterations of 2-16-16-1 tanh + bce, written by hand; the final accuracy."""
    p = {name: value.copy() for name, value in params.items()}
    m_, v_ = {k: np.zeros_like(a) for k, a in p.items()}, {k: np.zeros_like(a) for k, a in p.items()}
    count = y.shape[1]
    for t in range(1, MOONS_ITERATIONS + 1):
        a1 = np.tanh(p["W1"] @ x + p["b1"])
        a2 = np.tanh(p["W2"] @ a1 + p["b2"])
        z3 = p["W3"] @ a2 + p["b3"]
        dz3 = (1.0 / (1.0 + np.exp(-z3)) - y) / count
        g = {"W3": dz3 @ a2.T, "b3": dz3.sum(1, keepdims=True)}
        dz2 = (p["W3"].T @ dz3) * (1 - a2 ** 2)
        g.update(W2=dz2 @ a1.T, b2=dz2.sum(1, keepdims=True))
        dz1 = (p["W2"].T @ dz2) * (1 - a1 ** 2)
        g.update(W1=dz1 @ x.T, b1=dz1.sum(1, keepdims=True))
        for k in p:
            m_[k] = 0.9 * m_[k] + 0.1 * g[k]
            v_[k] = 0.999 * v_[k] + 0.001 * g[k] ** 2
            p[k] -= MOONS_RATE * (m_[k] / (1 - 0.9 ** t)) / (np.sqrt(v_[k] / (1 - 0.999 ** t)) + 1e-8)
    a1 = np.tanh(p["W1"] @ x + p["b1"])
    z3 = p["W3"] @ np.tanh(p["W2"] @ a1 + p["b2"]) + p["b3"]
    return float(np.mean((z3 > 0) == (y > 0.5)))


MOONS_REQUEST = {"layers": [{"units": 16, "activation": "tanh"}, {"units": 16, "activation": "tanh"}, {"units": 1}],
                 "loss": "bce", "data": {"dataset": "moons", "points": 200, "seed": 0}, "test_fraction": 0.0,
                 "optimizer": {"name": "adam", "learning_rate": MOONS_RATE}, "iterations": MOONS_ITERATIONS}


def bench_moons_handler(repeats: int) -> tuple[float, float]:
    """The /network/train handler's own work: the request model to the JSON bytes it answers."""
    from app.routes.network import _train
    from app.schemas import TrainRequest

    def handle() -> bytes:
        return orjson.dumps(_train(TrainRequest.model_validate(MOONS_REQUEST)))
    accuracy = orjson.loads(handle())["metrics"]["train_accuracy"]
    return once(handle, repeats), accuracy


def bench_moons(repeats: int) -> tuple[float, float, float, int | None, float]:
    data = make_dataset("moons", 200, seed=0)
    spec = mlp_spec([2, 16, 16, 1], ["tanh", "tanh"], "bce")
    config = TrainConfig(spec, "adam", MOONS_RATE, iterations=MOONS_ITERATIONS, seed=0)
    result = train(config, data)
    reached = next((i for i, a in zip(result.history.iteration, result.history.train_accuracy) if a >= 0.97), None)
    x, y = data.columns("bce")
    params = init_params(spec, 0)
    baseline_accuracy = numpy_moons(x, y, params)
    engine = once(lambda: train(config, data), repeats)
    plain = once(lambda: numpy_moons(x, y, params), repeats)
    return engine, plain, result.metrics["train_accuracy"], reached, baseline_accuracy


# ---- 4. Serialising a 784-128-64-10 iteration trace --------------------------------------------

def bench_serialise(repeats: int, slow_repeats: int) -> dict[str, tuple[float, int]]:
    x, labels, y = big_batch()
    spec = mlp_spec(list(BIG), ["relu", "relu"], "cross_entropy")
    model = MLP(spec, UNLIMITED)
    params = init_params(spec, 0)
    columns = np.ascontiguousarray(x.T)
    result, _ = iteration(model, params, columns, y, SGD(RATE))
    figures: dict[str, tuple[float, int]] = {}
    cases: list[tuple[str, Callable[[], bytes], int]] = [
        ('to_dict("compact") + orjson.dumps', lambda: orjson.dumps(result.to_dict("compact")), repeats),
        ('to_dict("numpy") + orjson.dumps(OPT_SERIALIZE_NUMPY)',
         lambda: orjson.dumps(result.to_dict("numpy"), option=orjson.OPT_SERIALIZE_NUMPY), max(1, repeats // 4)),
        ("to_dict() + orjson.dumps (lists)", lambda: orjson.dumps(result.to_dict()), slow_repeats),
        ("to_dict() + json.dumps (lists)", lambda: json.dumps(result.to_dict()).encode(), slow_repeats),
    ]
    for label, function, count in cases:
        size = len(function())
        figures[label] = (once(function, count), size)
    figures["trace: iteration(record=True), for reference"] = (
        once(lambda: iteration(model, params, columns, y, SGD(RATE)), repeats), len(result.steps))
    from app.routes.network import _iteration
    from app.schemas import IterationRequest
    rows = [[*point, float(label)] for point, label in zip(x.tolist(), labels.tolist())]
    request = IterationRequest.model_validate({
        "layers": [{"units": 128, "activation": "relu"}, {"units": 64, "activation": "relu"}, {"units": 10}],
        "loss": "cross_entropy", "data": {"custom": rows}, "test_fraction": 0.0, "encoding": "compact",
        "optimizer": {"name": "sgd", "learning_rate": RATE}})
    answer = lambda: orjson.dumps(_iteration(request))  # noqa: E731
    figures["answer: /network/iteration handler, compact (compute + JSON)"] = (once(answer, repeats),
                                                                                      len(answer()))
    return figures


# ---- Report -----------------------------------------------------------------------------------

def blas_description() -> str:
    if threadpoolctl is None:
        return "threadpoolctl not installed (pip install threadpoolctl to see the BLAS kernel)"
    found = [f"{info.get('internal_api')} {info.get('version')} {info.get('architecture', '')} "
             f"threads={info.get('num_threads')}" for info in threadpoolctl.threadpool_info()
             if info.get("user_api") == "blas"]
    return "; ".join(found) or "no BLAS found"


def row(label: str, seconds: float | None, unit: str = "ms", note: str = "") -> str:
    if seconds is None:
        return f"  {label:<62}{'n/a':>12}  {note}"
    scale = {"ms": 1e3, "us": 1e6, "s": 1.0}[unit]
    return f"  {label:<62}{seconds * scale:10.3f} {unit}  {note}".rstrip()


def verdict(passed: bool | None) -> str:
    return "n/a" if passed is None else ("PASS" if passed else "MISS")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (a few seconds)")
    args = parser.parse_args(argv)
    quick = args.quick
    rounds, per_round = (2, 5) if quick else (15, 20)

    coretype = os.environ.get("OPENBLAS_CORETYPE")
    print(f"bench_nn  python {platform.python_version()}, numpy {np.__version__}, "
          f"torch {torch.__version__ if torch else 'not installed'}, "
          f"micrograd {'installed' if MicroMLP else 'not installed'}, {os.cpu_count()} CPUs"
          f"{'  [--quick]' if quick else ''}")
    print(f"  BLAS: {blas_description()}")
    if coretype:
        print(f"  OPENBLAS_CORETYPE={coretype} is set: OpenBLAS runs older kernels; unset it (and OPENBLAS_L2_SIZE) "
              "for NumPy's own choice")

    print()
    print(f"1. one training step, {'-'.join(map(str, BIG))}, batch {BATCH}, softmax cross-entropy, float64, 1 thread")
    steps = {"default malloc": bench_step(rounds, per_round)}
    tuned = keep_freed_memory()
    if tuned:
        steps["freed memory kept (mallopt)"] = bench_step(rounds, per_round)
    for mode, figure in steps.items():
        print(f"  [{mode}]")
        print(row("engine: Trainer.step (graph, record=False, update)", figure["engine"]))
        print(row("baseline: hand-written NumPy forward/backward/update", figure["numpy"],
                  note=f"engine / numpy {figure['engine'] / figure['numpy']:.2f} x"))
        torch_time = figure.get("torch")
        print(row("baseline: PyTorch CPU, autograd + SGD", torch_time,
                  note="" if torch_time is None else f"engine / torch {figure['engine'] / torch_time:.2f} x"))

    print()
    print("2. MLP(2, [16, 16, 1]) on 100 two-moons points, one training step (half MSE, SGD)")
    engine_small, micro = bench_micrograd(1 if quick else 5, 50 if quick else 500)
    print(row("engine: Trainer.step", engine_small, "us"))
    print(row("baseline: micrograd, same weights and loss", micro,
              note="" if micro is None else f"engine is {micro / engine_small:,.0f} x faster"))

    print()
    print(f"3. two moons, 200 points, 2-16-16-1 tanh + bce, Adam {MOONS_RATE}, {MOONS_ITERATIONS} iterations")
    moons_time, moons_plain, accuracy, reached, plain_accuracy = bench_moons(1 if quick else 5)
    handler_time, handler_accuracy = bench_moons_handler(1 if quick else 5)
    print(row("engine: train() with history, metrics and a 50x50 boundary", moons_time,
              note=f"training accuracy {accuracy:.1%}, >= 97% from iteration {reached}"))
    print(row("server: the /network/train handler, request to JSON bytes", handler_time,
              note=f"training accuracy {handler_accuracy:.1%}"))
    print(row("baseline: the same run in plain NumPy (no history, no boundary)", moons_plain,
              note=f"accuracy {plain_accuracy:.1%}; engine / numpy {moons_time / moons_plain:.2f} x"))

    print()
    print(f"4. one {'-'.join(map(str, BIG))} iteration trace (record=True, SGD) serialised to JSON")
    serialised = bench_serialise(3 if quick else 20, 1 if quick else 3)
    for label, (seconds, size) in serialised.items():
        note = f"{size} steps" if label.startswith("trace") else f"{size / 1e6:.2f} MB"
        print(row(label, seconds, note=note))

    print()
    print(f"  {'target (issue 4)':<62}{'figure':>12}  verdict")
    for mode, figure in steps.items():
        torch_time = figure.get("torch")
        ratio = None if torch_time is None else figure["engine"] / torch_time
        print(f"  {f'step <= 1.0x PyTorch [{mode}]':<62}{'n/a' if ratio is None else f'{ratio:.2f} x':>12}  "
              f"{verdict(None if ratio is None else ratio <= 1.0)}")
        ratio = figure["engine"] / figure["numpy"]
        print(f"  {f'step <= 1.3x hand-written NumPy [{mode}]':<62}{f'{ratio:.2f} x':>12}  {verdict(ratio <= 1.3)}")
    speedup = None if micro is None else micro / engine_small
    shown = "n/a" if speedup is None else f"{speedup:,.0f} x"
    print(f"  {'MLP(2,[16,16,1]) step >= 1000x faster than micrograd':<62}{shown:>12}  "
          f"{verdict(None if speedup is None else speedup >= 1000)}")
    print(f"  {'two moons to 97% training accuracy < 1 s (server handler)':<62}{handler_time:10.3f} s  "
          f"{verdict(handler_time < 1.0 and handler_accuracy >= 0.97)}")
    compact = serialised['to_dict("compact") + orjson.dumps'][0]
    print(f"  {'784-128-64-10 iteration trace to JSON <= 10 ms':<62}{compact * 1e3:9.3f} ms  "
          f"{verdict(compact <= 0.010)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
