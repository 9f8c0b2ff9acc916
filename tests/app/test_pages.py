"""GET / and /static/...: the shells the browser loads. The page itself is tested in tests/browser/."""
from __future__ import annotations

import mimetypes

import pytest

from app.paths import STATIC_DIR

from .conftest import assert_envelope

STATIC_FILES = sorted(path for path in STATIC_DIR.rglob("*") if path.is_file())


def test_the_explorer_page_is_html(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text.lower()


@pytest.mark.skipif(not STATIC_FILES, reason="static/ has no files yet")
def test_static_files_are_served_byte_for_byte(client):
    for path in STATIC_FILES[:20]:
        url = "/static/" + path.relative_to(STATIC_DIR).as_posix()
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.content == path.read_bytes(), url
        expected, _ = mimetypes.guess_type(path.name)
        if expected:
            assert response.headers["content-type"].split(";")[0] == expected, url


@pytest.mark.parametrize("url", [
    "/static/no-such-file.js",
    "/static/../app/main.py",
    "/static/%2e%2e/app/main.py",
    "/static/..%2fpyproject.toml",
])
def test_missing_static_files_and_escapes_from_static_get_the_404_envelope(client, url):
    response = client.get(url)
    assert_envelope(response, 404)
    assert b"create_app" not in response.content and b"[project]" not in response.content
