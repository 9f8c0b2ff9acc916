"""The URL holds the whole view: a copied link opens elsewhere on the same program, values, step, view and
language, and whatever a URL says is clamped to the server's limits."""
from __future__ import annotations

from urllib.parse import urlencode

from .explorer import drawn_nodes, go_to_step, shown, step_count, step_index, switch_language, url_param, \
    wait_for_graph


def test_a_copied_link_reopens_on_the_same_step(open_page, chromium, live_server):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)
    page.fill("[data-testid=value-y]", "6")
    page.wait_for_function("document.querySelector('g.node[data-label=y]').dataset.value === '6'")
    go_to_step(page, 7)
    switch_language(page, "zh")
    seen = shown(drawn_nodes(page))

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("[data-testid=share]")
    note = page.locator("[data-testid=share-note]")
    note.wait_for(state="visible")
    link = note.get_attribute("data-link")
    assert page.evaluate("navigator.clipboard.readText()") == link
    assert url_param(page, "step") == "7"

    elsewhere = chromium.new_context(viewport={"width": 375, "height": 812}, locale="en-US")
    try:
        other = elsewhere.new_page()
        other.goto(link)
        wait_for_graph(other)
        assert step_index(other) == 7
        assert shown(drawn_nodes(other)) == seen
        assert other.get_attribute("html", "lang") == "zh-Hans"
        assert other.input_value("[data-testid=value-y]") == "6"
    finally:
        elsewhere.close()
    probe.assert_clean()


def test_stepping_writes_the_step_into_the_link_and_a_reload_keeps_it(open_page):
    probe = open_page("/?example=used-twice")
    page = probe.page
    wait_for_graph(page)
    go_to_step(page, 3)
    page.wait_for_function("new URLSearchParams(location.search).get('step') === '3'")
    page.click("[data-testid=view-table]")
    assert url_param(page, "view") == "table"

    page.reload()
    wait_for_graph(page)
    assert step_index(page) == 3
    assert page.locator("[data-testid=node-table]").is_visible()
    assert url_param(page, "example") == "used-twice"
    probe.assert_clean()


def test_whatever_the_url_says_is_clamped_to_the_limits(open_page, live_server):
    limits = __import__("engine.limits", fromlist=["LIMITS"]).LIMITS
    query = urlencode({
        "step": "999999999",  # beyond any trace: the last step
        "lr": "1e99",  # beyond max_learning_rate
        "params": "x,not a name,y," + "a" * 100,
        "panels": "descent,<script>,gradcheck",
        "view": "sideways",
        "values": '{"x": 1e300, "y": 2, "z": -4, "bad name": 1}',
        "src": "q = x + y\nf = q * z",
        "lang": "xx",
    })
    probe = open_page("/?" + query)
    page = probe.page
    wait_for_graph(page)

    assert step_index(page) == step_count(page) - 1
    clamped = page.evaluate("""async () => {
        const { readState } = await import('/static/js/state.js');
        const limits = await (await fetch('/api/v1/limits')).json();
        return readState(location.search, limits);
    }""")
    assert clamped["step"] == limits.max_steps - 1
    assert clamped["lr"] == limits.max_learning_rate
    assert clamped["params"] == ["x", "y"]
    assert clamped["panels"] == ["descent", "gradcheck"]
    assert clamped["view"] is None and clamped["lang"] is None
    assert clamped["values"] == {"y": 2, "z": -4}  # 1e300 is beyond max_abs_value, "bad name" is no name
    # x lost its value, so its box starts at 1: (1 + 2) * -4
    assert float(drawn_nodes(page)["f"]["value"]) == -12.0
    assert page.input_value("[data-testid=value-x]") == "1"
    probe.assert_clean()


def test_panels_read_and_write_their_own_url_fields_through_the_context(open_page):
    probe = open_page("/?lr=0.25&params=x,z")
    page = probe.page
    wait_for_graph(page)
    result = page.evaluate("""async () => {
        const { urlState } = await import('/static/js/state.js');
        const limits = await (await fetch('/api/v1/limits')).json();
        const state = urlState(limits, ['panels', 'lr', 'params']);
        const read = [state.get('lr'), state.get('params')];
        const written = state.set('lr', 1e-30);
        let refused = null;
        try { state.set('src', 'x'); } catch (error) { refused = error.message; }
        state.set('params', []);
        return { read, written, refused, search: location.search };
    }""")
    assert result["read"] == [0.25, ["x", "z"]]
    assert result["written"] == 1e-12  # clamped to min_learning_rate
    assert "src" in result["refused"]
    assert "params=" not in result["search"]
    probe.assert_clean()
