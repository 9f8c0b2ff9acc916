"""The network page (/network) in Chromium against the real server: one iteration stepped through layer by
layer (forward, backward, update) with the numbers on the drawn lines and neurons; training with a live loss
curve and a boundary that changes; pause, step and reset; SGD, momentum and Adam compared; a divergent
learning rate explained in words; both languages; a phone's width; the keyboard; the link."""
from __future__ import annotations

import json
import math
import re
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest

from .network import (MINUS, network_url, go_to_stage, neurons, stage, switch_view, wait_for_network,
                      wait_for_training_to_stop, weights)

# A 4xx answer (a bad upload) is logged by Chromium itself as a console error; the page shows it instead.
EXPECTED_422 = ("status of 422",)
# Stages of an iteration of a net with L weight layers: inputs, forward 1..L, loss, backward L..1, update.
INPUTS, FORWARD_1, FORWARD_2, LOSS, BACKWARD_2, BACKWARD_1, UPDATE = range(7)


def api_iteration(live_server: str, body: dict) -> dict:
    request = urllib.request.Request(live_server + "/api/v1/network/iteration", data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


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


def test_a_divergent_learning_rate_is_explained_in_a_sentence_not_shown_as_nan(open_page, artifacts):
    probe = open_page(network_url(points="200", arch="8-tanh,8-tanh", lr="1000000", view="train"))
    page = probe.page
    wait_for_network(page)
    page.click("[data-testid=train]")
    page.wait_for_selector("[data-testid=divergence]:not([hidden])")
    text = page.inner_text("[data-testid=divergence]")
    assert "Training diverged" in text
    assert "iteration 2" in text
    assert page.inner_text("[data-testid=divergence-rate]") == "1×10⁶"
    assert "the loss jumped from 0.7576" in text
    assert re.search(r"weights into unit \d+ of layer \d+", text), text
    layer = page.get_attribute("svg[data-testid=network] .band.diverged", "data-band")
    assert layer is not None
    assert page.locator(f"svg[data-testid=network] g.neuron.bad[data-layer='{layer}']").count() >= 1
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
    page.click("[data-testid=lang-en]")
    page.wait_for_function("() => document.querySelector('#picture-heading').textContent === 'Network'")
    assert parse_qs(urlsplit(page.url).query)["lang"] == ["en"]
    missing = page.evaluate("import('/static/js/i18n.js').then(module => module.missingKeys())")
    assert missing == {}
    probe.assert_clean()


@pytest.mark.parametrize("view", ["step", "train", "compare"])
def test_a_phone_gets_one_column_no_sideways_scroll_and_thumb_sized_controls(open_page, artifacts, view):
    probe = open_page(network_url(view=view), width=375, height=800)
    page = probe.page
    wait_for_network(page)
    if view == "compare":
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
                      "&view=train&noise=5&beta1=0.8")
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
