"""Engine speed in process, each figure next to a baseline measured in the same run.

    python benchmarks/bench_engine.py            # about half a minute
    python benchmarks/bench_engine.py --quick    # a few seconds, for a smoke run

Two cases, the targets of issue 2:

- the worked example, trace("q = x + y\\nf = q * z", {x: -2, y: 5, z: -4}): parse, forward,
  backward and the recorded steps; target median <= 50 µs. Baseline (a): the same forward and
  backward written by hand in plain Python with nothing recorded, the floor any engine pays.
- a 1,000-node statement chain traced and serialised, orjson.dumps(trace(...).to_dict());
  target median <= 5 ms. Baseline (b): orjson.dumps of a plain dict of exactly the same size.
  A breakdown (parse, trace with record=True, to_dict, orjson.dumps) shows where the time goes.

The machine is shared and noisy, so engine and baseline samples are interleaved in rounds: a
burst of load slows both, and the ratio stays meaningful. The garbage collector stays on, as in
the server. The script prints figures and exits 0; it is evidence, not a gate.
"""
from __future__ import annotations

import argparse
import gc
import json

import orjson
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

# Benchmark the checkout this script sits in, installed or not.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from engine.limits import LIMITS  # noqa: E402
from engine.parse import parse  # noqa: E402
from engine.trace import trace, trace_graph  # noqa: E402

WORKED_SOURCE = "q = x + y\nf = q * z"
WORKED_VALUES = {"x": -2, "y": 5, "z": -4}
TARGET_WORKED_US = 50.0
TARGET_LARGE_MS = 5.0
LARGE_NODES = 1_000


# ---- The workloads ----------------------------------------------------------------------------

def plain_forward_backward(x: float, y: float, z: float) -> tuple[float, float, float, float, float]:
    """Baseline (a): f = (x + y) * z forward and backward by hand, nothing recorded."""
    q = x + y
    f = q * z
    df = 1.0
    dq = df * z
    dz = df * q
    dx = dq * 1.0
    dy = dq * 1.0
    return f, dq, dx, dy, dz


def chain_program(nodes: int) -> tuple[str, dict[str, float]]:
    """A statement chain with exactly `nodes` nodes: 3 inputs, then one new node per statement.

    The statements cycle through `* w`, `+ b` and `tanh(...)`, so values stay finite and every
    edge carries a gradient (the chain is also the deepest graph for its size).
    """
    if nodes < 4:
        raise ValueError("the chain needs at least 4 nodes")
    forms = ("{prev} * w", "{prev} + b", "tanh({prev})")
    lines, previous = [], "x"
    for k in range(nodes - 3):
        lines.append(f"v{k} = " + forms[k % 3].format(prev=previous))
        previous = f"v{k}"
    return "\n".join(lines), {"x": 0.5, "w": 0.9, "b": 0.1}


def encode(answer: Any) -> bytes:
    """The server's own encoder (app.routes.trace.json_response)."""
    return orjson.dumps(answer)


def traced_json(source: str, values: dict[str, Any], limits=LIMITS) -> bytes:
    return encode(trace(source, values, limits=limits).to_dict())


# ---- Measuring --------------------------------------------------------------------------------

@dataclass
class Figure:
    samples: list[float]  # nanoseconds per call

    @property
    def median(self) -> float:
        return percentile(self.samples, 50)

    @property
    def p90(self) -> float:
        return percentile(self.samples, 90)


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: every figure is a time that really happened)."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return ordered[int(rank) - 1]


def timer_overhead_ns(count: int = 20_000) -> float:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(count):
        start = clock()
        samples.append(clock() - start)
    return percentile(samples, 50)


def time_calls(fn: Callable[[], Any], count: int, into: list[float]) -> None:
    clock = time.perf_counter_ns
    for _ in range(count):
        start = clock()
        fn()
        into.append(clock() - start)


