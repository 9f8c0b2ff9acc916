"""Where rooms live: this process's memory, or Redis (several workers and machines share a room).

Both stores keep the same things under the same interface:
- a room: a few string fields (the rooms module decides what they hold) plus `seq`, the number of
  the last event, and an expiry that every publish pushes back (rooms expire after inactivity);
- its events: an ordered, bounded history numbered 1, 2, 3 ... so a student who reconnects with
  Last-Event-ID gets exactly what it missed, and a live feed of new events for each listener;
- who is connected (one member per open event stream, for the per-room cap), the quiz answers,
  and fixed-window counters for rate limits.

Redis layout (prefix `bpx:`): `room:{code}` hash, `events:{code}` stream with ids `0-{n}`,
`students:{code}` sorted set (member -> last seen), `answers:{code}:{quiz}` hash, `rate:{bucket}:{window}`
counters and `rooms`, a sorted set code -> expiry time used to count rooms. A publish (set fields,
number the event, append it, push back the expiry) is one Lua script, so two workers publishing at
once never number two events alike. Each worker reads a room's stream once (XREAD BLOCK) for all of
its own listeners in that room.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable, Literal

log = logging.getLogger("backprop_explorer.classroom")

CreateResult = Literal["ok", "taken", "full"]
Clock = Callable[[], float]

# A listener that falls this far behind drops events; the stream notices the gap and reads the history.
LISTENER_QUEUE = 256


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    data: bytes  # a JSON object


@dataclass(frozen=True)
class StoreConfig:
    max_rooms: int
    idle_seconds: float
    history: int  # events kept per room
    presence_seconds: float  # a connection not seen for this long no longer counts as a student
    closed_grace_seconds: float = 60.0  # a closed room's last events stay readable this long


class StoreUnavailable(RuntimeError):
    """The store cannot be reached (Redis down or not answering in time)."""


class Listener:
    """One open event stream's inbox: events are put from the store's side, read by the stream."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Event] = asyncio.Queue(LISTENER_QUEUE)

    def deliver(self, event: Event) -> None:
        # NOTE: a publish may run on another event loop (a test client's portal, another thread):
        # hand the event over to this listener's own loop.
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._put(event)
        else:
            self._loop.call_soon_threadsafe(self._put, event)

    def _put(self, event: Event) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a gap in the ids makes the stream re-read the history
            self._queue.put_nowait(event)

    async def get(self, timeout: float) -> Event | None:
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except asyncio.TimeoutError:
            return None


class Store(ABC):
    kind: str

    def __init__(self, config: StoreConfig, clock: Clock = time.time) -> None:
        self.config = config
        self.clock = clock

    async def start(self) -> None:
        """Check that the store answers; raise StoreUnavailable with a clear message if not."""

    async def close(self) -> None:
        pass

    @abstractmethod
    async def create(self, code: str, fields: dict[str, str]) -> CreateResult: ...

    @abstractmethod
    async def load(self, code: str) -> dict[str, str] | None:
        """The room's fields (with `seq`), or None when there is no such room or it has expired."""

    @abstractmethod
    async def publish(self, code: str, fields: dict[str, str], event_type: str, data: bytes,
                      closing: bool = False) -> Event | None:
        """Set fields, append the next event, push the expiry back; None when the room is gone.

        With closing=True the room leaves the room count and its events stay readable a short while."""

    @abstractmethod
    async def events_after(self, code: str, after: int) -> list[Event] | None:
        """Events numbered after `after`, oldest first; None when the history no longer reaches back."""

    @abstractmethod
    def listen(self, code: str) -> contextlib.AbstractAsyncContextManager[Listener]: ...

    @abstractmethod
    async def room_count(self) -> int: ...

    @abstractmethod
    async def seconds_left(self, code: str) -> float | None: ...

    @abstractmethod
    async def join(self, code: str, member: str, cap: int) -> bool:
        """Count one more connected student unless `cap` are connected already."""

    @abstractmethod
    async def still_here(self, code: str, member: str) -> None: ...

    @abstractmethod
    async def leave(self, code: str, member: str) -> None: ...

    @abstractmethod
    async def student_count(self, code: str) -> int: ...

    @abstractmethod
    async def save_answer(self, code: str, quiz: str, student: str, value: float, cap: int) -> bool:
        """Keep a student's answer (a later one replaces it); False when `cap` others answered already."""

    @abstractmethod
    async def answers(self, code: str, quiz: str) -> dict[str, float]: ...

    @abstractmethod
    async def hit(self, bucket: str, limit: int, window: float) -> float:
        """Count one use of `bucket` in the current window: 0 when allowed, else the seconds to wait."""


