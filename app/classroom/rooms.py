"""A classroom room: the teacher drives it with the presenter key, students follow its events.

Fields of a stored room: `key` (the digest of the presenter key), `created`, `state` (the teacher's
page, as JSON), `results` (what that page shows beyond its address, as JSON), `quiz` (the open or
revealed question, with its right answer, as JSON) and `closed`. Events, numbered by the store:
`state`, `results`, `quiz` (a question opened, without its answer), `reveal` (the right answer and the
counts) and `closed`. A stream starts with `snapshot` (the whole room) unless the student's
Last-Event-ID lets it replay the events missed (of the `state` and of the `results` events only the
last: each one is whole).
"""
from __future__ import annotations

import functools
import logging
import math
import secrets
import time
from collections import Counter
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import orjson
from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError
from starlette.concurrency import run_in_threadpool

from engine.limits import LIMITS, Limits
from engine.trace import trace

from ..errors import ApiError
from ..schemas import AnswerIn, QuizOpen, RevealIn, RoomResults, RoomState
from ..settings import Settings
from .codes import key_digest, key_matches, new_code, new_presenter_key, new_student_id, normalize_code
from .qr import qr_svg
from .store import Clock, Event, Listener, Store, StoreConfig, StoreUnavailable, open_store

log = logging.getLogger("backprop_explorer.classroom")

ABSOLUTE_TOLERANCE = 1e-3  # an answer this close is right, however small the right gradient
HISTOGRAM_BINS = 10
TOP_VALUES = 10

T = TypeVar("T")

_STOP = Event(-1, "stop", b"")  # never stored nor sent: tells a stream to end


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def is_right(value: float, answer: float, relative: float) -> bool:
    return abs(value - answer) <= max(relative * abs(answer), ABSOLUTE_TOLERANCE)


# What a store that cannot be reached raises (Redis down, restarting, or too slow to answer).
STORE_ERRORS = (StoreUnavailable, RedisConnectionError, RedisTimeoutError, TimeoutError)


