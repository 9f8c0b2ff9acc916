"""The explorer page (/) in a real browser: the table view of every node's value and gradient, the list of
every step, both languages, non-finite values, examples in the link, and a layout that fits a phone and a
desktop with thumb-sized controls."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from .explorer import MINUS, WORKED_EXAMPLE, drawn_nodes, switch_language, wait_for_graph

ROWS = "[data-testid=node-table] tbody tr[data-node-id]"


def table_rows(page) -> dict[str, dict[str, str]]:
    """The table view (for screen readers and for copying numbers): one row per node, full precision."""
    wait_for_graph(page)
    if not page.locator("[data-testid=node-table]").is_visible():
        page.click("[data-testid=view-table]")
    page.wait_for_selector(ROWS)
    rows = page.eval_on_selector_all(ROWS, """rows => rows.map(row => ({
        ...row.dataset,
        cells: [...row.cells].map(cell => cell.textContent.trim()),
    }))""")
    return {row["label"]: row for row in rows}


def open_steps(page) -> None:
    if page.get_attribute("#steps", "open") is None:
        page.click("#steps > summary")
    page.wait_for_selector("[data-testid=forward-steps] li")


def test_the_table_view_lists_every_value_and_gradient(open_page, artifacts):
    probe = open_page("/")
    rows = table_rows(probe.page)

    assert sorted(rows) == sorted(WORKED_EXAMPLE)
    for label, (op, value, grad) in WORKED_EXAMPLE.items():
        row = rows[label]
        assert (row["label"], float(row["value"]), float(row["grad"])) == (label, value, grad)
        assert row["cells"][1] == op
        assert row["nodeId"]
    assert rows["f"]["role"] == "output"
    assert probe.page.locator("[data-testid=graph]").is_hidden()
    assert probe.page.get_attribute("[data-testid=view-table]", "aria-pressed") == "true"
    probe.page.screenshot(path=str(artifacts / "explorer-1280-table.png"), full_page=True)

    probe.page.click("[data-testid=view-graph]")
    assert probe.page.locator("[data-testid=graph]").is_visible()
    probe.assert_clean()


def test_numbers_are_shown_with_a_real_minus_and_kept_ascii_in_data(open_page):
    probe = open_page("/")
    rows = table_rows(probe.page)

    assert rows["x"]["cells"][2:4] == [f"{MINUS}2", f"{MINUS}4"]
    assert rows["f"]["cells"][2:4] == [f"{MINUS}12", "1"]
    assert (rows["x"]["value"], rows["x"]["grad"]) == ("-2", "-4")
    assert probe.page.get_attribute("tr[data-label=x] td.value", "title") == f"{MINUS}2"
    probe.assert_clean()


def test_the_status_line_names_the_output(open_page):
    probe = open_page("/")
    wait_for_graph(probe.page)
    assert probe.page.inner_text("[data-testid=status-line]") == f"Output f = {MINUS}12 · nodes: 5 · steps: 10"
    probe.assert_clean()


def test_steps_list_forward_formulas_and_backward_edges_and_jump_to_a_step(open_page):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)
    open_steps(page)

    forward = page.eval_on_selector_all("[data-testid=forward-steps] li", "items => items.map(i => i.textContent)")
    assert f"q = x + y = {MINUS}2 + 5 = 3" in forward
    assert f"f = q × z = 3 × ({MINUS}4) = {MINUS}12" in forward
    assert len(forward) == 5

    backward = page.eval_on_selector_all("[data-testid=backward-steps] li", """items => items.map(i => ({
        ...i.dataset, text: i.textContent }))""")
    assert backward[0]["phase"] == "backward" and float(backward[0]["grad"]) == 1.0
    assert "∂f/∂f = 1" in backward[0]["text"]
    ids = {label: node["nodeId"] for label, node in drawn_nodes(page).items()}
    edges = {(edge["from"], edge["nodeId"]): edge for edge in backward[1:]}
    # upstream × local = contribution, then the gradient accumulated so far
    expected = {("f", "q"): (1, -4, -4, -4), ("f", "z"): (1, 3, 3, 3),
                ("q", "x"): (-4, 1, -4, -4), ("q", "y"): (-4, 1, -4, -4)}
    assert len(edges) == len(expected)
    for (source, target), numbers in expected.items():
        edge = edges[(ids[source], ids[target])]
        assert tuple(float(edge[k]) for k in ("upstream", "local", "contribution", "grad")) == numbers
    assert f"1 × ({MINUS}4) = {MINUS}4" in edges[(ids["f"], ids["q"])]["text"]

    page.click("[data-testid=forward-steps] li[data-step-index='2']")
    assert page.get_attribute("[data-testid=timeline]", "data-step") == "2"
    assert page.get_attribute("[data-testid=forward-steps] li[data-step-index='2']", "aria-current") == "step"
    probe.assert_clean()


def test_switching_to_chinese_translates_the_page_and_keeps_it_in_the_link(open_page, artifacts):
    probe = open_page("/", width=375, height=812)
    page = probe.page
    wait_for_graph(page)
    assert page.inner_text("#picture-heading") == "Computational graph"

    switch_language(page, "zh")

    assert page.get_attribute("html", "lang") == "zh-Hans"
    assert page.inner_text("#picture-heading") == "计算图"
    assert page.inner_text("[data-testid=trace-button]") == "计算"
    assert page.inner_text("#explain-heading") == "这一步"
    assert page.title() == "反向传播探索器"
    assert "前向传播" in page.text_content("#steps")
    assert "第 10 步，共 10 步" in page.inner_text("[data-testid=step-counter]")
    assert "反向传播" in page.inner_text("[data-testid=step-phase]")
    assert parse_qs(urlsplit(page.url).query)["lang"] == ["zh"]
    assert page.get_attribute("[data-testid=lang-zh]", "aria-pressed") == "true"
    page.screenshot(path=str(artifacts / "explorer-375-zh.png"), full_page=True)

    page.reload()
    wait_for_graph(page)
    assert page.inner_text("#picture-heading") == "计算图"
    assert float(drawn_nodes(page)["x"]["grad"]) == -4.0

    switch_language(page, "en")
    assert page.inner_text("#picture-heading") == "Computational graph"
    assert parse_qs(urlsplit(page.url).query)["lang"] == ["en"]
    probe.assert_clean()


def test_a_chinese_browser_gets_the_chinese_page_without_asking(open_page):
    probe = open_page("/", locale="zh-CN")
    wait_for_graph(probe.page)
    assert probe.page.get_attribute("html", "lang") == "zh-Hans"
    assert probe.page.inner_text(".brand") == "反向传播探索器"
    assert "梯度" in probe.page.inner_text("[data-testid=sentence]")
    probe.assert_clean()


def test_both_translation_tables_have_the_same_keys(open_page):
    probe = open_page("/")
    wait_for_graph(probe.page)
    missing = probe.page.evaluate("import('/static/js/i18n.js').then(module => module.missingKeys())")
    assert missing == {}
    probe.assert_clean()


def test_a_non_finite_value_gets_a_marker_and_a_sentence(open_page, artifacts):
    probe = open_page("/?example=numerically-bad")
    page = probe.page
    nodes = drawn_nodes(page)
    assert nodes["u"]["status"] == "div0" and "⚠" in nodes["u"]["valueText"]
    assert "bad" in page.get_attribute("g.node[data-label=u]", "class")
    rows = table_rows(page)

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
    open_steps(page)
    bad_edges = page.eval_on_selector_all("[data-testid=backward-steps] li.bad", "items => items.map(i => i.innerText)")
    assert "⚠ infinite" in bad_edges[0]  # 1 × (−∞) on the edge f → x
    assert "⚠ not a number" in bad_edges[-1]  # 0 × ∞ on the edge u → x
    page.screenshot(path=str(artifacts / "explorer-1280-non-finite.png"), full_page=True)
    probe.assert_clean()


def test_a_traced_program_is_kept_in_the_link(open_page):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)

    page.fill("[data-testid=source]", "f = x * x")
    page.fill("[data-testid=value-x]", "3")
    page.click("[data-testid=trace-button]")
    page.wait_for_function("document.querySelector('g.node[data-label=x]')?.dataset.grad === '6'")

    page.reload()
    nodes = drawn_nodes(page)
    assert page.input_value("[data-testid=source]") == "f = x * x"
    assert (float(nodes["f"]["value"]), float(nodes["x"]["grad"])) == (9.0, 6.0)
    probe.assert_clean()


def test_choosing_an_example_traces_it_and_names_it_in_the_link(open_page):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)

    page.select_option("[data-testid=example-select]", "used-twice")
    page.wait_for_function("document.querySelector('g.node[data-label=c]') !== null")
    nodes = drawn_nodes(page)
    assert (float(nodes["a"]["grad"]), float(nodes["b"]["grad"]), float(nodes["c"]["value"])) == (4.0, 2.0, 12.0)
    assert parse_qs(urlsplit(page.url).query)["example"] == ["used-twice"]
    assert "gradients add up" not in page.inner_text("[data-testid=example-explain]")  # the explanation, not the title
    assert "dc/da = 2 + 2 = 4" in page.inner_text("[data-testid=example-explain]")
    probe.assert_clean()


@pytest.mark.parametrize("width,height", [(375, 812), (1280, 900)], ids=["phone-375", "desktop-1280"])
def test_the_page_fits_the_screen_with_thumb_sized_controls(open_page, artifacts, width, height):
    probe = open_page("/", width=width, height=height)
    page = probe.page
    wait_for_graph(page)

    page.screenshot(path=str(artifacts / f"explorer-{width}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the page scrolls sideways"
    too_small = page.evaluate("""() => [...document.querySelectorAll(
            'button, select, summary, a.tab, input[type=text], input[type=range]')]
        .filter(el => el.offsetParent !== null)
        .map(el => ({ name: el.dataset.testid || el.textContent.trim(), height: el.getBoundingClientRect().height }))
        .filter(control => control.height < 44)""")
    assert too_small == []
    probe.assert_clean()


def test_on_a_phone_the_picture_comes_first_then_timeline_explanation_and_inputs(open_page):
    probe = open_page("/", width=375, height=812)
    page = probe.page
    wait_for_graph(page)
    tops = page.evaluate("""() => Object.fromEntries(['graph', 'timeline', 'explanation', 'program-form'].map(id =>
        [id, document.querySelector(`[data-testid=${id}]`).getBoundingClientRect().top + scrollY]))""")
    assert tops["graph"] < tops["timeline"] < tops["explanation"] < tops["program-form"]
    assert page.locator("#inputs-details > summary").is_visible()  # the inputs fold away
    probe.assert_clean()


def test_the_table_view_follows_the_step_like_the_graph(open_page):
    probe = open_page("/?view=table")
    page = probe.page
    rows = table_rows(page)
    assert float(rows["x"]["grad"]) == -4.0  # opened on the last step
    page.keyboard.press("Home")
    page.wait_for_function("document.querySelector('tr[data-label=q]').dataset.value === ''")
    rows = table_rows(page)
    assert (rows["x"]["value"], rows["x"]["grad"]) == ("-2", "")
    assert rows["q"]["cells"][2:4] == ["not yet", "not yet"]
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("document.querySelector('tr[data-label=q]').dataset.value === '3'")
    probe.assert_clean()
