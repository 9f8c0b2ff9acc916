"""Classroom load: one room, many students on server-sent events, the teacher's changes delivered.

    python benchmarks/load_classroom.py                  # 200 students, 20 changes, rooms in memory
    python benchmarks/load_classroom.py --redis          # 2 workers sharing a temporary redis-server
    python benchmarks/load_classroom.py --quick          # a short smoke run (20 students, 5 changes)
    python benchmarks/load_classroom.py --payload 17000  # changes are a network page's results (POST .../results)
    python benchmarks/load_classroom.py --iteration      # then every student asks for the teacher's iteration

The server runs here as subprocesses on free 127.0.0.1 ports (uvicorn, --no-access-log): one worker
with rooms in memory, or with --redis a temporary redis-server (Debian: apt-get install redis-server;
loopback, no persistence) and --workers processes (default 2) sharing it, students spread over them.
Students are raw asyncio connections (one per student, as a browser's EventSource holds), so the
client costs little next to the server.

Figures, each beside a baseline from the same run:
- delivery: from the moment the teacher's POST /state (/results) is sent to the moment each student has the
  whole event, p50 / p99 / max over every student and change (target: p99 <= 1 s, no errors),
  against the same changes delivered to 1 student;
- memory per connected student: the server's resident memory (VmRSS, summed over the workers) with
  the students connected, minus the same with none, divided by their number; against the server's
  whole resident memory. Connections are checked (the room's `students` count) before memory is read.
- with --iteration, what a network page's student does when the step view shows a new position of the
  teacher's (one step taken, or a run ended): every student at once asks POST /network/iteration at the
  teacher's new parameters (the page's default network, 2-8-8-1 on 200 moons points), and each one's time
  to its answer, p50 / p99 / max, against 1 student asking alone. (Students never train or compare: they
  show the teacher's results, and ask for the iteration only once their step view shows it.)

Bounded: --students <= 1,000, --changes <= 200, --payload <= 32,000 bytes (the room-state limit), and the
whole run gives up after --timeout seconds.
Nothing but 127.0.0.1 is contacted. Servers are always stopped, also on Ctrl-C.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
TARGET_P99 = 1.0
# The network page's default network (static/js/network_spec.js DEFAULTS): what a student's page asks for.
NETWORK = {"layers": [{"units": 8, "activation": "tanh"}, {"units": 8, "activation": "tanh"},
                      {"units": 1, "activation": "sigmoid"}],
           "loss": "bce", "data": {"dataset": "moons", "points": 200, "noise": 0.1, "seed": 0}, "test_fraction": 0.2,
           "optimizer": {"name": "sgd", "learning_rate": 0.1}, "batch_size": None, "seed": 0}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            continue


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bpx-load-redis-") as folder:
        process = subprocess.Popen([binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
                                    "--dir", folder, "--loglevel", "warning"], stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with socket.create_connection((HOST, port), timeout=0.5) as probe:
                        probe.sendall(b"PING\r\n")
                        if probe.recv(16).startswith(b"+PONG"):
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("redis-server did not start")
                time.sleep(0.05)
            yield f"redis://{HOST}:{port}/0"
        finally:
            stop(process)


@dataclass
class Server:
    port: int
    process: subprocess.Popen

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"


@contextmanager
def servers(count: int, redis_url: str | None) -> Iterator[list[Server]]:
    env = {**os.environ, "BACKPROP_REDIS_URL": redis_url or "", "BACKPROP_MAX_ROOMS": "10"}
    started: list[Server] = []
    try:
        for _ in range(count):
            port = free_port()
            process = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--host", HOST, "--port",
                                        str(port), "--no-access-log", "--log-level", "warning"],
                                       cwd=ROOT, env=env)
            started.append(Server(port, process))
        for server in started:
            deadline = time.monotonic() + 30
            while True:
                try:
                    http("GET", f"{server.base}/api/v1/health")
                    break
                except OSError:
                    if time.monotonic() > deadline or server.process.poll() is not None:
                        raise SystemExit(f"the server on port {server.port} did not start")
                    time.sleep(0.1)
        yield started
    finally:
        for server in started:
            stop(server.process)


# ---- A student: one raw HTTP/1.1 connection reading server-sent events ----------------------------

@dataclass
class Student:
    server: Server
    code: str
    received: dict[int, float] = field(default_factory=dict)  # event id -> perf_counter when complete
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    error: str | None = None
    task: asyncio.Task | None = None

    async def run(self) -> None:
        writer = None
        try:
            reader, writer = await asyncio.open_connection(HOST, self.server.port)
            writer.write(f"GET /api/v1/rooms/{self.code}/events HTTP/1.1\r\nHost: {HOST}\r\n"
                         "Accept: text/event-stream\r\n\r\n".encode())
            status = await reader.readline()
            if b" 200 " not in status:
                raise RuntimeError(status.decode(errors="replace").strip())
            chunked = False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                chunked |= line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower()
            buffer = b""
            while True:
                if chunked:
                    size = int((await reader.readline()).split(b";")[0], 16)
                    if size == 0:
                        return
                    buffer += await reader.readexactly(size)
                    await reader.readexactly(2)
                else:
                    piece = await reader.read(65536)
                    if not piece:
                        return
                    buffer += piece
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    self._event(block)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - counted and reported as an error
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            if writer is not None:
                writer.close()

    def _event(self, block: bytes) -> None:
        now = time.perf_counter()
        event_id = None
        for line in block.split(b"\n"):
            if line.startswith(b"id: "):
                event_id = int(line[4:])
        if event_id is not None:
            self.received[event_id] = now
            self.connected.set()


@dataclass
class Delivery:
    latencies: list[float]
    errors: list[str]

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def connect(students: list[Student], timeout: float) -> None:
    for student in students:
        student.task = asyncio.create_task(student.run())
    await asyncio.wait_for(asyncio.gather(*(student.connected.wait() for student in students)), timeout)


async def deliver(teacher: Server, room: dict[str, Any], students: list[Student], changes: int,
                  gap: float, payload: int = 0) -> Delivery:
    """Post `changes` states, `gap` seconds apart; every student must get each one."""
    loop = asyncio.get_running_loop()
    sent: dict[int, float] = {}
    for step in range(changes):
        started = time.perf_counter()
        if payload:  # a network page's packed results (a base64 boundary, curves, parameters) of this size
            path, body = "results", {"page": "network", "results": {"packed": (f"{step:08d}" * (payload // 8 + 1))[:payload]}}
        else:
            path, body = "state", {"page": "explorer", "state": {"step": step, "source": "q = x + y\nf = q * z"}}
        answer = await loop.run_in_executor(None, lambda: http(
            "POST", f"{teacher.base}/api/v1/rooms/{room['code']}/{path}", body,
            {"X-Presenter-Key": room["presenter_key"]}))
        sent[answer["version"]] = started
        await asyncio.sleep(gap)
    deadline = time.perf_counter() + 5
    while time.perf_counter() < deadline and not all(version in s.received for s in students for version in sent):
        await asyncio.sleep(0.05)
    latencies, errors = [], []
    for student in students:
        if student.error:
            errors.append(student.error)
        for version, at in sent.items():
            if version in student.received:
                latencies.append(student.received[version] - at)
            else:
                errors.append(f"event {version} never arrived")
    return Delivery(latencies, errors)


async def stop_students(students: list[Student]) -> None:
    for student in students:
        if student.task is not None:
            student.task.cancel()
    await asyncio.gather(*(s.task for s in students if s.task is not None), return_exceptions=True)


def total_rss(started: list[Server]) -> int:
    return sum(rss_bytes(server.process.pid) for server in started)


# ---- A student's page asking for the teacher's iteration -----------------------------------------

async def post_json(server: Server, path: str, body: bytes) -> float:
    """POST on a fresh connection; -> the seconds to the whole answer (an error if it is not 200)."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(HOST, server.port)
    try:
        writer.write(f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        status = await reader.readline()
        await reader.read()  # to the end: the server closes after the answer
    finally:
        writer.close()
    if b" 200 " not in status:
        raise RuntimeError(status.decode(errors="replace").strip())
    return time.perf_counter() - started


async def iterations(servers_: list[Server], count: int) -> Delivery:
    """Every student at once asks for the iteration at the teacher's parameters (one step taken)."""
    loop = asyncio.get_running_loop()
    first = await loop.run_in_executor(None, lambda: http(
        "POST", f"{servers_[0].base}/api/v1/network/iteration", {**NETWORK, "view": "layer", "encoding": "list"}))
    body = json.dumps({**NETWORK, "params": first["params_after"], "optimizer_state": first["optimizer"]["state"],
                       "view": "layer", "encoding": "list"}).encode()
    results = await asyncio.gather(*(post_json(servers_[k % len(servers_)], "/api/v1/network/iteration", body)
                                     for k in range(count)), return_exceptions=True)
    return Delivery([r for r in results if isinstance(r, float)],
                    [f"{type(r).__name__}: {r}" for r in results if not isinstance(r, float)])


async def measure(started: list[Server], count: int, changes: int, gap: float, settle: float, payload: int = 0,
                  iteration: bool = False) -> dict[str, Any]:
    teacher = started[0]
    room = http("POST", f"{teacher.base}/api/v1/rooms", {"page": "explorer", "state": {"step": 0}})
    code = room["code"]

    # Warm-up: every code path once, so the memory reading below is not of first-time imports.
    warm = [Student(started[k % len(started)], code) for k in range(len(started))]
    await connect(warm, 10)
    await deliver(teacher, room, warm, 2, 0.05)
    await stop_students(warm)
    await asyncio.sleep(settle)

    one = [Student(started[-1], code)]  # the baseline: one student, on the last worker
    await connect(one, 10)
    baseline = await deliver(teacher, room, one, changes, gap, payload)
    await stop_students(one)
    await asyncio.sleep(settle)

    rss_before = total_rss(started)
    students = [Student(started[k % len(started)], code) for k in range(count)]
    connect_started = time.perf_counter()
    await connect(students, 30)
    connect_seconds = time.perf_counter() - connect_started
    await asyncio.sleep(settle)
    seen = http("GET", f"{teacher.base}/api/v1/rooms/{code}")["students"]
    rss_after = total_rss(started)
    loaded = await deliver(teacher, room, students, changes, gap, payload)
    figures = {"baseline": baseline, "loaded": loaded, "rss_before": rss_before, "rss_after": rss_after,
               "connected": seen, "connect_seconds": connect_seconds}
    if iteration:
        await iterations(started, 2)  # warm-up
        figures["iteration_one"] = await iterations(started, 1)
        figures["iteration_all"] = await iterations(started, count)
    await stop_students(students)
    return figures


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=None, help="students in the room (default 200)")
    parser.add_argument("--changes", type=int, default=None, help="teacher's changes to deliver (default 20)")
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between two changes (default 0.2)")
    parser.add_argument("--redis", action="store_true", help="rooms in a temporary redis-server, several workers")
    parser.add_argument("--workers", type=int, default=2, help="worker processes with --redis (default 2)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (20 students, 5 changes)")
    parser.add_argument("--payload", type=int, default=0,
                        help="each change is a network page's results of this many bytes (default 0: a small state)")
    parser.add_argument("--iteration", action="store_true",
                        help="then every student asks for the iteration at the teacher's parameters at once")
    parser.add_argument("--timeout", type=float, default=120, help="give up after this many seconds (default 120)")
    args = parser.parse_args(argv)
    count = args.students if args.students is not None else (20 if args.quick else 200)
    changes = args.changes if args.changes is not None else (5 if args.quick else 20)
    if not (1 <= count <= 1_000 and 1 <= changes <= 200 and 1 <= args.workers <= 8 and 0 <= args.payload <= 32_000):
        parser.error("--students 1..1000, --changes 1..200, --workers 1..8, --payload 0..32000")
    workers = args.workers if args.redis else 1

    store = f"Redis, {workers} workers" if args.redis else "memory, 1 worker"
    print(f"load_classroom  python {platform.python_version()}, {os.cpu_count()} CPUs, uvicorn on {HOST}, rooms in "
          f"{store}; {count} students, {changes} changes {args.gap:g} s apart"
          f"{f' (results of {args.payload:,} bytes)' if args.payload else ''}{'  [--quick]' if args.quick else ''}")
    with ExitStack() as stack:
        redis_url = stack.enter_context(redis_server()) if args.redis else None
        started = stack.enter_context(servers(workers, redis_url))
        try:
            figures = asyncio.run(asyncio.wait_for(measure(started, count, changes, args.gap,
                                                     0.1 if args.quick else 0.5, args.payload, args.iteration),
                                             args.timeout))
        except asyncio.TimeoutError:
            print(f"gave up after {args.timeout:g} s")
            return 1

    baseline, loaded = figures["baseline"], figures["loaded"]
    per_student = (figures["rss_after"] - figures["rss_before"]) / count
    print()
    print(f"  {'figure':<44} {f'{count} students':>14} {'baseline: 1 student':>20}")
    for name, q in (("delivery p50", 0.5), ("delivery p99", 0.99)):
        print(f"  {name:<44} {ms(loaded.percentile(q)):>14} {ms(baseline.percentile(q)):>20}")
    print(f"  {'delivery max':<44} {ms(max(loaded.latencies, default=float('nan'))):>14} "
          f"{ms(max(baseline.latencies, default=float('nan'))):>20}")
    print(f"  {'deliveries (students x changes)':<44} {len(loaded.latencies):>14} {len(baseline.latencies):>20}")
    print(f"  {'errors':<44} {len(loaded.errors):>14} {len(baseline.errors):>20}")
    print(f"  {'students counted by the room':<44} {figures['connected']:>14}")
    print(f"  {'time to connect every student':<44} {ms(figures['connect_seconds']):>14}")
    print(f"  {'server memory with no student (VmRSS)':<44} {'':>14} {figures['rss_before'] / 2**20:>16.1f} MiB")
    print(f"  {'server memory with the students (VmRSS)':<44} {figures['rss_after'] / 2**20:>10.1f} MiB")
    print(f"  {'memory per connected student':<44} {per_student / 1024:>10.1f} KiB")
    if args.iteration:
        one, every = figures["iteration_one"], figures["iteration_all"]
        for name, q in (("iteration asked by every student: p50", 0.5), ("iteration asked by every student: p99", 0.99)):
            print(f"  {name:<44} {ms(every.percentile(q)):>14} {ms(one.percentile(q)):>20}")
        print(f"  {'iteration asked by every student: max':<44} {ms(max(every.latencies, default=float('nan'))):>14} "
              f"{ms(max(one.latencies, default=float('nan'))):>20}")
        print(f"  {'iteration errors':<44} {len(every.errors):>14} {len(one.errors):>20}")
    for error in sorted(set(loaded.errors))[:5]:
        print(f"  error: {error}")
    print()
    p99 = loaded.percentile(0.99)
    ok_delivery = p99 <= TARGET_P99 and not loaded.errors and figures["connected"] == count
    print(f"  target: p99 delivery to {count} students <= {TARGET_P99:g} s, no errors   {ms(p99):>12}   "
          f"{'PASS' if ok_delivery else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