def unreachable_store_is_503(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """A store that cannot be reached is the server's trouble: 503 with the envelope, not a 500."""
    @functools.wraps(method)
    async def guarded(*args: Any, **kwargs: Any) -> T:
        try:
            return await method(*args, **kwargs)
        except STORE_ERRORS as exc:
            log.warning("classroom store unavailable: %s", exc)
            raise ApiError(503, "store_unavailable", "the classroom store (Redis) is not answering; try again "
                           "in a moment", headers={"Retry-After": "5"}) from None
    return guarded


# ---- The histogram the teacher sees -----------------------------------------------------------

def _significant(value: float, digits: int = 6) -> float:
    return float(f"{value:.{digits}g}")


def histogram(values: list[float]) -> dict[str, Any]:
    """Counts of the answers: the most common values, and equal-width bins over the middle 90%."""
    if not values:
        return {"count": 0, "top": [], "bins": [], "below": 0, "above": 0, "median": None}
    ordered = sorted(values)
    count = len(ordered)
    common = Counter(_significant(value) for value in ordered).most_common(TOP_VALUES)
    # NOTE: one student typing 1e9 must not squash every other answer into one bin, so with enough
    # answers the bins cover the 5th to the 95th percentile and the rest are counted as below/above.
    low, high = (ordered[count // 20], ordered[-1 - count // 20]) if count >= 20 else (ordered[0], ordered[-1])
    if high == low:
        bins = [{"low": low, "high": high, "count": sum(1 for value in ordered if value == low)}]
    else:
        width = (high - low) / HISTOGRAM_BINS
        counts = [0] * HISTOGRAM_BINS
        for value in ordered:
            if low <= value <= high:
                counts[min(int((value - low) / width), HISTOGRAM_BINS - 1)] += 1
        bins = [{"low": low + k * width, "high": low + (k + 1) * width, "count": counts[k]}
                for k in range(HISTOGRAM_BINS)]
    middle = count // 2
    median = ordered[middle] if count % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return {"count": count, "top": [{"value": value, "count": seen} for value, seen in common], "bins": bins,
            "below": sum(1 for value in ordered if value < low), "above": sum(1 for value in ordered if value > high),
            "median": median}


# ---- Rooms ------------------------------------------------------------------------------------

def _public_quiz(quiz: dict[str, Any] | None) -> dict[str, Any] | None:
    if quiz is None:
        return None
    return quiz if quiz["status"] == "revealed" else {key: value for key, value in quiz.items() if key != "answer"}


WHOLE_EVENTS = ("state", "results")  # each one replaces the one before


def latest_whole_only(events: list[Event]) -> list[Event]:
    """The events a reconnecting student needs: a `state` holds the teacher's whole page and `results`
    all of its results, so of each only the last counts (a training run publishes its results a few
    times a second; 200 students coming back after a worker stopped must not each download every one)."""
    last = {kind: max((event.id for event in events if event.type == kind), default=None) for kind in WHOLE_EVENTS}
    return [event for event in events if event.type not in last or event.id == last[event.type]]


def _frame(event_id: int, event_type: str, data: bytes) -> bytes:
    # Server-sent events: orjson writes no new lines, so one data line holds the whole object.
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event_id, event_type.encode(), data)


class Classroom:
    def __init__(self, store: Store, settings: Settings, clock: Clock = time.time, limits: Limits = LIMITS) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.limits = limits
        self.heartbeat = settings.sse_heartbeat_seconds
        self._live: set[Listener] = set()  # this process's open event streams

    def end_streams(self) -> None:
        """The server is stopping: end every open event stream now, so browsers reconnect elsewhere.

        (Left open, a stream would keep the server waiting for its connections to close.)"""
        for listener in list(self._live):
            listener.deliver(_STOP)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = time.time, limits: Limits = LIMITS) -> "Classroom":
        config = StoreConfig(max_rooms=settings.max_rooms, idle_seconds=settings.room_idle_seconds,
                             history=settings.room_event_history,
                             presence_seconds=3 * settings.sse_heartbeat_seconds + 5)
        store = open_store(config, settings.redis_url, settings.redis_timeout_seconds, clock)
        return cls(store, settings, clock, limits)

    async def start(self) -> None:
        await self.store.start()

    async def close(self) -> None:
        await self.store.close()

    # -- Reading a room

    async def _room(self, code_text: str) -> tuple[str, dict[str, str]]:
        code = normalize_code(code_text)
        fields = None if code is None else await self.store.load(code)
        if code is None or fields is None or fields.get("closed"):
            raise ApiError(404, "room_not_found", "no such room: check the code, or the room has ended or expired "
                           "after a long pause", {"field": "code"})
        return code, fields

    async def _presenter(self, code_text: str, key: str | None) -> tuple[str, dict[str, str]]:
        code, fields = await self._room(code_text)
        if not key_matches(key, fields["key"]):
            raise ApiError(403, "presenter_key_required", "only the teacher who created this room can do this: "
                           "send its presenter key in the X-Presenter-Key header", {"field": "X-Presenter-Key"})
        return code, fields

    @staticmethod
    def _quiz(fields: dict[str, str]) -> dict[str, Any] | None:
        return orjson.loads(fields["quiz"]) if fields.get("quiz") else None

    @staticmethod
    def _state(fields: dict[str, str]) -> dict[str, Any] | None:
        return orjson.loads(fields["state"]) if fields.get("state") else None

    @staticmethod
    def _results(fields: dict[str, str]) -> dict[str, Any] | None:
        return orjson.loads(fields["results"]) if fields.get("results") else None

    def join_url(self, base_url: str, code: str) -> str:
        return f"{(self.settings.public_url or base_url).rstrip('/')}/join/{code}"

    def _snapshot(self, code: str, fields: dict[str, str]) -> dict[str, Any]:
        return {"code": code, "version": int(fields["seq"]), "state": self._state(fields),
                "results": self._results(fields), "quiz": _public_quiz(self._quiz(fields))}

    async def _view(self, code: str, fields: dict[str, str], base_url: str) -> dict[str, Any]:
        students = await self.store.student_count(code)
        left = await self.store.seconds_left(code)
        return {**self._snapshot(code, fields), "join_url": self.join_url(base_url, code),
                "created_at": float(fields["created"]), "students": students,
                "expires_in": None if left is None else round(left, 1),
                "limits": {"max_students": self.limits.max_students_per_room,
                           "idle_seconds": self.settings.room_idle_seconds,
                           "max_answers_per_window": self.limits.max_answers_per_window,
                           "answer_window_seconds": self.limits.answer_window_seconds}}

    @unreachable_store_is_503
    async def view(self, code_text: str, base_url: str) -> dict[str, Any]:
        code, fields = await self._room(code_text)
        return await self._view(code, fields, base_url)

    @unreachable_store_is_503
    async def join_target(self, code_text: str) -> str:
        """Where a join link leads: the teacher's page with the room in its query; `/` before any state."""
        code = normalize_code(code_text)
        fields = None if code is None else await self.store.load(code)
        if code is None or fields is None:
            return "/?" + urlencode({"room": code_text.strip().upper()[:16]})  # the page says the room is gone
        state = self._state(fields) or {}
        parts = urlsplit(state.get("url") or "/")
        query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True) if name != "room"]
        return urlunsplit(("", "", parts.path or "/", urlencode([*query, ("room", code)]), parts.fragment))

    # -- The teacher

    @unreachable_store_is_503
    async def create(self, base_url: str, first: RoomState | None) -> dict[str, Any]:
        key = new_presenter_key()
        fields = {"key": key_digest(key), "created": repr(self.clock()), "state": "", "results": "", "quiz": ""}
        for _ in range(8):  # 31^6 codes: a collision is rare, eight in a row is a broken random source
            code = new_code()
            result = await self.store.create(code, fields)
            if result == "full":
                raise ApiError(429, "too_many_rooms", f"this server already holds {self.settings.max_rooms} rooms "
                               "(BACKPROP_MAX_ROOMS); an idle room expires after "
                               f"{self.settings.room_idle_seconds} s", headers={"Retry-After": "60"})
            if result == "ok":
                break
        else:
            raise ApiError(429, "too_many_rooms", "no free room code was found; try again",
                           headers={"Retry-After": "1"})
        if first is not None:
            await self._publish_state(code, first)
        fields = await self.store.load(code) or {**fields, "seq": "0"}
        join_url = self.join_url(base_url, code)
        return {"code": code, "presenter_key": key, "join_url": join_url, "qr_svg": qr_svg(join_url),
                "room": await self._view(code, fields, base_url)}

    async def _publish_state(self, code: str, state: RoomState) -> int:
        payload = {"page": state.page, "url": state.url, "state": state.state, "at": self.clock()}
        event = await self.store.publish(code, {"state": _json(payload)}, "state",
                                         orjson.dumps({"type": "state", **payload}))
        if event is None:
            await self._room(code)  # raises the 404
            raise ApiError(404, "room_not_found", "the room has ended")
        return event.id

    async def _updating(self, code_text: str, key: str | None) -> str:
        """The room the presenter key drives, if its changes (state and results together) are not too fast."""
        code, _ = await self._presenter(code_text, key)
        wait = await self.store.hit(f"state:{code}", self.limits.max_room_updates_per_second, 1.0)
        if wait:
            raise ApiError(429, "too_many_updates", f"at most {self.limits.max_room_updates_per_second} changes a "
                           "second (max_room_updates_per_second)", headers={"Retry-After": str(math.ceil(wait))})
        return code

    @unreachable_store_is_503
    async def set_state(self, code_text: str, key: str | None, state: RoomState) -> dict[str, Any]:
        code = await self._updating(code_text, key)
        return {"version": await self._publish_state(code, state)}

    @unreachable_store_is_503
    async def set_results(self, code_text: str, key: str | None, body: RoomResults) -> dict[str, Any]:
        code = await self._updating(code_text, key)
        payload = {"page": body.page, "results": body.results, "at": self.clock()}
        event = await self.store.publish(code, {"results": _json(payload)}, "results",
                                         orjson.dumps({"type": "results", **payload}))
        if event is None:
            await self._room(code)  # raises the 404
            raise ApiError(404, "room_not_found", "the room has ended")
        return {"version": event.id}

    async def _gradient(self, ask: QuizOpen) -> float:
        answer = await run_in_threadpool(lambda: trace(ask.source or "", ask.values).to_dict())
        node = next((node for node in answer["nodes"] if node["id"] == ask.node), None)
        if node is None and ask.label:
            node = next((node for node in answer["nodes"] if node["label"] == ask.label), None)
        if node is None:
            raise ApiError(422, "unknown_node", "the program has no node with this id (or label)", {"field": "node"})
        grad = node["grad"]
        if not isinstance(grad, float) or not math.isfinite(grad):
            raise ApiError(422, "no_scalar_gradient", "this node's gradient is not one finite number: ask about a "
                           "scalar node, or give the answer yourself", {"field": "node"})
        return grad

    @unreachable_store_is_503
    async def open_quiz(self, code_text: str, key: str | None, ask: QuizOpen) -> dict[str, Any]:
        code, _ = await self._presenter(code_text, key)
        answer = ask.answer
        if answer is None and ask.source is not None:
            answer = await self._gradient(ask)
        quiz = {"id": "q" + secrets.token_hex(4), "node": ask.node, "label": ask.label, "step": ask.step,
                "prompt": ask.prompt, "status": "open", "opened_at": self.clock(),
                "tolerance": {"relative": ask.tolerance, "absolute": ABSOLUTE_TOLERANCE}}
        event = await self.store.publish(code, {"quiz": _json({**quiz, "answer": answer})}, "quiz",
                                         orjson.dumps({"type": "quiz", "quiz": quiz}))
        if event is None:
            await self._room(code_text)
        return {**quiz, "answer": answer, "version": event.id if event else None}

    @unreachable_store_is_503
    async def answers(self, code_text: str, key: str | None) -> dict[str, Any]:
        code, fields = await self._presenter(code_text, key)
        quiz = self._quiz(fields)
        if quiz is None:
            return {"quiz": None, "histogram": histogram([]), "correct": None,
                    "students": await self.store.student_count(code)}
        values = list((await self.store.answers(code, quiz["id"])).values())
        correct = None if quiz.get("answer") is None else sum(
            is_right(value, quiz["answer"], quiz["tolerance"]["relative"]) for value in values)
        return {"quiz": quiz, "histogram": histogram(values), "correct": correct,
                "students": await self.store.student_count(code)}

    @unreachable_store_is_503
    async def reveal(self, code_text: str, key: str | None, body: RevealIn) -> dict[str, Any]:
        code, fields = await self._presenter(code_text, key)
        quiz = self._quiz(fields)
        if quiz is None:
            raise ApiError(409, "no_quiz", "there is no question to reveal: open one first (POST .../quiz)")
        answer = body.answer if body.answer is not None else quiz.get("answer")
        if answer is None:
            raise ApiError(422, "answer_needed", 'the right answer was not given when the question opened: send it '
                           'now, {"answer": -4}', {"field": "answer"})
        quiz = {**quiz, "status": "revealed", "answer": answer, "revealed_at": self.clock()}
        values = list((await self.store.answers(code, quiz["id"])).values())
        summary = {"answers": len(values),
                   "correct": sum(is_right(value, answer, quiz["tolerance"]["relative"]) for value in values)}
        event = await self.store.publish(code, {"quiz": _json(quiz)}, "reveal",
                                         orjson.dumps({"type": "reveal", "quiz": quiz, **summary}))
        if event is None:
            await self._room(code_text)
        return {"quiz": quiz, **summary, "version": event.id if event else None}

    @unreachable_store_is_503
    async def end(self, code_text: str, key: str | None) -> dict[str, Any]:
        code, _ = await self._presenter(code_text, key)
        await self.store.publish(code, {"closed": "1"}, "closed", orjson.dumps({"type": "closed"}), closing=True)
        return {"code": code, "closed": True}

    # -- Students

    @unreachable_store_is_503
    async def answer(self, code_text: str, body: AnswerIn, cookie_student: str | None) -> dict[str, Any]:
        code, fields = await self._room(code_text)
        student = body.student or cookie_student or new_student_id()
        wait = await self.store.hit(f"answer:{code}:{student}", self.limits.max_answers_per_window,
                                    self.limits.answer_window_seconds)
        if wait:
            raise ApiError(429, "too_many_answers", f"at most {self.limits.max_answers_per_window} answers in "
                           f"{self.limits.answer_window_seconds} s: wait a moment", {"field": "value"},
                           headers={"Retry-After": str(math.ceil(wait))})
        quiz = self._quiz(fields)
        if quiz is None or quiz["id"] != body.quiz or quiz["status"] != "open":
            raise ApiError(409, "quiz_closed", "this question is not open any more (answers are taken until the "
                           "teacher reveals the right one)", {"field": "quiz"})
        if not await self.store.save_answer(code, quiz["id"], student, body.value, self.limits.max_students_per_room):
            raise ApiError(409, "quiz_full", f"{self.limits.max_students_per_room} students have answered already "
                           "(max_students_per_room)")
        return {"quiz": quiz["id"], "value": body.value, "student": student}

    @unreachable_store_is_503
    async def follow(self, code_text: str, last_event_id: int | None) -> AsyncIterator[bytes]:
        """The room's event stream; checks the room and the student cap before the stream starts."""
        code, _ = await self._room(code_text)
        member = secrets.token_hex(8)
        if not await self.store.join(code, member, self.limits.max_students_per_room):
            raise ApiError(429, "room_full", f"this room already has {self.limits.max_students_per_room} students "
                           "(max_students_per_room)", headers={"Retry-After": "30"})
        return self._stream(code, member, last_event_id)

    async def _catch_up(self, code: str, after: int | None) -> tuple[list[bytes], int] | None:
        """Frames that bring a student from event `after` to now: the missed events, else a snapshot."""
        if after is not None:
            missed = await self.store.events_after(code, after)
            if missed is not None:
                return [_frame(event.id, event.type, event.data) for event in latest_whole_only(missed)], \
                    (missed[-1].id if missed else after)
        fields = await self.store.load(code)
        if fields is None:
            return None
        snapshot = self._snapshot(code, fields)
        data = orjson.dumps({"type": "snapshot", "room": snapshot})
        return [_frame(snapshot["version"], "snapshot", data)], snapshot["version"]

    async def _stream(self, code: str, member: str, last_event_id: int | None) -> AsyncIterator[bytes]:
        closed = b'event: closed\ndata: {"type":"closed"}\n\n'
        listener: Listener | None = None
        try:
            async with self.store.listen(code) as listener:
                self._live.add(listener)
                # Browsers retry after 3 s by default; a student's screen should come back sooner.
                yield b"retry: 1000\n\n"
                caught_up = await self._catch_up(code, last_event_id)
                if caught_up is None:
                    yield closed
                    return
                frames, last = caught_up
                for frame in frames:
                    yield frame
                while True:
                    event = await listener.get(self.heartbeat)
                    if event is _STOP:
                        return
                    if event is None:
                        if not await self._still_open(code, member):
                            yield closed
                            return
                        yield b": heartbeat\n\n"
                        continue
                    if event.id <= last:
                        continue
                    if event.id > last + 1:  # this listener fell behind: read what it missed
                        caught_up = await self._catch_up(code, last)
                        if caught_up is None:
                            yield closed
                            return
                        frames, last = caught_up
                        for frame in frames:
                            yield frame
                        if event.id <= last:
                            continue
                    yield _frame(event.id, event.type, event.data)
                    last = event.id
                    if event.type == "closed":
                        return
        except STORE_ERRORS as exc:
            log.warning("event stream of room %s stopped: %s", code, exc)  # the browser reconnects by itself
        finally:
            if listener is not None:
                self._live.discard(listener)
            # NOTE: the stream ends by cancellation when the student leaves: shield the last store call.
            with anyio.move_on_after(2, shield=True):
                try:
                    await self.store.leave(code, member)
                except Exception as exc:  # noqa: BLE001 - a stale member expires by itself
                    log.info("could not mark a student gone from room %s: %s", code, exc)

    async def _still_open(self, code: str, member: str) -> bool:
        try:
            fields = await self.store.load(code)
            if fields is None or fields.get("closed"):
                return False
            await self.store.still_here(code, member)
        except STORE_ERRORS as exc:  # Redis restarting: keep the student connected, look again next beat
            log.warning("room %s could not be checked: %s", code, exc)
        return True
