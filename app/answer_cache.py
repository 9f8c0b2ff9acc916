"""Answers of deterministic routes kept in memory, so identical requests are computed once.

The case it serves: a classroom of 30-200 students behind one NAT address follows the teacher on
/descent, and every student's page posts the same body. The engine is deterministic, so identical
requests give identical answers: the first is computed (and charged to the address's rate limit),
the rest are answered from here at once and are not charged.

- The key is the route's path, whether the client accepts gzip (the answer's bytes differ) and the
  validated request as sorted JSON, so key order, whitespace and omitted defaults do not matter.
- The value is the answer as sent: its encoded (perhaps gzipped) bytes and headers. Only 200
  answers are kept; a refusal raised while making one (429, 422, 500) is never stored.
- Bounded: least recently used first out, past `max_bytes` (BACKPROP_ANSWER_CACHE_BYTES, key
  included) or MAX_ENTRIES entries. max_bytes 0 turns it off: every request is made, none kept.
- Requests that arrive while an identical one is being made wait for it (one computation, one
  charge for all of them). If it fails or is refused, each waiter makes its own attempt: none
  inherits another request's error.

One cache per process (several workers each keep their own). In-flight requests are tracked per
event loop (a test client may run several); a future belongs to one loop.
"""
from __future__ import annotations

import asyncio
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Awaitable, Callable

import orjson
from pydantic import BaseModel
from starlette.requests import Request

from .settings import Settings, get_settings

MAX_ENTRIES = 256
ENTRY_OVERHEAD = 256  # bytes counted per entry beyond its key and body: the objects around them


@dataclass(frozen=True)
class Answer:
    """A 200 answer as sent: the body's bytes (gzipped when `headers` say so) and its extra headers."""

    body: bytes
    headers: dict[str, str] | None = None

    def size(self, key: bytes) -> int:
        return len(key) + len(self.body) + ENTRY_OVERHEAD


InFlight = dict[bytes, "asyncio.Future[Answer | None]"]  # key -> the answer being made (None: it failed)


def answer_key(path: str, accepts_gzip: bool, request: BaseModel) -> bytes:
    body = orjson.dumps(request.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return b"%s\n%s\n%s" % (path.encode(), b"gzip" if accepts_gzip else b"plain", body)


class AnswerCache:
    def __init__(self, max_bytes: int, max_entries: int = MAX_ENTRIES) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.bytes = 0
        self._entries: OrderedDict[bytes, Answer] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()  # the entries may be reached from several loops' threads (tests)
        self._in_flight: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, InFlight] = weakref.WeakKeyDictionary()

    @classmethod
    def from_settings(cls, settings: Settings) -> "AnswerCache":
        return cls(settings.answer_cache_bytes)

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0 and self.max_entries > 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> Answer | None:
        with self._lock:
            answer = self._entries.get(key)
            if answer is not None:
                self._entries.move_to_end(key)
            return answer

    def put(self, key: bytes, answer: Answer) -> None:
        size = answer.size(key)
        if not self.enabled or size > self.max_bytes:
            return  # an answer bigger than the whole budget is sent, not kept
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old.size(key)
            self._entries[key] = answer
            self.bytes += size
            while self.bytes > self.max_bytes or len(self._entries) > self.max_entries:
                oldest, evicted = self._entries.popitem(last=False)
                self.bytes -= evicted.size(oldest)

    async def get_or_make(self, key: bytes, make: Callable[[], Awaitable[Answer]]) -> Answer:
        """The kept answer for `key`, else the one an identical request in flight makes, else make() (kept).

        make() is where the work and its costs are (the rate-limit charge included): a hit or a wait
        costs neither. Errors raised by make() reach only the request that called it."""
        if not self.enabled:
            return await make()
        in_flight = self._in_flight_here()
        while True:
            answer = self.get(key)
            if answer is not None:
                return answer
            pending = in_flight.get(key)
            if pending is None:
                break
            # NOTE: shielded, so a waiter whose client goes away does not cancel the others' future.
            answer = await asyncio.shield(pending)
            if answer is not None:
                return answer
            # The request making it failed or was refused: look again, then make it here.
        future: asyncio.Future[Answer | None] = asyncio.get_running_loop().create_future()
        in_flight[key] = future
        answer = None
        try:
            answer = await make()
            self.put(key, answer)
            return answer
        finally:
            del in_flight[key]
            future.set_result(answer)  # None: the waiters make their own attempt

    def _in_flight_here(self) -> InFlight:
        loop = asyncio.get_running_loop()
        with self._lock:
            in_flight = self._in_flight.get(loop)
            if in_flight is None:
                in_flight = self._in_flight[loop] = {}
            return in_flight


def answer_cache_of(request: Request) -> AnswerCache:
    cache = getattr(request.app.state, "answer_cache", None)
    if cache is None:  # an app not built by create_app: made on first use from the settings
        cache = request.app.state.answer_cache = AnswerCache.from_settings(get_settings())
    return cache
