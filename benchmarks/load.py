"""Load: the main endpoints under 64 and 200 concurrent connections, next to a minimal FastAPI endpoint.

    python benchmarks/load.py                    # 64 and 200 connections, 30 s per endpoint (about 9 min)
    python benchmarks/load.py --duration 5       # the same, 5 s per endpoint
    python benchmarks/load.py --soak 300         # also 5 minutes of mixed load: resident memory, start and end
    python benchmarks/load.py --quick            # a smoke run (1 s per endpoint, 8 connections, no soak)
    python benchmarks/load.py --only descent echo --connections 200 --duration 10   # some endpoints only

Two servers run as subprocesses on free 127.0.0.1 ports, each uvicorn with 1 worker (--workers N for
the app), access log off: the app (rate limits off: BACKPROP_RATE_LIMIT_ENABLED=false, since every
request comes from one address) and benchmarks/minimal_app.py, the baseline, measured in the same run
with the same client: GET /ping and POST /echo (a JSON body parsed into a dict, a constant answered).

Endpoints of the app: GET /api/v1/health, /ops, /examples; POST /trace (the worked example),
/network/iteration (a 2-4-1 net on 40 xor points, layer view), /descent/run (the quadratic bowl,
100 steps of SGD and momentum). For each: requests/s, p50, p99, and the failures split as
connection errors and timeouts, 4xx and 5xx. Target (issue 7): zero errors and zero 5xx.

--soak S: S seconds of all the app's endpoints in turn at 64 connections after a warm-up; the app's
resident memory (VmRSS, summed over its processes) is read at the start, every 30 s and at the end.
Target: flat (the end within 5% + 8 MiB of the start).

The load comes from wrk when it is installed (Debian: apt-get install wrk), else a bounded asyncio
client on httpx (slower than the servers: its requests/s are a floor). Bounded: wrk runs for the
time asked; the Python client also stops after --max-requests. Nothing but 127.0.0.1 is contacted;
servers are always stopped, also on Ctrl-C. Results also go to benchmarks/results/load-*.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_http import free_port, stop  # noqa: E402 - the same server handling as the HTTP benchmark

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
RESULTS = ROOT / "benchmarks" / "results"
WORKED_EXAMPLE = {"source": "q = x + y\nf = q * z", "values": {"x": -2, "y": 5, "z": -4}}
SMALL_NETWORK = {"layers": [{"units": 4, "activation": "tanh"}, {"units": 1}], "loss": "bce",
                 "data": {"dataset": "xor", "points": 40, "seed": 0}, "seed": 0}
DESCENT_RUN = {"surface": "quadratic", "condition": 10, "start": [-2.5, 1.0], "steps": 100,
               "optimizers": [{"name": "sgd", "learning_rate": 0.15}, {"name": "momentum", "learning_rate": 0.05}]}
SOAK_FLAT = (0.05, 8 * 2**20)  # end may exceed start by 5% + 8 MiB
BASELINES = {"GET": "minimal GET /ping (baseline)", "POST": "minimal POST /echo (baseline)"}


@dataclass(frozen=True)
class Target:
    name: str
    server: str  # "app" or "minimal"
    method: str
    path: str
    body: bytes | None = None


TARGETS = (
    Target("minimal GET /ping (baseline)", "minimal", "GET", "/ping"),
    Target("minimal POST /echo (baseline)", "minimal", "POST", "/echo", json.dumps(WORKED_EXAMPLE).encode()),
    Target("GET /api/v1/health", "app", "GET", "/api/v1/health"),
    Target("GET /api/v1/ops", "app", "GET", "/api/v1/ops"),
    Target("GET /api/v1/examples", "app", "GET", "/api/v1/examples"),
    Target("POST /api/v1/trace", "app", "POST", "/api/v1/trace", json.dumps(WORKED_EXAMPLE).encode()),
    Target("POST /api/v1/network/iteration", "app", "POST", "/api/v1/network/iteration",
           json.dumps(SMALL_NETWORK).encode()),
    Target("POST /api/v1/descent/run", "app", "POST", "/api/v1/descent/run", json.dumps(DESCENT_RUN).encode()),
)


@dataclass
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # connection errors, read/write errors and timeouts
    client_errors: int  # 4xx
    server_errors: int  # 5xx

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def clean(self) -> bool:
        return self.errors == 0 and self.client_errors == 0 and self.server_errors == 0


# ---- Servers ----------------------------------------------------------------------------------

@dataclass
class Server:
    base: str
    process: subprocess.Popen

    def rss(self) -> int:
        """Resident memory of the server and its worker processes, in bytes."""
        total, todo = 0, [self.process.pid]
        while todo:
            pid = todo.pop()
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except FileNotFoundError:
                continue
            total += next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
            todo += [int(child) for child in children]
        return total


@contextmanager
def served(app: str, app_dir: Path, ready_path: str, workers: int = 1) -> Iterator[Server]:
    port = free_port()
    env = {**os.environ, "BACKPROP_RATE_LIMIT_ENABLED": "false"}
    command = [sys.executable, "-m", "uvicorn", app, "--app-dir", str(app_dir), "--host", HOST, "--port", str(port),
               "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    with tempfile.TemporaryFile() as log:
        # A session of its own: a Ctrl-C in the terminal reaches this script, whose finally stops the server.
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        server = Server(f"http://{HOST}:{port}", process)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(server.base + ready_path, timeout=2) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise RuntimeError(f"{app} did not start:\n{log.read()[-2000:].decode(errors='replace')}")
                    time.sleep(0.1)
            yield server
        finally:
            stop(process)


def check_answers(base: str, targets: list[Target]) -> None:
    """Each target answers 200 before it is loaded: a load of refusals would measure nothing."""
    for target in targets:
        request = urllib.request.Request(base + target.path, data=target.body, method=target.method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            if answer.status != 200:
                raise RuntimeError(f"{target.name} answered {answer.status}")


# ---- Load: wrk --------------------------------------------------------------------------------

_LUA = """\
local requests = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  server_errors, client_errors, counter = 0, 0, 0
%(requests)s
end

