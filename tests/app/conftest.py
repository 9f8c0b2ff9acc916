"""One in-process client for the API tests, plus helpers that read a trace the way a client would."""
from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

with warnings.catch_warnings():
    # NOTE: starlette warns at import that its TestClient will move from httpx to httpx2; nothing to act on here.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient

from app.main import app

WORKED_EXAMPLE = {"source": "q = x + y\nf = q * z", "values": {"x": -2, "y": 5, "z": -4}}


@pytest.fixture(scope="session")
def client() -> TestClient:
    # The API is stateless, so one client serves every test. Unexpected errors come back as the
    # 500 envelope (their traceback is logged) so tests can assert on the status a caller would see.
    return TestClient(app, raise_server_exceptions=False)


def strict_json(text: str) -> Any:
    """Parse as strict JSON: NaN, Infinity and -Infinity tokens are refused."""
    def refuse(token: str) -> Any:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def by_label(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["label"]: node for node in answer["nodes"]}


def assert_envelope(response: Any, status: int | None = None) -> dict[str, Any]:
    """The one error shape: {"error": {"code", "message", "where"}} with a 4xx status."""
    if status is not None:
        assert response.status_code == status, response.text[:500]
    assert 400 <= response.status_code < 500, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    body = strict_json(response.text)
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "where"}
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["where"], dict)
    return error
