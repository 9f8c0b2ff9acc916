"""The inputs: a number box and a slider per input variable, re-tracing as they change (debounced), a program
edit that brings a new input, a parse error marked under its line and column while the last good graph
stays, and bad numbers caught before the server is asked."""
from __future__ import annotations

import re

from .explorer import EXPECTED_422, MINUS, drawn_nodes, go_to_step, step_index, wait_for_graph


def traces_sent(probe) -> int:
    return sum(url.endswith("/api/v1/trace") for url in probe.requests)


def test_each_input_has_a_number_box_and_a_slider(open_page):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)

    assert page.input_value("[data-testid=source]") == "q = x + y\nf = q * z"
    assert [page.input_value(f"[data-testid=value-{name}]") for name in "xyz"] == ["-2", "5", "-4"]
    assert [page.input_value(f"[data-testid=slider-{name}]") for name in "xyz"] == ["-2", "5", "-4"]
    assert page.get_attribute("[data-testid=slider-x]", "aria-label") == "x: slider"
    assert page.input_value("[data-testid=example-select]") == "worked-example"
    probe.assert_clean()


def test_an_edited_value_retraces_and_keeps_the_step(open_page):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)
    go_to_step(page, 4)

    page.fill("[data-testid=value-x]", f"{MINUS}1")  # a typed real minus sign is read as '-'
    page.wait_for_function("document.querySelector('g.node[data-label=f]').dataset.value === '-16'")
    nodes = drawn_nodes(page)
    assert (nodes["x"]["value"], nodes["q"]["value"]) == ("-1", "4")
    assert step_index(page) == 4, "new numbers, same program: the same step stays on screen"
    assert page.input_value("[data-testid=slider-x]") == "-1"
    assert page.evaluate("JSON.parse(new URLSearchParams(location.search).get('values'))") == {"x": -1, "y": 5, "z": -4}
    probe.assert_clean()


def test_dragging_a_slider_retraces(open_page):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)

    slider = page.locator("[data-testid=slider-z]")
    slider.focus()
    slider.press("ArrowRight")  # one slider step: the range is ±10 in 400 steps of 0.05
    page.wait_for_function("document.querySelector('g.node[data-label=z]').dataset.value === '-3.95'")
    assert page.input_value("[data-testid=value-z]") == "-3.95"
    assert abs(float(drawn_nodes(page)["f"]["value"]) - 3 * -3.95) < 1e-9
    probe.assert_clean()


def test_a_new_name_in_the_program_gets_its_own_box_and_is_traced(open_page):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)

    page.fill("[data-testid=source]", "q = x + y\nf = q * z + w")
    page.locator("[data-testid=value-w]").wait_for()
    assert page.input_value("[data-testid=value-w]") == "1"
    page.wait_for_selector("g.node[data-label=w]")
    assert float(drawn_nodes(page)["f"]["value"]) == -11.0
    assert page.input_value("[data-testid=example-select]") == ""  # now the user's own program
    probe.assert_clean()


def test_a_syntax_error_is_marked_at_its_line_and_column_and_the_last_graph_stays(open_page, artifacts):
    probe = open_page("/", width=375, height=812)
    page = probe.page
    wait_for_graph(page)

    page.fill("[data-testid=source]", "q = x + y\nf = q * ")
    error = page.locator("[data-testid=error]")
    error.wait_for(state="visible")
    assert error.get_attribute("data-code") == "syntax_error"
    assert re.search(r"line 2, column \d+", error.inner_text())
    snippet = page.inner_text("[data-testid=source-error]")
    assert "2 | f = q * " in snippet and "^" in snippet
    caret_column = snippet.splitlines()[1].index("^") - len("2 | ") + 1
    column = int(re.search(r"line 2, column (\d+)", error.inner_text()).group(1))
    assert caret_column == column
    mark = page.locator("[data-testid=error-mark]")
    assert mark.count() == 1
    assert page.get_attribute("[data-testid=source]", "aria-invalid") == "true"

    # The last good graph stays on screen, marked as such.
    assert float(drawn_nodes(page)["f"]["value"]) == -12.0
    assert "stale" in page.get_attribute("#graph-box", "class")
    assert "last program that worked" in page.inner_text("[data-testid=status-line]")
    page.screenshot(path=str(artifacts / "explorer-375-error.png"), full_page=True)

    page.click("[data-testid=error-where]")
    assert page.evaluate("document.activeElement.id") == "source"
    assert page.evaluate("document.activeElement.selectionStart") == len("q = x + y\n") + column - 1

    page.fill("[data-testid=source]", "q = x + y\nf = q * z * 2")
    page.wait_for_function("document.querySelector('g.node[data-label=f]').dataset.value === '-24'")
    assert error.is_hidden() and page.locator("[data-testid=error-mark]").count() == 0
    assert "stale" not in page.get_attribute("#graph-box", "class")
    probe.assert_clean(allowed_console=EXPECTED_422)


def test_a_missing_value_names_its_box(open_page):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)
    page.fill("[data-testid=value-z]", "")
    error = page.locator("[data-testid=error]")
    error.wait_for(state="visible")
    assert "The value of z is not a number" in error.inner_text()
    assert page.get_attribute("[data-testid=value-z]", "aria-invalid") == "true"
    probe.assert_clean()


def test_an_unreadable_value_is_caught_before_asking_the_server(open_page):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)
    before = traces_sent(probe)

    page.fill("[data-testid=value-y]", "five")
    page.click("[data-testid=trace-button]")

    error = page.locator("[data-testid=error]")
    error.wait_for(state="visible")
    assert "The value of y is not a number" in error.inner_text()
    assert traces_sent(probe) == before
    assert float(drawn_nodes(page)["y"]["value"]) == 5.0  # the last good graph
    probe.assert_clean()


def test_ctrl_enter_in_the_program_traces_at_once(open_page):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)

    page.fill("[data-testid=source]", "f = x * y")
    page.press("[data-testid=source]", "Control+Enter")
    page.wait_for_function("document.querySelectorAll('g.node').length === 3")
    page.fill("[data-testid=value-y]", f"{MINUS}3")
    page.press("[data-testid=value-y]", "Enter")
    page.wait_for_function("document.querySelector('g.node[data-label=f]').dataset.value === '6'")
    nodes = drawn_nodes(page)
    assert (float(nodes["x"]["grad"]), float(nodes["y"]["grad"])) == (-3.0, -2.0)
    probe.assert_clean()
