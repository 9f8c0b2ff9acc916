"""POST /api/v1/network/train/stream: server-sent events over a real uvicorn connection.

The rate is checked only as a functional requirement (at least 10 progress events a second, with a
generous margin), not as a benchmark. Stopping is checked on the server's side: after the client
closes the connection, GET /network/runs must count no run within a couple of seconds.
"""
from __future__ import annotations

import json
import socket
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import httpx
import pytest
import uvicorn

from app import compute
from app.main import app
from app.routes import network
from app.settings import get_settings

from .conftest import assert_envelope

STREAM = "/api/v1/network/train/stream"
RUNS = "/api/v1/network/runs"
MOONS = {"layers": [{"units": 16, "activation": "tanh"}, {"units": 16, "activation": "tanh"}, {"units": 1}],
         "loss": "bce", "data": {"dataset": "moons", "points": 200, "seed": 0},
         "optimizer": {"name": "adam", "learning_rate": 0.03}, "seed": 0}


def serve(asgi_app: Any) -> Iterator[str]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    uvicorn_server = uvicorn.Server(uvicorn.Config(asgi_app, log_level="warning", access_log=False))
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not uvicorn_server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    uvicorn_server.should_exit = True
    thread.join(timeout=10)
    listener.close()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    yield from serve(app)


@pytest.fixture(scope="module")
def server_asgi_2_4() -> Iterator[str]:
    """The app behind a server that says ASGI 2.4: Starlette then stops listening for the disconnect
    itself, and only the stream's own listening (network.EventStream) can end the run."""
    async def newer(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "asgi": {**scope.get("asgi", {}), "spec_version": "2.4"}}
        await app(scope, receive, send)

    yield from serve(newer)


