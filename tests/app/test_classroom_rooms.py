"""Classroom rooms through the API, rooms in memory: create, drive, follow, quiz, limits, expiry.

Each test gets its own app with a fake clock (expiry and rate windows move when the test says so),
small caps (3 rooms, 4 students a room) and a fast heartbeat, so event streams can be read with
deadlines through the in-process test client.
"""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from contextlib import ExitStack, contextmanager
from typing import Any, Iterator

import pytest

from app.classroom.rooms import Classroom, histogram, is_right
from app.main import create_app
from app.settings import Settings
from engine.limits import LIMITS

from .conftest import WORKED_EXAMPLE, TestClient, assert_envelope
from .sse import EventReader

ROOMS = "/api/v1/rooms"
STUDENTS = 4  # max_students_per_room in these tests
EXPLORER = {"page": "explorer", "url": "/?src=q%20%3D%20x&step=2", "state": {"step": 2, "panels": ["descent"]}}
NETWORK = {"page": "network", "results": {"v": 1, "at": 300, "running": False,
                                          "history": {"train": [[0, 0.693], [300, 0.121]], "test": []}}}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Lesson:
    """One test's app, client and clock, with the calls a teacher and a student make."""

    def __init__(self, client: TestClient, clock: FakeClock, classroom: Classroom) -> None:
        self.client, self.clock, self.classroom = client, clock, classroom

    def create(self, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.client.post(ROOMS, json=body) if body is not None else self.client.post(ROOMS)
        assert response.status_code == 201, response.text
        return response.json()

    def drive(self, room: dict[str, Any], path: str, body: Any = None, key: str | None = "room's") -> Any:
        headers = {"X-Presenter-Key": room["presenter_key"] if key == "room's" else key} if key else {}
        return self.client.post(f"{ROOMS}/{room['code']}/{path}", json=body, headers=headers)

    def set_state(self, room: dict[str, Any], step: int) -> int:
        response = self.drive(room, "state", {**EXPLORER, "state": {"step": step}})
        assert response.status_code == 200, response.text
        return response.json()["version"]

    def answer(self, room: dict[str, Any], quiz: str, value: float, student: str) -> Any:
        return self.client.post(f"{ROOMS}/{room['code']}/answers",
                                json={"quiz": quiz, "value": value, "student": student})

    @contextmanager
    def follow(self, code: str, last_event_id: str | None = None) -> Iterator[EventReader]:
        headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
        with self.client.stream("GET", f"{ROOMS}/{code}/events", headers=headers) as response:
            assert response.status_code == 200, response.read()
            assert response.headers["content-type"].startswith("text/event-stream")
            yield EventReader(response.iter_lines())


@pytest.fixture
def lesson() -> Iterator[Lesson]:
    clock = FakeClock()
    settings = Settings(redis_url=None, max_rooms=3, room_idle_seconds=60, room_event_history=8,
                        sse_heartbeat_seconds=0.1)
    classroom = Classroom.from_settings(settings, clock, LIMITS.raised(max_students_per_room=STUDENTS))
    app = create_app()
    app.state.classroom = classroom
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Lesson(client, clock, classroom)


# ---- Creating a room -----------------------------------------------------------------------------

def test_create_answers_a_short_code_a_join_link_a_presenter_key_and_a_qr_code(lesson):
    room = lesson.create(EXPLORER)
    assert len(room["code"]) == 6 and room["code"].isalnum() and room["code"].isupper()
    assert not set(room["code"]) & set("01OIL")
    assert room["join_url"] == f"http://testserver/join/{room['code']}"
    assert len(room["presenter_key"]) >= 32
    svg = ElementTree.fromstring(room["qr_svg"])
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert svg.find("{http://www.w3.org/2000/svg}title").text == room["join_url"]
    assert room["room"]["state"]["state"] == EXPLORER["state"] and room["room"]["version"] == 1


def test_the_presenter_key_is_stored_only_as_a_digest(lesson):
    room = lesson.create()
    stored = lesson.classroom.store._rooms[room["code"]].fields  # noqa: SLF001 - what a dump of the store shows
    assert room["presenter_key"] not in " ".join(stored.values())


def test_get_room_shows_the_state_students_expiry_and_the_limits_a_page_needs(lesson):
    room = lesson.create(EXPLORER)
    view = lesson.client.get(f"{ROOMS}/{room['code'].lower()}").json()  # a typed code may be lower case
    assert view["code"] == room["code"] and view["state"]["page"] == "explorer"
    assert view["students"] == 0 and view["expires_in"] == 60 and view["quiz"] is None
    assert view["limits"]["max_students"] == STUDENTS and view["limits"]["answer_window_seconds"] == 10
    assert "presenter_key" not in view


def test_unknown_rooms_are_404_with_the_envelope(lesson):
    room = lesson.create()
    for method, path in (("GET", "ZZZZZZ"), ("GET", "not-a-code"), ("GET", "ZZZZZZ/events"),
                         ("GET", "ZZZZZZ/qr.svg"), ("POST", "ZZZZZZ/answers")):
        body = {"quiz": "q1", "value": 1, "student": "student-1"} if method == "POST" else None
        error = assert_envelope(lesson.client.request(method, f"{ROOMS}/{path}", json=body), 404)
        assert error["code"] == "room_not_found"
    # the right key of another room does not find a room either
    response = lesson.drive({**room, "code": "ZZZZZZ"}, "state", EXPLORER)
    assert assert_envelope(response, 404)["code"] == "room_not_found"


def test_limits_endpoint_lists_the_classroom_caps():
    from app.main import app

    limits = TestClient(app).get("/api/v1/limits").json()
    for name in ("max_students_per_room", "max_room_state_bytes", "max_answers_per_window", "answer_window_seconds"):
        assert limits[name] == getattr(LIMITS, name)


# ---- Driving: only with the presenter key ---------------------------------------------------------

def test_the_presenter_key_drives_the_room_and_versions_count_up(lesson):
    room = lesson.create()
    assert lesson.set_state(room, 3) == 1
    assert lesson.set_state(room, 4) == 2
    view = lesson.client.get(f"{ROOMS}/{room['code']}").json()
    assert view["version"] == 2 and view["state"]["state"] == {"step": 4} and view["state"]["url"] == EXPLORER["url"]


@pytest.mark.parametrize("key", [None, "", "a-wrong-key-of-the-right-length-000000"])
def test_without_the_presenter_key_nothing_can_be_driven_revealed_or_read(lesson, key):
    room = lesson.create()
    calls = [("POST", "state", EXPLORER), ("POST", "results", NETWORK), ("POST", "quiz", {"node": "n2", "answer": -4}),
             ("POST", "quiz/reveal", {"answer": -4}), ("GET", "answers", None), ("DELETE", "", None)]
    headers = {"X-Presenter-Key": key} if key is not None else {}
    for method, path, body in calls:
        url = f"{ROOMS}/{room['code']}/{path}".rstrip("/")
        response = lesson.client.request(method, url, json=body, headers=headers)
        error = assert_envelope(response, 403)
        assert error["code"] == "presenter_key_required" and error["where"] == {"field": "X-Presenter-Key"}
    assert lesson.client.get(f"{ROOMS}/{room['code']}").json()["version"] == 0


def test_another_rooms_key_does_not_drive_this_room(lesson):
    first, second = lesson.create(), lesson.create()
    response = lesson.drive(first, "state", EXPLORER, key=second["presenter_key"])
    assert assert_envelope(response, 403)["code"] == "presenter_key_required"


@pytest.mark.parametrize("state, field", [
    ({"page": "explorer", "state": {"blob": "x" * (LIMITS.max_room_state_bytes + 1)}}, "state"),
    ({"page": "explorer", "state": {"deep": [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}}, "state"),
    ({"page": "explorer", "url": "//elsewhere.example/"}, "url"),
    ({"page": "explorer", "url": "https://elsewhere.example/"}, "url"),
    ({"page": "Explorer!"}, "page"),
    ({"page": "explorer", "extra": 1}, "extra"),
])
def test_the_state_is_a_bounded_object_and_the_url_stays_on_this_server(lesson, state, field):
    room = lesson.create()
    error = assert_envelope(lesson.drive(room, "state", state), 422)
    assert error["where"]["field"] == field


def test_the_teachers_changes_are_rate_limited(lesson):
    room = lesson.create()
    for step in range(LIMITS.max_room_updates_per_second - 1):
        lesson.set_state(room, step)
    assert lesson.drive(room, "results", NETWORK).status_code == 200  # results count with the states
    for path, body in (("state", EXPLORER), ("results", NETWORK)):
        response = lesson.drive(room, path, body)
        assert assert_envelope(response, 429)["code"] == "too_many_updates"
        assert response.headers["retry-after"] == "1"
    lesson.clock.advance(1)
    lesson.set_state(room, 99)


@pytest.mark.parametrize("body, field", [
    ({"page": "network", "results": {"blob": "x" * (LIMITS.max_room_state_bytes + 1)}}, "results"),
    ({"page": "network", "results": {"deep": [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}}, "results"),
    ({"page": "network"}, "results"),
    ({"page": "network", "results": [1, 2]}, "results"),
    ({"page": "Network!", "results": {}}, "page"),
    ({"page": "network", "results": {}, "state": {}}, "state"),
])
def test_the_results_are_bounded_like_the_state(lesson, body, field):
    room = lesson.create()
    error = assert_envelope(lesson.drive(room, "results", body), 422)
    assert error["where"]["field"] == field
    assert lesson.client.get(f"{ROOMS}/{room['code']}").json()["results"] is None


def test_results_go_to_students_apart_from_the_state_and_a_new_state_does_not_send_them_again(lesson):
    room = lesson.create({"page": "network", "url": "/network?view=train", "state": {"view": "train"}})
    with lesson.follow(room["code"]) as events:
        assert events.next().data["room"]["results"] is None
        sent = lesson.drive(room, "results", NETWORK)
        assert sent.status_code == 200 and sent.json() == {"version": 2}
        event = events.next()
        assert (event.type, event.id) == ("results", "2")
        assert event.data == {"type": "results", "page": "network", "results": NETWORK["results"], "at": lesson.clock.now}
        lesson.drive(room, "state", {"page": "network", "url": "/network?stage=3", "state": {"stage": 3}})
        event = events.next()
        assert event.type == "state" and "results" not in event.data and event.data["state"] == {"stage": 3}
    # a student who comes later gets both at once; so does the teacher's GET
    with lesson.follow(room["code"]) as events:
        snapshot = events.next().data["room"]
        assert snapshot["state"]["state"] == {"stage": 3} and snapshot["results"]["results"] == NETWORK["results"]
    assert lesson.client.get(f"{ROOMS}/{room['code']}").json()["results"]["page"] == "network"


def test_join_link_leads_to_the_teachers_page_with_the_room_in_its_query(lesson):
    room = lesson.create({"page": "explorer", "url": "/descent?lr=0.1&room=OLD#top"})
    response = lesson.client.get(f"/join/{room['code'].lower()}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/descent?lr=0.1&room={room['code']}#top"
    fresh = lesson.create()
    assert lesson.client.get(f"/join/{fresh['code']}", follow_redirects=False).headers["location"] == \
        f"/?room={fresh['code']}"
    # an unknown room still lands on a page, which then says the room is gone
    assert lesson.client.get("/join/ZZZZZZ", follow_redirects=False).headers["location"] == "/?room=ZZZZZZ"


def test_qr_endpoint_draws_the_join_link_as_svg(lesson):
    room = lesson.create()
    response = lesson.client.get(f"{ROOMS}/{room['code']}/qr.svg")
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    assert response.text == room["qr_svg"]


# ---- Following: server-sent events --------------------------------------------------------------

def test_a_student_gets_the_room_at_once_then_every_change_in_order(lesson):
    room = lesson.create(EXPLORER)
    with lesson.follow(room["code"]) as events:
        snapshot = events.next()
        assert events.retry_ms == 1000
        assert snapshot.type == "snapshot" and snapshot.id == "1"
        assert snapshot.data["room"]["state"]["state"] == EXPLORER["state"]
        for step in (3, 4, 5):
            version = lesson.set_state(room, step)
            event = events.next()
            assert (event.type, event.id, event.data["state"]) == ("state", str(version), {"step": step})
            assert event.data["page"] == "explorer" and event.data["url"] == EXPLORER["url"]


def test_connected_students_are_counted_and_leave_when_their_stream_closes(lesson):
    room = lesson.create()
    with lesson.follow(room["code"]) as events:
        events.next()
        assert lesson.client.get(f"{ROOMS}/{room['code']}").json()["students"] == 1
    assert lesson.client.get(f"{ROOMS}/{room['code']}").json()["students"] == 0


def test_a_reconnecting_student_gets_the_events_it_missed_and_of_the_states_only_the_last(lesson):
    room = lesson.create(EXPLORER)
    with lesson.follow(room["code"]) as events:
        seen = events.next().id
    first = lesson.set_state(room, 6)
    quiz = lesson.drive(room, "quiz", {"node": "n2", "answer": -4}).json()
    lesson.drive(room, "results", {"page": "network", "results": {"at": 1}})
    lesson.set_state(room, 7)
    results = lesson.drive(room, "results", {"page": "network", "results": {"at": 2}}).json()["version"]
    last = lesson.set_state(room, 8)
    with lesson.follow(room["code"], last_event_id=seen) as events:
        replayed = [events.next(), events.next(), events.next()]
        # each state is the teacher's whole page, each results all of them: the older ones are skipped,
        # the question is not
        assert [(event.type, int(event.id)) for event in replayed] == \
            [("quiz", first + 1), ("results", results), ("state", last)]
        assert replayed[0].data["quiz"]["id"] == quiz["id"] and replayed[1].data["results"] == {"at": 2}
        assert replayed[2].data["state"] == {"step": 8}
        assert events.last_id == str(last)
        lesson.set_state(room, 9)
        event = events.next()
        assert (event.type, int(event.id), event.data["state"]) == ("state", last + 1, {"step": 9})  # live again
    with lesson.follow(room["code"], last_event_id=str(first)) as events:  # missed all but the first state
        assert [events.next().type, events.next().type, events.next().type] == ["quiz", "results", "state"]


def test_a_student_too_far_behind_gets_a_snapshot_instead(lesson):
    room = lesson.create()
    for step in range(12):  # the history keeps 8 events
        lesson.clock.advance(1)  # (past the teacher's rate limit)
        lesson.set_state(room, step)
    with lesson.follow(room["code"], last_event_id="1") as events:
        event = events.next()
        assert (event.type, event.id) == ("snapshot", "12")
        assert event.data["room"]["state"]["state"] == {"step": 11}
    with lesson.follow(room["code"], last_event_id="999") as events:  # from an older room or a bad client
        assert events.next().type == "snapshot"


def test_the_room_holds_at_most_max_students_per_room_connections(lesson):
    room = lesson.create()
    with ExitStack() as seats:
        for _ in range(STUDENTS):
            seats.enter_context(lesson.follow(room["code"])).next()
        assert lesson.client.get(f"{ROOMS}/{room['code']}").json()["students"] == STUDENTS
        response = lesson.client.get(f"{ROOMS}/{room['code']}/events")
        error = assert_envelope(response, 429)
        assert error["code"] == "room_full" and int(response.headers["retry-after"]) > 0
    with lesson.follow(room["code"]) as late:  # seats are free again
        assert late.next().type == "snapshot"


def test_ending_the_room_closes_every_stream_and_then_it_is_gone(lesson):
    room = lesson.create()
    with lesson.follow(room["code"]) as events:
        events.next()
        response = lesson.client.delete(f"{ROOMS}/{room['code']}", headers={"X-Presenter-Key": room["presenter_key"]})
        assert response.json() == {"code": room["code"], "closed": True}
        assert events.next().type == "closed"
        with pytest.raises(EOFError):
            events.next()
    assert_envelope(lesson.client.get(f"{ROOMS}/{room['code']}"), 404)


def test_server_stopping_ends_open_streams_so_students_reconnect_elsewhere(lesson):
    room = lesson.create()
    with lesson.follow(room["code"]) as events:
        events.next()
        lesson.client.portal.call(_end_streams, lesson.classroom)  # what SIGTERM does in a served app
        with pytest.raises(EOFError):
            events.next()


async def _end_streams(classroom: Classroom) -> None:
    classroom.end_streams()


# ---- Expiry and the room cap ---------------------------------------------------------------------

def test_a_room_expires_after_the_idle_time_and_activity_pushes_the_expiry_back(lesson):
    room = lesson.create()
    lesson.clock.advance(40)
    lesson.set_state(room, 1)
    lesson.clock.advance(40)  # 80 s old, but only 40 s idle
    assert lesson.client.get(f"{ROOMS}/{room['code']}").json()["expires_in"] == 20
    lesson.clock.advance(20)
    assert assert_envelope(lesson.client.get(f"{ROOMS}/{room['code']}"), 404)["code"] == "room_not_found"
    assert assert_envelope(lesson.drive(room, "state", EXPLORER), 404)["code"] == "room_not_found"


def test_the_server_holds_at_most_max_rooms_and_an_expired_room_frees_its_place(lesson):
    first = lesson.create()
    lesson.clock.advance(30)
    lesson.create(), lesson.create()
    response = lesson.client.post(ROOMS)
    error = assert_envelope(response, 429)
    assert error["code"] == "too_many_rooms" and "BACKPROP_MAX_ROOMS" in error["message"]
    assert int(response.headers["retry-after"]) > 0
    lesson.clock.advance(31)  # the first room has been idle 61 s
    lesson.create()
    assert_envelope(lesson.client.get(f"{ROOMS}/{first['code']}"), 404)


@pytest.mark.parametrize("configured", ["settings", "environment"])
def test_creating_rooms_is_rate_limited_per_client_with_retry_after(configured, monkeypatch):
    if configured == "environment":
        monkeypatch.setenv("BACKPROP_RATE_LIMIT_ENABLED", "true")
        monkeypatch.setenv("BACKPROP_RATE_LIMIT_ROOMS_BURST", "2")
        monkeypatch.setenv("BACKPROP_RATE_LIMIT_ROOMS_PER_MINUTE", "3")
        settings = Settings(redis_url=None)
    else:
        settings = Settings(redis_url=None, rate_limit_enabled=True, rate_limit_rooms_burst=2,
                            rate_limit_rooms_per_minute=3)
    app = create_app(settings)
    app.state.classroom = classroom = Classroom.from_settings(settings)
    teacher = TestClient(app, client=("192.0.2.10", 5000))
    other = TestClient(app, client=("192.0.2.11", 5000))
    for _ in range(2):
        assert teacher.post(ROOMS, json=EXPLORER).status_code == 201
    refused = teacher.post(ROOMS, json=EXPLORER)
    error = assert_envelope(refused, 429)
    assert error["code"] == "rate_limited" and error["where"] == {"limit": "rate_limit_rooms"}
    assert "new classroom rooms" in error["message"]
    assert 19 <= int(refused.headers["retry-after"]) <= 20  # one room every 20 s at 3 a minute
    assert len(classroom.store._rooms) == 2  # noqa: SLF001 - the refused one made no room
    assert other.post(ROOMS).status_code == 201  # another address has its own allowance
    # the rest of the classroom is not limited this way: driving and following go on
    room = other.post(ROOMS).json()
    assert other.post(f"{ROOMS}/{room['code']}/state", json=EXPLORER,
                      headers={"X-Presenter-Key": room["presenter_key"]}).status_code == 200


# ---- Predict the gradient -----------------------------------------------------------------------

def test_quiz_round_trip_students_answer_the_teacher_sees_a_histogram_and_reveals(lesson):
    room = lesson.create(EXPLORER)
    with lesson.follow(room["code"]) as events:
        events.next()
        opened = lesson.drive(room, "quiz", {"node": "n2", "label": "q", "step": 7, **WORKED_EXAMPLE,
                                             "prompt": "df/dq?"})
        assert opened.status_code == 200, opened.text
        quiz = opened.json()
        assert quiz["answer"] == -4 and quiz["status"] == "open"  # computed by the engine: df/dq = z = -4
        event = events.next()
        assert event.type == "quiz" and event.data["quiz"]["id"] == quiz["id"]
        assert "answer" not in event.data["quiz"]  # students do not see it before the reveal
        assert event.data["quiz"]["label"] == "q" and event.data["quiz"]["prompt"] == "df/dq?"
        # students answer; a later answer replaces the same student's earlier one
        for student, value in (("student-a", 3), ("student-a", -4), ("student-b", -4.01), ("student-c", 3),
                               ("student-d", 12)):
            response = lesson.answer(room, quiz["id"], value, student)
            assert response.status_code == 200, response.text
        assert "answer" not in lesson.client.get(f"{ROOMS}/{room['code']}").json()["quiz"]
        seen = lesson.client.get(f"{ROOMS}/{room['code']}/answers",
                                 headers={"X-Presenter-Key": room["presenter_key"]}).json()
        assert seen["histogram"]["count"] == 4 and seen["correct"] == 2
        assert {row["value"]: row["count"] for row in seen["histogram"]["top"]} == {-4: 1, -4.01: 1, 3: 1, 12: 1}
        assert sum(row["count"] for row in seen["histogram"]["bins"]) == 4
        revealed = lesson.drive(room, "quiz/reveal", {}).json()
        assert (revealed["answers"], revealed["correct"], revealed["quiz"]["answer"]) == (4, 2, -4)
        event = events.next()
        assert event.type == "reveal" and event.data["quiz"]["answer"] == -4
        assert (event.data["answers"], event.data["correct"]) == (4, 2)
        relative = event.data["quiz"]["tolerance"]["relative"]
        assert is_right(-4.01, event.data["quiz"]["answer"], relative)  # each student checks its own
        assert not is_right(3, event.data["quiz"]["answer"], relative)
    late = lesson.answer(room, quiz["id"], -4, "student-e")
    assert assert_envelope(late, 409)["code"] == "quiz_closed"


def test_the_teacher_may_give_the_answer_at_reveal_time(lesson):
    room = lesson.create()
    quiz = lesson.drive(room, "quiz", {"node": "n7"}).json()
    assert quiz["answer"] is None
    assert assert_envelope(lesson.drive(room, "quiz/reveal", {}), 422)["where"] == {"field": "answer"}
    assert lesson.drive(room, "quiz/reveal", {"answer": 0.25}).json()["quiz"]["answer"] == 0.25


def test_quiz_errors_name_the_node_and_the_closed_question(lesson):
    room = lesson.create()
    assert assert_envelope(lesson.drive(room, "quiz/reveal", {"answer": 1}), 409)["code"] == "no_quiz"
    missing = lesson.drive(room, "quiz", {"node": "n99", **WORKED_EXAMPLE})
    assert assert_envelope(missing, 422)["code"] == "unknown_node"
    bad_program = lesson.drive(room, "quiz", {"node": "n1", "source": "f = (x +", "values": {}})
    assert assert_envelope(bad_program, 422)["where"].get("line") == 1
    quiz = lesson.drive(room, "quiz", {"node": "n1", "answer": 2}).json()
    wrong_quiz = lesson.answer(room, "q-other", 2, "student-a")
    assert assert_envelope(wrong_quiz, 409)["code"] == "quiz_closed"
    not_a_number = lesson.client.post(f"{ROOMS}/{room['code']}/answers",
                                      json={"quiz": quiz["id"], "value": "-4", "student": "student-a"})
    assert assert_envelope(not_a_number, 422)["where"] == {"field": "value"}


def test_answers_are_rate_limited_per_student_with_retry_after(lesson):
    room = lesson.create()
    quiz = lesson.drive(room, "quiz", {"node": "n1", "answer": 2}).json()
    for value in range(LIMITS.max_answers_per_window):
        assert lesson.answer(room, quiz["id"], value, "student-flood").status_code == 200
    flood = lesson.answer(room, quiz["id"], 9, "student-flood")
    error = assert_envelope(flood, 429)
    assert error["code"] == "too_many_answers"
    assert 1 <= int(flood.headers["retry-after"]) <= LIMITS.answer_window_seconds
    assert lesson.answer(room, quiz["id"], 2, "student-calm").status_code == 200  # others are not held back
    lesson.clock.advance(LIMITS.answer_window_seconds)
    assert lesson.answer(room, quiz["id"], 2, "student-flood").status_code == 200


def test_a_student_without_an_id_gets_a_cookie_that_identifies_it_next_time(lesson):
    room = lesson.create()
    quiz = lesson.drive(room, "quiz", {"node": "n1", "answer": 2}).json()
    first = lesson.client.post(f"{ROOMS}/{room['code']}/answers", json={"quiz": quiz["id"], "value": 1})
    assert first.status_code == 200 and first.cookies.get("bpx_student") == first.json()["student"]
    second = lesson.client.post(f"{ROOMS}/{room['code']}/answers", json={"quiz": quiz["id"], "value": 2})
    assert second.json()["student"] == first.json()["student"]
    seen = lesson.client.get(f"{ROOMS}/{room['code']}/answers", headers={"X-Presenter-Key": room["presenter_key"]})
    assert seen.json()["histogram"]["count"] == 1


def test_a_quiz_takes_answers_from_at_most_max_students_per_room_students(lesson):
    room = lesson.create()
    quiz = lesson.drive(room, "quiz", {"node": "n1", "answer": 2}).json()
    for student in range(STUDENTS):
        assert lesson.answer(room, quiz["id"], 1, f"student-{student}").status_code == 200
    assert assert_envelope(lesson.answer(room, quiz["id"], 1, "student-late"), 409)["code"] == "quiz_full"
    assert lesson.answer(room, quiz["id"], 2, "student-0").status_code == 200  # changing one's answer still works


# ---- The histogram ------------------------------------------------------------------------------

def test_histogram_bins_cover_the_middle_answers_and_count_outliers_apart():
    values = [float(k % 10) for k in range(95)] + [1e9] * 3 + [-1e9] * 2
    shape = histogram(values)
    assert shape["count"] == 100 and shape["below"] == 2 and shape["above"] == 3
    assert sum(row["count"] for row in shape["bins"]) == 95
    assert shape["bins"][0]["low"] == 0 and shape["bins"][-1]["high"] == 9


def test_histogram_of_equal_answers_is_one_bin_and_of_none_is_empty():
    assert histogram([-4.0, -4.0])["bins"] == [{"low": -4.0, "high": -4.0, "count": 2}]
    assert histogram([]) == {"count": 0, "top": [], "bins": [], "below": 0, "above": 0, "median": None}


def test_a_store_that_cannot_be_reached_is_a_503_envelope_not_a_500():
    from app.classroom.store import RedisStore, StoreConfig

    from .redis_server import free_port

    settings = Settings(redis_url=None)
    config = StoreConfig(max_rooms=3, idle_seconds=60, history=8, presence_seconds=30)
    classroom = Classroom(RedisStore(config, f"redis://127.0.0.1:{free_port()}/0", timeout=0.5), settings)
    app = create_app()
    app.state.classroom = classroom  # as if Redis went away after the server started
    with TestClient(app, raise_server_exceptions=False) as client:
        for response in (client.post(ROOMS), client.get(f"{ROOMS}/ABCDEF"), client.get(f"{ROOMS}/ABCDEF/events")):
            assert response.status_code == 503 and response.headers["retry-after"] == "5"
            assert response.json()["error"]["code"] == "store_unavailable"
