"""Scale-out: two server processes sharing one Redis serve one room.

A real redis-server (tests/app/redis_server.py) and two `backprop-explorer serve` processes on free
loopback ports, both with BACKPROP_REDIS_URL: the teacher drives on one, the student follows on the
other. A third process is killed mid-lesson and its student reconnects to another and catches up.
Without redis-server installed these tests fail, saying so.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from engine.limits import LIMITS

from .redis_server import free_port, redis_url  # noqa: F401 - a fixture
from .sse import EventReader

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT = "0.5"
WORKED_EXAMPLE = {"source": "q = x + y\nf = q * z", "values": {"x": -2, "y": 5, "z": -4}}


class Worker:
    """One `backprop-explorer serve` process on its own port."""

    def __init__(self, env: dict[str, str], log_dir: Path, *argv: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"worker-{self.port}.log"
        command = list(argv) or [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1",
                                 "--port", str(self.port)]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=log,
                                            stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server on port {self.port} exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.base}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        pytest.fail(f"the server on port {self.port} did not answer within {timeout} s:\n{self.log()}")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(5)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_workers(count: int, redis_url: str, log_dir: Path) -> list[Worker]:
    env = {"BACKPROP_REDIS_URL": redis_url, "BACKPROP_SSE_HEARTBEAT_SECONDS": HEARTBEAT,
           "BACKPROP_PUBLIC_URL": "", "BACKPROP_WORKERS": "1"}
    workers = [Worker(env, log_dir) for _ in range(count)]  # started together, waited for together
    try:
        for worker in workers:
            worker.wait_ready()
    except BaseException:
        for worker in workers:
            worker.stop()
        raise
    return workers


@pytest.fixture(scope="module")
def two_workers(redis_url, tmp_path_factory) -> Iterator[list[Worker]]:
    workers = start_workers(2, redis_url, tmp_path_factory.mktemp("workers"))
    yield workers
    for worker in workers:
        worker.stop()


def create_room(worker: Worker) -> dict[str, Any]:
    response = httpx.post(f"{worker.base}/api/v1/rooms", json={"page": "explorer", "state": {"step": 0}}, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()


def drive(worker: Worker, room: dict[str, Any], path: str, body: Any) -> httpx.Response:
    return httpx.post(f"{worker.base}/api/v1/rooms/{room['code']}/{path}", json=body, timeout=5,
                      headers={"X-Presenter-Key": room["presenter_key"]})


def set_step(worker: Worker, room: dict[str, Any], step: int) -> int:
    response = drive(worker, room, "state", {"page": "explorer", "state": {"step": step}})
    assert response.status_code == 200, response.text
    return response.json()["version"]


@contextmanager
def follow(worker: Worker, code: str, last_event_id: str | None = None) -> Iterator[EventReader]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    with httpx.Client(timeout=httpx.Timeout(5, read=3)) as client:
        with client.stream("GET", f"{worker.base}/api/v1/rooms/{code}/events", headers=headers) as response:
            assert response.status_code == 200, response.read()
            yield EventReader(response.iter_lines())


def test_the_student_on_another_worker_follows_the_teacher_within_one_second(two_workers):
    teacher_side, student_side = two_workers
    room = create_room(teacher_side)
    with follow(student_side, room["code"]) as events:
        snapshot = events.next()
        assert snapshot.type == "snapshot" and snapshot.data["room"]["state"]["state"] == {"step": 0}
        assert httpx.get(f"{teacher_side.base}/api/v1/rooms/{room['code']}").json()["students"] == 1
        delays = []
        for step in range(1, 6):
            sent = time.monotonic()
            version = set_step(teacher_side, room, step)
            event = events.next(timeout=2)
            delays.append(event.at - sent)
            assert (event.type, event.id, event.data["state"]) == ("state", str(version), {"step": step})
        assert max(delays) < 1.0, delays
        # a network page's results go the same way, apart from the state
        results = {"v": 1, "at": 300, "running": False, "history": {"train": [[0, 0.693], [300, 0.121]]}}
        sent = drive(teacher_side, room, "results", {"page": "network", "results": results})
        assert sent.status_code == 200, sent.text
        event = events.next(timeout=2)
        assert (event.type, event.id, event.data["results"]) == ("results", str(sent.json()["version"]), results)
    snapshot = httpx.get(f"{student_side.base}/api/v1/rooms/{room['code']}").json()
    assert snapshot["results"]["results"] == results and snapshot["state"]["state"] == {"step": 5}


def test_quiz_round_trip_across_workers(two_workers):
    one, other = two_workers
    room = create_room(one)
    with follow(other, room["code"]) as events:
        events.next()
        opened = drive(one, room, "quiz", {"node": "n2", "label": "q", **WORKED_EXAMPLE})
        assert opened.status_code == 200, opened.text
        quiz = events.until("quiz").data["quiz"]
        assert quiz["id"] == opened.json()["id"] and "answer" not in quiz
        for student, value in (("student-1", -4), ("student-2", -4), ("student-3", 3)):
            answered = httpx.post(f"{other.base}/api/v1/rooms/{room['code']}/answers",
                                  json={"quiz": quiz["id"], "value": value, "student": student})
            assert answered.status_code == 200, answered.text
        seen = httpx.get(f"{one.base}/api/v1/rooms/{room['code']}/answers",
                         headers={"X-Presenter-Key": room["presenter_key"]}).json()
        assert seen["histogram"]["count"] == 3 and seen["correct"] == 2
        refused = httpx.post(f"{other.base}/api/v1/rooms/{room['code']}/quiz/reveal", json={})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "presenter_key_required"
        assert drive(other, room, "quiz/reveal", {}).status_code == 200  # the key works on every worker
        reveal = events.until("reveal")
        assert reveal.data["quiz"]["answer"] == -4 and reveal.data["correct"] == 2


def test_answer_rate_limit_is_shared_by_the_workers(two_workers):
    one, other = two_workers
    room = create_room(one)
    quiz = drive(one, room, "quiz", {"node": "n1", "answer": 1}).json()
    window = LIMITS.answer_window_seconds  # do not let the window roll over in the middle
    if time.time() % window > window - 1:
        time.sleep(window - time.time() % window + 0.05)
    statuses = [httpx.post(f"{worker.base}/api/v1/rooms/{room['code']}/answers",
                           json={"quiz": quiz["id"], "value": 1, "student": "student-flood"}).status_code
                for worker in [(one, other)[k % 2] for k in range(LIMITS.max_answers_per_window + 1)]]
    assert statuses == [200] * LIMITS.max_answers_per_window + [429]


def test_a_killed_worker_student_reconnects_to_another_and_catches_up(two_workers, redis_url, tmp_path):
    teacher_side, survivor = two_workers
    doomed = start_workers(1, redis_url, tmp_path)[0]
    try:
        room = create_room(teacher_side)
        with pytest.raises((httpx.HTTPError, EOFError, TimeoutError)):
            with follow(doomed, room["code"]) as events:
                events.next()
                set_step(teacher_side, room, 1)
                assert events.next().data["state"] == {"step": 1}
                seen = events.last_id
                doomed.kill()  # mid-lesson
                while True:
                    events.next(timeout=3)
        missed = [set_step(teacher_side, room, step) for step in (2, 3, 4)]
        started = time.monotonic()
        with follow(survivor, room["code"], last_event_id=seen) as events:
            caught_up = events.next(timeout=2)
            assert time.monotonic() - started < 1.0
            # the teacher's latest page (each state is the whole page: the older two are skipped)
            assert (caught_up.type, int(caught_up.id), caught_up.data["state"]) == ("state", missed[-1], {"step": 4})
            set_step(teacher_side, room, 5)
            assert events.next(timeout=2).data["state"] == {"step": 5}
    finally:
        doomed.stop()


def test_stopping_a_worker_with_students_connected_does_not_hang(two_workers, redis_url, tmp_path):
    teacher_side = two_workers[0]
    leaving = start_workers(1, redis_url, tmp_path)[0]
    try:
        room = create_room(teacher_side)
        with follow(leaving, room["code"]) as events:
            events.next()
            started = time.monotonic()
            leaving.process.send_signal(signal.SIGTERM)
            with pytest.raises((EOFError, httpx.HTTPError)):
                while True:
                    events.next(timeout=3)
            leaving.process.wait(5)
            assert time.monotonic() - started < 5
    finally:
        leaving.stop()


# ---- Redis unreachable at start ------------------------------------------------------------------

def run_cli_serve(env: dict[str, str], *argv: str, timeout: float = 20) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run(list(argv) or [sys.executable, "-m", "app.cli", "serve", "--port", str(free_port())],
                          cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def test_serve_with_redis_refusing_connections_stops_at_once_with_a_clear_error():
    code, output, seconds = run_cli_serve({"BACKPROP_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    assert code == 2 and seconds < 10
    assert "classroom store: Redis at redis://127.0.0.1:" in output and "Connection refused" in output
    assert "BACKPROP_REDIS_URL" in output and "Traceback" not in output


def test_serve_with_a_redis_that_never_answers_gives_up_after_the_timeout():
    with socket.socket() as silent:  # accepts connections (the kernel does), never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        code, output, seconds = run_cli_serve({"BACKPROP_REDIS_URL": url, "BACKPROP_REDIS_TIMEOUT_SECONDS": "0.5"})
    assert code == 2 and seconds < 5
    assert "cannot be used" in output and "Timeout" in output


def test_uvicorn_started_directly_refuses_to_start_without_its_redis():
    port = str(free_port())
    code, output, seconds = run_cli_serve(
        {"BACKPROP_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "BACKPROP_REDIS_TIMEOUT_SECONDS": "0.5"},
        sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", port)
    assert code != 0 and seconds < 10
    assert "classroom store: Redis at" in output and "Application startup failed" in output
