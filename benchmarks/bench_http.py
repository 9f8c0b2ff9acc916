"""POST /api/v1/trace over HTTP against the smallest FastAPI endpoint, measured in the same run.

    python benchmarks/bench_http.py                  # about 10 s per server, plus warm-up
    python benchmarks/bench_http.py --duration 30
    python benchmarks/bench_http.py --quick          # a short smoke run

Each server is uvicorn with one worker, started here as a subprocess on a free 127.0.0.1 port
(--no-access-log, --log-level warning), warmed up, loaded with 64 keep-alive connections, then
stopped: first benchmarks/minimal_app.py (POST /echo, a dict in, {"ok": true} out), then the app
(POST /api/v1/trace with the worked example). The load comes from wrk when it is installed
(Debian: apt-get install wrk) and otherwise from a bounded asyncio client on httpx; a Python
client is slower than the servers it drives, so its figures are a floor, and the script says so.

Target (issue 2): trace requests/s >= 50% of the minimal endpoint's. The script prints figures and
exits 0; it is evidence, not a gate. Servers are always stopped, also on Ctrl-C. Nothing but
127.0.0.1 is contacted.
"""
from __future__ import annotations

import argparse
import asyncio
import http.client
import importlib.util
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
TARGET_RATIO = 0.5
WORKED_EXAMPLE = {"source": "q = x + y\nf = q * z", "values": {"x": -2, "y": 5, "z": -4}}


@dataclass(frozen=True)
class Endpoint:
    name: str
    app: str  # uvicorn's "module:attribute"
    app_dir: Path
    path: str
    body: bytes
    env: tuple[tuple[str, str], ...] = ()


# Both get the same request body, so both pay the same JSON parsing of the request.
ENDPOINTS = (
    Endpoint("minimal FastAPI POST /echo (baseline)", "minimal_app:app", ROOT / "benchmarks", "/echo",
             json.dumps(WORKED_EXAMPLE).encode()),
    Endpoint("app POST /api/v1/trace, worked example", "app.main:app", ROOT, "/api/v1/trace",
             json.dumps(WORKED_EXAMPLE).encode()),
    # For reference: every request parses its program again (the server caches short programs' graphs).
    Endpoint("  same, parse cache off (reference)", "app.main:app", ROOT, "/api/v1/trace",
             json.dumps(WORKED_EXAMPLE).encode(), (("BACKPROP_PARSE_CACHE", "false"),)),
)