def time_batched(fn: Callable[[], Any], count: int, inner: int, into: list[float]) -> None:
    """For calls too short for one clock reading each: time `inner` calls, keep the mean."""
    clock = time.perf_counter_ns
    loop = range(inner)
    for _ in range(count):
        start = clock()
        for _ in loop:
            fn()
        into.append((clock() - start) / inner)


def check_worked_example() -> None:
    result = trace(WORKED_SOURCE, WORKED_VALUES)
    grads = {node.label: float(result.grads[node.index]) for node in result.graph.nodes}
    expected = {"x": -4.0, "y": -4.0, "z": 3.0, "q": -4.0, "f": 1.0}
    if grads != expected or float(result.values[result.graph.output]) != -12.0:
        raise SystemExit(f"the engine disagrees with the worked example: {grads}")
    f, dq, dx, dy, dz = plain_forward_backward(-2.0, 5.0, -4.0)
    if (f, dq, dx, dy, dz) != (-12.0, -4.0, -4.0, -4.0, 3.0):
        raise SystemExit("the plain-Python baseline is wrong")


def bench_worked(samples: int, rounds: int, inner: int) -> tuple[Figure, Figure]:
    def engine() -> Any:
        return trace(WORKED_SOURCE, WORKED_VALUES)

    def floor() -> Any:
        return plain_forward_backward(-2.0, 5.0, -4.0)

    time_calls(engine, max(50, samples // 10), [])  # warm-up
    time_batched(floor, 20, inner, [])
    engine_ns: list[float] = []
    floor_ns: list[float] = []
    per_round = max(1, samples // rounds)
    gc.collect()
    for _ in range(rounds):
        time_calls(engine, per_round, engine_ns)
        time_batched(floor, max(1, per_round // 10), inner, floor_ns)
    return Figure(engine_ns), Figure(floor_ns)


@dataclass
class LargeResult:
    end_to_end: Figure
    parse: Figure
    trace: Figure
    to_dict: Figure
    dumps: Figure
    staged_total: Figure
    no_record: Figure
    plain_dumps: Figure


def bench_large(source: str, values: dict[str, Any], samples: int, limits) -> LargeResult:
    graph = parse(source, limits)
    plain = json.loads(traced_json(source, values, limits))  # the same payload as plain Python data
    clock = time.perf_counter_ns
    columns: dict[str, list[float]] = {name: [] for name in LargeResult.__dataclass_fields__}
    for _ in range(2):
        traced_json(source, values, limits)
    gc.collect()
    for _ in range(samples):
        start = clock()
        encode(trace(source, values, limits=limits).to_dict())
        columns["end_to_end"].append(clock() - start)

        t0 = clock()
        staged_graph = parse(source, limits)
        t1 = clock()
        result = trace_graph(staged_graph, values, record=True, limits=limits)
        t2 = clock()
        answer = result.to_dict()
        t3 = clock()
        encode(answer)
        t4 = clock()
        for name, (a, b) in zip(("parse", "trace", "to_dict", "dumps"), ((t0, t1), (t1, t2), (t2, t3), (t3, t4))):
            columns[name].append(b - a)
        columns["staged_total"].append(t4 - t0)
        del result, answer

        start = clock()
        trace_graph(graph, values, record=False, limits=limits)
        columns["no_record"].append(clock() - start)

        start = clock()
        encode(plain)
        columns["plain_dumps"].append(clock() - start)
    return LargeResult(**{name: Figure(found) for name, found in columns.items()})


# ---- Report -----------------------------------------------------------------------------------

def us(ns: float) -> str:
    return f"{ns / 1e3:9.2f} µs"


def ms(ns: float) -> str:
    return f"{ns / 1e6:9.3f} ms"


def verdict(figure_ns: float, target_ns: float) -> str:
    return "PASS" if figure_ns <= target_ns else "MISS"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (a few seconds)")
    parser.add_argument("--samples", type=int, default=None, help="worked-example samples (default 5000)")
    parser.add_argument("--large-samples", type=int, default=None, help="1,000-node samples (default 60)")
    parser.add_argument("--nodes", type=int, default=LARGE_NODES, help="size of the large program (default 1000)")
    args = parser.parse_args(argv)
    samples = args.samples or (300 if args.quick else 5_000)
    large_samples = args.large_samples or (3 if args.quick else 60)
    rounds = 3 if args.quick else 10
    inner = 200 if args.quick else 1_000

    check_worked_example()
    source, values = chain_program(args.nodes)
    limits = LIMITS if args.nodes <= LIMITS.max_nodes else LIMITS.raised(
        max_nodes=args.nodes, max_statements=args.nodes, max_source_chars=40 * args.nodes, max_steps=4 * args.nodes)
    graph = parse(source, limits)
    sample_trace = trace_graph(graph, values, limits=limits)
    answer = sample_trace.to_dict()
    text = json.dumps(answer, allow_nan=False)
    node_bytes = len(json.dumps(answer["nodes"], allow_nan=False))
    step_bytes = len(json.dumps(answer["steps"], allow_nan=False))

    print(f"bench_engine  python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"gc on, timer overhead {timer_overhead_ns():.0f} ns{'  [--quick]' if args.quick else ''}")

    worked, floor = bench_worked(samples, rounds, inner)
    large = bench_large(source, values, large_samples, limits)

    print()
    print(f"{'case':<58}{'median':>13}{'p90':>13}  samples")
    print(f"{'worked example: trace() = parse+forward+backward+steps':<58}{us(worked.median)}{us(worked.p90)}  "
          f"{len(worked.samples)}")
    print(f"{'  baseline (a): plain-Python forward+backward, no record':<58}{us(floor.median)}{us(floor.p90)}  "
          f"{len(floor.samples)} x {inner} calls")
    print(f"{'  ratio engine / baseline (a)':<58}{worked.median / floor.median:11.0f} x")
    print(f"{args.nodes:,}-node chain: {len(graph.nodes)} nodes, {len(sample_trace.steps)} steps, "
          f"{len(source)} source chars, {len(text) / 1024:.0f} KiB JSON (nodes {node_bytes / 1024:.0f} KiB, "
          f"steps {step_bytes / 1024:.0f} KiB)")
    print(f"{'  orjson.dumps(trace(...).to_dict())':<58}{ms(large.end_to_end.median)}{ms(large.end_to_end.p90)}  "
          f"{len(large.end_to_end.samples)}")
    print(f"{'  baseline (b): orjson.dumps of a plain dict, same size':<58}{ms(large.plain_dumps.median)}"
          f"{ms(large.plain_dumps.p90)}  {len(large.plain_dumps.samples)}")
    print(f"{'  ratio engine / baseline (b)':<58}{large.end_to_end.median / large.plain_dumps.median:11.1f} x")

    print()
    staged = large.staged_total.median
    print(f"{f'breakdown of the {args.nodes:,}-node case (median per stage)':<58}{'median':>13}{'p90':>13}  share")
    for label, figure in (("parse", large.parse), ("trace_graph (record=True)", large.trace),
                          ("to_dict", large.to_dict), ("orjson.dumps", large.dumps)):
        print(f"  {label:<56}{ms(figure.median)}{ms(figure.p90)}  {figure.median / staged:5.0%}")
    print(f"  {'sum of the stages, timed together':<56}{ms(staged)}{ms(large.staged_total.p90)}")
    print(f"  {'for reference: trace_graph (record=False), no steps':<56}{ms(large.no_record.median)}"
          f"{ms(large.no_record.p90)}")

    print()
    print(f"{'target (issue 2)':<58}{'figure':>13}{'':>13}  verdict")
    print(f"{'  worked example trace() median <= 50 µs':<58}{us(worked.median)}{'':>13}  "
          f"{verdict(worked.median, TARGET_WORKED_US * 1e3)}")
    large_target = f"  {args.nodes:,}-node trace + to_dict + orjson.dumps median <= 5 ms"
    print(f"{large_target:<58}{ms(large.end_to_end.median)}{'':>13}  "
          f"{verdict(large.end_to_end.median, TARGET_LARGE_MS * 1e6)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
