"""Where the engine's short computations run: off the event loop, a few at a time, first come first served.

A request whose work takes milliseconds (a descent run, a contour grid, one network iteration, a long
program) runs in a worker thread, so the event loop keeps answering. NOTE: the threads share one GIL,
so forty of them (the default pool) running Python at once only take turns in 5 ms slices and every
request finishes late together: under 200 concurrent descent runs the p99 was 8 s. At most
BACKPROP_COMPUTE_THREADS of them run at once here and the others wait their turn in order (p99 1 s).
Long training runs (/network/train, /compare, streamed runs) keep the default pool: one of them may
take max_run_seconds, which must not hold up everyone's short work.
"""
from __future__ import annotations

import asyncio
import weakref
from functools import partial
from typing import Any, Callable, TypeVar

import anyio

from .settings import get_settings

T = TypeVar("T")

# One limiter per event loop (a test client runs several loops; a limiter belongs to one).
_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


def _limiter() -> anyio.CapacityLimiter:
    loop = asyncio.get_running_loop()
    limiter = _LIMITERS.get(loop)
    if limiter is None:
        limiter = _LIMITERS[loop] = anyio.CapacityLimiter(get_settings().compute_threads)
    return limiter


async def compute(work: Callable[..., T], *args: Any) -> T:
    """work(*args) in a worker thread, at most compute_threads at once in this process."""
    return await anyio.to_thread.run_sync(partial(work, *args), limiter=_limiter())
