"""The two stores keep one contract: the same calls give the same answers in memory and in Redis.

The Redis half runs against a real redis-server (tests/app/redis_server.py); if it is not installed,
those tests fail with a message saying so.
"""
from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

import pytest

from app.classroom.store import MemoryStore, RedisStore, Store, StoreConfig, StoreUnavailable, check_redis

from .redis_server import free_port, redis_url  # noqa: F401 - a fixture

CONFIG = StoreConfig(max_rooms=3, idle_seconds=60, history=8, presence_seconds=30)
ROOM = {"key": "digest", "created": "0", "state": "", "quiz": ""}


def run_with(store_kind: str, url: str | None, check: Callable[[Store], Awaitable[None]],
             config: StoreConfig = CONFIG) -> None:
    async def main() -> None:
        store: Store = MemoryStore(config) if store_kind == "memory" else RedisStore(config, url or "", timeout=2)
        await store.start()
        if isinstance(store, RedisStore):
            await store.redis.flushdb()
        try:
            await check(store)
        finally:
            await store.close()
    asyncio.run(main())


@pytest.fixture(params=["memory", "redis"])
def kind(request) -> str:
    return request.param


@pytest.fixture
def url(kind, request) -> str | None:
    return request.getfixturevalue("redis_url") if kind == "redis" else None


def test_create_load_and_the_room_cap(kind, url):
    async def check(store: Store) -> None:
        assert await store.create("AAAAAA", ROOM) == "ok"
        assert await store.create("AAAAAA", ROOM) == "taken"
        assert await store.load("AAAAAA") == {**ROOM, "seq": "0"}
        assert await store.load("BBBBBB") is None
        assert await store.create("BBBBBB", ROOM) == "ok" and await store.create("CCCCCC", ROOM) == "ok"
        assert await store.create("DDDDDD", ROOM) == "full"
        assert await store.room_count() == 3
        assert 59 < (await store.seconds_left("AAAAAA") or 0) <= 60
    run_with(kind, url, check)


def test_publish_numbers_events_and_the_history_replays_what_was_missed(kind, url):
    async def check(store: Store) -> None:
        await store.create("AAAAAA", ROOM)
        events = [await store.publish("AAAAAA", {"state": f"s{k}"}, "state", b'{"k":%d}' % k) for k in range(1, 4)]
        assert [event.id for event in events] == [1, 2, 3]
        assert (await store.load("AAAAAA"))["state"] == "s3"
        assert [(e.id, e.type, e.data) for e in await store.events_after("AAAAAA", 1)] == \
            [(2, "state", b'{"k":2}'), (3, "state", b'{"k":3}')]
        assert await store.events_after("AAAAAA", 3) == []
        assert await store.events_after("AAAAAA", 4) is None  # from the future: not this room's history
        for k in range(4, 20):
            await store.publish("AAAAAA", {}, "state", b"{}")
        assert await store.events_after("AAAAAA", 1) is None  # only 8 are kept
        assert [event.id for event in await store.events_after("AAAAAA", 15)] == [16, 17, 18, 19]
        assert await store.publish("ZZZZZZ", {}, "state", b"{}") is None
    run_with(kind, url, check)


def test_a_listener_receives_every_event_published_after_it_started(kind, url):
    async def check(store: Store) -> None:
        await store.create("AAAAAA", ROOM)
        await store.publish("AAAAAA", {}, "state", b"{}")
        async with store.listen("AAAAAA") as first, store.listen("AAAAAA") as second:
            for k in range(3):
                await store.publish("AAAAAA", {}, "state", b'{"k":%d}' % k)
            for listener in (first, second):
                got = [await listener.get(2) for _ in range(3)]
                assert [event.id for event in got] == [2, 3, 4]
            assert await first.get(0.05) is None
    run_with(kind, url, check)


def test_closing_keeps_the_last_events_readable_but_leaves_the_room_count(kind, url):
    async def check(store: Store) -> None:
        await store.create("AAAAAA", ROOM)
        closed = await store.publish("AAAAAA", {"closed": "1"}, "closed", b"{}", closing=True)
        assert closed is not None and closed.id == 1
        assert await store.room_count() == 0
        assert [event.type for event in await store.events_after("AAAAAA", 0)] == ["closed"]
        assert (await store.load("AAAAAA"))["closed"] == "1"
    run_with(kind, url, check)