function request()
  counter = counter + 1
  return requests[(counter %% #requests) + 1]
end

function response(status, headers, body)
  if status >= 500 then
    server_errors = server_errors + 1
  elseif status >= 400 then
    client_errors = client_errors + 1
  end
end

function done(summary, latency, requests)
  local s5, s4 = 0, 0
  for _, thread in ipairs(threads) do
    s5 = s5 + thread:get("server_errors")
    s4 = s4 + thread:get("client_errors")
  end
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%%d duration_us=%%d errors=%%d p50_us=%%d p99_us=%%d s4xx=%%d s5xx=%%d\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), s4, s5))
end
"""


def _lua(targets: list[Target]) -> str:
    lines = []
    for target in targets:
        if target.body is None:
            lines.append(f'  table.insert(requests, wrk.format("{target.method}", "{target.path}"))')
            continue
        body = target.body.decode()
        if "]==]" in body:
            raise ValueError("the request body cannot be quoted for Lua")
        lines.append(f'  table.insert(requests, wrk.format("{target.method}", "{target.path}", '
                     f'{{["Content-Type"] = "application/json"}}, [==[{body}]==]))')
    return _LUA % {"requests": "\n".join(lines)}


def wrk_load(base: str, targets: list[Target], seconds: float, connections: int, threads: int) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(targets))
    try:
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, math.ceil(seconds))}s", "--latency",
                   "--timeout", "10s", "-s", script.name, base + targets[0].path]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    finally:
        os.unlink(script.name)
    found = re.search(r"WRK_RESULT requests=(\d+) duration_us=(\d+) errors=(\d+) p50_us=(\d+) p99_us=(\d+) "
                      r"s4xx=(\d+) s5xx=(\d+)", done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-1000:]} {done.stderr[-1000:]}")
    requests, duration, errors, p50, p99, s4, s5 = (int(group) for group in found.groups())
    return Load(requests, duration / 1e6, p50 / 1e3, p99 / 1e3, errors, s4, s5)


# ---- Load: the Python fallback ----------------------------------------------------------------

async def _python_load(base: str, targets: list[Target], seconds: float, connections: int,
                       max_requests: int) -> Load:
    import httpx

    # One client per connection: a shared pool of many connections measures httpcore, not the server.
    latencies: list[int] = []
    counts = {"errors": 0, "4xx": 0, "5xx": 0}
    budget, turn = max_requests, 0
    single = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(base_url=base, limits=single, timeout=10.0, trust_env=False)
               for _ in range(connections)]
    try:
        start = time.perf_counter()
        deadline = start + seconds

        async def worker(client: httpx.AsyncClient) -> None:
            nonlocal budget, turn
            while budget > 0 and time.perf_counter() < deadline:
                budget -= 1
                turn += 1
                target = targets[turn % len(targets)]
                sent = time.perf_counter_ns()
                try:
                    answer = await client.request(target.method, target.path, content=target.body,
                                                  headers={"Content-Type": "application/json"})
                    if answer.status_code >= 500:
                        counts["5xx"] += 1
                    elif answer.status_code >= 400:
                        counts["4xx"] += 1
                except httpx.HTTPError:
                    counts["errors"] += 1
                latencies.append(time.perf_counter_ns() - sent)

        await asyncio.gather(*(worker(client) for client in clients))
        elapsed = time.perf_counter() - start
    finally:
        for client in clients:
            await client.aclose()
    latencies.sort()
    return Load(len(latencies), elapsed, _rank(latencies, 50), _rank(latencies, 99), counts["errors"], counts["4xx"],
                counts["5xx"])


def _rank(ordered: list[int], q: float) -> float:
    """The q-th percentile of sorted nanoseconds, in milliseconds."""
    return ordered[max(0, math.ceil(len(ordered) * q / 100) - 1)] / 1e6 if ordered else math.nan


# ---- Main -------------------------------------------------------------------------------------

@dataclass
class Row:
    target: str
    connections: int
    load: Load


@dataclass
class Soak:
    seconds: float
    rss_start: int
    rss_end: int
    rss_samples: list[tuple[float, int]] = field(default_factory=list)
    load: Load | None = None

    @property
    def flat(self) -> bool:
        return self.rss_end <= self.rss_start * (1 + SOAK_FLAT[0]) + SOAK_FLAT[1]


def _raise_exit(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


def print_table(rows: list[Row], generator: str) -> None:
    print(f"\n{'endpoint':<34}{'conns':>6}{'requests/s':>12}{'p50':>11}{'p99':>11}{'requests':>10}"
          f"{'errors':>8}{'4xx':>6}{'5xx':>6}")
    for row in rows:
        load = row.load
        print(f"{row.target:<34}{row.connections:>6}{load.per_second:12.0f}{load.p50_ms:8.2f} ms{load.p99_ms:8.2f} ms"
              f"{load.requests:10d}{load.errors:8d}{load.client_errors:6d}{load.server_errors:6d}")
    if generator == "python":
        print("note: the Python client is slower than the servers: its requests/s are a floor")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load per endpoint (default 30)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up per endpoint (default 3)")
    parser.add_argument("--connections", type=int, nargs="+", default=[64, 200], help="default: 64 200")
    parser.add_argument("--soak", type=float, default=0.0, help="seconds of mixed load for the memory figure")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of the app (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: the other core serves)")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--max-requests", type=int, default=2_000_000,
                        help="the Python client stops after this many requests per run")
    parser.add_argument("--only", nargs="+", metavar="TEXT", help="only the endpoints whose name holds one of these")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 s per endpoint, 8 connections, no soak")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.connections, args.soak = 1.0, 0.5, [8], 0.0
    if any(not 1 <= c <= 1_000 for c in args.connections) or not 0 < args.duration <= 600 or args.soak > 3_600:
        parser.error("connections 1..1000, duration up to 600 s, soak up to 3600 s")

    generator = args.client
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "python"
    if generator == "wrk" and not shutil.which("wrk"):
        print("wrk is not installed (Debian: apt-get install wrk); use --client python")
        return 2

    def run_load(base: str, targets: list[Target], seconds: float, connections: int) -> Load:
        if generator == "wrk":
            return wrk_load(base, targets, seconds, connections, args.threads)
        return asyncio.run(_python_load(base, targets, seconds, connections, args.max_requests))

    print(f"load  python {platform.python_version()}, {os.cpu_count()} CPUs, uvicorn on {HOST} (app: {args.workers} "
          f"worker{'s' if args.workers > 1 else ''}, rate limits off; baseline: benchmarks/minimal_app.py), "
          f"{generator}, {args.warmup:g} s warm-up + {args.duration:g} s per endpoint and connection count"
          f"{'  [--quick]' if args.quick else ''}")

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_exit) if in_main_thread else None
    rows: list[Row] = []
    soak: Soak | None = None
    try:
        with served("minimal_app:app", ROOT / "benchmarks", "/ping") as minimal, \
                served("app.main:app", ROOT, "/api/v1/health", args.workers) as app:
            bases = {"minimal": minimal.base, "app": app.base}
            check_answers(app.base, [t for t in TARGETS if t.server == "app"])
            chosen = [t for t in TARGETS if not args.only or any(text in t.name for text in args.only)]
            for connections in args.connections:
                for target in chosen:
                    run_load(bases[target.server], [target], args.warmup, connections)
                    rows.append(Row(target.name, connections, run_load(bases[target.server], [target],
                                                                        args.duration, connections)))
                    print(f"  {target.name:<34}{connections:>5} connections: {rows[-1].load.per_second:8.0f}/s",
                          flush=True)
            if args.soak:
                soak = run_soak(app, [t for t in TARGETS if t.server == "app"], args.soak, run_load)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)

    print_table(rows, generator)
    report(rows, soak)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"load-{stamp}.json").write_text(json.dumps({
        "generator": generator, "workers": args.workers, "duration": args.duration,
        "rows": [{"target": r.target, "connections": r.connections, **asdict(r.load)} for r in rows],
        "soak": None if soak is None else {**asdict(soak), "flat": soak.flat}}, indent=1))
    return 0


def run_soak(app: Server, targets: list[Target], seconds: float, run_load) -> Soak:
    """Every app endpoint in turn at 64 connections; memory read at the start, every 30 s, at the end."""
    print(f"  soak: {seconds:g} s of mixed load at 64 connections", flush=True)
    run_load(app.base, targets, min(30.0, seconds / 5), 64)  # warm-up: caches and pools fill once
    start = app.rss()
    samples = [(0.0, start)]
    loads: list[Load] = []
    began = time.monotonic()
    while (left := seconds - (time.monotonic() - began)) >= 1:
        loads.append(run_load(app.base, targets, min(30.0, left), 64))
        samples.append((round(time.monotonic() - began, 1), app.rss()))
        print(f"    {samples[-1][0]:6.0f} s  {samples[-1][1] / 2**20:7.1f} MiB", flush=True)
    total = Load(sum(load.requests for load in loads), sum(load.seconds for load in loads),
                 max(load.p50_ms for load in loads), max(load.p99_ms for load in loads),
                 sum(load.errors for load in loads), sum(load.client_errors for load in loads),
                 sum(load.server_errors for load in loads))
    return Soak(seconds, start, samples[-1][1], samples, total)


def report(rows: list[Row], soak: Soak | None) -> None:
    print(f"\n{'target (issue 7)':<64}{'figure':>14}  verdict")
    failures = sum(row.load.errors + row.load.client_errors for row in rows)
    server_errors = sum(row.load.server_errors for row in rows)
    print(f"{'  zero errors (connection, timeout, 4xx) at every load':<64}{failures:>14}  "
          f"{'PASS' if failures == 0 else 'MISS'}")
    print(f"{'  zero 5xx at every load':<64}{server_errors:>14}  {'PASS' if server_errors == 0 else 'MISS'}")
    for connections in sorted({row.connections for row in rows}):
        base = {r.target: r.load for r in rows if r.connections == connections}
        for name, load in base.items():
            if name.startswith("minimal") or BASELINES[name.split()[0]] not in base:
                continue
            baseline = base[BASELINES[name.split()[0]]]
            print(f"  {name + f' @{connections}: p50, p99 vs minimal':<62}"
                  f"{load.p50_ms / baseline.p50_ms:6.1f}x {load.p99_ms / baseline.p99_ms:6.1f}x")
    if soak is not None:
        growth = soak.rss_end - soak.rss_start
        print(f"{f'  soak {soak.seconds:g} s: resident memory start -> end':<50}"
              f"{soak.rss_start / 2**20:8.1f} -> {soak.rss_end / 2**20:.1f} MiB ({growth / 2**20:+.1f})  "
              f"{'PASS (flat)' if soak.flat else 'MISS (grew)'}")
        if soak.load is not None:
            print(f"  soak: {soak.load.requests} requests, {soak.load.errors + soak.load.client_errors} errors, "
                  f"{soak.load.server_errors} 5xx")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped")
        sys.exit(130)
