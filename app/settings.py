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


@lru_cache
def get_settings() -> Settings:
    return Settings()
