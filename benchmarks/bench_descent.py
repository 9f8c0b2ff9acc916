"""Gradient-descent lab speed, each figure next to a baseline measured in the same run.

    python benchmarks/bench_descent.py            # about 20 s
    python benchmarks/bench_descent.py --quick    # a few seconds, for a smoke run

The target of issue 5: a 200 x 200 contour grid plus 5 optimizers x 500 steps computed and served
in <= 100 ms. Timed per surface through the app in process (starlette's TestClient: validation,
engine, orjson, no network), as the two requests a page makes, POST /api/v1/descent/surface
(grid 200) and POST /api/v1/descent/run (sgd, momentum, nesterov, rmsprop, adam, 500 steps) with the
whole answer (state and Taylor rows at every step, the API's default); the same run with "include": [],
the paths alone as the page asks for them, is printed beside it. The requests accept gzip, as a
browser's do (answers of 16 KiB or more come compressed), and the answer's bytes are read as they
arrive: decompressing them is the client's work, not the server's (`--identity` asks for plain JSON).
Baselines: GET /api/v1/health through the same client (the floor any request pays), and the same
grid and five plain-SGD paths written directly in NumPy for the quadratic (the floor of the maths).
The script prints figures and exits 0: evidence, not a gate.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# One client sends hundreds of requests: the per-address rate limit (app.rate_limit) is not what is timed.
os.environ["BACKPROP_RATE_LIMIT_ENABLED"] = "false"
# The same body is sent again and again: the answer cache would time memory, not the computation.
os.environ["BACKPROP_ANSWER_CACHE_BYTES"] = "0"

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

from app.main import app  # noqa: E402

OPTIMIZERS = [{"name": "sgd", "learning_rate": 0.01}, {"name": "momentum", "learning_rate": 0.005},
              {"name": "nesterov", "learning_rate": 0.005}, {"name": "rmsprop", "learning_rate": 0.005},
              {"name": "adam", "learning_rate": 0.05}]
SURFACES = [{"surface": "quadratic", "condition": 10}, {"surface": "rosenbrock"}, {"surface": "himmelblau"},
            {"surface": "saddle"}, {"surface": "logistic"}, {"surface": "network"},
            {"surface": "custom", "source": "f = 0.5 * a^2 + b^2 + 0.5 * sin(3 * a) * cos(3 * b)"}]


def median_ms(work: Callable[[], object], repeats: int) -> float:
    return timed(work, repeats)[0]


def timed(work: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall-clock ms and median CPU ms of this process (every thread of it) per call."""
    work()  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        work()
        wall.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - start_cpu) * 1e3)
    return statistics.median(wall), statistics.median(cpu)


def numpy_floor() -> None:
    xs = np.linspace(-3, 3, 200)
    a, b = np.meshgrid(xs, xs)
    _ = (0.5 * (a * a + 10.0 * b * b)).tolist()
    theta = np.tile([-2.5, 1.0], (5, 1))
    path = np.empty((501, 5, 2))
    for k in range(501):
        path[k] = theta
        theta = theta - 0.01 * theta * np.array([1.0, 10.0])
    _ = path.tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few repeats only")
    parser.add_argument("--identity", action="store_true", help="ask for plain JSON instead of gzip")
    options = parser.parse_args()
    repeats = 3 if options.quick else 25
    client = TestClient(app)
    accept = "identity" if options.identity else "gzip"

    def post(path: str, body: dict) -> None:
        with client.stream("POST", path, json=body, headers={"Accept-Encoding": accept}) as response:
            raw = b"".join(response.iter_raw())  # as sent: a browser would gunzip it itself
            assert response.status_code == 200, raw[:300]

    load_before = os.getloadavg()[0]
    health = median_ms(lambda: client.get("/api/v1/health"), repeats)
    floor = median_ms(numpy_floor, repeats)
    print(f"answers requested with Accept-Encoding: {accept}")
    print(f"{'what':<44}{'median':>10}")
    print(f"{'baseline: GET /api/v1/health':<44}{health:>8.1f} ms")
    print(f"{'baseline: quadratic grid + 5 SGD paths, NumPy':<44}{floor:>8.1f} ms")
    verdicts = []
    for spec in SURFACES:
        grid_ms, grid_cpu = timed(lambda: post("/api/v1/descent/surface", {**spec, "grid": 200}), repeats)
        body = {**spec, "steps": 500, "optimizers": OPTIMIZERS}
        run_ms, run_cpu = timed(lambda: post("/api/v1/descent/run", body), repeats)
        paths_ms = median_ms(lambda: post("/api/v1/descent/run", {**body, "include": []}), repeats)
        total = grid_ms + run_ms
        verdicts.append((spec["surface"], total, grid_cpu + run_cpu))
        print(f"{spec['surface'] + ': grid 200 + run 5 x 500':<44}{total:>8.1f} ms  "
              f"(grid {grid_ms:.1f}, run {run_ms:.1f}; paths only {paths_ms:.1f}; cpu {grid_cpu + run_cpu:.1f})")
    print()
    for name, total, _ in verdicts:
        print(f"{name + ' grid + run <= 100 ms':<44}{total:>8.1f} ms  {'PASS' if total <= 100 else 'MISS'}")
    # NOTE: on a machine that others share, the wall clock counts their work too; the CPU time this process
    # spent (all its threads) is what the request costs, and equals the wall clock on an idle machine.
    print()
    print(f"load average (1 min) before / after: {load_before:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for name, _, cpu in verdicts:
        print(f"{name + ' grid + run, CPU time':<44}{cpu:>8.1f} ms  {'PASS' if cpu <= 100 else 'MISS'}")


if __name__ == "__main__":
    main()
