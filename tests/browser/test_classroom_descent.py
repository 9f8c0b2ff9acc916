"""A class started on the descent lab, in two Chromium contexts: the room's code, link and QR code, the
key kept in the teacher's tab only; the student's lab follows the learning rate while the teacher still
drags its slider, the start point typed, and the step index.

Waits are generous (a shared 2-core machine); every check ends on exact final values.
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from .test_classroom_pages import FOLLOW_SECONDS, eventually, join_class, start_class, wait_until

RUNS = "() => Number(document.querySelector('#contour-box')?.dataset.runs ?? 0) > 0"


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def step_of(page) -> str:
    return page.get_attribute("[data-testid=timeline]", "data-step")


def test_a_class_started_on_the_descent_lab_follows_the_rate_being_dragged_the_start_and_the_step(open_page, artifacts):
    teacher, code, join = start_class(open_page, "/descent")
    t = teacher.page
    assert t.get_by_test_id("classroom-qr").get_attribute("src") == f"/api/v1/rooms/{code}/qr.svg"
    wait_until(t, "() => document.querySelector('[data-testid=classroom-qr]').naturalWidth > 0", what="the QR code")
    assert t.evaluate("(code) => sessionStorage.getItem('bpx.presenter.' + code) !== null", code)
    t.get_by_test_id("classroom-close").click()
    wait_until(t, RUNS, timeout=10, what="the teacher's paths")

    student = join_class(open_page, join)
    s = student.page
    assert urlsplit(s.url).path == "/descent" and query(s)["room"] == [code]
    assert s.evaluate("Object.keys(sessionStorage).filter((k) => k.startsWith('bpx.presenter.'))") == []
    wait_until(s, RUNS, timeout=10, what="the student's paths")

    # The teacher drags the rate slider and has not let go: only `input` events, no `change`.
    before = t.get_attribute("[data-testid=rate]", "data-rate")
    t.evaluate("""() => {
        const slider = document.querySelector('[data-testid=rate-slider]');
        slider.focus();
        slider.value = String(Number(slider.min) + 0.35 * (Number(slider.max) - Number(slider.min)));
        slider.dispatchEvent(new Event('input', {bubbles: true}));
    }""")
    dragged = t.get_attribute("[data-testid=rate]", "data-rate")
    assert dragged != before
    wait_until(s, "(rate) => document.querySelector('[data-testid=rate]').dataset.rate === rate", dragged,
               timeout=FOLLOW_SECONDS, what="the student's rate while the teacher drags")
    eventually(lambda: query(s).get("lr") == query(t).get("lr") and s.get_attribute("#contour-box",
               "data-state") == "ready", 10, "the student's paths at the dragged rate")
    # the student's paths are the teacher's: the same explanation of the last step
    eventually(lambda: s.text_content("[data-testid=run-list]") == t.text_content("[data-testid=run-list]"), 10,
               "the same run list")

    # A start point typed: the student's lab starts there too.
    t.fill("[data-testid=start-a]", "-1.5")
    t.press("[data-testid=start-a]", "Enter")
    wait_until(t, "() => new URLSearchParams(location.search).get('start')?.startsWith('-1.5,')", what="the teacher's start")
    wait_until(s, "(start) => new URLSearchParams(location.search).get('start') === start", query(t)["start"][0],
               timeout=FOLLOW_SECONDS, what="the student's start point")
    eventually(lambda: s.input_value("[data-testid=start-a]") == t.input_value("[data-testid=start-a]") == "\u22121.5", 10,
               "the student's start box")

    # The step index: the first step, then the last.
    t.evaluate("document.activeElement?.blur()")
    t.keyboard.press("Home")
    wait_until(s, "() => document.querySelector('[data-testid=timeline]').dataset.step === '0'",
               timeout=FOLLOW_SECONDS, what="the student at step 0")
    t.keyboard.press("End")
    last = wait_until(t, "() => { const n = document.querySelector('[data-testid=timeline]').dataset.step; "
                         "return n !== '0' && n; }", what="the teacher's last step")
    wait_until(s, "(n) => document.querySelector('[data-testid=timeline]').dataset.step === n", last,
               timeout=FOLLOW_SECONDS, what="the student at the last step")
    assert s.text_content("[data-testid=run-list]") == t.text_content("[data-testid=run-list]")
    s.screenshot(path=str(artifacts / "classroom-student-1280-descent.png"))
    teacher.assert_clean()
    student.assert_clean()