def events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) pairs as they arrive. NOTE: closing this generator (or letting it be collected)
    closes the connection, which is how a client stops a run: keep it while the run should go on."""
    name, data = None, []
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            data.append(line[len("data: "):])
        elif line == "" and name is not None:
            yield name, json.loads("\n".join(data))
            name, data = None, []


def active_runs(base: str) -> int:
    return httpx.get(base + RUNS).json()["active"]


def wait_for_no_runs(base: str, seconds: float = 3.0) -> float:
    start = time.monotonic()
    while active_runs(base) and time.monotonic() - start < seconds:
        time.sleep(0.02)
    assert active_runs(base) == 0, "the server kept training after the client went away"
    return time.monotonic() - start


def test_a_streamed_run_sends_start_progress_and_done_and_done_is_the_train_answer(server):
    body = {**MOONS, "iterations": 300}
    with httpx.stream("POST", server + STREAM, json=body, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        received = list(events(response))
    names = [name for name, _ in received]
    assert names[0] == "start" and names[-1] == "done" and set(names[1:-1]) == {"progress"}
    start, progress, done = received[0][1], [data for name, data in received if name == "progress"], received[-1][1]
    assert start["iterations"] == 300 and start["network"]["sizes"] == [2, 16, 16, 1]
    assert start["params"] == done["initial_params"]
    assert done == httpx.post(server + "/api/v1/network/train", json=body, timeout=30).json()
    # the slices add up to the whole history
    assert sum((event["batch_loss"] for event in progress), []) == done["history"]["batch_loss"]
    for name in ("iteration", "train_loss", "test_accuracy"):
        assert sum((event["history"][name] for event in progress), []) == done["history"][name]
    last = progress[-1]
    assert last["iteration"] == 300 and "boundary" in last and last["params"] == done["params"]
    assert last["train_accuracy"] == done["history"]["train_accuracy"][-1]
    assert set(last["optimizer"]["state"]) == {"t", "m", "v"}
    assert done["status"] == "finished" and done["metrics"]["train_accuracy"] >= 0.97


def test_the_stream_sends_at_least_10_progress_events_a_second_and_stops_when_the_client_leaves(server):
    body = {**MOONS, "iterations": 20_000, "optimizer": {"name": "sgd", "learning_rate": 0.01}}
    with httpx.stream("POST", server + STREAM, json=body, timeout=30) as response:
        assert response.status_code == 200
        opened = time.monotonic()
        times, iterations = [], []
        received = events(response)
        for name, data in received:
            if name == "progress":
                times.append(time.monotonic() - opened)
                iterations.append(data["iteration"])
            if time.monotonic() - opened > 1.5:
                break
        # the event loop keeps serving other requests while the run trains
        asked = time.monotonic()
        assert httpx.get(server + "/api/v1/health").status_code == 200
        assert time.monotonic() - asked < 1.0
        assert active_runs(server) == 1
    # 20 a second are sent; at least 10 in the first 1.5 s leaves a wide margin for a busy machine
    assert sum(1 for t in times if t <= 1.5) >= 10, times
    assert iterations == sorted(iterations) and iterations[-1] < 20_000
    assert wait_for_no_runs(server) < 2.0


def test_a_stream_ends_with_done_when_its_seconds_run_out(server, monkeypatch):
    monkeypatch.setattr(get_settings(), "max_run_seconds", 0.3)
    started = time.monotonic()
    with httpx.stream("POST", server + STREAM, json={**MOONS, "iterations": 20_000}, timeout=30) as response:
        received = list(events(response))
    assert time.monotonic() - started < 3.0
    done = received[-1]
    assert done[0] == "done" and done[1]["status"] == "stopped" and done[1]["stop_reason"] == "max_run_seconds"
    assert 0 < done[1]["iterations"] < 20_000
    assert wait_for_no_runs(server) < 1.0


def test_a_diverging_stream_ends_with_the_divergence(server):
    body = {**MOONS, "iterations": 300, "optimizer": {"name": "sgd", "learning_rate": 1e6}}
    with httpx.stream("POST", server + STREAM, json=body, timeout=30) as response:
        received = list(events(response))
    name, done = received[-1]
    assert name == "done" and done["status"] == "diverged"
    assert done["divergence"]["learning_rate"] == 1e6 and "smaller learning rate" in done["divergence"]["message"]
    where = done["divergence"]["where"]
    assert where["rule"] == "largest_relative_update" and where["layer"] in (1, 2, 3) and where["unit"] >= 0
    alone = httpx.post(server + "/api/v1/network/train", json=body, timeout=30).json()
    assert done["divergence"] == alone["divergence"]


def test_a_compact_stream_sends_its_tensors_compact_and_ends_with_the_compact_train_answer(server):
    body = {**MOONS, "iterations": 40, "encoding": "compact"}
    with httpx.stream("POST", server + STREAM, json=body, timeout=30) as response:
        received = list(events(response))
    start, done = received[0][1], received[-1][1]
    assert start["params"]["W2"]["shape"] == [16, 16] and start["params"]["W1"] == done["initial_params"]["W1"]
    last = [data for name, data in received if name == "progress"][-1]
    assert last["boundary"]["probabilities"]["dtype"] == "float64" and last["params"] == done["params"]
    assert done == httpx.post(server + "/api/v1/network/train", json=body, timeout=30).json()


def test_too_many_runs_at_once_is_429(server, monkeypatch):
    monkeypatch.setattr(get_settings(), "max_active_runs", 1)
    with httpx.stream("POST", server + STREAM, json={**MOONS, "iterations": 20_000}, timeout=30) as first:
        assert first.status_code == 200
        received = events(first)
        next(received)  # the start event: the run is counted
        refused = httpx.post(server + STREAM, json=MOONS, timeout=30)
        error = assert_envelope(refused, 429)
        assert error["code"] == "rate_limited" and "max_active_runs" in error["message"]
        assert error["where"] == {"limit": "max_active_runs"} and refused.headers["retry-after"] == "5"
    wait_for_no_runs(server)


def test_runs_asked_for_all_at_once_are_admitted_up_to_max_active_runs(server, monkeypatch):
    monkeypatch.setattr(get_settings(), "max_active_runs", 2)
    together, answered = threading.Barrier(5), threading.Event()

    def ask() -> int:
        with httpx.Client(timeout=30) as client:
            together.wait()
            with client.stream("POST", server + STREAM, json={**MOONS, "iterations": 20_000}) as response:
                if response.status_code == 200:
                    next(events(response))  # the start event
                    answered.wait(timeout=20)  # the run goes on until every request has its answer
                return response.status_code

    with ThreadPoolExecutor(5) as pool:
        asked = [pool.submit(ask) for _ in range(5)]
        deadline = time.monotonic() + 20
        while sum(future.done() for future in asked) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        answered.set()
        statuses = sorted(future.result() for future in asked)
    assert statuses == [200, 200, 429, 429, 429]
    wait_for_no_runs(server)


def test_streamed_slices_take_turns_on_stream_threads_and_short_work_is_not_held_up(server, monkeypatch):
    monkeypatch.setattr(get_settings(), "stream_threads", 1)
    monkeypatch.setattr(compute, "_LIMITERS", weakref.WeakKeyDictionary())  # lanes made afresh, with 1 thread
    at_once, most = [0], [0]
    advance, lock = network.Run.advance, threading.Lock()

    def counted(run: network.Run) -> bytes:
        with lock:
            at_once[0] += 1
            most[0] = max(most[0], at_once[0])
        try:
            return advance(run)
        finally:
            with lock:
                at_once[0] -= 1

    monkeypatch.setattr(network.Run, "advance", counted)

    def follow() -> int:
        with httpx.stream("POST", server + STREAM, json={**MOONS, "iterations": 20_000}, timeout=30) as response:
            progress = 0
            for name, _ in events(response):
                progress += name == "progress"
                if progress == 5:
                    return progress
        return progress

    with ThreadPoolExecutor(3) as pool:
        runs = [pool.submit(follow) for _ in range(3)]
        until = time.monotonic() + 5
        while active_runs(server) < 3 and time.monotonic() < until:
            time.sleep(0.01)
        asked = time.monotonic()
        iteration = httpx.post(server + "/api/v1/network/iteration", json=MOONS, timeout=30)
        assert iteration.status_code == 200 and time.monotonic() - asked < 1.0
        assert [run.result() for run in runs] == [5, 5, 5]  # every run had its turns
    assert most[0] == 1
    assert httpx.get(server + RUNS).json()["stream_threads"] == 1
    wait_for_no_runs(server)


def test_closing_an_in_process_client_stream_also_ends_the_run(client):
    with client.stream("POST", STREAM, json={**MOONS, "iterations": 20_000}) as response:
        for name, _ in events(response):
            if name == "progress":
                break
    deadline = time.monotonic() + 3
    while client.get(RUNS).json()["active"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.get(RUNS).json()["active"] == 0


def test_the_stream_notices_the_client_leaving_when_starlette_does_not_listen(server_asgi_2_4):
    with httpx.stream("POST", server_asgi_2_4 + STREAM, json={**MOONS, "iterations": 20_000}, timeout=30) as response:
        received = events(response)
        progress = [name for name, _ in (next(received) for _ in range(4)) if name == "progress"]
        assert len(progress) == 3 and active_runs(server_asgi_2_4) == 1
    assert wait_for_no_runs(server_asgi_2_4) < 2.0
