"""The computational graph as drawn in SVG: every node's label, op, value and gradient read from the drawn
nodes, what is known before each step, local derivatives on the edges, the sum where two gradients meet,
tensor nodes, and pan, zoom and fit-to-view."""
from __future__ import annotations

import re

from .explorer import MINUS, NODES, WORKED_EXAMPLE, WORKED_STEPS, drawn_nodes, go_to_step, press, shown, step_count, \
    step_index, wait_for_graph


def test_the_worked_example_stepped_to_the_end_shows_every_value_and_gradient(open_page, artifacts):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)
    press(page, "Home")
    assert step_index(page) == 0
    assert step_count(page) == WORKED_STEPS

    press(page, "ArrowRight", WORKED_STEPS - 1)
    page.wait_for_function(f"document.querySelector('[data-testid=timeline]').dataset.step === '{WORKED_STEPS - 1}'")
    nodes = drawn_nodes(page)

    assert sorted(nodes) == sorted(WORKED_EXAMPLE)
    for label, (op, value, grad) in WORKED_EXAMPLE.items():
        node = nodes[label]
        assert (node["op"], float(node["value"]), float(node["grad"])) == (op, value, grad), label
        assert node["nodeId"]
    assert nodes["x"]["valueText"] == f"= {MINUS}2" and nodes["x"]["gradText"] == f"∇ {MINUS}4"
    assert nodes["f"]["valueText"] == f"= {MINUS}12" and nodes["f"]["gradText"] == "∇ 1"
    assert "value: −2" in nodes["x"]["title"] and "gradient: −4" in nodes["x"]["title"]
    page.screenshot(path=str(artifacts / "explorer-1280-end.png"), full_page=True)
    probe.assert_clean()


def test_before_a_step_its_numbers_are_not_shown(open_page, artifacts):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)

    go_to_step(page, 0)  # x = -2 computed, nothing else
    assert shown(drawn_nodes(page)) == {"x": ("-2", ""), "y": ("", ""), "q": ("", ""), "z": ("", ""), "f": ("", "")}
    assert drawn_nodes(page)["x"]["current"]

    go_to_step(page, 4)  # the forward pass is over, no gradient yet
    nodes = drawn_nodes(page)
    assert {label: node["grad"] for label, node in nodes.items()} == dict.fromkeys(WORKED_EXAMPLE, "")
    assert float(nodes["f"]["value"]) == -12.0
    assert nodes["q"]["gradText"] == "∇ ?"
    page.screenshot(path=str(artifacts / "explorer-1280-forward.png"))

    go_to_step(page, 6)  # seed, then f -> q
    nodes = drawn_nodes(page)
    assert (nodes["f"]["grad"], nodes["q"]["grad"], nodes["z"]["grad"], nodes["x"]["grad"]) == ("1", "-4", "", "")
    probe.assert_clean()


def test_backward_edges_show_upstream_times_local_then_their_local_derivative(open_page, artifacts):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)
    ids = {label: node["nodeId"] for label, node in drawn_nodes(page).items()}

    go_to_step(page, 4)
    assert page.locator("g.edge-label:not([hidden])").count() == 0, "no local derivative before the backward pass"

    go_to_step(page, 6)  # the gradient flows from f into q: 1 × (−4) = −4
    active = page.locator("g.edge-label.active")
    assert active.count() == 1
    assert active.get_attribute("data-key") == f"{ids['f']}:0"
    assert active.text_content() == f"1 × ({MINUS}4) = {MINUS}4"
    assert page.locator(f"path.edge.active-bwd[data-source='{ids['q']}'][data-target='{ids['f']}']").count() == 1
    page.screenshot(path=str(artifacts / "explorer-1280-backward.png"))

    press(page, "End")  # every edge crossed; the last one (q -> y) is the step on screen
    labels = page.eval_on_selector_all("g.edge-label:not([hidden])", "gs => gs.map(g => [g.dataset.key, g.textContent])")
    assert dict(labels) == {f"{ids['f']}:0": f"local ({MINUS}4)", f"{ids['f']}:1": "local 3",
                            f"{ids['q']}:0": "local 1", f"{ids['q']}:1": f"{MINUS}4 × 1 = {MINUS}4"}
    press(page, "ArrowLeft")  # back to q -> x: the edge into y has not been crossed yet
    assert page.get_attribute(f"g.edge-label[data-key='{ids['q']}:1']", "hidden") is not None
    assert page.text_content("g.edge-label.active") == f"{MINUS}4 × 1 = {MINUS}4"
    assert page.get_attribute("g.edge-label.active", "data-key") == f"{ids['q']}:0"
    probe.assert_clean()


