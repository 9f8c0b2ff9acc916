"""Request bodies are JSON: a body declared as anything else is refused with 415, before it is read.

Every route that takes a body reads JSON. A body sent as a form, text/plain, XML or multipart is
answered 415 `unsupported_media_type` in the envelope, on every route alike (without this rule
FastAPI would hand the raw bytes to validation and answer 422 "must be a JSON object"). A body with
no Content-Type at all is read as JSON, as FastAPI does.
"""
from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

MESSAGE = "the request body must be JSON: send it with Content-Type: application/json"


def is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


class JsonBodies:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(scope["headers"])
            content_type = headers.get(b"content-type")
            has_body = headers.get(b"content-length", b"0") not in (b"0", b"") or b"transfer-encoding" in headers
            if content_type is not None and has_body and not is_json(content_type):
                await self.refuse(send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def refuse(send: Send) -> None:
        body = json.dumps({"error": {"code": "unsupported_media_type", "message": MESSAGE,
                                     "where": {"header": "content-type"}}}).encode()
        await send({"type": "http.response.start", "status": 415,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"accept", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
