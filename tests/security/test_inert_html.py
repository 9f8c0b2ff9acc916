"""HTML in programs, labels and links is shown as text on every page, and nothing of it runs (Chromium).

The payload goes where a user's text goes: the program in the URL (invalid, and valid with the
payload in a comment), every parameter a page reads from its link, a room code. Then: no dialog
opened, no script ran (window.__pwned stays unset), no element was made from it (no img[src=x],
no inline script), no request for its image, no request off the machine, no CSP violation (the CSP
would block an injected handler; the point is that nothing tries), and the text is there as text.
"""
from __future__ import annotations

from urllib.parse import quote

import pytest

from .conftest import Watched

PAYLOAD = '<img src=x onerror="window.__pwned=1;alert(1)"><script>window.__pwned=2;alert(2)</script>'
# A fetch answered with 4xx is logged by Chromium itself as a console error; the pages show it instead.
EXPECTED_4XX = ("status of 4",)
X_IS_3 = '{"x": 3}'


def q(text: str) -> str:
    return quote(text, safe="")


def assert_inert(probe: Watched) -> None:
    page = probe.page
    page.wait_for_timeout(300)  # anything the payload would do has had its chance
    assert probe.dialogs == [], f"a dialog opened: {probe.dialogs}"
    assert page.evaluate("() => window.__pwned") is None, "the payload's script ran"
    made = page.evaluate("""() => [...document.querySelectorAll('img[src="x"], img[onerror], script:not([src])')]
                                  .map((node) => node.outerHTML)""")
    assert made == [], f"elements were made from the payload: {made}"
    assert probe.violations() == [], "a Content-Security-Policy violation happened"
    assert not [url for url in probe.requests if url.rstrip("/").endswith("/x")], "the payload's image was requested"
    probe.assert_clean(allowed_console=EXPECTED_4XX)


def assert_shows_as_text(page, selector: str, text: str) -> None:
    value = page.evaluate(f"""() => {{
        const node = document.querySelector({selector!r});
        return node === null ? null : ('value' in node ? node.value : node.textContent);
    }}""")
    assert value is not None and text in value, f"{selector} shows {value!r}"


@pytest.mark.parametrize("source", [PAYLOAD, f"f = x * 2  # {PAYLOAD}"], ids=["invalid-program", "in-a-comment"])
def test_explorer_shows_a_program_with_html_as_text(open_watched, source):
    probe = open_watched(f"/?src={q(source)}&values={q(X_IS_3)}&room={q(PAYLOAD)}")
    if source == PAYLOAD:
        error = probe.page.locator("[data-testid=error]")
        error.wait_for(state="visible")
        assert "line 1, column 1" in error.inner_text()  # where it stopped: at the first '<'
    else:
        probe.page.wait_for_selector("svg[data-testid=graph] g.node[data-label=f]", state="attached")
    assert_shows_as_text(probe.page, "[data-testid=source]", PAYLOAD)
    assert_inert(probe)


def test_explorer_ignores_html_in_every_other_parameter(open_watched):
    names = ["example", "values", "step", "view", "panels", "lr", "params", "lang"]
    probe = open_watched("/?" + "&".join(f"{name}={q(PAYLOAD)}" for name in names))
    probe.page.wait_for_selector("svg[data-testid=graph] g.node", state="attached")
    assert_inert(probe)


def test_network_ignores_html_in_every_parameter(open_watched):
    names = ["lang", "view", "data", "points", "noise", "classes", "pts", "arch", "opt", "lr", "beta", "beta1",
             "beta2", "batch", "seed", "iters", "stage", "layer", "room"]
    probe = open_watched("/network?" + "&".join(f"{name}={q(PAYLOAD)}" for name in names))
    probe.page.wait_for_selector("svg[data-testid=network] line.weight", state="attached")
    assert_inert(probe)


@pytest.mark.parametrize("source", [PAYLOAD, f"f = a * a + b * b  # {PAYLOAD}"],
                         ids=["invalid-program", "in-a-comment"])
def test_descent_shows_a_surface_program_with_html_as_text(open_watched, source):
    others = ["opt", "hp", "lr", "steps", "factor", "step", "focus", "param", "start", "lang", "room"]
    path = f"/descent?surface=custom&src={q(source)}&" + "&".join(f"{name}={q(PAYLOAD)}" for name in others)
    probe = open_watched(path)
    if source == PAYLOAD:
        probe.page.locator("[data-testid=custom-error]").wait_for(state="visible")
    assert_shows_as_text(probe.page, "[data-testid=custom-source]", PAYLOAD)
    assert_inert(probe)


def test_a_room_with_html_in_its_state_and_question_stays_inert_for_its_students(open_watched, wire):
    url = "/?src=" + q(f"f = x * 2  # {PAYLOAD}") + "&values=" + q(X_IS_3)
    state = {"source": PAYLOAD, "label": PAYLOAD}
    answer = wire.post("/api/v1/rooms", {"page": "explorer", "url": url, "state": state})
    assert answer.status == 201, str(answer)
    room = answer.json()
    short = "<img src=x onerror=alert(1)>"
    quiz = wire.post(f"/api/v1/rooms/{room['code']}/quiz",
                     {"node": "n1", "label": short, "prompt": PAYLOAD, "answer": -4},
                     {"X-Presenter-Key": room["presenter_key"]})
    assert quiz.status == 200, str(quiz)
    probe = open_watched(f"/?room={room['code']}")
    probe.page.wait_for_selector("svg[data-testid=graph] g.node", state="attached")
    # The student's page follows the teacher's program and shows the question: both as text.
    probe.page.wait_for_function("(text) => document.body.innerText.includes(text)", arg=PAYLOAD)
    assert_shows_as_text(probe.page, "[data-testid=source]", PAYLOAD)
    assert_inert(probe)


@pytest.mark.parametrize("path", [
    f"/api/v1/rooms/{q(PAYLOAD)}", f"/api/v1/rooms/{q(PAYLOAD)}/qr.svg", f"/api/v1/data/points?dataset={q(PAYLOAD)}",
    f"/api/v1/{q(PAYLOAD)}", f"/static/{q(PAYLOAD)}", f"/join/{q(PAYLOAD)}",
], ids=["room", "room-qr", "query", "unknown-route", "static", "join"])
def test_an_error_answer_opened_in_the_browser_is_text_not_a_page(open_watched, path):
    """A link to the API with HTML in it: the refusal is JSON sent with nosniff, so Chromium shows it as text."""
    probe = open_watched(path)
    page = probe.page
    assert page.evaluate("() => document.contentType") in ("application/json", "text/html")
    if page.evaluate("() => document.contentType") == "application/json":
        assert '"error"' in page.evaluate("() => document.body.innerText")
    assert_inert(probe)
