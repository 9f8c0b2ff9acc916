"""Large answers travel gzipped to clients that accept it; short answers and event streams never do."""
from __future__ import annotations

from app.paths import STATIC_DIR
from app.settings import get_settings

from .conftest import WORKED_EXAMPLE

ITERATION = {"layers": [{"units": 8, "activation": "tanh"}, {"units": 8, "activation": "tanh"},
                        {"units": 1, "activation": "sigmoid"}],
             "loss": "bce", "data": {"dataset": "moons", "points": 200, "seed": 0}, "seed": 0}
GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}


def test_a_network_iteration_is_gzipped_and_decodes_to_the_same_answer(client):
    plain = client.post("/api/v1/network/iteration", json=ITERATION, headers=IDENTITY)
    zipped = client.post("/api/v1/network/iteration", json=ITERATION, headers=GZIP)
    assert plain.status_code == zipped.status_code == 200
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(plain.content) / 2
    assert zipped.json() == plain.json()  # httpx undoes the gzip


def test_the_worked_example_is_too_short_to_compress(client):
    answer = client.post("/api/v1/trace", json=WORKED_EXAMPLE, headers=GZIP)
    assert answer.status_code == 200
    assert len(answer.content) < get_settings().gzip_minimum_bytes
    assert "content-encoding" not in answer.headers


def test_vendored_scripts_are_gzipped_with_their_security_headers(client):
    answer = client.get("/static/vendor/d3/d3.mjs", headers=GZIP)
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.text == (STATIC_DIR / "vendor/d3/d3.mjs").read_text()


def test_a_training_stream_is_never_gzipped(client):
    body = {**ITERATION, "iterations": 20}
    with client.stream("POST", "/api/v1/network/train/stream", json=body, headers=GZIP) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in stream.headers
        assert "event:" in "".join(stream.iter_text())
