"""Where the engine's work runs: off the event loop, a few at a time, first come first served.

Two lanes, each with threads of its own, so that neither holds up the other:

- `compute`, short work (a descent run, a contour grid, one network iteration, a long program): it
  takes milliseconds. NOTE: the threads share one GIL, so forty of them (the default pool) running
  Python at once only take turns in 5 ms slices and every request finishes late together: under 200
  concurrent descent runs the p99 was 8 s. At most BACKPROP_COMPUTE_THREADS of them run at once here
  and the others wait their turn in order (p99 1 s).
- `run_long`, training runs (/network/train, /network/compare): one may take max_run_seconds. At most
  BACKPROP_LONG_RUN_THREADS run at once, BACKPROP_LONG_RUN_QUEUE more wait their turn in order, and
  a run that finds the queue full is refused at once: 429 `server_busy` with Retry-After, the time
  the runs ahead of it are expected to take (from how long recent runs took). A run's own clock
  (max_run_seconds) starts when it starts running, not while it waits.

- `stream_slice`, the short slices of streamed runs (/network/train/stream): at most
  BACKPROP_STREAM_THREADS at once, taking turns; the number of live runs is capped by max_active_runs
  (app.routes.network). So a crowd of live runs slows each other down, not the other lanes.
"""
from __future__ import annotations

import asyncio
import math
import time
import weakref
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, TypeVar

import anyio

from .errors import ApiError
from .settings import get_settings

T = TypeVar("T")

# NOTE: one limiter per event loop and lane: a test client runs several loops, and a limiter belongs to one.
_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, anyio.CapacityLimiter]] = \
    weakref.WeakKeyDictionary()


def _limiter(threads_setting: str) -> anyio.CapacityLimiter:
    lanes = _LIMITERS.setdefault(asyncio.get_running_loop(), {})
    limiter = lanes.get(threads_setting)
    if limiter is None:
        limiter = lanes[threads_setting] = anyio.CapacityLimiter(getattr(get_settings(), threads_setting))
    return limiter


async def compute(work: Callable[..., T], *args: Any) -> T:
    """work(*args) in a worker thread, at most compute_threads at once in this process."""
    return await anyio.to_thread.run_sync(partial(work, *args), limiter=_limiter("compute_threads"))


async def stream_slice(work: Callable[..., T], *args: Any) -> T:
    """work(*args) in a worker thread of the streamed runs' lane, at most stream_threads at once."""
    return await anyio.to_thread.run_sync(partial(work, *args), limiter=_limiter("stream_threads"))


# ---- Long runs: a bounded queue in front of their own threads ------------------------------------

@dataclass
class LongRuns:
    """The long-run lane of one event loop: how many are in it (running or waiting) and how long runs take."""

    limiter: anyio.CapacityLimiter
    queue: int
    typical_seconds: float = 1.0  # a moving average of recent runs' durations, for Retry-After
    admitted: int = 0  # running + waiting

    @property
    def threads(self) -> int:
        return int(self.limiter.total_tokens)

    def retry_after(self) -> int:
        """Seconds until a newcomer would be admitted: the runs ahead of it, `threads` at a time."""
        ahead = self.admitted - self.threads + 1
        return max(1, math.ceil(self.typical_seconds * ahead / self.threads))

    def ran_for(self, seconds: float) -> None:
        self.typical_seconds = 0.8 * self.typical_seconds + 0.2 * seconds


_LONG_RUNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LongRuns] = weakref.WeakKeyDictionary()


def long_runs() -> LongRuns:
    loop = asyncio.get_running_loop()
    lane = _LONG_RUNS.get(loop)
    if lane is None:
        settings = get_settings()
        lane = _LONG_RUNS[loop] = LongRuns(anyio.CapacityLimiter(settings.long_run_threads), settings.long_run_queue)
    return lane


async def run_long(work: Callable[..., T], *args: Any) -> T:
    """work(*args) in a worker thread of the long-run lane: at once, after the runs queued before it,
    or not at all (429 server_busy) when long_run_queue runs are waiting already."""
    lane = long_runs()
    if lane.admitted >= lane.threads + lane.queue:
        seconds = lane.retry_after()
        raise ApiError(429, "server_busy",
                       f"the server is busy training networks ({lane.threads} at once and {lane.queue} more "
                       f"waiting: long_run_threads, long_run_queue); try again in {seconds} s",
                       where={"limit": "long_run_queue"}, headers={"Retry-After": str(seconds)})

    def timed() -> tuple[T, float]:
        started = time.monotonic()
        return work(*args), time.monotonic() - started

    # NOTE: counted before the first await, so requests arriving together cannot all slip past the check.
    lane.admitted += 1
    try:
        answer, seconds = await anyio.to_thread.run_sync(timed, limiter=lane.limiter)
    finally:
        lane.admitted -= 1
    lane.ran_for(seconds)  # a refusal raised by the work (bad input) is quick and says nothing of runs
    return answer