def test_students_are_counted_up_to_the_cap_and_leave(kind, url):
    async def check(store: Store) -> None:
        await store.create("AAAAAA", ROOM)
        assert await store.join("AAAAAA", "one", cap=2) and await store.join("AAAAAA", "two", cap=2)
        assert not await store.join("AAAAAA", "three", cap=2)
        assert await store.join("AAAAAA", "two", cap=2)  # already in: not a new seat
        assert await store.student_count("AAAAAA") == 2
        await store.still_here("AAAAAA", "one")
        await store.leave("AAAAAA", "one")
        assert await store.student_count("AAAAAA") == 1
        assert await store.join("AAAAAA", "three", cap=2)
    run_with(kind, url, check)


def test_answers_one_per_student_up_to_the_cap(kind, url):
    async def check(store: Store) -> None:
        await store.create("AAAAAA", ROOM)
        assert await store.save_answer("AAAAAA", "q1", "ann", -4.0, cap=2)
        assert await store.save_answer("AAAAAA", "q1", "ann", 3.5, cap=2)
        assert await store.save_answer("AAAAAA", "q1", "bob", 1e-7, cap=2)
        assert not await store.save_answer("AAAAAA", "q1", "cat", 0.0, cap=2)
        assert await store.answers("AAAAAA", "q1") == {"ann": 3.5, "bob": 1e-7}
        assert await store.answers("AAAAAA", "q2") == {}
    run_with(kind, url, check)


def test_rate_counter_allows_the_limit_in_a_window_then_says_how_long_to_wait(kind, url):
    async def check(store: Store) -> None:
        window = 5.0
        # start at a window's beginning, so that the window cannot roll over during the test
        await asyncio.sleep(window - time.time() % window + 0.01 if time.time() % window > window - 0.5 else 0)
        assert [await store.hit("bucket", 3, window) for _ in range(3)] == [0, 0, 0]
        wait = await store.hit("bucket", 3, window)
        assert 0 < wait <= window
        assert await store.hit("other", 3, window) == 0
    run_with(kind, url, check)


def test_a_room_left_idle_expires(kind, url):
    clock = [time.time()]

    async def pause(seconds: float) -> None:  # Redis expires keys on its own clock; memory on the store's
        clock[0] += seconds
        if kind == "redis":
            await asyncio.sleep(seconds)

    async def check(store: Store) -> None:
        store.clock = lambda: clock[0]
        await store.create("AAAAAA", ROOM)
        await pause(0.6)
        await store.publish("AAAAAA", {}, "state", b"{}")  # activity pushes the expiry back
        await pause(0.6)
        assert await store.load("AAAAAA") is not None
        await pause(0.6)
        assert await store.load("AAAAAA") is None
        assert await store.room_count() == 0
    run_with(kind, url, check, StoreConfig(max_rooms=3, idle_seconds=1, history=8, presence_seconds=30))


# ---- Redis that cannot be used -----------------------------------------------------------------

def test_redis_refusing_connections_is_a_clear_error_at_once():
    port = free_port()  # nothing listens there
    started = time.monotonic()
    refused = rf"Redis at redis://127.0.0.1:{port}/0 cannot be used.*BACKPROP_REDIS_URL"
    with pytest.raises(StoreUnavailable, match=refused):
        run_with("redis", f"redis://127.0.0.1:{port}/0", lambda store: asyncio.sleep(0))
    with pytest.raises(StoreUnavailable, match="Connection refused"):
        check_redis(f"redis://127.0.0.1:{port}/0", timeout=1)
    assert time.monotonic() - started < 3


def test_a_redis_url_with_a_password_is_not_echoed_in_the_error():
    port = free_port()
    with pytest.raises(StoreUnavailable) as caught:
        check_redis(f"redis://user:secret-password@127.0.0.1:{port}/0", timeout=1)
    assert "secret-password" not in str(caught.value) and "***" in str(caught.value)


def test_a_url_that_is_not_a_redis_url_says_what_one_looks_like():
    with pytest.raises(StoreUnavailable, match="redis://127.0.0.1:6379/0"):
        check_redis("http://127.0.0.1:6379", timeout=1)
