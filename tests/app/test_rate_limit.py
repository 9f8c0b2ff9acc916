"""Rate limits per client on the expensive endpoints: 429 with Retry-After in the envelope, only for work.

Apps here are made with the limits on (the suite turns them off elsewhere) and small buckets; time
is a fake clock, moved by the test.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Coroutine, Iterator

import pytest

from app.answer_cache import AnswerCache
from app.main import create_app
from app.rate_limit import Bucket, MemoryBuckets, RateLimiter, RedisBuckets, client_key
from app.settings import Settings

from .conftest import WORKED_EXAMPLE, TestClient, assert_envelope
from .redis_server import redis_url  # noqa: F401 - a fixture

ROOT = Path(__file__).resolve().parents[2]
TRAIN = {"layers": [{"units": 2}, {"units": 1}], "loss": "bce", "data": {"dataset": "xor", "points": 20},
         "iterations": 2}
SURFACE = {"surface": "quadratic", "grid": 5}
RUN = {"surface": "quadratic", "steps": 2, "optimizers": [{"name": "sgd"}]}
GRADCHECK = {**WORKED_EXAMPLE, "gradcheck": True}
# group -> the requests it limits (path, body)
LIMITED = {
    "training": [("/api/v1/network/train", TRAIN), ("/api/v1/network/compare", {**TRAIN, "optimizers": ["sgd"]}),
                 ("/api/v1/network/train/stream", TRAIN)],
    "descent": [("/api/v1/descent/surface", SURFACE), ("/api/v1/descent/run", RUN)],
    "rooms": [("/api/v1/rooms", None)],
    "gradcheck": [("/api/v1/trace", GRADCHECK), ("/api/v1/trace/state", {**GRADCHECK, "step": 1})],
}
BURST = 2


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """asyncio.run in a thread of its own: this thread may have a loop running already (Playwright's)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=60)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def small_buckets(per_minute: float = 6.0) -> Settings:
    return Settings(rate_limit_enabled=True, redis_url=None,
                    **{f"rate_limit_{group}_{part}": value for group in LIMITED
                       for part, value in (("burst", BURST), ("per_minute", per_minute))})


@pytest.fixture
def limited() -> Iterator[tuple[TestClient, FakeClock]]:
    settings = small_buckets()
    app = create_app(settings)
    clock = FakeClock()
    app.state.rate_limiter = RateLimiter(RateLimiter.from_settings(settings).buckets, MemoryBuckets(clock=clock))
    app.state.answer_cache = AnswerCache(0)  # every request computes and is charged (the cache: test_answer_cache.py)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, clock


def send(client: TestClient, path: str, body: Any, **kwargs: Any) -> Any:
    if path.endswith("/stream"):
        with client.stream("POST", path, json=body, **kwargs) as response:
            response.read()
            return response
    return client.post(path, json=body, **kwargs) if body is not None else client.post(path, **kwargs)


CASES = [pytest.param(group, path, body, id=path) for group, requests in LIMITED.items() for path, body in requests]


@pytest.mark.parametrize("group, path, body", CASES)
def test_a_client_past_its_burst_gets_429_with_retry_after_in_the_envelope(limited, group, path, body):
    client, clock = limited
    for _ in range(BURST):
        assert send(client, path, body).status_code in (200, 201)
    refused = send(client, path, body)
    error = assert_envelope(refused, 429)
    assert error["code"] == "rate_limited" and error["where"] == {"limit": f"rate_limit_{group}"}
    assert refused.headers["retry-after"] == "10"  # 6 a minute: one every 10 s
    assert "10 s" in error["message"]
    clock.now += 10  # one token back
    assert send(client, path, body).status_code in (200, 201)
    assert send(client, path, body).status_code == 429


def test_routes_of_one_group_share_its_bucket_and_groups_are_apart(limited):
    client, _ = limited
    assert client.post("/api/v1/network/train", json=TRAIN).status_code == 200
    assert client.post("/api/v1/network/compare", json={**TRAIN, "optimizers": ["sgd"]}).status_code == 200
    assert client.post("/api/v1/network/train", json=TRAIN).status_code == 429
    assert client.post("/api/v1/descent/run", json=RUN).status_code == 200  # another group's bucket
    assert client.post("/api/v1/trace", json=WORKED_EXAMPLE).status_code == 200  # no gradient check: not limited


def test_refused_requests_cost_nothing(limited):
    client, _ = limited
    for _ in range(10):
        assert client.post("/api/v1/network/train", json={**TRAIN, "iterations": 0}).status_code == 422
    for _ in range(BURST):
        assert client.post("/api/v1/network/train", json=TRAIN).status_code == 200


def test_cheap_endpoints_are_never_limited(limited):
    client, _ = limited
    for _ in range(20):
        assert client.post("/api/v1/trace", json=WORKED_EXAMPLE).status_code == 200
        assert client.get("/api/v1/health").status_code == 200
        assert client.post("/api/v1/descent/taylor", json={"surface": "quadratic"}).status_code == 200


def test_each_client_address_has_its_own_bucket():
    settings = small_buckets()
    app = create_app(settings)
    one = TestClient(app, client=("192.0.2.1", 5000))
    other = TestClient(app, client=("192.0.2.2", 5000))
    for _ in range(BURST):
        assert one.post("/api/v1/rooms").status_code == 201
    assert one.post("/api/v1/rooms").status_code == 429
    assert other.post("/api/v1/rooms").status_code == 201


def test_disabled_limits_never_refuse():
    client = TestClient(create_app(Settings(rate_limit_enabled=False, rate_limit_rooms_burst=1)))
    for _ in range(5):
        assert client.post("/api/v1/rooms").status_code == 201


def test_limits_come_from_backprop_environment_variables(monkeypatch):
    monkeypatch.setenv("BACKPROP_RATE_LIMIT_ENABLED", "true")
    monkeypatch.setenv("BACKPROP_RATE_LIMIT_TRAINING_BURST", "3")
    monkeypatch.setenv("BACKPROP_RATE_LIMIT_TRAINING_PER_MINUTE", "12")
    limiter = RateLimiter.from_settings(Settings())
    assert limiter.enabled and limiter.buckets["training"] == Bucket("training", 12.0, 3)
    monkeypatch.setenv("BACKPROP_RATE_LIMIT_ENABLED", "false")
    assert not RateLimiter.from_settings(Settings()).enabled


# ---- The buckets ----------------------------------------------------------------------------------

def test_a_bucket_holds_its_burst_and_refills_at_its_rate():
    clock = FakeClock()
    buckets, bucket = MemoryBuckets(clock=clock), Bucket("training", 30.0, 3)  # one token every 2 s
    take = lambda: run(buckets.take(bucket, "a"))  # noqa: E731
    assert [take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert take() == pytest.approx(2.0)
    clock.now += 1.0
    assert take() == pytest.approx(1.0)  # half a token back: a refusal takes nothing
    clock.now += 1.0
    assert take() == 0.0
    clock.now += 3600
    assert [take() for _ in range(4)][-1] > 0  # refilled to the burst, never beyond


def test_the_memory_table_forgets_the_least_recently_seen_clients_first():
    buckets, bucket = MemoryBuckets(max_clients=3, clock=FakeClock()), Bucket("rooms", 6.0, 1)
    for client in ("a", "b", "c", "a", "d"):
        run(buckets.take(bucket, client))
    assert len(buckets) == 3
    assert run(buckets.take(bucket, "b")) == 0.0  # forgotten, so full again
    assert run(buckets.take(bucket, "a")) > 0  # remembered: still empty


@pytest.mark.parametrize("host, key", [
    ("203.0.113.7", "203.0.113.7"),
    ("::ffff:203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
    ("testclient", "testclient"),
])
def test_a_client_is_its_address_and_an_ipv6_client_its_64(host, key):
    class Request:
        client = type("Client", (), {"host": host})

    assert client_key(Request()) == key  # type: ignore[arg-type]


# ---- Redis: every worker shares the buckets -------------------------------------------------------

def test_two_workers_share_one_bucket_through_redis(redis_url):  # noqa: F811
    bucket = Bucket("training", 6.0, 2)

    async def takes() -> list[float]:
        first, second = RedisBuckets(redis_url, 2.0), RedisBuckets(redis_url, 2.0)
        try:
            return [await first.take(bucket, "10.9.8.7"), await second.take(bucket, "10.9.8.7"),
                    await first.take(bucket, "10.9.8.7"), await second.take(bucket, "10.9.8.6")]
        finally:
            await first.close()
            await second.close()

    waits = run(takes())
    assert waits[:2] == [0.0, 0.0]
    assert 9.0 < waits[2] <= 10.0  # empty for both workers: a token comes back in 10 s
    assert waits[3] == 0.0


def test_a_redis_that_does_not_answer_lets_requests_through():
    async def take() -> float:
        buckets = RedisBuckets("redis://127.0.0.1:9/0", 0.5)  # the discard port: nothing listens
        try:
            return await buckets.take(Bucket("rooms", 6.0, 1), "a")
        finally:
            await buckets.close()

    assert run(take()) == 0.0


def test_an_app_with_a_redis_url_keeps_its_buckets_there(redis_url):  # noqa: F811
    app = create_app(Settings(rate_limit_enabled=True, redis_url=redis_url, rate_limit_rooms_burst=1))
    assert isinstance(app.state.rate_limiter.store, RedisBuckets)
    # Two apps (two workers) with one Redis: the second sees the first's request.
    other = create_app(Settings(rate_limit_enabled=True, redis_url=redis_url, rate_limit_rooms_burst=1))
    with TestClient(app, client=("198.51.100.4", 1)) as one, TestClient(other, client=("198.51.100.4", 1)) as two:
        assert one.post("/api/v1/rooms").status_code == 201
        refused = two.post("/api/v1/rooms")
        assert assert_envelope(refused, 429)["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1


def test_the_served_app_reads_its_limits_from_the_environment():
    """Through `backprop-explorer serve`'s import of the app, as a worker process would."""
    code = ("from app.main import app; b = app.state.rate_limiter.buckets['rooms']; "
            "print(app.state.rate_limiter.enabled, b.burst, b.per_minute)")
    env = {**os.environ, "BACKPROP_RATE_LIMIT_ENABLED": "true", "BACKPROP_RATE_LIMIT_ROOMS_BURST": "7",
           "BACKPROP_RATE_LIMIT_ROOMS_PER_MINUTE": "2.5"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["True", "7", "2.5"], done.stderr
