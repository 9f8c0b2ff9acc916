"""Reading server-sent events the way a browser's EventSource does, from any iterator of lines."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Iterator


@dataclass
class ServerEvent:
    id: str | None
    type: str
    data: dict[str, Any]
    at: float  # time.monotonic() when it arrived


class EventReader:
    """Events one by one; comments (heartbeats) are skipped but let the deadline be checked."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines
        self.retry_ms: int | None = None
        self.last_id: str | None = None

    def next(self, timeout: float = 5.0) -> ServerEvent:
        deadline = time.monotonic() + timeout
        fields: dict[str, list[str]] = {}
        for line in self.lines:
            if line == "":
                if "data" in fields:
                    event_id = fields.get("id", [None])[-1]
                    if event_id is not None:
                        self.last_id = event_id
                    return ServerEvent(event_id, fields.get("event", ["message"])[-1],
                                       json.loads("\n".join(fields["data"])), time.monotonic())
                fields = {}
            elif line.startswith(":"):
                pass
            else:
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "retry":
                    self.retry_ms = int(value)
                else:
                    fields.setdefault(name, []).append(value)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no event within {timeout} s")
        raise EOFError("the event stream ended")

    def until(self, event_type: str, timeout: float = 5.0) -> ServerEvent:
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(deadline - time.monotonic(), 0.01))
            if event.type == event_type:
                return event
