"""The explorer page (/) in a real browser: the worked example's values and gradients as drawn, the steps,
both languages, errors, non-finite values, and a layout that fits a phone and a desktop."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

MINUS = "\u2212"
ROWS = "[data-testid=node-table] tbody tr[data-node-id]"
# The worked example of DESIGN.md: f = (x + y) * z at x = -2, y = 5, z = -4.
WORKED_EXAMPLE = {  # label: (op, value, gradient)
    "x": ("input", -2.0, -4.0),
    "y": ("input", 5.0, -4.0),
    "z": ("input", -4.0, 3.0),
    "q": ("add", 3.0, -4.0),
    "f": ("mul", -12.0, 1.0),
}
# A fetch answered with 4xx is logged by Chromium itself as a console error; the page shows it instead.
EXPECTED_422 = ("status of 422",)


def drawn_rows(page) -> dict[str, dict[str, str]]:
    page.wait_for_selector(ROWS)
    rows = page.eval_on_selector_all(ROWS, """rows => rows.map(row => ({
        ...row.dataset,
        cells: [...row.cells].map(cell => cell.textContent.trim()),
    }))""")
    return {row["label"]: row for row in rows}


def test_worked_example_rows_carry_every_value_and_gradient(open_page):
    probe = open_page("/")
    rows = drawn_rows(probe.page)

    assert sorted(rows) == sorted(WORKED_EXAMPLE)
    for label, (op, value, grad) in WORKED_EXAMPLE.items():
        row = rows[label]
        assert (row["label"], float(row["value"]), float(row["grad"])) == (label, value, grad)
        assert row["cells"][1] == op
        assert row["nodeId"]
    assert rows["f"]["role"] == "output"
    probe.assert_clean()


def test_numbers_are_shown_with_a_real_minus_and_kept_ascii_in_data(open_page):
    probe = open_page("/")
    rows = drawn_rows(probe.page)

    assert rows["x"]["cells"][2:4] == [f"{MINUS}2", f"{MINUS}4"]
    assert rows["f"]["cells"][2:4] == [f"{MINUS}12", "1"]
    assert (rows["x"]["value"], rows["x"]["grad"]) == ("-2", "-4")
    assert probe.page.get_attribute("tr[data-label=x] td.value", "title") == f"{MINUS}2"
    probe.assert_clean()


def test_program_and_input_values_of_the_worked_example_are_shown(open_page):
    probe = open_page("/")
    drawn_rows(probe.page)
    page = probe.page

    assert page.input_value("[data-testid=source]") == "q = x + y\nf = q * z"
    assert page.input_value("[data-testid=values]") == "x = -2\ny = 5\nz = -4"
    assert page.input_value("[data-testid=example-select]") == "worked-example"
    assert "f = " in page.inner_text("[data-testid=status-line]")
    probe.assert_clean()


def test_steps_list_forward_formulas_and_backward_edges(open_page):
    probe = open_page("/")
    drawn_rows(probe.page)
    page = probe.page

    forward = page.eval_on_selector_all("[data-testid=forward-steps] li", "items => items.map(i => i.textContent)")
    assert f"q = x + y = {MINUS}2 + 5 = 3" in forward
    assert f"f = q × z = 3 × ({MINUS}4) = {MINUS}12" in forward
    assert len(forward) == 5

    backward = page.eval_on_selector_all("[data-testid=backward-steps] li", """items => items.map(i => ({
        ...i.dataset, text: i.textContent }))""")
    assert backward[0]["phase"] == "backward" and float(backward[0]["grad"]) == 1.0
    assert "∂f/∂f = 1" in backward[0]["text"]
    ids = {row["label"]: row["nodeId"] for row in drawn_rows(page).values()}
    edges = {(edge["from"], edge["nodeId"]): edge for edge in backward[1:]}
    # upstream × local = contribution, then the gradient accumulated so far
    expected = {("f", "q"): (1, -4, -4, -4), ("f", "z"): (1, 3, 3, 3),
                ("q", "x"): (-4, 1, -4, -4), ("q", "y"): (-4, 1, -4, -4)}
    assert len(edges) == len(expected)
    for (source, target), numbers in expected.items():
        edge = edges[(ids[source], ids[target])]
        assert tuple(float(edge[k]) for k in ("upstream", "local", "contribution", "grad")) == numbers
    assert f"1 × ({MINUS}4) = {MINUS}4" in edges[(ids["f"], ids["q"])]["text"]
    probe.assert_clean()


def test_switching_to_chinese_translates_the_page_and_keeps_it_in_the_link(open_page, artifacts):
    probe = open_page("/", width=375, height=812)
    drawn_rows(probe.page)
    page = probe.page
    assert page.inner_text("#nodes-heading") == "Every node: value and gradient"

    page.click("[data-testid=lang-zh]")

    assert page.get_attribute("html", "lang") == "zh-Hans"
    assert page.inner_text("#nodes-heading") == "每个节点：值与梯度"
    assert page.inner_text("[data-testid=trace-button]") == "计算"
    assert page.title() == "反向传播探索器"
    assert "前向传播" in page.inner_text("#steps")
    assert parse_qs(urlsplit(page.url).query)["lang"] == ["zh"]
    assert page.get_attribute("[data-testid=lang-zh]", "aria-pressed") == "true"
    page.screenshot(path=str(artifacts / "explorer-375-zh.png"), full_page=True)

    page.reload()
    rows = drawn_rows(page)
    assert page.inner_text("#nodes-heading") == "每个节点：值与梯度"
    assert float(rows["x"]["grad"]) == -4.0

    page.click("[data-testid=lang-en]")
    assert page.inner_text("#nodes-heading") == "Every node: value and gradient"
    assert parse_qs(urlsplit(page.url).query)["lang"] == ["en"]
    probe.assert_clean()


def test_a_chinese_browser_gets_the_chinese_page_without_asking(open_page):
    probe = open_page("/", locale="zh-CN")
    drawn_rows(probe.page)
    assert probe.page.get_attribute("html", "lang") == "zh-Hans"
    assert probe.page.inner_text(".brand") == "反向传播探索器"
    probe.assert_clean()


def test_both_translation_tables_have_the_same_keys(open_page):
    probe = open_page("/")
    drawn_rows(probe.page)
    missing = probe.page.evaluate("import('/static/js/i18n.js').then(module => module.missingKeys())")
    assert missing == {}
    probe.assert_clean()


def test_a_syntax_error_shows_its_message_with_line_and_column(open_page, artifacts):
    probe = open_page("/", width=375, height=812)
    drawn_rows(probe.page)
    page = probe.page

    page.fill("[data-testid=source]", "q = x +\nf = q * z")
    page.click("[data-testid=trace-button]")

    error = page.locator("[data-testid=error]")
    error.wait_for(state="visible")
    assert error.get_attribute("data-code") == "syntax_error"
    assert re.search(r"line 1, column \d+", error.inner_text())
    assert page.locator("[data-testid=node-table]").is_hidden()
    in_view = page.evaluate("""() => { const box = document.querySelector('[data-testid=error]').getBoundingClientRect();
        return box.top >= 0 && box.top < window.innerHeight; }""")
    assert in_view, "after Trace the error must be on screen, not above it"
    page.screenshot(path=str(artifacts / "explorer-375-error.png"), full_page=True)
    page.click("[data-testid=error-where]")
    assert page.evaluate("document.activeElement.id") == "source"
    probe.assert_clean(allowed_console=EXPECTED_422)


def test_a_missing_input_value_names_the_field(open_page):
    probe = open_page("/")
    drawn_rows(probe.page)
    page = probe.page

    page.fill("[data-testid=values]", "x = -2\ny = 5")
    page.click("[data-testid=trace-button]")

    error = page.locator("[data-testid=error]")
    error.wait_for(state="visible")
    assert error.get_attribute("data-code") == "missing_value"
    assert "'z'" in error.inner_text() and "values.z" in error.inner_text()
    probe.assert_clean(allowed_console=EXPECTED_422)


def test_unreadable_input_values_are_caught_before_asking_the_server(open_page):
    probe = open_page("/")
    drawn_rows(probe.page)
    page = probe.page
    traces_before = sum(url.endswith("/api/v1/trace") for url in probe.requests)

    page.fill("[data-testid=values]", "x = -2\ny = five")
    page.click("[data-testid=trace-button]")

    error = page.locator("[data-testid=error]")
    error.wait_for(state="visible")
    assert "Input values, line 2" in error.inner_text()
    assert sum(url.endswith("/api/v1/trace") for url in probe.requests) == traces_before
    probe.assert_clean()


def test_a_non_finite_value_gets_a_marker_and_a_sentence(open_page, artifacts):
    probe = open_page("/?example=numerically-bad")
    rows = drawn_rows(probe.page)
    page = probe.page

    u, f = rows["u"], rows["f"]
    assert (u["status"], u["value"]) == ("div0", "NaN")
    assert u["cells"][2] == "⚠ division by zero"
    assert (f["status"], f["value"]) == ("nan", "NaN")
    assert "⚠" in f["cells"][4]
    problems = page.eval_on_selector_all("[data-testid=problems] li", "items => items.map(i => i.textContent)")
    assert any("u is infinite because of a division by zero" in text for text in problems)
    assert any("value of f is not a number" in text and "It began at u." in text for text in problems)
    assert any("∂f/∂x is not a number" in text for text in problems)
    assert "⚠ not a number" in page.inner_text("[data-testid=status-line]")
    bad_edges = page.eval_on_selector_all("[data-testid=backward-steps] li.bad", "items => items.map(i => i.innerText)")
    assert "⚠ infinite" in bad_edges[0]  # 1 × (−∞) on the edge f → x
    assert "⚠ not a number" in bad_edges[-1]  # 0 × ∞ on the edge u → x
    page.screenshot(path=str(artifacts / "explorer-1280-non-finite.png"), full_page=True)
    probe.assert_clean()


def test_a_traced_program_is_kept_in_the_link(open_page):
    probe = open_page("/")
    drawn_rows(probe.page)
    page = probe.page

    page.fill("[data-testid=source]", "f = x * x")
    page.fill("[data-testid=values]", "x = 3")
    page.click("[data-testid=trace-button]")
    page.wait_for_function("document.querySelectorAll('tr[data-node-id]').length === 2")
    assert float(drawn_rows(page)["x"]["grad"]) == 6.0

    page.reload()
    rows = drawn_rows(page)
    assert page.input_value("[data-testid=source]") == "f = x * x"
    assert (float(rows["f"]["value"]), float(rows["x"]["grad"])) == (9.0, 6.0)
    probe.assert_clean()


def test_choosing_an_example_traces_it_and_names_it_in_the_link(open_page):
    probe = open_page("/")
    drawn_rows(probe.page)
    page = probe.page

    page.select_option("[data-testid=example-select]", "used-twice")
    page.wait_for_function("document.querySelector('tr[data-label=c]') !== null")
    rows = drawn_rows(page)
    assert (float(rows["a"]["grad"]), float(rows["b"]["grad"]), float(rows["c"]["value"])) == (4.0, 2.0, 12.0)
    assert parse_qs(urlsplit(page.url).query)["example"] == ["used-twice"]
    assert "gradients add up" not in page.inner_text("[data-testid=example-explain]")  # the explanation, not the title
    assert "dc/da = 2 + 2 = 4" in page.inner_text("[data-testid=example-explain]")
    probe.assert_clean()


def test_ctrl_enter_in_the_program_traces_it(open_page):
    probe = open_page("/")
    drawn_rows(probe.page)
    page = probe.page

    page.fill("[data-testid=source]", "f = x * y")
    page.fill("[data-testid=values]", "x = 2\ny = \u22123")  # a typed real minus sign is read as '-'
    page.press("[data-testid=values]", "Control+Enter")
    page.wait_for_function("document.querySelectorAll('tr[data-node-id]').length === 3")
    rows = drawn_rows(page)
    assert (float(rows["f"]["value"]), float(rows["x"]["grad"]), float(rows["y"]["grad"])) == (-6.0, -3.0, 2.0)
    probe.assert_clean()


@pytest.mark.parametrize("width,height", [(375, 812), (1280, 900)], ids=["phone-375", "desktop-1280"])
def test_the_page_fits_the_screen_with_thumb_sized_controls(open_page, artifacts, width, height):
    probe = open_page("/", width=width, height=height)
    drawn_rows(probe.page)
    page = probe.page

    page.screenshot(path=str(artifacts / f"explorer-{width}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the page scrolls sideways"
    too_small = page.evaluate("""() => [...document.querySelectorAll('button, select, summary, a.tab')]
        .filter(el => el.offsetParent !== null)
        .map(el => ({ name: el.dataset.testid || el.textContent.trim(), height: el.getBoundingClientRect().height }))
        .filter(control => control.height < 44)""")
    assert too_small == []
    probe.assert_clean()
