"""The baseline for bench_http.py: the smallest FastAPI JSON endpoint, served the same way as the app.

It parses a JSON body into a dict and answers a constant, so what it costs is FastAPI, pydantic and
uvicorn themselves: the floor any endpoint of the real app pays.
"""
from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.post("/echo")
async def echo(body: dict) -> dict:
    return {"ok": True}
