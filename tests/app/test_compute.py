"""Work off the event loop: short work at most compute_threads at once, training runs in a lane of their
own (long_run_threads at once, long_run_queue waiting in order, 429 server_busy with Retry-After beyond)."""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from typing import Any, Awaitable, Callable

import httpx
import pytest

from app import compute as compute_module
from app.compute import LongRuns, compute, run_long
from app.errors import ApiError
from app.main import create_app
from app.settings import Settings

from .conftest import assert_envelope


def in_a_new_loop(main: Callable[[], Awaitable[Any]]) -> Any:
    """asyncio.run(main()) in a thread of its own: this thread may have a loop running already (Playwright's)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result(timeout=60)


def use(monkeypatch, **settings: Any) -> None:
    monkeypatch.setattr(compute_module, "get_settings", lambda: Settings(**settings))


# ---- Short work ---------------------------------------------------------------------------------

def test_at_most_compute_threads_run_at_once_and_every_caller_gets_its_own_answer(monkeypatch):
    use(monkeypatch, compute_threads=2)
    running, most, lock = 0, 0, threading.Lock()

    def work(n: int) -> tuple[int, bool]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return n * n, threading.current_thread() is not threading.main_thread()

    async def main() -> list[tuple[int, bool]]:
        return await asyncio.gather(*(compute(work, n) for n in range(8)))

    answers = in_a_new_loop(main)
    assert answers == [(n * n, True) for n in range(8)]
    assert most == 2


def test_each_event_loop_gets_its_own_limiter(monkeypatch):
    use(monkeypatch, compute_threads=1)

    async def first() -> int:
        return await compute(sum, [1, 2])

    async def second() -> int:
        return await compute(sum, [3, 4])

    assert in_a_new_loop(first) == 3
    assert in_a_new_loop(second) == 7  # a new loop: a limiter of its own, not the first loop's


# ---- Long runs ----------------------------------------------------------------------------------

class Gate:
    """Work that records when it starts and waits until the test opens the gate."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.started: list[int] = []
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def work(self, n: int) -> int:
        with self.lock:
            self.started.append(n)
            self.running += 1
            self.most = max(self.most, self.running)
        assert self.opened.wait(timeout=20)
        with self.lock:
            self.running -= 1
        return n


async def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


def test_long_runs_go_threads_at_a_time_in_arrival_order_and_a_full_queue_is_refused_at_once(monkeypatch):
    use(monkeypatch, long_run_threads=1, long_run_queue=2)
    gate = Gate()

    async def main() -> tuple[list[int], ApiError, float]:
        runs = []
        for n in range(3):  # one runs, two wait
            runs.append(asyncio.ensure_future(run_long(gate.work, n)))
            await asyncio.sleep(0.01)
        await until(lambda: gate.started == [0])
        started = time.monotonic()
        with pytest.raises(ApiError) as refused:
            await run_long(gate.work, 3)
        refused_in = time.monotonic() - started
        gate.opened.set()
        answers = await asyncio.gather(*runs)
        assert await run_long(gate.work, 4) == 4  # room again once the queue drained
        return answers, refused.value, refused_in

    answers, refusal, refused_in = in_a_new_loop(main)
    assert answers == [0, 1, 2]
    assert gate.started == [0, 1, 2, 4] and gate.most == 1  # first come, first served; one at a time
    assert refused_in < 0.05  # a refusal does not wait
    assert (refusal.status, refusal.code, refusal.where) == (429, "server_busy", {"limit": "long_run_queue"})
    assert "long_run_threads" in refusal.message and "long_run_queue" in refusal.message
    assert int(refusal.headers["Retry-After"]) >= 1


def test_a_full_long_run_lane_leaves_short_work_running(monkeypatch):
    use(monkeypatch, long_run_threads=1, long_run_queue=0, compute_threads=1)
    gate = Gate()

    async def main() -> int:
        training = asyncio.ensure_future(run_long(gate.work, 0))
        await until(lambda: gate.started == [0])
        short = await asyncio.wait_for(compute(sum, [2, 3]), timeout=5)
        gate.opened.set()
        await training
        return short

    assert in_a_new_loop(main) == 5


def test_a_run_refused_by_its_own_input_frees_its_place(monkeypatch):
    use(monkeypatch, long_run_threads=1, long_run_queue=0)

    def bad_input() -> None:
        raise ValueError("bad input")

    async def main() -> int:
        with pytest.raises(ValueError):
            await run_long(bad_input)
        return await run_long(sum, [1, 1])

    assert in_a_new_loop(main) == 2


def test_retry_after_is_the_time_the_runs_ahead_take_at_threads_a_time():
    async def main() -> list[int]:
        lane = LongRuns(compute_module.anyio.CapacityLimiter(2), queue=4, typical_seconds=10.0, admitted=6)
        waits = [lane.retry_after()]  # 5 runs ahead of a newcomer, 2 at a time, 10 s each: 25 s
        lane.typical_seconds = 0.01
        waits.append(lane.retry_after())  # never less than a second
        for _ in range(50):
            lane.ran_for(3.0)
        waits.append(round(lane.typical_seconds, 3))
        return waits

    assert in_a_new_loop(main) == [25, 1, 3.0]


def test_a_busy_server_answers_429_in_the_envelope_with_retry_after_over_http(monkeypatch):
    use(monkeypatch, long_run_threads=1, long_run_queue=1)
    gate = Gate()
    app = create_app(Settings(rate_limit_enabled=False))

    @app.post("/test/train")
    async def train() -> dict[str, int]:
        return {"n": await run_long(gate.work, 1)}

    async def main() -> tuple[list[httpx.Response], httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            first = [asyncio.ensure_future(client.post("/test/train")) for _ in range(2)]
            await until(lambda: len(gate.started) == 1)
            await asyncio.sleep(0.02)  # the second is queued
            refused = await client.post("/test/train")
            gate.opened.set()
            return list(await asyncio.gather(*first)), refused

    served, refused = in_a_new_loop(main)
    assert [response.status_code for response in served] == [200, 200]
    error = assert_envelope(refused, 429)
    assert error["code"] == "server_busy" and error["where"] == {"limit": "long_run_queue"}
    assert refused.headers["retry-after"].isdigit()
    assert refused.headers["x-content-type-options"] == "nosniff"
