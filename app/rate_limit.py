"""Per-client rate limits on the expensive endpoints: a token bucket per client address and group.

Each group (training, descent, rooms, gradcheck) holds `burst` tokens per client and refills at
`per_minute`; a request that finds its bucket empty is refused with 429 `rate_limited`, a
Retry-After header and the envelope. Only requests that passed validation are charged: a refusal is
cheap, the work is not. Buckets live in this process's memory, or in Redis when BACKPROP_REDIS_URL
is set, so that several workers share one bucket per client. BACKPROP_RATE_LIMIT_ENABLED=false turns
it all off (benchmarks, the test suite).

The client is the connection's address as the ASGI server reports it: behind a reverse proxy,
uvicorn replaces it with X-Forwarded-For when the proxy is trusted (--forwarded-allow-ips). An IPv6
client counts by its /64, the block one subscriber gets.
"""
from __future__ import annotations

import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from starlette.requests import Request

from .errors import ApiError
from .settings import Settings, get_settings

log = logging.getLogger("backprop_explorer")

Clock = Callable[[], float]

# What each group is, as the 429 message names it.
GROUPS = {
    "training": "training runs (network/train, network/train/stream, network/compare)",
    "descent": "loss-landscape requests (descent/surface, descent/run)",
    "rooms": "new classroom rooms",
    "gradcheck": "gradient checks",
}


@dataclass(frozen=True)
class Bucket:
    group: str
    per_minute: float
    burst: int

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


class Buckets(Protocol):
    async def take(self, bucket: Bucket, client: str) -> float:
        """Take one token: 0 when there was one, else the seconds until there is."""


def client_key(request: Request) -> str:
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"  # a test client or a unix socket
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


# ---- In memory: one process -------------------------------------------------------------------

class MemoryBuckets:
    """(group, client) -> (tokens, when they were counted), oldest use first, at most `max_clients`."""

    def __init__(self, max_clients: int = 100_000, clock: Clock = time.monotonic) -> None:
        self.max_clients = max_clients
        self.clock = clock
        self._state: dict[tuple[str, str], tuple[float, float]] = {}

    async def take(self, bucket: Bucket, client: str) -> float:
        now = self.clock()
        key = (bucket.group, client)
        tokens, then = self._state.pop(key, (float(bucket.burst), now))
        tokens = min(float(bucket.burst), tokens + (now - then) * bucket.per_second)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / bucket.per_second
        self._state[key] = (tokens, now)  # re-inserted: the dict stays ordered by last use
        if len(self._state) > self.max_clients:
            self._forget()
        return wait

    def _forget(self) -> None:
        # NOTE: a bucket forgotten is a bucket refilled, so the least recently used go first; a client
        # idle for a minute or so is full again anyway. The table never holds more than max_clients.
        while len(self._state) > self.max_clients:
            del self._state[next(iter(self._state))]

    def __len__(self) -> int:
        return len(self._state)


# ---- Redis: several workers share the buckets ---------------------------------------------------

# KEYS: the bucket. ARGV: burst, tokens per second, ttl_ms. Redis's own clock, so workers on machines
# whose clocks differ still agree. Answers the wait in seconds, as text (Lua numbers become integers).
_TAKE = """
local now = redis.call('TIME')
local at = tonumber(now[1]) + tonumber(now[2]) / 1000000
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local before = tonumber(state[2]) or at
tokens = math.min(burst, tokens + math.max(0, at - before) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return tostring(wait)
"""


class RedisBuckets:
    """The same buckets in Redis (`bpx:bucket:{group}:{client}` hashes that expire once full again).

    A Redis that does not answer lets the request through (and says so in the log): the rate limit
    protects the server's time, and refusing everyone while Redis restarts would be worse."""

    def __init__(self, url: str, timeout: float) -> None:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.redis = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                    retry=Retry(NoBackoff(), 0))
        self._take = self.redis.register_script(_TAKE)
        self._warned_at = -math.inf

    async def take(self, bucket: Bucket, client: str) -> float:
        refill_ms = math.ceil(bucket.burst / bucket.per_second * 1000) + 1000
        try:
            wait = await self._take(keys=[f"bpx:bucket:{bucket.group}:{client}"],
                                    args=[bucket.burst, repr(bucket.per_second), refill_ms])
        except Exception as exc:  # noqa: BLE001 - whatever Redis says, this request goes on unlimited
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("rate limits: Redis did not answer (%s); requests are not limited meanwhile", exc)
            return 0.0
        return float(wait)

    async def close(self) -> None:
        await self.redis.aclose()


# ---- The limiter ----------------------------------------------------------------------------

class RateLimiter:
    def __init__(self, buckets: dict[str, Bucket], store: Buckets | None, enabled: bool = True) -> None:
        self.buckets = buckets
        self.store = store if store is not None else MemoryBuckets()
        self.enabled = enabled

    @classmethod
    def from_settings(cls, settings: Settings) -> "RateLimiter":
        buckets = {group: Bucket(group, getattr(settings, f"rate_limit_{group}_per_minute"),
                                 getattr(settings, f"rate_limit_{group}_burst")) for group in GROUPS}
        store: Buckets
        if settings.rate_limit_enabled and settings.redis_url:
            store = RedisBuckets(settings.redis_url, settings.redis_timeout_seconds)
        else:
            store = MemoryBuckets(settings.rate_limit_clients)
        return cls(buckets, store, settings.rate_limit_enabled)

    async def charge(self, request: Request, group: str) -> None:
        """Take one of this client's tokens for `group`, or refuse the request with 429."""
        if not self.enabled:
            return
        bucket = self.buckets[group]
        wait = await self.store.take(bucket, client_key(request))
        if wait <= 0:
            return
        seconds = max(1, math.ceil(wait))
        raise ApiError(429, "rate_limited",
                       f"too many {GROUPS[group]} from your address: at most {bucket.burst} at once, then "
                       f"{bucket.per_minute:g} a minute; try again in {seconds} s",
                       where={"limit": f"rate_limit_{group}"}, headers={"Retry-After": str(seconds)})


def rate_limiter_of(request: Request) -> RateLimiter:
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:  # an app assembled without create_app
        limiter = request.app.state.rate_limiter = RateLimiter.from_settings(get_settings())
    return limiter


async def charge(request: Request, group: str) -> None:
    await rate_limiter_of(request).charge(request, group)
