"""The explorer's error box shows exactly the parts an error has, and never the word "null" (Chromium).

An error has a title and a message; a place (a line and column to jump to, or a field) when the
server gave one; and a note that the graph still shows the last program that worked, when there is
one. The first error of a page that never traced has no such note, and an answer such as a 500 has
no place: the box then holds only what there is. Answers the live server would not give (a 500, a
field error, a proxy's HTML 502) are played by intercepting the page's fetch.
"""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from .explorer import EXPECTED_422, wait_for_graph

TRACE = "**/api/v1/trace"
# Chromium logs a failed fetch as a console error itself; the page shows the error in its box instead.
EXPECTED_FAILURES = EXPECTED_422 + ("status of 500", "status of 502")


def error_box(page) -> dict:
    """The error box as a reader sees it: its text, and the class of each part, in order."""
    box = page.locator("[data-testid=error]")
    box.wait_for(state="visible")
    return page.evaluate("""() => {
        const box = document.querySelector('[data-testid=error]');
        return {text: box.innerText, code: box.dataset.code, parts: [...box.children].map((part) => part.className),
                nodes: [...box.childNodes].map((node) => node.nodeType)};
    }""")


def assert_only_elements(box: dict) -> None:
    assert "null" not in box["text"] and "undefined" not in box["text"], box["text"]
    assert set(box["nodes"]) == {1}, f"a bare text node in the error box: {box}"  # 1 = ELEMENT_NODE


def retrace(page, source: str) -> None:
    page.fill("[data-testid=source]", source)
    page.click("[data-testid=trace-button]")


def answer_with(page, status: int, body: str, content_type: str = "application/json") -> None:
    page.unroute(TRACE)
    page.route(TRACE, lambda route: route.fulfill(status=status, body=body, content_type=content_type))


def test_the_first_error_of_a_page_has_its_place_and_no_null(open_page):
    probe = open_page("/?src=" + quote("f = x +") + "&values=" + quote(json.dumps({"x": 1})))
    box = error_box(probe.page)
    assert_only_elements(box)
    assert box["parts"] == ["error-title", "error-message", "link-button"]
    assert box["code"] == "syntax_error"
    assert box["text"].rstrip().endswith("Line 1, column 8 (show in the program)")
    probe.assert_clean(allowed_console=EXPECTED_FAILURES)


@pytest.mark.parametrize("status, body, content_type, parts, shown", [
    (500, json.dumps({"error": {"code": "internal_error", "where": {},
                                "message": "something went wrong on the server; the request was not processed"}}),
     "application/json", ["error-title", "error-message"], "something went wrong on the server"),
    (422, json.dumps({"error": {"code": "unused_value", "where": {"field": "values.x"},
                                "message": "a value was given for 'x', which the program does not use"}}),
     "application/json", ["error-title", "error-message", "error-where"], "In: values.x"),
    (502, "<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html", ["error-title", "error-message"],
     "HTTP 502"),
], ids=["500-no-place", "422-field", "502-not-json"])
def test_an_error_without_a_line_and_column_shows_no_null(open_page, status, body, content_type, parts, shown):
    probe = open_page("/?src=" + quote("f = x +") + "&values=" + quote(json.dumps({"x": 1})))
    page = probe.page
    error_box(page)  # the page's own first error: nothing has been traced yet
    answer_with(page, status, body, content_type)
    retrace(page, "f = x * 2")
    page.wait_for_function("(text) => document.querySelector('[data-testid=error]').innerText.includes(text)",
                           arg=shown)
    box = error_box(page)
    assert_only_elements(box)
    assert box["parts"] == parts
    assert "<html" not in box["text"] and "Bad Gateway" not in box["text"]
    assert page.locator("[data-testid=error-mark]").count() == 0  # no place in the program to mark
    probe.assert_clean(allowed_console=EXPECTED_FAILURES)


def test_an_error_after_a_good_trace_says_the_graph_is_kept_and_shows_no_null(open_page):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)
    retrace(page, "q = x + y\nf = q * * z")
    box = error_box(page)
    assert_only_elements(box)
    assert box["parts"] == ["error-title", "error-message", "link-button", "error-kept"]
    assert "Line 2, column 9 (show in the program)" in box["text"]
    assert box["text"].rstrip().endswith("The graph still shows the last program that worked.")
    answer_with(page, 500, json.dumps({"error": {"code": "internal_error", "message": "boom", "where": {}}}))
    retrace(page, "q = x + y\nf = q * z")
    page.wait_for_function("document.querySelector('[data-testid=error]').dataset.code === 'internal_error'")
    box = error_box(page)
    assert_only_elements(box)
    assert box["parts"] == ["error-title", "error-message", "error-kept"]
    probe.assert_clean(allowed_console=EXPECTED_FAILURES)
