"""The baseline for bench_http.py: the smallest FastAPI JSON endpoint, served the same way as the app.

POST /echo parses a JSON body into a dict and answers a constant (GET /ping answers it with no body, the
baseline of benchmarks/load.py for GET routes), so what it costs is FastAPI, pydantic and
uvicorn themselves: the floor any endpoint of the real app pays.
"""
from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.post("/echo")
async def echo(body: dict) -> dict:
    return {"ok": True}


@app.get("/ping")
async def ping() -> dict:
    return {"ok": True}
