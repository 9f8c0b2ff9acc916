"""Classroom rooms: the teacher creates and drives a room, students follow its events and answer.

The teacher's calls carry the presenter key (X-Presenter-Key) that POST /rooms answered with once.
Students need only the room code: GET /rooms/{code}/events is a server-sent event stream (the whole
room at once, then every change; Last-Event-ID catches a reconnecting student up). The teacher's page
sends its state (address and view: small, often) and its results (a network page's training: larger,
only when they change) apart, so that a new step does not send the results again.
"""
from __future__ import annotations

import asyncio
import signal
import threading
from contextlib import asynccontextmanager
from types import FrameType
from typing import Annotated, Any, AsyncIterator, Callable

from fastapi import APIRouter, Body, Cookie, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from ..classroom.codes import is_student_id
from ..classroom.qr import qr_svg
from ..classroom.rooms import Classroom
from ..classroom.store import StoreUnavailable
from ..errors import refusals
from ..rate_limit import charge
from ..schemas import AnswerIn, QuizOpen, RevealIn, RoomResults, RoomState, event_stream
from ..settings import get_settings


def _on_stop_signals(callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` (on the event loop) when SIGINT or SIGTERM arrives, then whoever handled it before.

    NOTE: a server stopping waits for its open connections to close, and an event stream never does:
    without this, stopping a worker with students connected hangs until they leave."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals reach the main thread only (a test client runs apps elsewhere)
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(callback)
        before = previous[signum]
        if callable(before):
            before(signum, frame)
        elif before == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    for sig in previous:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, before in previous.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, before)
    return restore


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the store when the server starts: a Redis that does not answer stops the start, in seconds."""
    if getattr(app.state, "classroom", None) is not None:  # given by a test or an embedding app
        yield
        return
    classroom = Classroom.from_settings(get_settings())
    try:
        await classroom.start()
    except StoreUnavailable as exc:
        raise SystemExit(f"backprop-explorer: classroom store: {exc}") from None
    app.state.classroom = classroom
    restore_signals = _on_stop_signals(classroom.end_streams)
    try:
        yield
    finally:
        restore_signals()
        app.state.classroom = None
        await classroom.close()


router = APIRouter(prefix="/rooms", tags=["classroom"], lifespan=lifespan)
join_router = APIRouter(include_in_schema=False)

STUDENT_COOKIE = "bpx_student"
# Codes are six characters; a little room for spaces around one typed by hand.
RoomCode = Annotated[str, Path(min_length=1, max_length=16, description="The room's code, such as K7QF2M")]
PresenterKey = Annotated[str | None, Header(alias="X-Presenter-Key", max_length=128,
                                            description="The presenter key POST /rooms answered with.")]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    # Every route takes a room code (422 when it is too long to be one); a body is JSON (413, 415, 422).
    return refusals(*sorted({*statuses, 422}))


def classroom_of(request: Request) -> Classroom:
    classroom = getattr(request.app.state, "classroom", None)
    if classroom is None:  # the app runs without its lifespan (a bare test client): rooms in memory or Redis alike
        classroom = request.app.state.classroom = Classroom.from_settings(get_settings())
    return classroom


def base_url(request: Request) -> str:
    return str(request.base_url)


@router.post("", status_code=201, responses=_errors(413, 415, 429, 503),
             summary="Create a room: its code, join link, QR code and the presenter key (shown once)")
async def create_room(request: Request, first: Annotated[RoomState | None, Body()] = None) -> dict[str, Any]:
    await charge(request, "rooms")
    return await classroom_of(request).create(base_url(request), first)


@router.get("/{code}", responses=_errors(404, 503), summary="The room now: the teacher's state, the question, students")
async def get_room(request: Request, code: RoomCode) -> dict[str, Any]:
    return await classroom_of(request).view(code, base_url(request))


@router.get("/{code}/qr.svg", response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}}}, **_errors(404, 503)},
            summary="The join link as an SVG QR code")
async def get_room_qr(request: Request, code: RoomCode) -> Response:
    room = await classroom_of(request).view(code, base_url(request))
    return Response(qr_svg(room["join_url"]), media_type="image/svg+xml", headers={"Cache-Control": "no-cache"})


@router.delete("/{code}", responses=_errors(403, 404, 503), summary="End the room (teacher): students get `closed`")
async def end_room(request: Request, code: RoomCode, key: PresenterKey = None) -> dict[str, Any]:
    return await classroom_of(request).end(code, key)


@router.post("/{code}/state", responses=_errors(403, 404, 413, 415, 429, 503),
             summary="The teacher's page, program, values, step and panels: every student follows")
async def set_room_state(request: Request, code: RoomCode, state: RoomState,
                         key: PresenterKey = None) -> dict[str, Any]:
    return await classroom_of(request).set_state(code, key, state)


@router.post("/{code}/results", responses=_errors(403, 404, 413, 415, 429, 503),
             summary="What the teacher's page shows beyond its address (a training run): every student shows it")
async def set_room_results(request: Request, code: RoomCode, results: RoomResults,
                           key: PresenterKey = None) -> dict[str, Any]:
    return await classroom_of(request).set_results(code, key, results)


@router.get("/{code}/events", responses={
                200: {"content": event_stream("snapshot", "state", "results", "quiz", "reveal", "closed")},
                **_errors(404, 429, 503)},
            summary="Server-sent events: snapshot, then state, results, quiz, reveal and closed")
async def room_events(request: Request, code: RoomCode,
                      last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=32)] = None,
                      after: Annotated[int | None, Query(ge=0, le=2**53,
                                                         description="Last-Event-ID for clients that cannot "
                                                                     "send the header")] = None) -> StreamingResponse:
    seen = int(last_event_id) if last_event_id is not None and last_event_id.strip().isdigit() else after
    stream = await classroom_of(request).follow(code, seen)
    return StreamingResponse(stream, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/{code}/quiz", responses=_errors(403, 404, 413, 415, 503),
             summary="Predict the gradient (teacher): open a question about one node's gradient")
async def open_quiz(request: Request, code: RoomCode, ask: QuizOpen, key: PresenterKey = None) -> dict[str, Any]:
    return await classroom_of(request).open_quiz(code, key, ask)


@router.post("/{code}/answers", responses=_errors(404, 409, 413, 415, 429, 503),
             summary="A student's answer to the open question (a later one replaces it)")
async def post_answer(request: Request, response: Response, code: RoomCode, answer: AnswerIn,
                      cookie: Annotated[str | None, Cookie(alias=STUDENT_COOKIE, max_length=64)] = None,
                      ) -> dict[str, Any]:
    known = cookie if is_student_id(cookie) else None
    result = await classroom_of(request).answer(code, answer, known)
    if answer.student is None and known is None:
        response.set_cookie(STUDENT_COOKIE, result["student"], max_age=86_400, httponly=True, samesite="lax")
    return result


@router.get("/{code}/answers", responses=_errors(403, 404, 503),
            summary="The answers so far as a histogram (teacher)")
async def get_answers(request: Request, code: RoomCode, key: PresenterKey = None) -> dict[str, Any]:
    return await classroom_of(request).answers(code, key)


@router.post("/{code}/quiz/reveal", responses=_errors(403, 404, 409, 413, 415, 503),
             summary="Reveal the right answer (teacher): students see whether they were right")
async def reveal_quiz(request: Request, code: RoomCode, body: Annotated[RevealIn | None, Body()] = None,
                      key: PresenterKey = None) -> dict[str, Any]:
    return await classroom_of(request).reveal(code, key, body or RevealIn())


@join_router.get("/join/{code}")
async def join(request: Request, code: str) -> RedirectResponse:
    """The join link: to the teacher's page with ?room=CODE, which the page's classroom module follows."""
    return RedirectResponse(await classroom_of(request).join_target(code), status_code=303)