def test_gradients_from_two_uses_of_a_value_meet_in_a_sum(open_page, artifacts):
    probe = open_page("/?example=used-twice")  # b = a + a; c = b + b
    page = probe.page
    wait_for_graph(page)
    count = step_count(page)

    go_to_step(page, count - 1)  # the last edge: the second use of a
    assert page.locator("[data-testid=sum-badge]").text_content() == "2 + 2 = 4"
    assert float(drawn_nodes(page)["a"]["grad"]) == 4.0
    assert "add up: 2 + 2 = 4" in page.inner_text("[data-testid=sentence]")
    page.screenshot(path=str(artifacts / "explorer-1280-used-twice.png"))

    press(page, "ArrowLeft")  # the first use of a: 2, no sum yet
    assert page.locator("[data-testid=sum-badge]").count() == 0
    assert float(drawn_nodes(page)["a"]["grad"]) == 2.0
    probe.assert_clean()


def test_a_tensor_node_shows_its_shape_and_a_heatmap(open_page, artifacts):
    probe = open_page('/?src=f%20%3D%20x%20*%20w%20%2B%20b&values={"x":[[1,2],[3,4]],"w":[1,-1],"b":0.5}')
    page = probe.page
    wait_for_graph(page)
    press(page, "End")
    nodes = drawn_nodes(page)

    assert nodes["x"]["valueText"] == "= [2×2]"
    assert nodes["x"]["value"] == "[[1,2],[3,4]]"
    assert nodes["w"]["grad"] == "[4,6]"
    cells = page.locator(f"{NODES}[data-label=x] .heatmap-value .cells rect")
    assert cells.count() == 4
    assert len(set(cells.evaluate_all("rects => rects.map(r => r.getAttribute('fill'))"))) == 4
    assert page.locator(f"{NODES}[data-label=b] .heatmap-value").count() == 0  # a scalar has none
    page.screenshot(path=str(artifacts / "explorer-1280-tensor.png"))
    probe.assert_clean()


def test_the_graph_fits_its_box_on_load_then_zooms_and_pans(open_page):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)

    def inside() -> bool:
        return page.evaluate("""() => {
            const box = document.querySelector('[data-testid=graph]').getBoundingClientRect();
            return [...document.querySelectorAll('g.node')].every(g => {
                const r = g.getBoundingClientRect();
                return r.left >= box.left - 1 && r.right <= box.right + 1 && r.top >= box.top - 1
                    && r.bottom <= box.bottom + 1;
            });
        }""")

    def transform() -> str:
        return page.get_attribute("svg[data-testid=graph] g.viewport", "transform")

    assert inside()
    before = transform()
    page.click("[data-testid=zoom-in]")
    page.wait_for_timeout(350)
    zoomed = transform()
    assert zoomed != before
    scale = lambda text: float(re.search(r"scale\(([\d.]+)\)", text).group(1))  # noqa: E731
    assert scale(zoomed) > scale(before)

    box = page.locator("[data-testid=graph]").bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + 80, box["y"] + 60, steps=4)
    page.mouse.up()
    assert transform() != zoomed

    page.click("[data-testid=zoom-fit]")
    page.wait_for_timeout(350)
    assert inside()
    probe.assert_clean()
