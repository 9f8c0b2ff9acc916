"""Short computations run off the event loop, at most compute_threads at once, the rest in turn."""
from __future__ import annotations

import asyncio
import threading
import time

from app import compute as compute_module
from app.compute import compute
from app.settings import Settings


def test_at_most_compute_threads_run_at_once_and_every_caller_gets_its_own_answer(monkeypatch):
    monkeypatch.setattr(compute_module, "get_settings", lambda: Settings(compute_threads=2))
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

    answers = asyncio.run(main())
    assert answers == [(n * n, True) for n in range(8)]
    assert most == 2


def test_each_event_loop_gets_its_own_limiter(monkeypatch):
    monkeypatch.setattr(compute_module, "get_settings", lambda: Settings(compute_threads=1))
    assert asyncio.run(compute(sum, [1, 2])) == 3
    assert asyncio.run(compute(sum, [3, 4])) == 7  # a new loop: a limiter of its own, not the first loop's
