"""static/js/classroom.js in two Chromium contexts (teacher and student), before any page shows it.

The teacher's context creates a room and pushes states; the student's opens the join link and
follows with EventSource. Rooms live in the test server's memory.
"""
from __future__ import annotations

import time
from urllib.parse import urlsplit

MODULE = "import('/static/js/classroom.js')"
WORKED = {"source": "q = x + y\nf = q * z", "values": {"x": -2, "y": 5, "z": -4}}


# A light same-origin document to run the module in (the pages themselves are not needed here).
BLANK = "/static/favicon.svg"


def teacher_creates_a_room(open_page) -> tuple[object, dict]:
    teacher = open_page(BLANK)
    room = teacher.page.evaluate(f"""async () => {{
        const m = await {MODULE};
        window.presenter = await m.Presenter.create({{page: "explorer", url: "/?step=1", state: {{step: 1}}}});
        return {{code: window.presenter.code, join: window.presenter.room.join_url,
                 kept: sessionStorage.getItem("bpx.presenter." + window.presenter.code) !== null}};
    }}""")
    return teacher, room


def student_follows(open_page, join_url: str, via_join_link: bool = False) -> object:
    code = urlsplit(join_url).path.rsplit("/", 1)[1]
    # the join link leads to the teacher's page (/join/CODE -> /?step=1&room=CODE)
    student = open_page(urlsplit(join_url).path if via_join_link else f"{BLANK}?room={code}")
    student.page.evaluate(f"""async () => {{
        const m = await {MODULE};
        window.m = m;
        window.seen = [];
        window.follower = new m.Follower(m.roomInUrl(), {{
            onState: (state, version) => window.seen.push({{step: state.state.step, version}}),
            onQuiz: (quiz) => {{ window.quiz = quiz; }},
            onReveal: (quiz, counts) => {{ window.reveal = {{quiz, counts}}; }},
        }}).start();
    }}""")
    student.page.wait_for_function("window.seen.length === 1 && window.seen[0].step === 1", timeout=5000)
    return student


def test_the_join_link_opens_the_teachers_page_and_the_student_follows_within_one_second(open_page):
    teacher, room = teacher_creates_a_room(open_page)
    assert room["kept"]
    student = student_follows(open_page, room["join"], via_join_link=True)
    assert student.page.url.endswith(f"/?step=1&room={room['code']}")
    for step in (2, 3, 4):
        started = time.monotonic()
        push = "(step) => window.presenter.push({page: 'explorer', url: `/?step=${step}`, state: {step}})"
        teacher.page.evaluate(push, step)
        student.page.wait_for_function(f"window.seen.at(-1).step === {step}", timeout=2000)
        assert time.monotonic() - started < 1.0
    teacher.assert_clean(allowed_console=("/favicon.ico",))  # the bare SVG document asks for one
    student.assert_clean()


def test_a_detached_student_keeps_the_teachers_state_and_resyncs_in_one_call(open_page):
    teacher, room = teacher_creates_a_room(open_page)
    student = student_follows(open_page, room["join"])
    student.page.evaluate("window.follower.detach()")
    teacher.page.evaluate("window.presenter.push({page: 'explorer', state: {step: 7}})")
    student.page.wait_for_function("window.follower.latest.state.step === 7", timeout=2000)
    assert student.page.evaluate("window.seen.at(-1).step") == 1
    student.page.evaluate("window.follower.resync()")
    assert student.page.evaluate("window.seen.at(-1).step") == 7


def test_quiz_round_trip_and_a_student_cannot_reveal(open_page):
    teacher, room = teacher_creates_a_room(open_page)
    student = student_follows(open_page, room["join"])
    opened = teacher.page.evaluate("(worked) => window.presenter.openQuiz({node: 'n2', label: 'q', ...worked})", WORKED)
    assert opened["answer"] == -4
    student.page.wait_for_function(f"window.quiz && window.quiz.id === '{opened['id']}'", timeout=2000)
    refused = student.page.evaluate(f"""async () => {{
        try {{ await new window.m.Presenter("{room['code']}", "not-the-key").reveal(-4); return null; }}
        catch (error) {{ return [error.status, error.code]; }}
    }}""")
    assert refused == [403, "presenter_key_required"]
    sent = student.page.evaluate(f"window.m.submitAnswer('{room['code']}', window.quiz.id, -4)")
    assert sent["value"] == -4
    histogram = teacher.page.evaluate("window.presenter.answers()")
    assert histogram["histogram"]["count"] == 1 and histogram["correct"] == 1
    teacher.page.evaluate("window.presenter.reveal()")
    student.page.wait_for_function("window.reveal !== undefined", timeout=2000)
    assert student.page.evaluate("window.m.isRight(-4, window.reveal.quiz)") is True
    assert student.page.evaluate("window.m.isRight(3, window.reveal.quiz)") is False
    assert student.page.evaluate("window.reveal.counts") == {"answers": 1, "correct": 1}
