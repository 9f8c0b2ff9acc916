"""The answer cache of the descent routes (app.answer_cache): a classroom behind one address posting the
same body is computed once and charged once; different bodies are computed and charged; the cache keeps
to its byte budget, least recently used out first; gzip and plain clients get their own bodies.

Apps here have rate limits on (the suite turns them off elsewhere) with a descent burst of 5, and the
engine's `descend` is wrapped to count how often it really runs.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time
import zlib
from typing import Any, Coroutine

import httpx
import pytest

from app.answer_cache import ENTRY_OVERHEAD, Answer, AnswerCache, answer_key
from app.errors import ApiError
from app.main import create_app
from app.rate_limit import MemoryBuckets, RateLimiter
from app.routes import descent as descent_routes
from app.schemas import DescentRunRequest
from app.settings import Settings

from .conftest import TestClient, assert_envelope, strict_json

RUN = "/api/v1/descent/run"
SURFACE = "/api/v1/descent/surface"
TAYLOR = "/api/v1/descent/taylor"
LINE = "/api/v1/descent/line"
BODY = {"surface": "quadratic", "steps": 20, "optimizers": [{"name": "sgd"}, {"name": "adam"}]}
LARGE = {"surface": "quadratic", "steps": 500, "optimizers": [{"name": "sgd"}, {"name": "momentum"}, {"name": "adam"}],
         "include": []}
BURST = 5


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """asyncio.run in a thread of its own: this thread may have a loop running already (Playwright's)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=60)


class Counted:
    """engine.descent.descend as the route calls it, counting calls; optionally slow, or failing first."""

    def __init__(self, delay: float = 0.0, fail_first: bool = False) -> None:
        self.calls = 0
        self.delay = delay
        self.fail_first = fail_first
        self._lock = threading.Lock()
        self._real = descent_routes.descend

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.calls += 1
            first = self.calls == 1
        time.sleep(self.delay)
        if first and self.fail_first:
            raise ApiError(422, "test_failure", "the first computation fails", where={})
        return self._real(*args, **kwargs)


def make_app(cache_bytes: int = 64 * 2**20) -> Any:
    settings = Settings(rate_limit_enabled=True, redis_url=None, rate_limit_descent_burst=BURST,
                        rate_limit_descent_per_minute=1.0, answer_cache_bytes=cache_bytes)
    app = create_app(settings)
    app.state.rate_limiter = RateLimiter(RateLimiter.from_settings(settings).buckets, MemoryBuckets())
    app.state.answer_cache = AnswerCache.from_settings(settings)
    return app


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Counted:
    engine = Counted()
    monkeypatch.setattr(descent_routes, "descend", engine)
    return engine


# ---- Through HTTP -----------------------------------------------------------------------------------

def test_a_classroom_posting_one_body_is_computed_once_and_never_refused(counted):
    with TestClient(make_app(), raise_server_exceptions=False) as client:
        answers = [client.post(RUN, json=BODY) for _ in range(30)]
        assert [a.status_code for a in answers] == [200] * 30
        assert counted.calls == 1
        assert len({a.content for a in answers}) == 1
        assert strict_json(answers[0].text)["runs"][1]["optimizer"]["name"] == "adam"
        # Only that one computation was charged: the address still has BURST - 1 tokens for new bodies.
        for steps in range(1, BURST):
            assert client.post(RUN, json={**BODY, "steps": steps}).status_code == 200
        refused = client.post(RUN, json={**BODY, "steps": 99})
        assert assert_envelope(refused, 429)["code"] == "rate_limited"
        assert counted.calls == BURST
        assert client.post(RUN, json=BODY).status_code == 200  # still kept: answered, not charged


def test_key_order_whitespace_and_omitted_defaults_are_the_same_request(counted):
    with TestClient(make_app(), raise_server_exceptions=False) as client:
        assert client.post(RUN, json=BODY).status_code == 200
        spelled_out = {"optimizers": [{"name": "sgd", "beta": 0.9}, {"eps": 1e-8, "name": "adam"}], "steps": 20,
                       "tolerance": 1e-6, "include": ["state", "taylor"], "surface": "quadratic", "condition": 10}
        text = json.dumps(spelled_out, indent=3)
        again = client.post(RUN, content=text.encode(), headers={"content-type": "application/json"})
        assert again.status_code == 200 and counted.calls == 1


def test_a_different_body_is_computed_and_charged(counted):
    with TestClient(make_app(), raise_server_exceptions=False) as client:
        for steps in range(BURST):
            assert client.post(RUN, json={**BODY, "steps": steps}).status_code == 200
        assert counted.calls == BURST
        assert assert_envelope(client.post(RUN, json={**BODY, "steps": 50}), 429)["code"] == "rate_limited"
        assert counted.calls == BURST  # refused before computing


def test_every_descent_route_is_kept_and_the_routes_do_not_share_keys():
    with TestClient(make_app(), raise_server_exceptions=False) as client:
        for path, body in ((SURFACE, {"surface": "rosenbrock", "grid": 7}), (TAYLOR, {"surface": "quadratic"}),
                           (LINE, {"surface": "quadratic", "points": 5})):
            first = client.post(path, json=body)
            assert first.status_code == 200
            assert client.post(path, json=body).content == first.content
        cache = client.app.state.answer_cache
        assert len(cache) == 3
        # /descent/surface is the only charged one of these: BURST - 1 tokens left.
        for grid in range(2, 2 + BURST - 1):
            assert client.post(SURFACE, json={"surface": "rosenbrock", "grid": grid}).status_code == 200
        assert client.post(SURFACE, json={"surface": "rosenbrock", "grid": 50}).status_code == 429


def test_concurrent_identical_requests_are_computed_and_charged_once(monkeypatch):
    engine = Counted(delay=0.3)
    monkeypatch.setattr(descent_routes, "descend", engine)
    app = make_app()
    app.state.rate_limiter = RateLimiter(RateLimiter.from_settings(
        Settings(rate_limit_enabled=True, redis_url=None, rate_limit_descent_burst=1,
                 rate_limit_descent_per_minute=1.0)).buckets, MemoryBuckets())

    async def classroom() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(*(client.post(RUN, json=BODY) for _ in range(40)))

    answers = run(classroom())
    assert [a.status_code for a in answers] == [200] * 40  # a burst of 1: only one was charged
    assert engine.calls == 1
    assert len({a.content for a in answers}) == 1


def test_waiters_do_not_inherit_a_failed_computation(monkeypatch):
    engine = Counted(delay=0.3, fail_first=True)
    monkeypatch.setattr(descent_routes, "descend", engine)
    app = make_app()

    async def classroom() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(*(client.post(RUN, json=BODY) for _ in range(10)))

    answers = run(classroom())
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 9 + [422]  # the one that computed first failed; one waiter computed for the rest
    assert engine.calls == 2
    failed = next(a for a in answers if a.status_code == 422)
    assert assert_envelope(failed, 422)["code"] == "test_failure"


def test_identical_requests_past_the_burst_are_each_refused_on_their_own_charge(monkeypatch):
    engine = Counted(delay=0.3)
    monkeypatch.setattr(descent_routes, "descend", engine)
    app = make_app()
    with TestClient(app) as client:  # the address spends its burst on other bodies
        for steps in range(BURST):
            assert client.post(RUN, json={**BODY, "steps": steps}).status_code == 200
    engine.calls = 0

    async def classroom() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("testclient", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(*(client.post(RUN, json=BODY) for _ in range(5)))

    answers = run(classroom())
    assert [a.status_code for a in answers] == [429] * 5  # each one refused on its own charge
    assert all(assert_envelope(a, 429)["code"] == "rate_limited" for a in answers)
    assert engine.calls == 0 and len(app.state.answer_cache) == BURST  # nothing computed, nothing kept


def test_errors_are_never_kept(counted):
    with TestClient(make_app(), raise_server_exceptions=False) as client:
        bad = {"surface": "custom", "source": "f = a + c", "optimizers": [{"name": "sgd"}]}
        for _ in range(3):
            assert assert_envelope(client.post(RUN, json=bad), 422)["code"] == "unknown_input"
        assert len(client.app.state.answer_cache) == 0
        # Each was charged: the bucket is down to BURST - 3.
        for steps in range(BURST - 3):
            assert client.post(RUN, json={**BODY, "steps": steps}).status_code == 200
        assert client.post(RUN, json={**BODY, "steps": 77}).status_code == 429


def test_a_gzip_client_and_a_plain_client_get_their_own_bodies(counted):
    with TestClient(make_app(), raise_server_exceptions=False) as client:
        def both() -> tuple[httpx.Response, httpx.Response]:
            zipped = client.post(RUN, json=LARGE, headers={"Accept-Encoding": "gzip"})
            plain = client.post(RUN, json=LARGE, headers={"Accept-Encoding": "identity"})
            return zipped, plain

        for _ in range(3):
            zipped, plain = both()
            assert zipped.status_code == plain.status_code == 200
            assert zipped.headers["content-encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["vary"]
            assert "content-encoding" not in plain.headers
            assert zipped.json() == plain.json()
            assert int(zipped.headers["content-length"]) < len(plain.content) / 2
        assert counted.calls == 2  # one per encoding
        with client.stream("POST", RUN, json=LARGE, headers={"Accept-Encoding": "gzip"}) as response:
            raw = b"".join(response.iter_raw())
        assert raw[:2] == b"\x1f\x8b" and json.loads(zlib.decompress(raw, 31)) == plain.json()


def test_a_cache_of_zero_bytes_computes_and_charges_every_request(counted):
    with TestClient(make_app(cache_bytes=0), raise_server_exceptions=False) as client:
        for _ in range(BURST):
            assert client.post(RUN, json=BODY).status_code == 200
        assert assert_envelope(client.post(RUN, json=BODY), 429)["code"] == "rate_limited"
        assert counted.calls == BURST and len(client.app.state.answer_cache) == 0


def test_the_budget_comes_from_backprop_answer_cache_bytes(monkeypatch):
    assert AnswerCache.from_settings(Settings()).max_bytes == 64 * 2**20
    monkeypatch.setenv("BACKPROP_ANSWER_CACHE_BYTES", "0")
    assert not AnswerCache.from_settings(Settings()).enabled
    monkeypatch.setenv("BACKPROP_ANSWER_CACHE_BYTES", "1000")
    assert AnswerCache.from_settings(Settings()).max_bytes == 1000


def test_an_http_cache_over_its_budget_forgets_the_least_recently_used(counted):
    app = make_app()
    app.state.rate_limiter.enabled = False
    with TestClient(app, raise_server_exceptions=False) as client:
        first = client.post(RUN, json=BODY)
        budget = int(len(first.content) * 2.5)  # room for two such answers
        app.state.answer_cache = cache = AnswerCache(budget)
        bodies = [{**BODY, "steps": 20 + k} for k in range(3)]
        client.post(RUN, json=bodies[0])
        client.post(RUN, json=bodies[1])
        client.post(RUN, json=bodies[0])  # used again: bodies[1] is now the least recently used
        client.post(RUN, json=bodies[2])
        assert cache.bytes <= budget and len(cache) == 2
        calls = counted.calls
        client.post(RUN, json=bodies[0])
        assert counted.calls == calls  # kept
        client.post(RUN, json=bodies[1])
        assert counted.calls == calls + 1  # forgotten, so computed again


# ---- The cache itself -----------------------------------------------------------------------------

def key(n: int) -> bytes:
    return b"k%03d" % n


def test_the_cache_keeps_within_its_byte_budget_least_recently_used_out_first():
    answer = Answer(b"x" * 1000)
    size = answer.size(key(0))
    assert size == 4 + 1000 + ENTRY_OVERHEAD
    cache = AnswerCache(max_bytes=3 * size)
    for n in range(3):
        cache.put(key(n), answer)
    assert cache.bytes == 3 * size and len(cache) == 3
    assert cache.get(key(0)) is answer  # used: key 1 is now the oldest
    cache.put(key(3), answer)
    assert cache.bytes <= cache.max_bytes and len(cache) == 3
    assert cache.get(key(1)) is None
    assert all(cache.get(key(n)) is answer for n in (0, 2, 3))
    cache.put(key(4), Answer(b"y" * 2000))  # as big as two: the two least recently used go
    assert cache.bytes <= cache.max_bytes
    assert [cache.get(key(n)) is not None for n in range(5)] == [False, False, False, True, True]
    cache.put(key(5), Answer(b"z" * (3 * size)))  # bigger than the budget: sent, never kept
    assert cache.get(key(5)) is None and cache.get(key(4)) is not None


def test_the_cache_holds_at_most_its_entry_count():
    cache = AnswerCache(max_bytes=10**9, max_entries=4)
    for n in range(10):
        cache.put(key(n), Answer(b"{}"))
    assert len(cache) == 4 and [cache.get(key(n)) is not None for n in (5, 6, 7, 8, 9)] == [False] + [True] * 4
    cache.put(key(9), Answer(b"[]"))  # replaced, counted once
    assert cache.bytes == 4 * Answer(b"{}").size(key(0))


def test_the_key_is_the_route_the_encoding_and_the_sorted_request():
    one = DescentRunRequest.model_validate({"surface": "quadratic", "optimizers": [{"name": "sgd"}]})
    same = DescentRunRequest.model_validate({"optimizers": [{"name": "sgd", "beta": 0.9}], "surface": "quadratic",
                                             "steps": 100})
    other = DescentRunRequest.model_validate({"surface": "quadratic", "optimizers": [{"name": "adam"}]})
    assert answer_key(RUN, True, one) == answer_key(RUN, True, same)
    assert answer_key(RUN, True, one) != answer_key(RUN, False, one)
    assert answer_key(RUN, True, one) != answer_key(SURFACE, True, one)
    assert answer_key(RUN, True, one) != answer_key(RUN, True, other)


def test_a_disabled_cache_makes_every_answer():
    cache = AnswerCache(0)
    made = []

    async def make() -> Answer:
        made.append(1)
        return Answer(b"{}")

    async def twice() -> None:
        await cache.get_or_make(b"k", make)
        await cache.get_or_make(b"k", make)

    run(twice())
    assert len(made) == 2 and len(cache) == 0 and cache.bytes == 0


def test_a_waiter_that_is_cancelled_leaves_the_others_their_answer():
    cache = AnswerCache(10**6)

    async def scene() -> list[Any]:
        release = asyncio.Event()

        async def make() -> Answer:
            await release.wait()
            return Answer(b'{"ok": true}')

        maker = asyncio.create_task(cache.get_or_make(b"k", make))
        await asyncio.sleep(0)
        quitter = asyncio.create_task(cache.get_or_make(b"k", make))
        stayer = asyncio.create_task(cache.get_or_make(b"k", make))
        await asyncio.sleep(0)
        quitter.cancel()
        await asyncio.sleep(0)
        release.set()
        return [await maker, await stayer, quitter.cancelled()]

    maker, stayer, cancelled = run(scene())
    assert maker.body == stayer.body == b'{"ok": true}' and cancelled
    assert cache.get(b"k") is not None
