"""Every server setting in one class, read from BACKPROP_* environment variables."""
from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKPROP_")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    # A program longer than this runs in the thread pool, so one big request cannot stall the loop;
    # shorter ones are also the ones whose parsed graphs are cached.
    inline_source_chars: int = Field(default=2_000, ge=0)
    parse_cache: bool = True

    # Network training (app.routes.network): a run ends after its iterations or after max_run_seconds,
    # whichever comes first; a stream sends a progress event after each stream_event_seconds of training.
    max_run_seconds: float = Field(default=60.0, gt=0, le=3_600)
    stream_event_seconds: float = Field(default=0.05, gt=0, le=1)
    stream_boundary_seconds: float = Field(default=0.25, gt=0, le=10)  # boundary (and small nets' params) this often
    stream_params_max: int = Field(default=5_000, ge=0)  # nets of at most this many parameters stream them
    max_active_runs: int = Field(default=32, ge=1, le=10_000)  # streamed runs at once in one process
    # Short computations (descent, one iteration, long programs) running at once in one process; the
    # rest wait their turn (app.compute). More cores: more workers, not more of these (one GIL).
    compute_threads: int = Field(default=2, ge=1, le=64)
    # Training runs (network/train, /compare; app.compute.run_long) in their own threads: at most this
    # many at once in one process, this many more waiting in order; beyond that 429 server_busy.
    long_run_threads: int = Field(default=2, ge=1, le=64)
    long_run_queue: int = Field(default=8, ge=0, le=10_000)
    # Answers at least this long are gzipped for clients that accept it (a network iteration: 277 -> 111 KB,
    # the neuron view 5.2 -> 0.87 MB); short ones are not, where compressing costs more than it saves.
    gzip_minimum_bytes: int = Field(default=16_384, ge=1, le=2**31)
    # Streamed runs (network/train/stream; app.routes.network) train a stream_event_seconds slice at a
    # time on threads of their own: at most this many slices at once in one process, the other runs'
    # slices waiting their turn, so that max_active_runs live runs slow each other down, not the rest.
    stream_threads: int = Field(default=2, ge=1, le=64)

    # Answers of the descent routes kept in this process's memory (app.answer_cache): a classroom behind
    # one address posting the same body is computed once and not charged again. 0 turns the cache off.
    answer_cache_bytes: int = Field(default=64 * 2**20, ge=0, le=2**40)

    # Classroom rooms: in this process's memory unless a Redis URL is given (several workers or machines).
    redis_url: str | None = Field(default=None, description="redis://host:port/db; empty keeps rooms in memory")
    redis_timeout_seconds: float = Field(default=2.0, gt=0, le=60)  # connecting and each command
    public_url: str | None = None  # what join links start with, e.g. http://192.168.1.20:8000; else the request's
    max_rooms: int = Field(default=500, ge=1, le=100_000)
    room_idle_seconds: int = Field(default=7_200, ge=1)  # a room the teacher leaves alone this long is gone
    room_event_history: int = Field(default=256, ge=8, le=100_000)  # events kept for reconnecting students
    sse_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)

    # Rate limits per client address on the expensive endpoints (app.rate_limit): a token bucket per
    # group that holds `burst` requests and refills at `per_minute`; 429 with Retry-After beyond.
    # In Redis when redis_url is set (shared by every worker), else in each process's memory.
    rate_limit_enabled: bool = True  # false: no limits at all (benchmarks, the test suite)
    rate_limit_training_per_minute: float = Field(default=30.0, gt=0)  # network/train, /train/stream, /compare
    rate_limit_training_burst: int = Field(default=10, ge=1)
    rate_limit_descent_per_minute: float = Field(default=1_800.0, gt=0)  # descent/surface and /run (a slider
    rate_limit_descent_burst: int = Field(default=120, ge=1)  # that moves sends one per frame, aborting the last)
    rate_limit_rooms_per_minute: float = Field(default=6.0, gt=0)  # POST /rooms
    rate_limit_rooms_burst: int = Field(default=5, ge=1)
    rate_limit_gradcheck_per_minute: float = Field(default=60.0, gt=0)  # trace and trace/state with gradcheck
    rate_limit_gradcheck_burst: int = Field(default=20, ge=1)
    rate_limit_clients: int = Field(default=100_000, ge=1)  # clients remembered per process (memory bound)

    # Security headers on every response (app.security_headers).
    content_security_policy: str = Field(default=(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
        description="the Content-Security-Policy header; empty sends none")


@lru_cache
def get_settings() -> Settings:
    return Settings()
