"""The gradient-descent lab (/descent) in a real browser, against the real API: choosing a start by
clicking the contours, a new learning rate redrawing the paths, divergence flagged, the critical rate
2/lambda_max on the slider, Taylor's promise against the real loss, the one-parameter view, a typed
surface with an error, the link, both languages, the keyboard and a phone's width."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from .explorer import EXPECTED_422, MINUS

RUNS = "svg[data-testid=contour] g.run"
# The quadratic bowl at its defaults: H = diag(1, 10), start (-2.5, 1), so L0 = 8.125 and g0 = (-2.5, 10).
QUADRATIC_START = (-2.5, 1.0)
QUADRATIC_LOSS = 8.125
QUADRATIC_GRADIENT = (-2.5, 10.0)


def runs_drawn(page) -> int:
    return int(page.get_attribute("#contour-box", "data-runs") or 0)


def wait_for_runs(page, after: int = 0) -> int:
    """Wait until a run newer than `after` is drawn and nothing is in flight; the count of runs drawn."""
    page.wait_for_function(f"""() => {{
        const box = document.querySelector('#contour-box');
        return Number(box.dataset.runs || 0) > {after} && box.dataset.state === 'ready'
            && document.querySelectorAll('{RUNS}').length > 0;
    }}""")
    return runs_drawn(page)


def runs(page) -> dict[str, dict[str, str]]:
    """optimizer -> the data attributes of its drawn path."""
    groups = page.eval_on_selector_all(RUNS, "groups => groups.map(g => ({...g.dataset, d: g.querySelector('.run-line').getAttribute('d')}))")
    return {group["optimizer"]: group for group in groups}


def url_params(page) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(page.url).query).items()}


def set_rate(page, rate: str) -> None:
    before = runs_drawn(page)
    page.fill("[data-testid=rate]", rate)
    page.press("[data-testid=rate]", "Enter")
    wait_for_runs(page, before)


def go_home(page) -> None:
    page.evaluate("document.activeElement?.blur()")
    page.keyboard.press("Home")
    page.wait_for_function("() => document.querySelector('[data-testid=timeline]').dataset.step === '0'")


def taylor_numbers(page) -> dict[str, float]:
    page.wait_for_function("() => document.querySelector('[data-testid=taylor]').dataset.state === 'ready'")
    values = page.eval_on_selector_all("[data-testid=taylor-numbers] dd",
                                       "items => items.map(dd => [dd.dataset.testid, dd.dataset.value])")
    return {key.removeprefix("taylor-"): float(value) for key, value in values}


def test_clicking_the_plot_chooses_the_start_and_every_path_starts_there(open_page, artifacts):
    probe = open_page("/descent")
    page = probe.page
    first = wait_for_runs(page)
    start = page.locator("[data-testid=start-marker]")
    assert (float(start.get_attribute("data-a")), float(start.get_attribute("data-b"))) == QUADRATIC_START

    frame = page.locator("svg[data-testid=contour] .clip-rect").bounding_box()
    page.mouse.click(frame["x"] + 0.75 * frame["width"], frame["y"] + 0.2 * frame["height"])
    wait_for_runs(page, first)

    a, b = float(start.get_attribute("data-a")), float(start.get_attribute("data-b"))
    # The bowl's box is [-3, 3] x [-3, 3]; b grows upwards.
    assert a == pytest.approx(1.5, abs=0.05) and b == pytest.approx(1.8, abs=0.05)
    drawn = runs(page)
    assert sorted(drawn) == ["adam", "momentum", "sgd"]
    for group in drawn.values():
        assert (float(group["startA"]), float(group["startB"])) == (a, b)
        assert group["d"].startswith("M")
    assert page.input_value("[data-testid=start-a]").replace(MINUS, "-") == str(a)
    assert url_params(page)["start"] == f"{a},{b}"
    page.screenshot(path=str(artifacts / "descent-1280-start.png"), full_page=True)
    probe.assert_clean()


def test_a_new_learning_rate_changes_the_path_and_the_link(open_page):
    probe = open_page("/descent")
    page = probe.page
    wait_for_runs(page)
    before = runs(page)["sgd"]

    set_rate(page, "0.02")

    after = runs(page)["sgd"]
    assert after["d"] != before["d"]
    assert (after["startA"], after["startB"]) == (before["startA"], before["startB"])
    # A smaller rate crawls: after the same 100 steps plain gradient descent is still further from (0, 0).
    assert abs(float(after["a"])) > abs(float(before["a"]))
    assert url_params(page)["lr"] == "0.02"
    assert page.get_attribute("[data-testid=rate-slider]", "aria-valuetext") == "0.02"
    probe.assert_clean()


def test_dragging_the_log_slider_redraws_the_paths(open_page):
    probe = open_page("/descent")
    page = probe.page
    first = wait_for_runs(page)
    before = runs(page)["sgd"]["d"]
    slider = page.locator("[data-testid=rate-slider]")
    slider.focus()
    page.keyboard.press("ArrowLeft")  # one step of 0.01 in log10: the rate times 10^-0.01
    wait_for_runs(page, first)
    rate = float(page.get_attribute("[data-testid=rate]", "data-rate"))
    assert rate == pytest.approx(0.1 * 10 ** -0.01, rel=0.01)
    assert runs(page)["sgd"]["d"] != before
    probe.assert_clean()


def test_a_fast_drag_keeps_one_run_in_flight_and_ends_on_the_last_rate(open_page):
    probe = open_page("/descent?opt=sgd,momentum,nesterov,rmsprop,adam&steps=500")
    page = probe.page
    first = wait_for_runs(page)
    in_flight, most, asked, failed = [0], [0], [0], []

    def sent(request):
        if request.url.endswith("/api/v1/descent/run"):
            asked[0] += 1
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])

    def ended(request, ok=True):
        if request.url.endswith("/api/v1/descent/run"):
            in_flight[0] -= 1
            if not ok:
                failed.append(request.url)

    page.on("request", sent)
    page.on("requestfinished", ended)
    page.on("requestfailed", lambda request: ended(request, ok=False))
    # 40 input events 2 ms apart, faster than frames and than the server answers, as a quick drag sends them.
    page.evaluate("""async () => {
        const slider = document.querySelector('[data-testid=rate-slider]');
        for (let i = 0; i < 40; i += 1) {
            slider.value = String(-2 + i * 0.02);
            slider.dispatchEvent(new Event('input', { bubbles: true }));
            await new Promise((resolve) => setTimeout(resolve, 2));
        }
    }""")
    # The last position of the slider, 10^-1.22, is taken within a frame and the paths are drawn with it.
    page.wait_for_function("() => document.querySelector('[data-testid=rate]').dataset.rate === '0.0603'")
    wait_for_runs(page, first)
    page.wait_for_function("() => document.querySelector('[data-testid=run-sgd] .run-rate').dataset.rate === '0.0603'"
                           " && document.querySelector('#contour-box').dataset.state === 'ready'")
    assert {page.get_attribute(f"[data-testid=run-{name}] .run-rate", "data-rate")
            for name in ("sgd", "momentum", "nesterov", "rmsprop", "adam")} == {"0.0603"}
    # Never two runs at once, none cancelled half-way (the server would have computed it anyway), and
    # fewer runs than input events.
    assert most[0] == 1 and failed == [] and 1 <= asked[0] < 40
    probe.assert_clean()


def test_stepping_redraws_the_paths_in_place_over_contours_drawn_once(open_page):
    probe = open_page("/descent?opt=sgd,momentum,nesterov,rmsprop,adam&steps=500")
    page = probe.page
    wait_for_runs(page)
    # The contours sit in a compositing layer of their own; each run has one element for all its markers.
    assert page.evaluate("getComputedStyle(document.querySelector('svg[data-testid=contour] .contour-background'))"
                         ".willChange") == "transform"
    markers = page.eval_on_selector_all(f"{RUNS} .run-point", "paths => paths.map(p => Number(p.dataset.markers))")
    assert len(markers) == 5 and all(0 < count <= 120 for count in markers)
    page.evaluate(f"document.querySelectorAll('{RUNS}, svg[data-testid=contour] .contour-fill path')"
                  ".forEach((node) => {{ node.dataset.probe = 'kept'; }})")
    go_home(page)
    assert runs(page)["sgd"]["points"] == "1"
    assert page.eval_on_selector_all(f"{RUNS} .run-point", "paths => paths.map(p => p.getAttribute('d'))") == [None] * 5
    page.keyboard.press("End")
    page.wait_for_function("() => document.querySelector('[data-testid=timeline]').dataset.step === '500'")
    # The same elements, moved: nothing was rebuilt, and the contours were not touched.
    assert page.eval_on_selector_all(RUNS, "groups => groups.map(g => g.dataset.probe)") == ["kept"] * 5
    assert set(page.eval_on_selector_all("svg[data-testid=contour] .contour-fill path",
                                         "paths => paths.map(p => p.dataset.probe)")) == {"kept"}
    assert runs(page)["sgd"]["points"] == "501"
    probe.assert_clean()


def test_a_divergent_rate_is_flagged_with_a_marker_and_a_sentence(open_page, artifacts):
    probe = open_page("/descent")
    page = probe.page
    first = wait_for_runs(page)

    page.click("[data-testid=preset-diverge]")
    wait_for_runs(page, first)

    sgd = runs(page)["sgd"]
    assert sgd["status"] == "diverged"
    step = sgd["divergedAt"]
    marker = page.locator("[data-testid=divergence-marker-sgd]")
    assert marker.count() == 1 and marker.get_attribute("data-step") == step
    sentence = page.locator("[data-testid=divergence-sgd]")
    assert sentence.get_attribute("data-step") == step
    assert f"SGD diverged at step {step}" in sentence.inner_text()
    assert "⚠" in sentence.inner_text()
    assert page.get_attribute("[data-testid=run-sgd]", "data-status") == "diverged"
    # The divergent preset is above the critical rate marked on the slider.
    rate = float(page.get_attribute("[data-testid=rate]", "data-rate"))
    assert rate > float(page.get_attribute("[data-testid=critical-mark]", "data-rate"))
    page.screenshot(path=str(artifacts / "descent-1280-diverged.png"), full_page=True)
    probe.assert_clean()


def test_each_optimizer_has_its_own_rate_and_the_link_keeps_them(open_page, live_server, artifacts):
    probe = open_page("/descent")
    page = probe.page
    wait_for_runs(page)
    before = runs(page)
    assert page.is_checked("[data-testid=rate-linked]")
    assert page.input_value("[data-testid=lr-adam]") == page.input_value("[data-testid=lr-sgd]") == "0.1"

    # Adam alone gets 0.5: its path changes, the others' do not, and the slider is no longer shared.
    drawn = runs_drawn(page)
    page.fill("[data-testid=lr-adam]", "0.5")
    page.press("[data-testid=lr-adam]", "Enter")
    wait_for_runs(page, drawn)
    after = runs(page)
    assert after["adam"]["d"] != before["adam"]["d"]
    assert after["sgd"]["d"] == before["sgd"]["d"] and after["momentum"]["d"] == before["momentum"]["d"]
    assert not page.is_checked("[data-testid=rate-linked]")
    assert page.get_attribute("[data-testid=run-adam] .run-rate", "data-rate") == "0.5"
    assert page.get_attribute("[data-testid=run-sgd] .run-rate", "data-rate") == "0.1"
    assert url_params(page)["lr"] == "sgd:0.1,momentum:0.1,adam:0.5"

    # Following momentum, the slider moves momentum's rate and marks its own critical rate (2 + 2 beta)/lambda_max.
    page.click("[data-testid=follow-momentum]")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=critical-mark]').dataset.optimizer === 'momentum'")
    assert "Momentum" in page.inner_text("#rate-label")
    assert float(page.get_attribute("[data-testid=critical-mark]", "data-rate")) == pytest.approx(0.38)
    assert "(2 + 2β)/λmax = 0.38" in page.inner_text("[data-testid=critical-mark]")
    drawn = runs_drawn(page)
    page.click("[data-testid=preset-diverge]")
    wait_for_runs(page, drawn)
    drawn_runs = runs(page)
    assert drawn_runs["momentum"]["status"] == "diverged" and drawn_runs["sgd"]["status"] != "diverged"
    assert page.input_value("[data-testid=lr-momentum]") == "0.418"  # 1.1 x 0.38
    assert page.locator("[data-testid=divergence-momentum]").is_visible()
    assert page.locator("[data-testid=divergence-sgd]").count() == 0

    # Adam has no single critical rate: no mark, a sentence instead.
    page.click("[data-testid=follow-adam]")
    page.wait_for_function("() => document.querySelector('[data-testid=critical-mark]').hidden")
    assert "no single rate is critical" in page.inner_text("[data-testid=critical-hint]")
    assert page.input_value("[data-testid=rate]") == "0.5"
    page.screenshot(path=str(artifacts / "descent-1280-own-rates.png"), full_page=True)

    # The link brings every rate back.
    link = page.url
    page.goto(link)
    wait_for_runs(page)
    assert not page.is_checked("[data-testid=rate-linked]")
    assert [page.input_value(f"[data-testid=lr-{name}]") for name in ("sgd", "momentum", "adam")] == \
        ["0.1", "0.418", "0.5"]
    assert runs(page)["momentum"]["status"] == "diverged"

    # Linking again gives every optimizer the rate of the one followed.
    drawn = runs_drawn(page)
    page.check("[data-testid=rate-linked]")
    wait_for_runs(page, drawn)
    assert url_params(page)["lr"] == "0.5"
    assert {page.input_value(f"[data-testid=lr-{name}]") for name in ("sgd", "momentum", "adam")} == {"0.5"}
    probe.assert_clean()


def test_the_four_presets_show_crawling_a_good_rate_oscillation_and_divergence(open_page):
    probe = open_page("/descent?opt=sgd")
    page = probe.page
    wait_for_runs(page)

    def preset(kind: str) -> dict[str, str]:
        drawn = runs_drawn(page)
        page.click(f"[data-testid=preset-{kind}]")
        wait_for_runs(page, drawn)
        assert page.get_attribute(f"[data-testid=preset-{kind}]", "aria-pressed") == "true"
        return runs(page)["sgd"]

    # On the bowl the presets are 0.01, 0.5, 0.9 and 1.1 times 2/lambda_max = 0.2.
    rates = {kind: float(page.get_attribute(f"[data-testid=preset-{kind}]", "data-rate"))
             for kind in ("crawl", "good", "oscillate", "diverge")}
    assert rates == pytest.approx({"crawl": 0.002, "good": 0.1, "oscillate": 0.18, "diverge": 0.22})
    crawl = preset("crawl")  # a = -2.5 x 0.998^100, b = 0.98^100: after 100 steps the loss is still 2.18 of 8.125
    assert float(page.get_attribute("[data-testid=run-sgd]", "data-loss")) == pytest.approx(
        0.5 * ((2.5 * 0.998 ** 100) ** 2 + 10 * (0.98 ** 100) ** 2), rel=1e-9)
    assert crawl["status"] == "running"
    preset("good")  # both directions shrink: a by 0.9 a step, b to 0 at once
    assert float(page.get_attribute("[data-testid=run-sgd]", "data-loss")) < 1e-8
    oscillating = preset("oscillate")  # b_k = (1 - 0.18 x 10)^k = (-0.8)^k: across the valley and back
    assert oscillating["status"] != "diverged"
    go_home(page)
    signs = []
    for step in range(1, 5):
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"() => document.querySelector('[data-testid=timeline]').dataset.step === '{step}'")
        b = float(runs(page)["sgd"]["b"])
        assert b == pytest.approx((-0.8) ** step)
        signs.append(b > 0)
    assert signs == [False, True, False, True]
    assert preset("diverge")["status"] == "diverged"  # b_k = (-1.2)^k, a_k = -2.5 x 0.78^k
    loss = [0.5 * ((2.5 * 0.78 ** k) ** 2 + 10 * 1.44 ** k) for k in range(40)]
    expected = next(k for k in range(40) if loss[k] > 1000 * QUADRATIC_LOSS)  # 21
    assert page.get_attribute("[data-testid=divergence-sgd]", "data-step") == str(expected) == "21"
    probe.assert_clean()


def test_plain_descent_on_the_bowl_converges_just_below_the_critical_rate_and_diverges_just_above(open_page):
    probe = open_page("/descent?opt=sgd&steps=400")
    page = probe.page
    wait_for_runs(page)
    critical = float(page.get_attribute("[data-testid=critical-mark]", "data-rate"))
    assert critical == pytest.approx(0.2)

    set_rate(page, str(round(critical * 0.95, 6)))
    assert runs(page)["sgd"]["status"] != "diverged"
    assert page.locator("[data-testid=divergence]").is_hidden()

    set_rate(page, str(round(critical * 1.05, 6)))
    assert runs(page)["sgd"]["status"] == "diverged"
    assert page.locator("[data-testid=divergence-sgd]").is_visible()
    probe.assert_clean()


def test_the_critical_rate_is_marked_on_the_slider_for_the_quadratic_only(open_page):
    probe = open_page("/descent")
    page = probe.page
    first = wait_for_runs(page)
    mark = page.locator("[data-testid=critical-mark]")
    assert mark.is_visible()
    assert float(mark.get_attribute("data-rate")) == pytest.approx(2 / 10)
    assert "2/λmax = 0.2" in mark.inner_text()
    # It stands where 0.2 is on the logarithmic track.
    slider = page.locator("[data-testid=rate-slider]").bounding_box()
    low, high = float(page.get_attribute("[data-testid=rate-slider]", "min")), float(page.get_attribute("[data-testid=rate-slider]", "max"))
    tick = page.locator("[data-testid=critical-mark] .critical-tick").bounding_box()
    fraction = (-0.69897 - low) / (high - low)  # log10(0.2)
    expected = slider["x"] + 8 + fraction * (slider["width"] - 16)
    assert tick["x"] + tick["width"] / 2 == pytest.approx(expected, abs=3)

    page.fill("[data-testid=setting-condition]", "100")
    page.press("[data-testid=setting-condition]", "Enter")
    wait_for_runs(page, first)
    assert float(mark.get_attribute("data-rate")) == pytest.approx(2 / 100)
    assert url_params(page)["condition"] == "100"

    second = runs_drawn(page)
    page.select_option("[data-testid=surface-select]", "rosenbrock")
    wait_for_runs(page, second)
    assert mark.is_hidden()
    probe.assert_clean()


def test_the_taylor_panel_shows_the_prediction_beside_the_real_loss(open_page, artifacts):
    probe = open_page("/descent")
    page = probe.page
    wait_for_runs(page)
    go_home(page)

    numbers = taylor_numbers(page)
    eta = 0.1
    squared = QUADRATIC_GRADIENT[0] ** 2 + QUADRATIC_GRADIENT[1] ** 2  # 106.25
    a, b = QUADRATIC_START[0] - eta * QUADRATIC_GRADIENT[0], QUADRATIC_START[1] - eta * QUADRATIC_GRADIENT[1]
    assert numbers["loss"] == pytest.approx(QUADRATIC_LOSS)
    assert numbers["predicted"] == pytest.approx(QUADRATIC_LOSS - eta * squared)  # -2.5
    assert numbers["actual"] == pytest.approx(0.5 * (a * a + 10 * b * b))  # 2.53125
    assert numbers["gap"] == pytest.approx(numbers["actual"] - numbers["predicted"])
    assert page.locator("[data-testid=taylor-chart] [data-series=predicted] path.line").count() == 1
    assert page.locator("[data-testid=taylor-chart] [data-series=actual] path.line").count() >= 1
    verdict = page.locator("[data-testid=taylor-verdict]")
    assert verdict.inner_text().strip()
    # At twice the critical rate a plain step raises the loss: the panel says from which rate.
    set_rate(page, "0.4")
    go_home(page)
    page.wait_for_function("() => document.querySelector('[data-testid=taylor]').dataset.rate === '0.4'")
    assert float(verdict.get_attribute("data-rises-from")) <= 0.4
    assert "raises the loss" in verdict.inner_text()
    assert taylor_numbers(page)["actual"] > QUADRATIC_LOSS
    page.screenshot(path=str(artifacts / "descent-1280-taylor.png"), full_page=True)
    probe.assert_clean()


def test_the_one_parameter_view_draws_the_tangent_at_the_point(open_page):
    probe = open_page("/descent")
    page = probe.page
    wait_for_runs(page)
    go_home(page)
    chart = page.locator("[data-testid=line-chart]")
    page.wait_for_function("() => document.querySelector('[data-testid=line-chart]').dataset.slope === '-2.5'")
    assert float(chart.get_attribute("data-at")) == pytest.approx(QUADRATIC_LOSS)
    assert "negative" in page.inner_text("[data-testid=line-sentence]")
    assert page.locator("[data-testid=line-chart] [data-series=tangent] path.line").count() == 1

    page.click("[data-testid=line-b]")
    page.wait_for_function("() => document.querySelector('[data-testid=line-chart]').dataset.slope === '10'")
    assert "positive" in page.inner_text("[data-testid=line-sentence]")
    assert url_params(page)["param"] == "b"
    probe.assert_clean()


def test_stepping_moves_every_optimizer_and_the_gradient_arrow(open_page):
    probe = open_page("/descent")
    page = probe.page
    wait_for_runs(page)
    go_home(page)
    arrow = page.locator("[data-testid=gradient-arrow]")
    assert (float(arrow.get_attribute("data-ga")), float(arrow.get_attribute("data-gb"))) == QUADRATIC_GRADIENT
    assert runs(page)["sgd"]["points"] == "1"

    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('[data-testid=timeline]').dataset.step === '1'")
    sgd = runs(page)["sgd"]
    assert (float(sgd["a"]), float(sgd["b"])) == pytest.approx((-2.25, 0.0))  # theta - 0.1 * g
    assert float(arrow.get_attribute("data-a")) == pytest.approx(-2.25)
    assert "Step 1 of 100" in page.inner_text("[data-testid=step-counter]")

    page.keyboard.press("End")
    page.wait_for_function("() => document.querySelector('[data-testid=timeline]').dataset.step === '100'")
    page.keyboard.press("?")
    assert page.locator("[data-testid=shortcuts]").is_visible()
    page.keyboard.press("Escape")
    page.locator("[data-testid=shortcuts]").wait_for(state="hidden")
    page.wait_for_function("() => document.activeElement === document.body")
    page.keyboard.press(" ")  # at the end, play starts again from the start
    page.wait_for_function("() => document.querySelector('[data-testid=timeline]').dataset.playing === 'true'")
    page.wait_for_function("() => Number(document.querySelector('[data-testid=timeline]').dataset.step) >= 3")
    page.keyboard.press(" ")
    page.wait_for_function("() => document.querySelector('[data-testid=timeline]').dataset.playing === 'false'")
    assert int(page.get_attribute("[data-testid=timeline]", "data-step")) < 100
    probe.assert_clean()


def test_the_link_keeps_the_whole_view_and_is_clamped_to_the_limits(open_page, live_server):
    probe = open_page("/descent?surface=himmelblau&start=1,-2&opt=sgd,nesterov,rmsprop&lr=0.005"
                      "&hp=nesterov.beta:0.5,rmsprop.rho:0.99&steps=50&step=10&focus=rmsprop")
    page = probe.page
    wait_for_runs(page)
    assert page.input_value("[data-testid=surface-select]") == "himmelblau"
    assert page.get_attribute("[data-testid=timeline]", "data-step") == "10"
    assert sorted(runs(page)) == ["nesterov", "rmsprop", "sgd"]
    assert page.input_value("[data-testid=hp-nesterov-beta]") == "0.5"
    assert page.input_value("[data-testid=hp-rmsprop-rho]") == "0.99"
    assert page.is_checked("[data-testid=follow-rmsprop]")
    assert page.get_attribute("[data-testid=gradient-arrow]", "data-a") == runs(page)["rmsprop"]["a"]
    assert int(page.get_attribute("[data-testid=scrub]", "max")) == 50

    page.goto(live_server + "/descent?surface=nowhere&start=1e9,-1e9&lr=1e99&steps=999999&factor=0.5&opt=bogus")
    wait_for_runs(page)
    limits = page.evaluate("fetch('/api/v1/limits').then(r => r.json())")
    params = url_params(page)
    assert params["surface"] == "quadratic"
    assert [float(x) for x in params["start"].split(",")] == [limits["max_coordinate"], -limits["max_coordinate"]]
    assert float(params["lr"]) == limits["max_learning_rate"]
    assert page.input_value("[data-testid=steps]") == str(limits["max_descent_steps"])
    assert page.input_value("[data-testid=factor]") == "1000"
    assert sorted(runs(page)) == ["adam", "momentum", "sgd"]
    probe.assert_clean()


def test_a_typed_surface_with_a_parse_error_is_marked_at_its_line_and_column(open_page, artifacts):
    probe = open_page("/descent")
    page = probe.page
    first = wait_for_runs(page)
    page.select_option("[data-testid=surface-select]", "custom")
    second = wait_for_runs(page, first)

    page.fill("[data-testid=custom-source]", "f = a * * b")
    page.click("[data-testid=custom-draw]")
    error = page.locator("[data-testid=custom-error]")
    error.wait_for()
    assert (error.get_attribute("data-line"), error.get_attribute("data-column")) == ("1", "9")
    assert "Line 1, column 9" in error.inner_text()
    assert page.locator("[data-testid=error]").is_visible()
    assert "contour-box" in page.get_attribute("#contour-box", "id")
    assert "stale" in page.get_attribute("#contour-box", "class")
    page.screenshot(path=str(artifacts / "descent-1280-parse-error.png"), full_page=True)

    page.fill("[data-testid=custom-source]", "f = log(a) + b^2")
    page.click("[data-testid=custom-draw]")
    wait_for_runs(page, second)
    assert error.is_hidden()
    # log(a) is not finite for a <= 0: the region is hatched and a sentence says so.
    assert page.locator("[data-testid=non-finite-region]").count() >= 1
    assert page.locator("[data-testid=non-finite-note]").is_visible()
    assert url_params(page)["src"] == "f = log(a) + b^2"
    probe.assert_clean(allowed_console=EXPECTED_422)


def test_the_chinese_page_speaks_chinese_and_both_tables_have_the_same_keys(open_page, artifacts):
    probe = open_page("/descent", locale="zh-CN")
    page = probe.page
    wait_for_runs(page)
    go_home(page)
    page.wait_for_function("() => document.querySelector('[data-testid=taylor]').dataset.state === 'ready'")
    assert page.get_attribute("html", "lang") == "zh-Hans"
    assert page.inner_text("#picture-heading") == "损失的等高线"
    assert "泰勒" in page.inner_text("#taylor-heading")
    assert "学习率" in page.inner_text("#rate-label")
    assert "病态二次碗" in page.inner_text("[data-testid=surface-select]")
    assert "梯度下降" in page.title()
    page.click("[data-testid=preset-diverge]")
    page.wait_for_selector("[data-testid=divergence-sgd]")
    assert "发散" in page.inner_text("[data-testid=divergence-sgd]")
    page.screenshot(path=str(artifacts / "descent-1280-zh.png"), full_page=True)

    page.click("[data-testid=lang-en]")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.inner_text("#picture-heading") == "Contours of the loss"
    assert "diverged" in page.inner_text("[data-testid=divergence-sgd]")
    assert url_params(page)["lang"] == "en"
    missing = page.evaluate("import('/static/js/i18n.js').then(module => module.missingKeys())")
    assert missing == {}
    keys = page.evaluate("""Promise.all(['en', 'zh'].map((code) => import(`/static/js/lang/descent_${code}.js`)))
        .then((tables) => tables.map((table) => Object.keys(table.default).sort()))""")
    assert keys[0] == keys[1] and len(keys[0]) > 100
    assert {"lab.rate_of", "lab.rate_linked", "lab.opt_rate", "lab.critical_momentum", "lab.critical_adaptive"} <= set(keys[0])
    probe.assert_clean()


@pytest.mark.parametrize("width,height", [(375, 812), (1280, 900)], ids=["phone-375", "desktop-1280"])
def test_the_page_fits_the_screen_with_thumb_sized_controls(open_page, artifacts, width, height):
    probe = open_page("/descent", width=width, height=height)
    page = probe.page
    wait_for_runs(page)
    page.wait_for_function("() => document.querySelector('[data-testid=taylor]').dataset.state === 'ready'")

    page.screenshot(path=str(artifacts / f"descent-{width}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the page scrolls sideways"
    too_small = page.evaluate("""() => [...document.querySelectorAll(
            'button, select, summary, a.tab, input[type=text], input[type=range], label.follow, label.optimizer-choice, '
            + 'label.rate-linked')]
        .filter(el => el.offsetParent !== null)
        .map(el => ({ name: el.dataset.testid || el.id || el.textContent.trim(), height: el.getBoundingClientRect().height }))
        .filter(control => control.height < 44)""")
    assert too_small == []
    if width < 600:
        tops = page.evaluate("""() => Object.fromEntries(['contour', 'timeline', 'rate-box', 'explanation', 'lab-form'].map(id =>
            [id, document.querySelector(`[data-testid=${id}]`).getBoundingClientRect().top + scrollY]))""")
        assert tops["contour"] < tops["timeline"] < tops["rate-box"] < tops["explanation"] < tops["lab-form"]
    probe.assert_clean()


def test_the_page_s_own_code_stays_out_of_the_explorer(open_page):
    """The explorer fetches none of the descent modules: its byte budget is untouched."""
    probe = open_page("/")
    page = probe.page
    page.wait_for_selector("svg[data-testid=graph] g.node")
    fetched = [url for url in probe.requests if "/static/" in url]
    assert not [url for url in fetched if "descent.css" in url or "/descent_" in url and "descent_panel" not in url]
    assert page.locator("[data-testid=tab-descent]").get_attribute("href").startswith("/descent")
    probe.assert_clean()
