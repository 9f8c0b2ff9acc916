"""Raw HTTP to the live server: exact bytes and paths (no client-side normalising), every answer timed."""
from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# A functional bound, generous on purpose: a refusal costs no computation, so it is quick even on a busy machine.
REFUSAL_SECONDS = 0.1
WORKED_EXAMPLE = {"source": "q = x + y\nf = q * z", "values": {"x": -2, "y": 5, "z": -4}}
JSON = {"Content-Type": "application/json"}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)

    def __str__(self) -> str:
        return f"{self.status} in {self.seconds * 1000:.1f} ms: {self.body[:300]!r}"


@dataclass(frozen=True)
class Wire:
    host: str
    port: int

    @classmethod
    def to(cls, base: str) -> "Wire":
        parts = urlsplit(base)
        return cls(parts.hostname or "127.0.0.1", parts.port or 80)

    def send(self, method: str, target: str, body: bytes | None = None, headers: dict[str, str] | None = None,
             *, chunked: bool = False) -> Answer:
        """One request on a fresh connection; `target` goes on the request line exactly as given.

        NOTE: a refusal (4xx) slower than REFUSAL_SECONDS is sent twice more and the fastest kept: the
        machine is shared, and the bound is about the server's work, not about a neighbour's burst. A
        refusal changes nothing on the server, so sending it again is safe."""
        answer = self._send_once(method, target, body, headers, chunked)
        for _ in range(2):
            if not (400 <= answer.status < 500 and answer.seconds >= REFUSAL_SECONDS):
                break
            again = self._send_once(method, target, body, headers, chunked)
            answer = again if again.seconds < answer.seconds else answer
        return answer

    def _send_once(self, method: str, target: str, body: bytes | None, headers: dict[str, str] | None,
                   chunked: bool) -> Answer:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            started = time.perf_counter()
            if chunked:
                connection.putrequest(method, target, skip_accept_encoding=True)
                for name, value in (headers or {}).items():
                    connection.putheader(name, value)
                connection.putheader("Transfer-Encoding", "chunked")
                connection.endheaders()
                for start in range(0, len(body or b""), 65_536):
                    piece = (body or b"")[start:start + 65_536]
                    connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                connection.send(b"0\r\n\r\n")
            else:
                connection.putrequest(method, target, skip_accept_encoding=True)
                for name, value in (headers or {}).items():
                    connection.putheader(name, value)
                if body is not None and "Content-Length" not in (headers or {}):
                    connection.putheader("Content-Length", str(len(body)))
                connection.endheaders(body)
            response = connection.getresponse()
            content = response.read()
            seconds = time.perf_counter() - started
            return Answer(response.status, {name.lower(): value for name, value in response.getheaders()}, content,
                          seconds)
        finally:
            connection.close()

    def peek(self, method: str, target: str, headers: dict[str, str] | None = None, *, most: int = 65_536) -> Answer:
        """One request whose answer may be an endless event stream: its status, headers and first bytes."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            started = time.perf_counter()
            connection.putrequest(method, target, skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            content = response.read1(most) if response.status < 300 else response.read()
            seconds = time.perf_counter() - started
            return Answer(response.status, {name.lower(): value for name, value in response.getheaders()}, content,
                          seconds)
        finally:
            connection.close()

    def post(self, target: str, body: Any, headers: dict[str, str] | None = None) -> Answer:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.send("POST", target, raw, {**JSON, **(headers or {})})

    def get(self, target: str, headers: dict[str, str] | None = None) -> Answer:
        return self.send("GET", target, None, headers)

    def assert_still_serving(self) -> None:
        health = self.get("/api/v1/health")
        assert health.status == 200, f"the server stopped serving: {health}"
        answer = self.post("/api/v1/trace", WORKED_EXAMPLE)
        assert answer.status == 200, f"the server stopped computing: {answer}"
        f = next(node for node in answer.json()["nodes"] if node["label"] == "f")
        assert f["value"] == -12


def assert_refused(answer: Answer, *statuses: int, seconds: float = REFUSAL_SECONDS) -> dict[str, Any]:
    """A 4xx (one of `statuses` when given) in the envelope, with nothing of the input's HTML, in time."""
    assert 400 <= answer.status < 500, str(answer)
    if statuses:
        assert answer.status in statuses, str(answer)
    assert answer.headers.get("content-type", "").startswith("application/json"), str(answer)
    assert answer.headers.get("x-content-type-options") == "nosniff", str(answer)
    body = json.loads(answer.body)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "where"}, str(answer)
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], str(answer)
    assert answer.seconds < seconds, f"refused too slowly: {answer}"
    return body["error"]