# ---- In memory: one process ---------------------------------------------------------------------

@dataclass
class _Room:
    fields: dict[str, str]
    expires: float
    counted: bool = True  # in the room count (a closed room is not)
    seq: int = 0
    events: deque[Event] = field(default_factory=deque)
    listeners: set[Listener] = field(default_factory=set)
    students: dict[str, float] = field(default_factory=dict)
    answers: dict[str, dict[str, float]] = field(default_factory=dict)


class MemoryStore(Store):
    kind = "memory"

    def __init__(self, config: StoreConfig, clock: Clock = time.time) -> None:
        super().__init__(config, clock)
        self._rooms: dict[str, _Room] = {}
        self._rates: dict[str, tuple[int, int]] = {}

    def _room(self, code: str) -> _Room | None:
        room = self._rooms.get(code)
        if room is not None and self.clock() >= room.expires:
            self._drop(code, room)
            return None
        return room

    def _drop(self, code: str, room: _Room) -> None:
        del self._rooms[code]
        room.listeners.clear()

    def _sweep(self) -> None:
        now = self.clock()
        for code, room in list(self._rooms.items()):
            if now >= room.expires:
                self._drop(code, room)

    async def create(self, code: str, fields: dict[str, str]) -> CreateResult:
        self._sweep()
        if code in self._rooms:
            return "taken"
        if sum(room.counted for room in self._rooms.values()) >= self.config.max_rooms:
            return "full"
        self._rooms[code] = _Room(fields=dict(fields), expires=self.clock() + self.config.idle_seconds,
                                  events=deque(maxlen=self.config.history))
        return "ok"

    async def load(self, code: str) -> dict[str, str] | None:
        room = self._room(code)
        return None if room is None else {**room.fields, "seq": str(room.seq)}

    async def publish(self, code: str, fields: dict[str, str], event_type: str, data: bytes,
                      closing: bool = False) -> Event | None:
        room = self._room(code)
        if room is None:
            return None
        room.fields.update(fields)
        room.seq += 1
        event = Event(room.seq, event_type, data)
        room.events.append(event)
        if closing:
            room.counted = False
            room.expires = self.clock() + self.config.closed_grace_seconds
        else:
            room.expires = self.clock() + self.config.idle_seconds
        for listener in list(room.listeners):
            listener.deliver(event)
        return event

    async def events_after(self, code: str, after: int) -> list[Event] | None:
        room = self._room(code)
        if room is None or after > room.seq or after < 0:
            return None
        missed = [event for event in room.events if event.id > after]
        if len(missed) != room.seq - after:
            return None
        return missed

    @contextlib.asynccontextmanager
    async def listen(self, code: str) -> AsyncIterator[Listener]:
        listener = Listener()
        room = self._room(code)
        if room is not None:
            room.listeners.add(listener)
        try:
            yield listener
        finally:
            if room is not None:
                room.listeners.discard(listener)

    async def room_count(self) -> int:
        self._sweep()
        return sum(room.counted for room in self._rooms.values())

    async def seconds_left(self, code: str) -> float | None:
        room = self._room(code)
        return None if room is None else room.expires - self.clock()

    def _present(self, room: _Room) -> dict[str, float]:
        stale = self.clock() - self.config.presence_seconds
        for member in [member for member, seen in room.students.items() if seen < stale]:
            del room.students[member]
        return room.students

    async def join(self, code: str, member: str, cap: int) -> bool:
        room = self._room(code)
        if room is None:
            return False
        students = self._present(room)
        if member not in students and len(students) >= cap:
            return False
        students[member] = self.clock()
        return True

    async def still_here(self, code: str, member: str) -> None:
        room = self._room(code)
        if room is not None:
            room.students[member] = self.clock()

    async def leave(self, code: str, member: str) -> None:
        room = self._rooms.get(code)
        if room is not None:
            room.students.pop(member, None)

    async def student_count(self, code: str) -> int:
        room = self._room(code)
        return 0 if room is None else len(self._present(room))

    async def save_answer(self, code: str, quiz: str, student: str, value: float, cap: int) -> bool:
        room = self._room(code)
        if room is None:
            return False
        answers = room.answers.setdefault(quiz, {})
        if student not in answers and len(answers) >= cap:
            return False
        if len(room.answers) > 1:  # only the current quiz's answers are ever read
            for old in [key for key in room.answers if key != quiz]:
                del room.answers[old]
        answers[student] = value
        return True

    async def answers(self, code: str, quiz: str) -> dict[str, float]:
        room = self._room(code)
        return {} if room is None else dict(room.answers.get(quiz, {}))

    async def hit(self, bucket: str, limit: int, window: float) -> float:
        now = self.clock()
        current = int(now // window)
        if len(self._rates) > 10_000:
            self._rates = {key: value for key, value in self._rates.items() if value[0] == current}
        seen_window, count = self._rates.get(bucket, (current, 0))
        count = count + 1 if seen_window == current else 1
        self._rates[bucket] = (current, count)
        return 0.0 if count <= limit else (current + 1) * window - now


# ---- Redis: several workers and machines ---------------------------------------------------------

_CREATE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 1 then return 'taken' end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 'full' end
redis.call('HSET', KEYS[2], 'seq', 0, unpack(ARGV, 5))
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
return 'ok'
"""

# KEYS: room, events, rooms. ARGV: code, now_ms, ttl_ms, history, type, data, closing, field pairs...
_PUBLISH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local n = redis.call('HINCRBY', KEYS[1], 'seq', 1)
if #ARGV > 7 then redis.call('HSET', KEYS[1], unpack(ARGV, 8)) end
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[4], '0-' .. n, 't', ARGV[5], 'd', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if ARGV[7] == '1' then
  redis.call('ZREM', KEYS[3], ARGV[1])
else
  redis.call('ZADD', KEYS[3], tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
end
return n
"""

# KEYS: students. ARGV: now_ms, stale_before_ms, cap, member, ttl_ms
_JOIN = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if not redis.call('ZSCORE', KEYS[1], ARGV[4]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""

# KEYS: answers. ARGV: student, value, cap, ttl_ms
_ANSWER = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""

# How long one XREAD waits before it looks again at whether anyone still listens.
_BLOCK_MS = 5_000


def _event_id(entry_id: bytes) -> int:
    return int(entry_id.split(b"-", 1)[1])


def _entry_event(entry_id: bytes, values: dict[bytes, bytes]) -> Event:
    return Event(_event_id(entry_id), values[b"t"].decode(), values[b"d"])


class _RoomReader:
    """This worker's one reader of a room's stream, feeding every listener it has in that room."""

    def __init__(self) -> None:
        self.listeners: set[Listener] = set()
        self.task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()  # set once the reader knows where the stream stands


class RedisStore(Store):
    kind = "redis"

    def __init__(self, config: StoreConfig, url: str, timeout: float, clock: Clock = time.time) -> None:
        super().__init__(config, clock)
        from redis.asyncio import Redis
        from redis.backoff import NoBackoff
        from redis.asyncio.retry import Retry

        self.url = url
        self.timeout = timeout
        # NOTE: no retries and short timeouts: a Redis that does not answer must give an error in
        # seconds, not hang a request (or the start of the server).
        common = dict(socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0), health_check_interval=30)
        self.redis = Redis.from_url(url, socket_timeout=timeout, **common)
        # Blocking reads wait up to _BLOCK_MS, so their socket timeout must be longer than that.
        self.blocking = Redis.from_url(url, socket_timeout=timeout + _BLOCK_MS / 1000, **common)
        self._create = self.redis.register_script(_CREATE)
        self._publish = self.redis.register_script(_PUBLISH)
        self._join = self.redis.register_script(_JOIN)
        self._answer = self.redis.register_script(_ANSWER)
        self._readers: dict[str, _RoomReader] = {}

    # Keys
    @staticmethod
    def _k_room(code: str) -> str:
        return f"bpx:room:{code}"

    @staticmethod
    def _k_events(code: str) -> str:
        return f"bpx:events:{code}"

    @staticmethod
    def _k_students(code: str) -> str:
        return f"bpx:students:{code}"

    _K_ROOMS = "bpx:rooms"

    def _ms(self, seconds: float) -> int:
        return int(seconds * 1000)

    async def start(self) -> None:
        try:
            await asyncio.wait_for(self.redis.ping(), self.timeout + 1)
        except Exception as exc:  # connection refused, timeout, bad password, not a Redis at all
            await self.close()
            raise _unavailable(self.url, self.timeout, exc) from None

    async def close(self) -> None:
        for reader in self._readers.values():
            if reader.task is not None:
                reader.task.cancel()
        self._readers.clear()
        for client in (self.redis, self.blocking):
            with contextlib.suppress(Exception):
                await client.aclose()

    async def create(self, code: str, fields: dict[str, str]) -> CreateResult:
        pairs = [item for pair in fields.items() for item in pair]
        now = self._ms(self.clock())
        result = await self._create(keys=[self._K_ROOMS, self._k_room(code)],
                                    args=[code, now, self._ms(self.config.idle_seconds), self.config.max_rooms, *pairs])
        return result.decode()  # type: ignore[return-value]

    async def load(self, code: str) -> dict[str, str] | None:
        fields = await self.redis.hgetall(self._k_room(code))
        return {key.decode(): value.decode() for key, value in fields.items()} or None

    async def publish(self, code: str, fields: dict[str, str], event_type: str, data: bytes,
                      closing: bool = False) -> Event | None:
        pairs = [item for pair in fields.items() for item in pair]
        ttl = self.config.closed_grace_seconds if closing else self.config.idle_seconds
        n = await self._publish(keys=[self._k_room(code), self._k_events(code), self._K_ROOMS],
                                args=[code, self._ms(self.clock()), self._ms(ttl), self.config.history, event_type,
                                      data, "1" if closing else "0", *pairs])
        return None if n is None else Event(int(n), event_type, data)

    async def events_after(self, code: str, after: int) -> list[Event] | None:
        seq = await self.redis.hget(self._k_room(code), "seq")
        if seq is None or after < 0 or after > int(seq):
            return None
        if after == int(seq):
            return []
        entries = await self.redis.xrange(self._k_events(code), min=f"0-{after + 1}", max="+",
                                          count=self.config.history + 1)
        events = [_entry_event(entry_id, values) for entry_id, values in entries]
        if not events or events[0].id != after + 1:
            return None
        return events

    @contextlib.asynccontextmanager
    async def listen(self, code: str) -> AsyncIterator[Listener]:
        listener = Listener()
        reader = self._readers.get(code)
        if reader is None or reader.task is None or reader.task.done():
            reader = self._readers[code] = _RoomReader()
            reader.task = asyncio.create_task(self._read(code, reader))
        reader.listeners.add(listener)
        try:
            # NOTE: wait until the reader knows the last event number: the caller reads the room (or
            # the history) after this, so whatever is published later reaches this listener.
            await asyncio.wait_for(reader.ready.wait(), self.timeout + 1)
            yield listener
        finally:
            reader.listeners.discard(listener)
            if not reader.listeners and reader.task is not None:
                reader.task.cancel()
                if self._readers.get(code) is reader:
                    del self._readers[code]

    async def _read(self, code: str, reader: _RoomReader) -> None:
        key = self._k_events(code)
        while True:
            try:
                last = int(await self.redis.hget(self._k_room(code), "seq") or 0)
                break
            except Exception as exc:
                log.warning("reading room %s failed (%s); retrying in 1 s", code, exc)
                await asyncio.sleep(1)
        reader.ready.set()
        while reader.listeners:
            try:
                answer = await self.blocking.xread({key: f"0-{last}"}, count=100, block=_BLOCK_MS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarting, a network blip: listeners keep their heartbeats
                log.warning("reading the events of room %s failed (%s); retrying in 1 s", code, exc)
                await asyncio.sleep(1)
                continue
            for _stream, entries in answer or ():
                for entry_id, values in entries:
                    event = _entry_event(entry_id, values)
                    last = event.id
                    for listener in list(reader.listeners):
                        listener.deliver(event)

    async def room_count(self) -> int:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(self._K_ROOMS, "-inf", self._ms(self.clock()))
            pipe.zcard(self._K_ROOMS)
            _, count = await pipe.execute()
        return int(count)

    async def seconds_left(self, code: str) -> float | None:
        ttl = await self.redis.pttl(self._k_room(code))
        return None if ttl < 0 else ttl / 1000

    async def join(self, code: str, member: str, cap: int) -> bool:
        now = self._ms(self.clock())
        joined = await self._join(keys=[self._k_students(code)],
                                  args=[now, now - self._ms(self.config.presence_seconds), cap, member,
                                        self._ms(self.config.idle_seconds)])
        return bool(joined)

    async def still_here(self, code: str, member: str) -> None:
        await self.redis.zadd(self._k_students(code), {member: self._ms(self.clock())}, xx=True)

    async def leave(self, code: str, member: str) -> None:
        await self.redis.zrem(self._k_students(code), member)

    async def student_count(self, code: str) -> int:
        stale = self._ms(self.clock() - self.config.presence_seconds)
        return int(await self.redis.zcount(self._k_students(code), stale, "+inf"))

    async def save_answer(self, code: str, quiz: str, student: str, value: float, cap: int) -> bool:
        saved = await self._answer(keys=[f"bpx:answers:{code}:{quiz}"],
                                   args=[student, repr(value), cap, self._ms(self.config.idle_seconds)])
        return bool(saved)

    async def answers(self, code: str, quiz: str) -> dict[str, float]:
        stored = await self.redis.hgetall(f"bpx:answers:{code}:{quiz}")
        return {student.decode(): float(value) for student, value in stored.items()}

    async def hit(self, bucket: str, limit: int, window: float) -> float:
        now = self.clock()
        current = int(now // window)
        key = f"bpx:rate:{bucket}:{current}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.pexpire(key, self._ms(window) + 1_000)
            count, _ = await pipe.execute()
        return 0.0 if count <= limit else (current + 1) * window - now


def _unavailable(url: str, timeout: float, exc: BaseException) -> StoreUnavailable:
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else f"no answer within {timeout:g} s"
    return StoreUnavailable(f"Redis at {_safe_url(url)} cannot be used ({reason}). Start Redis, fix "
                            "BACKPROP_REDIS_URL, or unset it to keep classroom rooms in this one process's memory.")


def check_redis(url: str, timeout: float) -> None:
    """Ping Redis once, synchronously, giving up after about `timeout` seconds: for a command line."""
    from redis import Redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    try:
        client = Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                retry=Retry(NoBackoff(), 0))
    except ValueError as exc:
        raise StoreUnavailable(f"BACKPROP_REDIS_URL is not a Redis URL ({exc}); it looks like "
                               "redis://127.0.0.1:6379/0") from None
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001 - whatever it is, the server cannot use this Redis
        raise _unavailable(url, timeout, exc) from None
    finally:
        client.close()


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password:
            host = parts.hostname or ""
            netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
            parts = parts._replace(netloc=netloc)
        return urlunsplit(parts)
    except ValueError:
        return "(an unreadable URL)"


def open_store(config: StoreConfig, redis_url: str | None, timeout: float, clock: Clock = time.time) -> Store:
    if not redis_url:
        return MemoryStore(config, clock)
    try:
        return RedisStore(config, redis_url, timeout, clock)
    except ValueError as exc:
        raise StoreUnavailable(f"BACKPROP_REDIS_URL is not a Redis URL ({exc}); it looks like "
                               "redis://127.0.0.1:6379/0") from None