@dataclass
class Load:
    requests: int
    seconds: float
    errors: int  # connection errors, timeouts and non-2xx answers
    p50_ms: float
    p99_ms: float
    response_bytes: int = 0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# ---- Servers ----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def post(port: int, endpoint: Endpoint, timeout: float = 5.0) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("POST", endpoint.path, body=endpoint.body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    # The server runs in a session of its own, so the group id is its pid: this reaches it and nothing else.
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def served(endpoint: Endpoint, startup_timeout: float = 30.0) -> Iterator[tuple[int, int]]:
    """Start uvicorn for one endpoint; yield (port, bytes of one answer); always stop it."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", endpoint.app, "--app-dir", str(endpoint.app_dir),
               "--host", HOST, "--port", str(port), "--workers", "1", "--no-access-log", "--log-level", "warning"]
    with tempfile.TemporaryFile() as log:
        # A session of its own: a Ctrl-C in the terminal reaches this script, whose finally stops the server.
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **dict(endpoint.env)}, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        try:
            size = _wait_ready(process, port, endpoint, log, startup_timeout)
            yield port, size
        finally:
            stop(process)


def _wait_ready(process: subprocess.Popen, port: int, endpoint: Endpoint, log, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            status, answer = post(port, endpoint, timeout=2.0)
        except OSError:
            time.sleep(0.1)
            continue
        if status != 200:
            raise RuntimeError(f"{endpoint.path} answered {status}: {answer[:300]!r}")
        return len(answer)
    log.seek(0)
    tail = log.read()[-2000:].decode(errors="replace")
    raise RuntimeError(f"uvicorn for {endpoint.app} did not come up on {HOST}:{port}:\n{tail}")


# ---- Load: wrk --------------------------------------------------------------------------------

_LUA = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[{body}]==]

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%.0f duration_us=%.0f errors=%.0f p50_us=%.0f p99_us=%.0f\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_load(port: int, endpoint: Endpoint, seconds: float, connections: int, threads: int) -> Load:
    body = endpoint.body.decode()
    if "]==]" in body:
        raise ValueError("the request body cannot be quoted for Lua")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_LUA.format(body=body))
    try:
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, math.ceil(seconds))}s", "--latency",
                   "--timeout", "10s", "-s", script.name, f"http://{HOST}:{port}{endpoint.path}"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    finally:
        os.unlink(script.name)
    found = re.search(r"WRK_RESULT requests=(\d+) duration_us=(\d+) errors=(\d+) p50_us=(\d+) p99_us=(\d+)",
                      done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-1000:]} {done.stderr[-1000:]}")
    requests, duration_us, errors, p50, p99 = (int(g) for g in found.groups())
    return Load(requests, duration_us / 1e6, errors, p50 / 1e3, p99 / 1e3)


# ---- Load: the Python fallback ----------------------------------------------------------------

async def _python_load(port: int, endpoint: Endpoint, seconds: float, connections: int, max_requests: int) -> Load:
    import httpx

    # NOTE: one client per connection, not one client with a pool of 64: httpcore scans and polls
    # every pooled connection on each request, so a shared pool of 64 runs about 10x slower here
    # (encode/httpcore#924, #928) and would measure the client, not the servers.
    latencies: list[int] = []
    errors = 0
    budget = max_requests
    single = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    headers = {"Content-Type": "application/json"}
    url = f"http://{HOST}:{port}{endpoint.path}"
    clock = time.perf_counter_ns
    # Plain http only; one shared TLS context spares each client from loading the CA bundle.
    unused_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    clients = [httpx.AsyncClient(limits=single, timeout=10.0, trust_env=False, verify=unused_tls)
               for _ in range(connections)]
    try:
        start = time.perf_counter()
        deadline = start + seconds

        async def worker(client: httpx.AsyncClient) -> None:
            nonlocal errors, budget
            while budget > 0 and time.perf_counter() < deadline:
                budget -= 1
                sent = clock()
                try:
                    answer = await client.post(url, content=endpoint.body, headers=headers)
                    ok = answer.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(clock() - sent)
                errors += not ok

        await asyncio.gather(*(worker(client) for client in clients))
        elapsed = time.perf_counter() - start
    finally:
        for client in clients:
            await client.aclose()
    latencies.sort()
    return Load(len(latencies), elapsed, errors, _rank(latencies, 50) / 1e6, _rank(latencies, 99) / 1e6)


def _rank(ordered: list[int], q: float) -> float:
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(len(ordered) * q / 100) - 1)]


def python_load(port: int, endpoint: Endpoint, seconds: float, connections: int, max_requests: int) -> Load:
    return asyncio.run(_python_load(port, endpoint, seconds, connections, max_requests))


# ---- Main -------------------------------------------------------------------------------------

def _raise_exit(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (about 1 s per server)")
    parser.add_argument("--duration", type=float, default=None, help="seconds of load per server (default 10)")
    parser.add_argument("--warmup", type=float, default=None, help="seconds of warm-up load per server (default 3)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections (default 64)")
    parser.add_argument("--threads", type=int, default=1,
                        help="wrk threads (default 1: on a 2-core machine the other core is the server's)")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator: wrk if installed, else the Python client (default auto)")
    parser.add_argument("--max-requests", type=int, default=500_000,
                        help="the Python client stops after this many requests per run (default 500000)")
    args = parser.parse_args(argv)
    duration = args.duration if args.duration is not None else (1.0 if args.quick else 10.0)
    warmup = args.warmup if args.warmup is not None else (0.5 if args.quick else 3.0)

    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    if client == "wrk" and not shutil.which("wrk"):
        print("wrk is not installed (Debian: apt-get install wrk); use --client python")
        return 2
    if client == "python":
        if importlib.util.find_spec("httpx") is None:
            print("httpx is not installed: pip install httpx, or apt-get install wrk")
            return 2
    if client == "wrk":
        duration = max(1.0, float(math.ceil(duration)))  # wrk counts whole seconds
        warmup = max(1.0, float(math.ceil(warmup)))

    def run_load(port: int, endpoint: Endpoint, seconds: float) -> Load:
        if client == "wrk":
            return wrk_load(port, endpoint, seconds, args.connections, args.threads)
        return python_load(port, endpoint, seconds, args.connections, args.max_requests)

    generator = f"wrk, {args.threads} thread{'s' if args.threads > 1 else ''}" if client == "wrk" else "Python client"
    print(f"bench_http  python {platform.python_version()}, {os.cpu_count()} CPUs, uvicorn 1 worker on {HOST}, "
          f"{args.connections} connections ({generator}), {warmup:g} s warm-up + {duration:g} s each"
          f"{'  [--quick]' if args.quick else ''}")

    if client == "python":
        print("note: the Python client is slower than the servers it drives: its requests/s are a floor and "
              "the ratio says little (install wrk for real figures)")

    # A SIGTERM becomes SystemExit, so the finally clauses stop the servers as they do on Ctrl-C.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_exit) if in_main_thread else None
    results: list[tuple[Endpoint, Load]] = []
    try:
        for endpoint in ENDPOINTS:
            with served(endpoint) as (port, size):
                run_load(port, endpoint, warmup)
                load = run_load(port, endpoint, duration)
                load.response_bytes = size
            results.append((endpoint, load))
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)

    print()
    print(f"{'endpoint':<44}{'requests/s':>12}{'p50':>11}{'p99':>11}{'requests':>10}{'errors':>8}{'answer':>9}")
    for endpoint, load in results:
        print(f"{endpoint.name:<44}{load.per_second:12.0f}{load.p50_ms:8.2f} ms{load.p99_ms:8.2f} ms"
              f"{load.requests:10d}{load.errors:8d}{load.response_bytes:8d}B")
    minimal, traced, uncached = (load for _, load in results)
    ratio = traced.per_second / minimal.per_second if minimal.per_second else math.nan
    print(f"{'ratio trace / minimal':<44}{ratio:11.0%}{traced.p50_ms / minimal.p50_ms:10.1f}x"
          f"{traced.p99_ms / minimal.p99_ms:10.1f}x")
    uncached_ratio = uncached.per_second / minimal.per_second if minimal.per_second else math.nan
    print(f"{'ratio trace (parse cache off) / minimal':<44}{uncached_ratio:11.0%}"
          f"{uncached.p50_ms / minimal.p50_ms:10.1f}x{uncached.p99_ms / minimal.p99_ms:10.1f}x")
    if any(load.errors for _, load in results):
        print("warning: some requests failed (errors column); the figures above are not clean")
    print()
    print(f"{'target (issue 2)':<44}{'figure':>12}  verdict")
    caveat = "  (inconclusive: the Python client is the bottleneck)" if client == "python" else ""
    print(f"{'  trace requests/s >= 50% of minimal':<44}{ratio:12.0%}  "
          f"{'PASS' if ratio >= TARGET_RATIO else 'MISS'}{caveat}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped")
        sys.exit(130)
