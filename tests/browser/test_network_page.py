"""The network page (/network) in Chromium against the real server: one iteration stepped through layer by
layer (forward, backward, update) with the numbers on the drawn lines and neurons, and the same iteration
neuron by neuron, agreeing number for number; training with a live loss curve and a boundary that changes;
pause, step and reset; the optimizers compared; every optimizer of the API with its settings; a divergent
learning rate explained in words at the layer and unit the server names; zoom and pan from the keyboard;
both languages; a phone's width; the keyboard; the link."""
from __future__ import annotations

import json
import math
import re
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest

from .network import (MINUS, network_url, go_to_stage, neurons, stage, switch_view, wait_for_network,
                      wait_for_stages, wait_for_training_to_stop, wait_for_zoom, weights, zoom)

# A 4xx answer (a bad upload) is logged by Chromium itself as a console error; the page shows it instead.
EXPECTED_422 = ("status of 422",)
# Stages of an iteration of a net with L weight layers: inputs, forward 1..L, loss, backward L..1, update.
INPUTS, FORWARD_1, FORWARD_2, LOSS, BACKWARD_2, BACKWARD_1, UPDATE = range(7)
# The same 2 -> 3 -> 1 neuron by neuron: inputs, layer 1's units 1..3 and layer 2's unit forward, the loss,
# layer 2's unit and layer 1's units 1..3 backward, the update.
NEURON_STAGES = 11
N_FORWARD_1_1, N_FORWARD_1_2, N_LOSS, N_BACKWARD_2_1, N_BACKWARD_1_1, N_BACKWARD_1_2, N_UPDATE = 1, 2, 5, 6, 7, 8, 10


def four(x: float) -> str:
    """A number as the page writes it in formulas: 4 significant digits (for sizes between 0.001 and 10^5)."""
    return f"{x:.4g}"


SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def shown(x: float) -> str:
    """A number as the page writes it in text: 4 significant digits, a real minus, 6.277×10⁵ when large."""
    if 1e-3 <= abs(x) < 1e5:
        return four(x).replace("-", MINUS)
    mantissa, exponent = f"{x:.3e}".split("e")
    return f"{float(mantissa):g}".replace("-", MINUS) + "×10" + str(int(exponent)).translate(SUPERSCRIPTS)


