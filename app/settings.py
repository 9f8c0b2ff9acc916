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
    # A trace larger than this many nodes runs in the thread pool so one big request cannot stall the loop.
    inline_trace_nodes: int = Field(default=300, ge=0)


@lru_cache
def get_settings() -> Settings:
    return Settings()