def api(live_server: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(live_server + path, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def api_iteration(live_server: str, body: dict) -> dict:
    return api(live_server, "/api/v1/network/iteration", body)


SMALL_BODY = {
    "layers": [{"units": 3, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}], "loss": "bce",
    "data": {"dataset": "moons", "points": 40, "noise": 0.1, "seed": 0}, "test_fraction": 0.2,
    "optimizer": {"name": "sgd", "learning_rate": 0.5}, "batch_size": None, "seed": 0, "view": "layer",
}


def node_values(answer: dict) -> dict[str, dict]:
    return {node["label"]: node for node in answer["trace"]["nodes"]}


def test_stepping_through_one_iteration_forward_backward_and_update(open_page, live_server, artifacts):
    probe = open_page(network_url())
    page = probe.page
    wait_for_network(page)
    assert page.get_attribute("svg[data-testid=network]", "data-sizes") == "2-3-1"
    assert page.inner_text("[data-testid=step-counter]") == "Step 1 of 7"

    # The inputs: the weights are the seeded ones, no gradient yet; the inputs show sample 1.
    start = weights(page)
    assert len(start) == 3 * 2 + 1 * 3
    assert all(line["grad"] == "" and line["weight"] != "" for line in start.values())
    truth = node_values(api_iteration(live_server, SMALL_BODY))
    for (layer, to, source), line in start.items():
        assert float(line["weight"]) == truth[f"W{layer}"]["value"][to][source]
    drawn = neurons(page)
    x = [float(drawn[(0, j)]["value"]) for j in range(2)]
    assert x == [truth["X"]["value"][j][0] for j in range(2)]
    assert drawn[(1, 0)]["value"] == "" and drawn[(2, 0)]["value"] == ""

    # Forward, layer 1: each unit of layer 1 is tanh(w . x + b) of the sample shown, from the drawn numbers.
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('g.neuron[data-layer=\"1\"]').dataset.value !== ''")
    drawn = neurons(page)
    lines = weights(page)
    for unit in range(3):
        z = sum(float(lines[(1, unit, j)]["weight"]) * x[j] for j in range(2)) + float(drawn[(1, unit)]["bias"])
        assert float(drawn[(1, unit)]["value"]) == pytest.approx(math.tanh(z), rel=1e-12, abs=1e-15)
    assert drawn[(2, 0)]["value"] == ""
    assert "forward, layer 1" in page.inner_text("[data-testid=step-phase]")
    assert page.locator("[data-testid=formula] .katex").count() >= 2

    # Forward, layer 2: the output is sigmoid(w . a1 + b).
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('g.neuron[data-layer=\"2\"]').dataset.value !== ''")
    drawn = neurons(page)
    a1 = [float(drawn[(1, i)]["value"]) for i in range(3)]
    z2 = sum(float(lines[(2, 0, i)]["weight"]) * a1[i] for i in range(3)) + float(drawn[(2, 0)]["bias"])
    assert float(drawn[(2, 0)]["value"]) == pytest.approx(1 / (1 + math.exp(-z2)), rel=1e-12)

    # The loss, then backward layer by layer: the last layer's gradients first, the first layer's later.
    go_to_stage(page, BACKWARD_2)
    assert page.get_attribute("svg[data-testid=network]", "data-mode") == "backward"
    lines = weights(page)
    assert all(lines[(2, 0, i)]["grad"] != "" for i in range(3))
    assert all(lines[(1, i, j)]["grad"] == "" for i in range(3) for j in range(2))
    assert "idle" in lines[(1, 0, 0)]["cls"]
    output = neurons(page)[(2, 0)]
    m = 32
    y1 = truth["Y"]["value"][0][0]
    assert float(output["grad"]) == pytest.approx((float(output["value"]) - y1) / m, rel=1e-9)
    go_to_stage(page, BACKWARD_1)
    grads = weights(page)
    for (layer, to, source), line in grads.items():
        assert float(line["grad"]) == pytest.approx(truth[f"W{layer}"]["grad"][to][source], rel=1e-12)
    page.screenshot(path=str(artifacts / "network-1280-backward.png"), full_page=True)

    # The update: every weight moved by -0.5 x its gradient (SGD), and the loss fell.
    go_to_stage(page, UPDATE)
    after = weights(page)
    for key, line in after.items():
        expected = float(start[key]["weight"]) - 0.5 * float(grads[key]["grad"])
        assert float(line["weight"]) == pytest.approx(expected, rel=1e-12, abs=1e-15)
        assert line["weight"] != start[key]["weight"]
    sentence = page.inner_text("[data-testid=sentence]")
    assert re.search(r"The loss goes from 0\.\d+ to 0\.\d+", sentence), sentence
    assert "update" in page.inner_text("[data-testid=step-phase]")

    # A layer clicked shows its matrices with their shapes, and the layer formulas with numbers.
    band = page.locator("[data-testid=layer-band-1]").bounding_box()
    page.mouse.click(band["x"] + 6, band["y"] + band["height"] - 6)  # a free spot of the layer's band
    page.wait_for_function("() => document.querySelector('[data-testid=layer-heading]').textContent === 'Layer 1'")
    shapes = page.eval_on_selector_all("[data-testid=matrices] table", "ts => ts.map(t => [t.dataset.testid, t.dataset.shape])")
    assert dict(shapes) | {} == {
        "matrix-W": "3×2", "matrix-b": "3×1", "matrix-Z": "3×32", "matrix-A": "3×32", "matrix-dZ": "3×32",
        "matrix-dW": "3×2", "matrix-db": "3×1", "matrix-W-after": "3×2", "matrix-b-after": "3×1",
    }
    cell = page.get_attribute("[data-testid=matrix-dW] td", "data-value")
    assert float(cell) == truth["W1"]["grad"][0][0]
    latex = page.eval_on_selector_all("[data-testid=layer-formulas] .formula-line", "ls => ls.map(l => l.dataset.latex)")
    assert any(line.startswith("\\begin{aligned} Z^{[1]}") and "bmatrix" in line for line in latex)
    assert any("dW^{[1]}" in line for line in latex)
    assert parse_qs(urlsplit(page.url).query)["layer"] == ["1"]
    page.screenshot(path=str(artifacts / "network-1280-step.png"), full_page=True)

    # Another sample of the batch: the inputs drawn are its column of X, and the plot rings it.
    assert page.get_attribute("[data-testid=plot]", "data-highlight") == "0"
    page.fill("[data-testid=sample]", "2")
    page.press("[data-testid=sample]", "Enter")
    page.wait_for_function("() => document.querySelector('[data-testid=plot]').dataset.highlight === '1'")
    drawn = neurons(page)
    assert [float(drawn[(0, j)]["value"]) for j in range(2)] == [truth["X"]["value"][j][1] for j in range(2)]

    # Taking the step: the next iteration starts from the new weights.
    page.click("[data-testid=next-iteration]")
    page.wait_for_function("() => document.querySelector('[data-testid=timeline]').dataset.step === '0'")
    page.wait_for_function(f"() => document.querySelector('line.weight[data-layer=\"1\"]').dataset.weight === {after[(1, 0, 0)]['weight']!r}")
    probe.assert_clean()


DEFAULT_BODY = {**SMALL_BODY, "data": {"dataset": "moons", "points": 200, "noise": 0.1, "seed": 0},
                "layers": [{"units": 8, "activation": "tanh"}, {"units": 8, "activation": "tanh"},
                           {"units": 1, "activation": "sigmoid"}]}


def table_cells(page, name: str) -> list[list[float]]:
    """The numbers of a matrix table as drawn (its corner: 6 rows, 6 columns), from every cell's data-value."""
    return page.eval_on_selector_all(f"[data-testid=matrix-{name}] tr", """rows => rows
        .map(r => [...r.querySelectorAll('td.num')].map(c => Number(c.dataset.value))).filter(r => r.length)""")


def test_a_large_iteration_travels_compact_and_every_number_shown_is_the_apis(open_page, live_server):
    # 2-8-8-1 on 160 training points: Z, A, dZ and dA are 8x160 tensors, sent as base64 float64 and references.
    probe = open_page(network_url(points="200", arch="8-tanh,8-tanh", lr="0.1"))
    page = probe.page
    wait_for_network(page)
    with page.expect_response(lambda r: urlsplit(r.url).path == "/api/v1/network/iteration") as asked:
        page.click("[data-testid=step-restart]")
    response = asked.value
    assert response.request.post_data_json["encoding"] == "compact"
    body = {**DEFAULT_BODY, "optimizer": {"name": "sgd", "learning_rate": 0.1}}
    with urllib.request.urlopen(urllib.request.Request(live_server + "/api/v1/network/iteration",
                                                       data=json.dumps(body).encode(),
                                                       headers={"content-type": "application/json"})) as listed:
        list_bytes = len(listed.read())
    assert len(response.body()) * 3 < list_bytes  # about 265 KB instead of 1.2 MB
    wait_for_network(page)
    truth = node_values(api_iteration(live_server, body))

    # Backward, layer 1, with layer 1's panel: every number drawn or tabled is the list answer's, bit for bit.
    go_to_stage(page, 7)
    page.click("[data-testid=layer-button-1]")
    page.wait_for_function("() => document.querySelector('[data-testid=layer-heading]').textContent === 'Layer 1'")
    for name, label, part in (("Z", "Z1", "value"), ("A", "A1", "value"), ("dZ", "Z1", "grad"), ("dW", "W1", "grad")):
        cells = table_cells(page, name)
        assert len(cells) == 6 and all(len(row) == min(6, len(truth[label][part][0])) for row in cells), name
        assert cells == [row[:6] for row in truth[label][part][:6]], name
    drawn = neurons(page)
    for unit in range(8):
        assert float(drawn[(1, unit)]["value"]) == truth["A1"]["value"][unit][0]
        assert float(drawn[(1, unit)]["grad"]) == truth["Z1"]["grad"][unit][0]
    for (layer, to, source), line in weights(page).items():
        assert float(line["grad"]) == truth[f"W{layer}"]["grad"][to][source]
    probe.assert_clean()


def test_the_compare_chart_fits_its_log_axis_to_the_losses(open_page, live_server, artifacts):
    # 2-3-1 with a small rate: every loss of the three runs lies between about 0.37 and 0.59.
    probe = open_page(network_url(lr="0.05", iters="60", view="compare"))
    page = probe.page
    wait_for_network(page)
    page.click("[data-testid=compare]")
    page.wait_for_selector("[data-testid=compare-runs] [data-testid=compare-run-adam]")
    compared = api(live_server, "/api/v1/network/compare", {
        **{key: value for key, value in SMALL_BODY.items() if key != "view"}, "iterations": 60,
        "optimizer": {"name": "sgd", "learning_rate": 0.05},
        "optimizers": [{"name": "sgd", "learning_rate": 0.05}, {"name": "momentum", "learning_rate": 0.05, "beta": 0.9},
                       {"name": "adam", "learning_rate": 0.05, "beta1": 0.9, "beta2": 0.999}]})
    losses = [y for run in compared["runs"] for y in run["history"]["train_loss"] if y is not None]
    low, high = min(losses), max(losses)
    assert 0.3 < low and high < 0.7

    chart = "[data-testid=compare-chart]"
    ticks = [float(text.replace(MINUS, "-")) for text in page.eval_on_selector_all(
        f"{chart} .y-axis .tick text", "ts => ts.map(t => t.textContent)")]
    # Ticks a person can read the losses against, none far outside them (not 0.1 and 1 around 0.4 and 0.6).
    assert len(ticks) >= 3, ticks
    assert all(low / 1.15 <= tick <= high * 1.15 for tick in ticks), (ticks, low, high)
    # The curves fill the axis's height, with a little room above and below.
    axis = page.locator(f"{chart} .y-axis path.domain").bounding_box()
    tops, bottoms = zip(*page.eval_on_selector_all(f"{chart} path.line", """ls => ls.map(l => {
        const box = l.getBoundingClientRect(); return [box.top, box.bottom]; })"""))
    filled = (max(bottoms) - min(tops)) / axis["height"]
    assert 0.75 <= filled < 1.0, filled
    assert min(tops) > axis["y"] and max(bottoms) < axis["y"] + axis["height"]
    page.locator(chart).screenshot(path=str(artifacts / "network-1280-compare-axis.png"))
    probe.assert_clean()


def test_a_phone_fits_each_formula_to_its_box_at_a_readable_size(open_page, artifacts):
    probe = open_page(network_url(), width=375, height=800)
    page = probe.page
    wait_for_network(page)
    fitted = """() => { const box = document.querySelector('[data-testid=formula]');
        const full = parseFloat(getComputedStyle(box).fontSize) * 1.21;  // KaTeX's size at scale 1
        return {over: box.scrollWidth - box.clientWidth, latex: [...box.querySelectorAll('.formula-line')].map(l => l.dataset.latex),
                rows: [...box.querySelectorAll('.formula-line')].map(l => l.dataset.rows ?? ''),
                scales: [...box.querySelectorAll('.formula-line .katex')].map(k => parseFloat(getComputedStyle(k).fontSize) / full)}; }"""
    # The inputs (A0 = X = a 2x32 matrix), the loss (the cross-entropy written out) and backward layer 1
    # (dZ with g', two equations on one line) are all wider than a phone at full size.
    rows = {}
    for index, starts in ((INPUTS, "A^{[0]} = X = "), (LOSS, "L = "), (BACKWARD_1, "dZ^{[1]} = ")):
        go_to_stage(page, index)
        page.evaluate("document.fonts.ready")
        page.wait_for_function(f"() => document.querySelector('[data-testid=formula] .formula-line')?.dataset.latex.startsWith({starts!r})")
        shown = page.evaluate(fitted)
        assert shown["over"] <= 0, (index, shown)  # no sideways scrolling, even inside the box
        assert all(scale >= 0.79 for scale in shown["scales"]), (index, shown)
        assert shown["latex"][0].startswith(starts)  # the formula as written, whatever its rows
        rows[index] = shown["rows"][0]
        page.locator("#explanation").screenshot(path=str(artifacts / f"network-375-formula-stage{index + 1}.png"))
    # The loss is too long even at 80 %: it is broken into rows (inside its bracket, and "= L" on its own).
    assert rows[LOSS] == "3" and rows[INPUTS] == ""

    # A narrower phone: the formulas are fitted again to the new width.
    page.set_viewport_size({"width": 320, "height": 800})
    page.wait_for_function("() => { const box = document.querySelector('[data-testid=formula]'); "
                           "return box.clientWidth < 300 && box.scrollWidth <= box.clientWidth; }")
    assert all(scale >= 0.79 for scale in page.evaluate(fitted)["scales"])
    probe.assert_clean()


def agrees(x: float) -> float:
    """The layer view's number, which the neuron view shows exactly: engine.nn takes every number of the neuron
    view from the layer view's own run, so the two agree to the last bit."""
    return float(x)


def operand(x: float) -> str:
    """A factor as the formulas write it: a negative one in parentheses."""
    return four(x) if x >= 0 else f"\\left({four(x)}\\right)"


def formula_latex(page, box: str = "formula") -> str:
    return "\n".join(page.eval_on_selector_all(f"[data-testid={box}] .formula-line", "ls => ls.map(l => l.dataset.latex)"))


def test_the_same_iteration_neuron_by_neuron_agrees_with_the_layer_view(open_page, live_server, artifacts):
    probe = open_page(network_url())
    page = probe.page
    wait_for_network(page)
    layer_answer = api_iteration(live_server, SMALL_BODY)
    truth = node_values(layer_answer)

    # From the layer view's "backward, layer 2" to the neuron view's first unit of it.
    go_to_stage(page, BACKWARD_2)
    page.click("[data-testid=detail-neuron]")
    wait_for_stages(page, NEURON_STAGES)
    assert stage(page) == N_BACKWARD_2_1
    assert page.inner_text("[data-testid=step-phase]") == "Stage 7 of 11: backward, layer 2, unit 1"
    assert page.get_attribute("[data-testid=detail-neuron]", "aria-pressed") == "true"
    assert parse_qs(urlsplit(page.url).query)["by"] == ["neuron"]

    # Forward, one unit at a time: unit 1 of layer 1 has its a, unit 2 and the output not yet.
    go_to_stage(page, N_FORWARD_1_1)
    drawn = neurons(page)
    assert page.get_attribute("svg[data-testid=network]", "data-focus") == "1-0"
    x = [float(drawn[(0, j)]["value"]) for j in range(2)]
    w, b = truth["W1"]["value"][0], truth["b1"]["value"][0][0]
    z = w[0] * x[0] + w[1] * x[1] + b
    assert float(drawn[(1, 0)]["value"]) == pytest.approx(math.tanh(z), rel=1e-12)
    assert float(drawn[(1, 0)]["value"]) == agrees(truth["A1"]["value"][0][0])  # the layer view's number
    assert drawn[(1, 1)]["value"] == "" and drawn[(2, 0)]["value"] == ""
    focused = page.eval_on_selector_all("svg[data-testid=network] line.weight.focus", "ls => ls.map(l => [l.dataset.layer, l.dataset.to])")
    assert sorted(focused) == [["1", "0"], ["1", "0"]]  # the unit's two incoming weights
    latex = formula_latex(page)
    # w11 x1 + w12 x2, then + b on the next row of the aligned sum
    assert (f"{operand(w[0])} \\cdot {operand(x[0])} + {operand(w[1])} \\cdot {operand(x[1])} "
            f"\\\\ &\\phantom{{=}} + {operand(b)}") in latex
    assert f"&= {four(z)}" in latex and f"\\tanh\\left({four(z)}\\right)" in latex
    assert page.inner_text("[data-testid=sentence]").startswith("Unit 1 of layer 1, sample 1: z is the weighted sum")

    # Another sample of the batch: the same unit's sum with that sample's numbers.
    page.fill("[data-testid=sample]", "2")
    page.press("[data-testid=sample]", "Enter")
    page.wait_for_function("() => document.querySelector('[data-testid=sentence]').textContent.includes('sample 2')")
    x2 = [truth["X"]["value"][j][1] for j in range(2)]
    assert f"{operand(w[0])} \\cdot {operand(x2[0])} + {operand(w[1])} \\cdot {operand(x2[1])}" in formula_latex(page)
    assert float(neurons(page)[(1, 0)]["value"]) == agrees(truth["A1"]["value"][0][1])
    page.fill("[data-testid=sample]", "1")
    page.press("[data-testid=sample]", "Enter")
    page.wait_for_function("() => document.querySelector('[data-testid=sentence]').textContent.includes('sample 1')")

    # Backward, unit 2 of layer 1: its incoming weights have their gradients, unit 3's not yet.
    go_to_stage(page, N_BACKWARD_1_2)
    assert page.get_attribute("svg[data-testid=network]", "data-mode") == "backward"
    lines = weights(page)
    for unit in (0, 1):
        for j in range(2):
            assert float(lines[(1, unit, j)]["grad"]) == agrees(truth["W1"]["grad"][unit][j])
    assert all(lines[(1, 2, j)]["grad"] == "" and "idle" in lines[(1, 2, j)]["cls"] for j in range(2))
    drawn = neurons(page)
    assert float(drawn[(1, 1)]["grad"]) == agrees(truth["Z1"]["grad"][1][0])
    assert drawn[(1, 2)]["grad"] == ""
    latex = formula_latex(page)
    assert "da^{[1]}_{2}" in latex and "dz^{[1]}_{2}" in latex
    assert f"&= {four(truth['Z1']['grad'][1][0])}" in latex
    page.screenshot(path=str(artifacts / "network-1280-neuron.png"), full_page=True)

    # The update: every weight, bias, value and gradient is the layer view's, bit for bit.
    page.keyboard.press("End")
    page.wait_for_function(f"() => document.querySelector('[data-testid=timeline]').dataset.step === '{N_UPDATE}'")
    after = layer_answer["params_after"]
    for (layer, to, source), line in weights(page).items():
        assert float(line["weight"]) == agrees(after[f"W{layer}"][to][source])
        assert float(line["grad"]) == agrees(truth[f"W{layer}"]["grad"][to][source])
    for (layer, unit), node in neurons(page).items():
        if layer > 0:
            assert float(node["bias"]) == agrees(after[f"b{layer}"][unit][0])
            assert float(node["value"]) == agrees(truth[f"A{layer}"]["value"][unit][0])
    assert re.search(r"The loss goes from 0\.\d+ to 0\.\d+", page.inner_text("[data-testid=sentence]"))
    # Layer 1's matrices, put together from the scalar nodes, with the layer view's shapes and numbers.
    shapes = page.eval_on_selector_all("[data-testid=matrices] table", "ts => ts.map(t => [t.dataset.testid, t.dataset.shape])")
    assert dict(shapes) == {
        "matrix-W": "3×2", "matrix-b": "3×1", "matrix-Z": "3×32", "matrix-A": "3×32", "matrix-dZ": "3×32",
        "matrix-dW": "3×2", "matrix-db": "3×1", "matrix-W-after": "3×2", "matrix-b-after": "3×1",
    }
    cells = page.eval_on_selector_all("[data-testid=matrix-dZ] td.num", "cs => cs.map(c => Number(c.dataset.value))")
    assert cells[:6] == [agrees(v) for v in truth["Z1"]["grad"][0][:6]]

    # The link keeps the neuron view; back to layer by layer at the same stage.
    page.reload()
    wait_for_network(page)
    wait_for_stages(page, NEURON_STAGES)
    page.click("[data-testid=detail-layer]")
    wait_for_stages(page, 7)
    assert "by" not in parse_qs(urlsplit(page.url).query)
    probe.assert_clean()


def test_neuron_by_neuron_is_offered_for_small_nets_and_a_refusal_is_explained(open_page):
    probe = open_page(network_url(arch="8-tanh,8-tanh", by="neuron"))  # 105 parameters
    page = probe.page
    wait_for_network(page)
    wait_for_stages(page, 9)  # layer by layer: inputs, 3 forward, loss, 3 backward, update
    assert page.is_disabled("[data-testid=detail-neuron]")
    assert page.get_attribute("[data-testid=detail-layer]", "aria-pressed") == "true"
    assert page.inner_text("[data-testid=detail-note]") == ("Neuron by neuron is for small nets: this one has 105 "
                                                            "parameters, the server shows at most 64.")
    # Removing a layer makes it small enough (2 -> 8 -> 1: 33 parameters): the neuron view follows.
    page.click("[data-testid=remove-layer-2]")
    wait_for_stages(page, 1 + 9 + 1 + 9 + 1)
    assert page.get_attribute("[data-testid=detail-neuron]", "aria-pressed") == "true"
    probe.assert_clean()

    # 49 parameters, but 800 samples in the batch: the server refuses that many nodes; the page says why
    # and shows the layers. A smaller batch brings the neurons back.
    probe = open_page(network_url(points="1000", arch="12-tanh", by="neuron"))
    page = probe.page
    wait_for_network(page)
    page.wait_for_function("() => document.querySelector('[data-testid=detail-note]').dataset.state === 'refused'")
    wait_for_stages(page, 7)
    note = page.inner_text("[data-testid=detail-note]")
    assert note.startswith("The server cannot show this iteration neuron by neuron:")
    assert "max_neuron_nodes" in note and "smaller batch" in note
    assert page.locator("[data-testid=error]").is_hidden()
    page.fill("[data-testid=batch]", "8")
    page.press("[data-testid=batch]", "Enter")
    wait_for_stages(page, 1 + 12 + 1 + 1 + 1 + 12 + 1)
    assert page.inner_text("[data-testid=status-line]").endswith("batch of 8")
    probe.assert_clean(allowed_console=EXPECTED_422)


def test_the_drawing_zooms_and_pans_from_the_keyboard_and_fits_again(open_page):
    probe = open_page(network_url(arch="8-tanh,8-tanh"))
    page = probe.page
    wait_for_network(page)
    assert zoom(page) == 1
    page.focus("[data-testid=net-zoom-in]")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    wait_for_zoom(page, "Math.abs(k - 2.25) < 1e-6")
    transform = page.get_attribute("svg[data-testid=network] g.viewport", "transform")

    # Zoomed in, the drawing is a tab stop and the arrow keys pan it (not the timeline).
    page.focus("svg[data-testid=network]")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"() => document.querySelector('svg[data-testid=network] g.viewport').getAttribute('transform') !== {transform!r}")
    assert stage(page) == INPUTS

    # A new stage keeps the zoom; the fit button and a new network fit it again.
    page.evaluate("document.activeElement?.blur()")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('[data-testid=timeline]').dataset.step === '1'")
    assert abs(zoom(page) - 2.25) < 1e-6
    page.focus("[data-testid=net-zoom-fit]")
    page.keyboard.press("Enter")
    wait_for_zoom(page, "k === 1")
    assert page.get_attribute("svg[data-testid=network]", "tabindex") is None
    page.click("[data-testid=net-zoom-in]")
    wait_for_zoom(page, "k > 1.4")
    page.click("[data-testid=remove-layer-2]")
    page.wait_for_function("() => document.querySelector('svg[data-testid=network]').dataset.sizes === '2-8-1'")
    wait_for_zoom(page, "k === 1")
    probe.assert_clean()


def test_every_optimizer_of_the_api_is_offered_with_its_settings_and_compared(open_page, live_server, artifacts):
    schemas = api(live_server, "/openapi.json")["components"]["schemas"]
    offered = schemas["OptimizerSpec"]["properties"]["name"]["enum"]
    assert set(offered) >= {"sgd", "momentum", "nesterov", "rmsprop", "adam"}
    probe = open_page(network_url(opt="rmsprop", rho="0.8", lr="0.05"))
    page = probe.page
    wait_for_network(page)
    options = page.eval_on_selector_all("[data-testid=optimizer] option", "os => os.map(o => o.value)")
    assert sorted(options) == sorted(offered)
    visible = lambda: sorted(page.eval_on_selector_all(  # noqa: E731
        "[data-opt]", "es => es.filter(e => !e.hidden && e.tagName === 'INPUT').map(e => e.id)"))
    assert visible() == ["rho"] and page.input_value("[data-testid=rho]") == "0.8"

    # RMSProp with ρ = 0.8: the update stage moves every weight as the API says, and shows its mean of g².
    body = {**SMALL_BODY, "optimizer": {"name": "rmsprop", "learning_rate": 0.05, "rho": 0.8}}
    after = api_iteration(live_server, body)["params_after"]
    page.keyboard.press("End")
    page.wait_for_function(f"() => document.querySelector('[data-testid=timeline]').dataset.step === '{UPDATE}'")
    for (layer, to, source), line in weights(page).items():
        assert float(line["weight"]) == after[f"W{layer}"][to][source]
    assert page.locator("[data-testid=matrix-state-mean_square]").count() == 1
    assert "\\rho" in formula_latex(page)

    for name, inputs in (("nesterov", ["beta"]), ("adam", ["beta1", "beta2"]), ("sgd", [])):
        page.select_option("[data-testid=optimizer]", name)
        page.wait_for_function(f"() => new URLSearchParams(location.search).get('opt') === '{name}'")
        assert visible() == inputs
        assert page.inner_text("[data-testid=optimizer-rule]") != ""

    # All five compared from the same initial weights: a curve, a dash and a marker each, five boundaries.
    switch_view(page, "compare")
    page.click("[data-testid=compare-nesterov]")
    page.click("[data-testid=compare-rmsprop]")
    assert parse_qs(urlsplit(page.url).query)["cmp"] == ["sgd,momentum,nesterov,rmsprop,adam"]
    page.fill("[data-testid=iterations]", "60")
    page.press("[data-testid=iterations]", "Enter")
    page.click("[data-testid=compare]")
    page.wait_for_selector("[data-testid=compare-runs] [data-testid=compare-run-adam]")
    series = page.eval_on_selector_all("[data-testid=compare-chart] g.series", """groups => groups.map(g => ({
        key: g.dataset.series, dash: getComputedStyle(g.querySelector('path.line')).strokeDasharray,
        colour: getComputedStyle(g.querySelector('path.line')).stroke, marker: g.querySelector('path.point').getAttribute('d')}))""")
    assert [one["key"] for one in series] == ["sgd", "momentum", "nesterov", "rmsprop", "adam"]
    assert len({one["dash"] for one in series}) == 5 and len({one["marker"] for one in series}) == 5
    assert len({one["colour"] for one in series}) == 5
    compared = api(live_server, "/api/v1/network/compare", {
        **{key: value for key, value in SMALL_BODY.items() if key != "view"}, "iterations": 60,
        "optimizer": {"name": "sgd", "learning_rate": 0.05},
        "optimizers": [{"name": "sgd", "learning_rate": 0.05}, {"name": "momentum", "learning_rate": 0.05, "beta": 0.9},
                       {"name": "nesterov", "learning_rate": 0.05, "beta": 0.9},
                       {"name": "rmsprop", "learning_rate": 0.05, "rho": 0.8},
                       {"name": "adam", "learning_rate": 0.05, "beta1": 0.9, "beta2": 0.999}]})
    for run in compared["runs"]:
        name = run["optimizer"]["name"]
        card = page.inner_text(f"[data-testid=compare-run-{name}]")
        assert f"final loss {shown(run['history']['train_loss'][-1])}" in card, (name, card)
    assert page.inner_text("[data-testid=compare-hint]").startswith("SGD, Momentum, Nesterov, RMSProp, Adam: each starts")
    page.screenshot(path=str(artifacts / "network-1280-compare-five.png"), full_page=True)
    probe.assert_clean()


def test_a_divergence_report_the_page_does_not_know_is_still_told_in_words(open_page):
    probe = open_page(network_url())
    page = probe.page
    wait_for_network(page)
    told = page.evaluate("""async () => {
        const { explainDivergence } = await import('/static/js/network_divergence.js');
        const tell = (result) => {
            const { parts, highlight } = explainDivergence(result, 2);
            return { text: parts.map((part) => (typeof part === 'string' ? part : part.textContent)).join(''), highlight };
        };
        const base = { iteration: 3, learning_rate: 50, loss: 400, initial_loss: 0.8, reason: 'loss_exploded' };
        return {
            unknown: tell({ divergence: { ...base, where: { phase: 'sideways', layer: 2, unit: 0, quantity: 'Z', status: 'wobbly' } } }),
            nan: tell({ divergence: { ...base, reason: 'non_finite_gradient', loss: null,
                where: { phase: 'backward', layer: 1, unit: 2, quantity: 'dZ', status: 'nan' } } }),
            none: tell({ divergence: { ...base, where: null }, params: { W1: [[1, 2], [30, 40]] },
                initial_params: { W1: [[1, 2], [3, 4]] } }),
        };
    }""")
    assert told["unknown"]["highlight"] == {"layer": 2, "units": [0]}
    assert "At iteration 2 the learning rate η = 50 was too large: its update made the loss jump from 0.8 to 400" in told["unknown"]["text"]
    assert "Where it starts: Z[2], unit 1, in layer 2, in the computation." in told["unknown"]["text"]
    assert told["nan"]["highlight"] == {"layer": 1, "units": [2]}
    assert ("At iteration 3 the learning rate η = 50 was too large: dZ[1], unit 3, in layer 1 was the first number to "
            "become not a number (NaN), in the backward pass.") in told["nan"]["text"]
    assert told["none"]["highlight"] == {"layer": 1, "units": [1]}
    assert "the weights into unit 2 of layer 1 grew from size 5 to 50" in told["none"]["text"]
    probe.assert_clean()


def test_training_makes_the_loss_fall_and_the_boundary_change(open_page, artifacts):
    probe = open_page(network_url(points="200", arch="8-tanh,8-tanh", lr="0.3", iters="40", view="train"))
    page = probe.page
    wait_for_network(page)
    assert page.get_attribute("[data-testid=plot]", "data-boundary") == "none"
    initial = weights(page)

    page.click("[data-testid=train]")
    wait_for_training_to_stop(page)
    page.wait_for_function("() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '40'")
    chart = page.locator("[data-testid=loss-chart]")
    first, last = float(chart.get_attribute("data-first")), float(chart.get_attribute("data-last"))
    assert last < first
    plot = page.locator("[data-testid=plot]")
    assert plot.get_attribute("data-boundary") == "grid"
    boundary_40 = (plot.get_attribute("data-boundary-counts"), plot.get_attribute("data-boundary-mean"))
    pixel_40 = page.evaluate("Array.from(document.querySelector('[data-testid=plot] canvas').getContext('2d').getImageData(0, 0, 50, 50).data).join(',')")
    assert weights(page) != initial  # the drawing shows the trained weights

    # Train on: 40 more iterations from where it stands; the loss falls further and the boundary moves.
    page.click("[data-testid=train]")
    wait_for_training_to_stop(page)
    page.wait_for_function("() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '80'")
    assert float(chart.get_attribute("data-last")) < last
    assert (plot.get_attribute("data-boundary-counts"), plot.get_attribute("data-boundary-mean")) != boundary_40
    pixel_80 = page.evaluate("Array.from(document.querySelector('[data-testid=plot] canvas').getContext('2d').getImageData(0, 0, 50, 50).data).join(',')")
    assert pixel_80 != pixel_40
    assert page.locator("[data-testid=loss-chart] [data-series=train] path.line").count() == 1
    assert page.locator("[data-testid=loss-chart] [data-series=test] path.line").count() == 1
    assert "NaN" not in page.inner_text("body")
    page.screenshot(path=str(artifacts / "network-1280-train.png"), full_page=True)

    # One iteration from here, then reset to the very same initial weights.
    page.click("[data-testid=train-step]")
    page.wait_for_function("() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '81'")
    page.click("[data-testid=train-reset]")
    page.wait_for_function("() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '0'")
    page.wait_for_function("() => document.querySelector('[data-testid=plot]').dataset.boundary === 'none'")
    assert weights(page) == initial
    assert page.locator("[data-testid=loss-chart] .chart-empty").count() == 1
    probe.assert_clean()


def test_one_iteration_after_a_run_of_small_batches_goes_on_with_the_same_run(open_page, live_server):
    probe = open_page(network_url(batch="8", iters="5", view="train"))
    page = probe.page
    wait_for_network(page)
    page.click("[data-testid=train]")
    wait_for_training_to_stop(page)
    page.wait_for_function("() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '5'")
    page.click("[data-testid=train-step]")  # iteration 6 takes batch 6 of the run's order, as one run of 6 would
    page.wait_for_function("() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '6'")
    run = api(live_server, "/api/v1/network/train", {**{key: value for key, value in SMALL_BODY.items() if key != "view"},
                                                     "batch_size": 8, "iterations": 6})
    for (layer, to, source), line in weights(page).items():
        assert float(line["weight"]) == agrees(run["params"][f"W{layer}"][to][source])
    probe.assert_clean()


@pytest.mark.parametrize(("arch", "iterations"), [
    ("16-tanh,16-tanh", 20000),  # a small net: the stream sends its parameters, the pause stands on them
    ("128-tanh,64-tanh", 1500),  # 8,705 parameters: not streamed, so the pause trains the same seeded run to there
])
def test_a_long_run_can_be_paused_and_stepped_on(open_page, arch, iterations):
    probe = open_page(network_url(points="400", arch=arch, lr="0.1", iters=str(iterations), view="train"))
    page = probe.page
    wait_for_network(page)
    page.click("[data-testid=train]")
    page.wait_for_function("() => Number(document.querySelector('[data-testid=loss-chart]').dataset.points) > 2", timeout=20_000)
    if arch == "16-tanh,16-tanh":  # live: the boundary is redrawn while the run goes on
        page.wait_for_function("() => document.querySelector('[data-testid=plot]').dataset.boundary === 'grid'"
                               " && !document.querySelector('[data-testid=pause]').disabled", timeout=20_000)
    page.click("[data-testid=pause]")
    wait_for_training_to_stop(page)
    page.wait_for_function("() => document.querySelector('[data-testid=train-progress]').dataset.iteration !== '0'")
    paused = int(page.get_attribute("[data-testid=train-progress]", "data-iteration"))
    assert 0 < paused < iterations
    assert page.is_enabled("[data-testid=train]")
    page.wait_for_timeout(300)  # nothing moves while paused
    assert int(page.get_attribute("[data-testid=train-progress]", "data-iteration")) == paused
    page.click("[data-testid=train-step]")
    page.wait_for_function(f"() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '{paused + 1}'")
    probe.assert_clean()


def test_comparing_optimizers_draws_three_curves_told_apart_without_colour(open_page, artifacts):
    probe = open_page(network_url(points="200", arch="8-tanh,8-tanh", lr="0.1", iters="150", view="compare"))
    page = probe.page
    wait_for_network(page)
    page.click("[data-testid=compare]")
    page.wait_for_selector("[data-testid=compare-chart] [data-series=adam]")
    series = page.eval_on_selector_all("[data-testid=compare-chart] g.series", """groups => groups.map(g => ({
        key: g.dataset.series, points: Number(g.dataset.points),
        dash: getComputedStyle(g.querySelector('path.line')).strokeDasharray,
        marker: g.querySelector('path.point').getAttribute('d'),
    }))""")
    assert [one["key"] for one in series] == ["sgd", "momentum", "adam"]
    assert all(one["points"] > 10 for one in series)
    assert len({one["dash"] for one in series}) == 3  # a dash pattern each
    assert len({one["marker"] for one in series}) == 3  # a marker shape each
    runs = page.eval_on_selector_all("[data-testid=compare-runs] figure.compare-run", """cards => cards.map(c => ({
        id: c.dataset.testid, status: c.dataset.status, boundary: c.querySelector('.plot').dataset.boundary,
        counts: c.querySelector('.plot').dataset.boundaryCounts}))""")
    assert [run["id"] for run in runs] == ["compare-run-sgd", "compare-run-momentum", "compare-run-adam"]
    assert all(run["status"] == "finished" and run["boundary"] == "grid" for run in runs)
    assert len({run["counts"] for run in runs}) > 1  # the boundaries differ
    page.screenshot(path=str(artifacts / "network-1280-compare.png"), full_page=True)
    probe.assert_clean()


def test_a_divergent_learning_rate_is_explained_in_a_sentence_not_shown_as_nan(open_page, live_server, artifacts):
    probe = open_page(network_url(points="200", arch="8-tanh,8-tanh", lr="1000000", view="train"))
    page = probe.page
    wait_for_network(page)
    page.click("[data-testid=train]")
    page.wait_for_selector("[data-testid=divergence]:not([hidden])")
    text = page.inner_text("[data-testid=divergence]")
    assert "Training diverged" in text
    # Update 1 (iteration 1 of the page, which counts updates done) sent the loss from 0.7576 to 13580.
    assert "At iteration 1 the learning rate" in text
    assert page.inner_text("[data-testid=divergence-rate]") == "1×10⁶"
    assert "the loss jump from 0.7576 to 13580" in text
    page.wait_for_function("() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '1'")
    assert page.inner_text("[data-testid=train-progress]") == "At iteration 1, loss 13580"

    # The layer and unit are the server's: the unit whose weights the update changed the most.
    answer = api(live_server, "/api/v1/network/train", {
        "layers": [{"units": 8, "activation": "tanh"}, {"units": 8, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}],
        "loss": "bce", "data": {"dataset": "moons", "points": 200, "noise": 0.1, "seed": 0}, "test_fraction": 0.2,
        "optimizer": {"name": "sgd", "learning_rate": 1e6}, "seed": 0, "iterations": 300})
    where = answer["divergence"]["where"]
    assert answer["status"] == "diverged" and where["status"] == "exploded"
    told = page.inner_text("[data-testid=divergence-where]")
    assert f"unit {where['unit'] + 1} of layer {where['layer']}" in told
    assert f"by {shown(where['growth'])} times their size" in told
    assert page.get_attribute("svg[data-testid=network] .band.diverged", "data-band") == str(where["layer"])
    bad = page.eval_on_selector_all("svg[data-testid=network] g.neuron.bad", "ns => ns.map(n => [n.dataset.layer, n.dataset.unit])")
    assert bad == [[str(where["layer"]), str(where["unit"])]]
    assert page.inner_text("[data-testid=layer-heading]") == f"Layer {where['layer']}"  # its matrices shown
    assert "NaN" not in page.inner_text("body")
    page.screenshot(path=str(artifacts / "network-1280-diverged.png"), full_page=True)

    page.click("[data-testid=lang-zh]")
    page.wait_for_function("() => document.querySelector('[data-testid=divergence]').textContent.includes('训练发散了')")
    assert "学习率" in page.inner_text("[data-testid=divergence]")
    probe.assert_clean()


def test_the_chinese_ui_shows_chinese(open_page, artifacts):
    probe = open_page(network_url(), locale="zh-CN")
    page = probe.page
    wait_for_network(page)
    assert page.get_attribute("html", "lang") == "zh-Hans"
    assert page.inner_text("#picture-heading") == "神经网络"
    assert page.inner_text("[data-testid=tab-network]") == "神经网络"
    assert "输入" in page.inner_text("[data-testid=step-phase]")
    assert page.title() == "神经网络 · 反向传播探索器"
    page.keyboard.press("End")
    assert "更新" in page.inner_text("[data-testid=step-phase]")
    page.screenshot(path=str(artifacts / "network-1280-zh.png"), full_page=True)
    page.click("[data-testid=detail-neuron]")
    wait_for_stages(page, NEURON_STAGES)
    assert page.inner_text("[data-testid=detail-neuron]") == "逐个神经元"
    go_to_stage(page, N_BACKWARD_1_2)
    assert page.inner_text("[data-testid=step-phase]").endswith("反向，第 1 层，单元 2")
    assert "样本 1" in page.inner_text("[data-testid=sentence]")
    page.screenshot(path=str(artifacts / "network-1280-zh-neuron.png"), full_page=True)
    page.click("[data-testid=lang-en]")
    page.wait_for_function("() => document.querySelector('#picture-heading').textContent === 'Network'")
    assert parse_qs(urlsplit(page.url).query)["lang"] == ["en"]
    missing = page.evaluate("import('/static/js/i18n.js').then(module => module.missingKeys())")
    assert missing == {}
    probe.assert_clean()


@pytest.mark.parametrize("view", ["step", "neuron", "train", "compare"])
def test_a_phone_gets_one_column_no_sideways_scroll_and_thumb_sized_controls(open_page, artifacts, view):
    url = network_url(by="neuron") if view == "neuron" else network_url(view=view)
    probe = open_page(url, width=375, height=800)
    page = probe.page
    wait_for_network(page)
    if view == "neuron":
        wait_for_stages(page, NEURON_STAGES)
        go_to_stage(page, N_BACKWARD_1_2)
        # The widest formula scrolls in its own box; the page never scrolls sideways.
        box = page.locator("[data-testid=formula]").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375
    elif view == "compare":
        page.click("[data-testid=compare]")
        page.wait_for_selector("[data-testid=compare-runs] figure.compare-run")
    elif view == "train":
        page.click("[data-testid=train]")
        wait_for_training_to_stop(page)
        page.wait_for_function("() => document.querySelector('[data-testid=plot]').dataset.boundary === 'grid'")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    picture = page.locator("svg[data-testid=network]").bounding_box()
    settings = page.locator("#settings-details").bounding_box()
    assert picture["y"] < settings["y"]  # picture first
    assert picture["x"] >= 0 and picture["x"] + picture["width"] <= 375
    small = page.evaluate("""() => [...document.querySelectorAll('button, select, input, summary, a.tab')]
        .filter(e => e.offsetParent !== null && e.getBoundingClientRect().width > 0)
        .map(e => [e.dataset.testid || e.id || e.textContent.trim().slice(0, 20), e.getBoundingClientRect().height])
        .filter(([, h]) => h < 44)""")
    assert small == []
    page.screenshot(path=str(artifacts / f"network-375-{view}.png"), full_page=True)
    probe.assert_clean()


def test_the_keyboard_steps_plays_and_shows_the_shortcuts(open_page):
    probe = open_page(network_url())
    page = probe.page
    wait_for_network(page)
    page.evaluate("document.activeElement?.blur()")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert stage(page) == 2
    page.keyboard.press("ArrowLeft")
    assert stage(page) == 1
    page.keyboard.press("End")
    assert stage(page) == UPDATE
    page.keyboard.press("Home")
    assert stage(page) == INPUTS
    page.keyboard.press(" ")
    page.wait_for_function("() => document.querySelector('[data-testid=timeline]').dataset.playing === 'true'")
    page.keyboard.press(" ")
    page.wait_for_function("() => document.querySelector('[data-testid=timeline]').dataset.playing === 'false'")
    page.keyboard.press("?")
    page.wait_for_selector("[data-testid=shortcuts][open]")
    page.click("[data-testid=shortcuts-close]")

    switch_view(page, "train")
    page.evaluate("document.activeElement?.blur()")
    page.keyboard.press("ArrowRight")  # one iteration
    page.wait_for_function("() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '1'")
    page.keyboard.press("Home")  # back to the initial weights
    page.wait_for_function("() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '0'")
    probe.assert_clean()


def test_the_link_keeps_the_settings_clamped_to_the_limits(open_page):
    probe = open_page("/network?data=xor&arch=1000-relu,4-sigmoid&opt=adam&lr=1e9&batch=16&seed=7&iters=99999"
                      "&view=train&noise=5&beta1=0.8&cmp=adam,bogus,sgd&by=sideways")
    page = probe.page
    wait_for_network(page)
    assert page.input_value("[data-testid=dataset]") == "xor"
    assert page.input_value("[data-testid=layer-units-1]") == "256"
    assert page.input_value("[data-testid=layer-activation-1]") == "relu"
    assert page.input_value("[data-testid=layer-units-2]") == "4"
    assert page.input_value("[data-testid=optimizer]") == "adam"
    assert page.input_value("[data-testid=lr]") == "1000000"
    assert page.input_value("[data-testid=batch]") == "16"
    assert page.input_value("[data-testid=seed]") == "7"
    assert page.input_value("[data-testid=iterations]") == "20000"
    assert page.input_value("[data-testid=noise]") == "1"
    assert page.input_value("[data-testid=beta1]") == "0.8"
    assert page.get_attribute("[data-testid=view-train]", "aria-pressed") == "true"
    assert page.get_attribute("svg[data-testid=network]", "data-sizes") == "2-256-4-1"
    pressed = page.eval_on_selector_all("[data-compare][aria-pressed=true]", "bs => bs.map(b => b.dataset.compare)")
    assert pressed == ["sgd", "adam"]  # known names only, in the page's order
    assert page.get_attribute("[data-testid=detail-layer]", "aria-pressed") == "true"

    # Editing the architecture writes the link; a reload shows the same network.
    page.click("[data-testid=remove-layer-1]")
    page.wait_for_function("() => document.querySelector('svg[data-testid=network]').dataset.sizes === '2-4-1'")
    page.fill("[data-testid=lr]", "0.05")
    page.press("[data-testid=lr]", "Enter")
    page.wait_for_function("() => new URLSearchParams(location.search).get('lr') === '0.05'")
    query = parse_qs(urlsplit(page.url).query)
    assert query["arch"] == ["4-sigmoid"]
    page.reload()
    wait_for_network(page)
    assert page.get_attribute("svg[data-testid=network]", "data-sizes") == "2-4-1"
    assert page.input_value("[data-testid=lr]") == "0.05"
    probe.assert_clean()


def test_own_points_by_click_and_by_upload_with_row_errors(open_page, tmp_path):
    probe = open_page(network_url())
    page = probe.page
    wait_for_network(page)
    page.select_option("[data-testid=dataset]", "own")
    page.wait_for_selector("[data-testid=own-tools]:not([hidden])")
    page.click("[data-testid=clear-points]")
    page.wait_for_function("() => document.querySelector('[data-testid=plot]').dataset.points === '0'")
    plot = page.locator("[data-testid=plot] svg")

    def click_at(x: float, y: float) -> None:
        box = plot.bounding_box()
        plot.click(position={"x": box["width"] * x, "y": box["height"] * y})

    click_at(0.3, 0.3)
    page.click("[data-testid=add-class-1]")
    click_at(0.7, 0.6)
    click_at(0.6, 0.7)
    page.wait_for_function("() => document.querySelector('[data-testid=plot]').dataset.points === '3'")
    wait_for_network(page)
    assert page.locator("[data-testid=plot] path.point.class-1").count() == 2
    assert "pts" in parse_qs(urlsplit(page.url).query)

    bad = tmp_path / "points.csv"
    bad.write_text("x1,x2,label\n0.5,1.2,0\n0.1,oops,1\n")
    page.set_input_files("[data-testid=upload]", str(bad))
    page.wait_for_selector("[data-testid=upload-errors]:not([hidden])")
    assert page.inner_text("[data-testid=upload-row]") == "Row 3, column 2"
    assert "oops" in page.inner_text("[data-testid=upload-errors]")

    good = tmp_path / "good.json"
    good.write_text(json.dumps([[0.1, 0.2, 0], [0.9, 0.8, 1], [-0.5, 0.4, 0], [0.3, -0.7, 1], [0.6, 0.1, 1]]))
    page.set_input_files("[data-testid=upload]", str(good))
    page.wait_for_function("() => document.querySelector('[data-testid=plot]').dataset.points === '5'")
    assert page.locator("[data-testid=upload-errors]").is_hidden()
    probe.assert_clean(allowed_console=EXPECTED_422)


def test_the_explorer_links_to_the_network_page(open_page):
    probe = open_page("/")
    page = probe.page
    page.wait_for_function("() => document.querySelector('[data-testid=tab-network]').textContent === 'Network'")
    page.click("[data-testid=tab-network]")
    page.wait_for_url(re.compile(r"/network\?lang=en$"))
    wait_for_network(page)
    assert page.get_attribute("[data-testid=tab-network]", "aria-current") == "page"
    # Numbers drawn with 4 significant digits and a real minus; data attributes keep ASCII and every digit.
    first_input = neurons(page)[(0, 0)]
    assert first_input["value"].startswith("-0.47386")
    assert f"{MINUS}0.4739" in page.text_content("svg[data-testid=network] g.neuron[data-layer='0'][data-unit='0']")
    probe.assert_clean()
