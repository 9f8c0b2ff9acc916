"""The explorer's side panels in a real browser: gradient descent (a small rate lowers the loss, a large one
overshoots, as shown), the gradient check (a verdict per input), export (JSON, SVG, PNG made in the browser),
their URL fields surviving a reload, and a phone-width layout in Chinese."""
from __future__ import annotations

import json
import math
import struct
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

MINUS = "\u2212"
SVG = "{http://www.w3.org/2000/svg}"
HISTORY_ROWS = "[data-testid=descent-history] tbody tr"
WORKED_EXAMPLE = {"x": (-2.0, -4.0), "y": (5.0, -4.0), "z": (-4.0, 3.0), "q": (3.0, -4.0), "f": (-12.0, 1.0)}


def shown_number(text: str) -> float:
    """A number as the page prints it (4 significant digits, a real minus, maybe ×10ⁿ) back to a float."""
    text = text.strip().replace(MINUS, "-")
    if "×10" in text:
        mantissa, power = text.split("×10")
        digits = power.translate(str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-"))
        return float(mantissa) * 10 ** int(digits)
    return float(text)


def assert_clean(probe, live_server: str) -> None:
    """probe.assert_clean, with object URLs (blob:<this origin>/...) counted as the local requests they are."""
    blobs = [url for url in probe.requests if url.startswith("blob:")]
    assert all(url.startswith(f"blob:{live_server}/") for url in blobs), blobs
    probe.requests[:] = [url for url in probe.requests if not url.startswith("blob:")]
    probe.assert_clean()


def open_panel(page, panel: str) -> None:
    details = page.locator(f"[data-testid={panel}-panel]")
    expect(details).to_be_attached()
    if details.get_attribute("open") is None:
        page.click(f"[data-testid={panel}-toggle]")
    expect(details).to_have_attribute("open", "")
    # the panel's "toggle" event writes the URL a moment later
    page.wait_for_function("id => (new URLSearchParams(location.search).get('panels') ?? '').split(',').includes(id)",
                           arg=panel)


def wait_for_trace(page) -> None:
    page.wait_for_function("document.querySelector('[data-testid=status-line]')?.textContent.includes('=')")


def set_rate(page, typed: str, kept: str | None = None) -> None:
    """Type a learning rate and press Enter; the panel keeps `kept` (the typed rate unless clamped)."""
    page.fill("[data-testid=descent-lr]", typed)
    page.press("[data-testid=descent-lr]", "Enter")
    expect(page.locator("[data-testid=descent-lr]")).to_have_attribute("data-value", kept or typed)


def apply_updates(page, count: int) -> list[float]:
    """Press "Apply one update" count times; the losses shown in the history, oldest first."""
    step = page.locator("[data-testid=descent-step]")
    rows = page.locator(HISTORY_ROWS)
    start = rows.count()
    for k in range(count):
        expect(step).to_be_enabled()
        step.click()
        expect(rows).to_have_count(max(start, 1) + k + 1)
    expect(step).to_be_enabled()
    shown = page.eval_on_selector_all(HISTORY_ROWS, """rows => rows.map(row => ({
        step: Number(row.dataset.step), loss: Number(row.dataset.loss), text: row.cells[1].textContent }))""")
    shown.sort(key=lambda row: row["step"])
    for row in shown:  # what a person reads agrees with the full-precision number
        assert math.isclose(shown_number(row["text"]), row["loss"], rel_tol=1e-3), row
    return [shown_number(row["text"]) for row in shown]


def open_squared_loss(open_page, **kwargs):
    probe = open_page("/?example=squared-loss", **kwargs)
    wait_for_trace(probe.page)
    open_panel(probe.page, "descent")
    expect(probe.page.locator("[data-testid=descent-param-w]")).to_be_checked()
    return probe


# ---- Gradient descent -------------------------------------------------------------------------------

def test_a_small_learning_rate_lowers_the_loss_step_after_step(open_page, live_server, artifacts):
    probe = open_squared_loss(open_page)
    page = probe.page
    set_rate(page, "0.05")

    losses = apply_updates(page, 4)

    assert len(losses) == 5
    assert losses[0] == 6.76
    assert all(later < earlier for earlier, later in zip(losses, losses[1:])), losses
    verdict = page.locator("[data-testid=descent-verdict]")
    expect(verdict).to_have_attribute("data-trend", "fell")
    expect(verdict).to_contain_text("The loss fell from")
    # the last update: w moved, and the loss sits beside its first-order prediction and the gap
    moved = page.locator("[data-testid=descent-moves] tbody tr[data-label=w]")
    assert float(moved.get_attribute("data-after")) > float(moved.get_attribute("data-before"))
    after = shown_number(page.inner_text("[data-testid=descent-loss-after]"))
    predicted = shown_number(page.inner_text("[data-testid=descent-loss-predicted]"))
    gap = shown_number(page.inner_text("[data-testid=descent-gap]"))
    assert after == losses[-1]
    assert math.isclose(gap, after - predicted, rel_tol=1e-3, abs_tol=1e-4)
    expect(page.locator("[data-testid=descent-chart] svg [data-series=real] path.point")).to_have_count(5)
    expect(page.locator("[data-testid=descent-chart] svg [data-series=predicted] path.point")).to_have_count(4)
    page.locator("[data-panel=descent]").screenshot(path=str(artifacts / "panels-descent-small-rate.png"))
    assert_clean(probe, live_server)


def test_a_large_rate_on_squared_loss_overshoots_and_says_so(open_page, live_server, artifacts):
    probe = open_squared_loss(open_page)
    page = probe.page
    set_rate(page, "0.3")

    losses = apply_updates(page, 3)

    assert all(later > earlier for earlier, later in zip(losses, losses[1:])), losses
    verdict = page.locator("[data-testid=descent-verdict]")
    expect(verdict).to_have_attribute("data-trend", "rose")
    expect(verdict).to_have_class("descent-verdict warning")
    expect(verdict).to_contain_text("overshoots")
    expect(verdict).to_contain_text("bouncing")  # w jumps from one side of the minimum to the other
    page.locator("[data-panel=descent]").screenshot(path=str(artifacts / "panels-descent-overshoot.png"))
    page.screenshot(path=str(artifacts / "panels-1280-overshoot.png"), full_page=True)
    assert_clean(probe, live_server)


def test_an_update_re_traces_the_page_with_the_moved_parameter_and_reset_restores_it(open_page, live_server):
    probe = open_squared_loss(open_page)
    page = probe.page
    set_rate(page, "0.05")
    apply_updates(page, 1)
    with page.expect_download() as download:
        page.click("[data-testid=export-json]")
    nodes = {node["label"]: node for node in json.loads(download.value.path().read_text())["nodes"]}
    assert nodes["w"]["value"] == 0.72  # w = 0.2 - 0.05 * (-10.4)
    expect(page.locator("[data-testid=descent-params] .param-value").first).to_have_text("= 0.72")

    page.click("[data-testid=descent-run]")
    expect(page.locator(HISTORY_ROWS)).to_have_count(12)
    expect(page.locator("[data-testid=descent-step]")).to_be_enabled()
    page.click("[data-testid=descent-reset]")

    expect(page.locator(HISTORY_ROWS)).to_have_count(0)
    expect(page.locator("[data-testid=descent-params] .param-value").first).to_have_text("= 0.2")
    expect(page.locator("[data-testid=descent-moves]")).to_be_hidden()
    assert_clean(probe, live_server)


def test_a_huge_rate_diverges_until_the_server_limit_and_the_chart_switches_to_a_log_axis(open_page, live_server,
                                                                                          artifacts):
    probe = open_squared_loss(open_page)
    page = probe.page
    set_rate(page, "10")

    page.click("[data-testid=descent-run]")

    expect(page.locator("[data-testid=descent-message]")).to_contain_text("the updates diverged")
    expect(page.locator("[data-testid=descent-verdict]")).to_have_attribute("data-trend", "rose")
    losses = [float(x) for x in page.eval_on_selector_all(HISTORY_ROWS, "rows => rows.map(r => r.dataset.loss)")]
    assert max(losses) > 1e20 and len(losses) < 12  # stopped before the ten updates were done
    ticks = page.eval_on_selector_all("[data-testid=descent-chart] .y-axis .tick text", "ts => ts.map(t => t.textContent)")
    assert any("×10" in tick for tick in ticks), ticks  # powers of ten: every point stays readable
    page.locator("[data-panel=descent]").screenshot(path=str(artifacts / "panels-descent-diverged.png"))
    assert_clean(probe, live_server)


def test_a_loss_that_is_not_finite_to_begin_with_is_not_descended(open_page, live_server):
    probe = open_page("/?example=numerically-bad&panels=descent&params=x")
    page = probe.page
    wait_for_trace(page)
    expect(page.locator("[data-testid=descent-param-x]")).to_be_checked()

    page.click("[data-testid=descent-step]")

    expect(page.locator("[data-testid=descent-message]")).to_contain_text("not a finite number at these values")
    expect(page.locator(HISTORY_ROWS)).to_have_count(0)
    assert_clean(probe, live_server)


def test_without_a_ticked_parameter_the_panel_asks_for_one(open_page, live_server):
    probe = open_page("/")
    page = probe.page
    wait_for_trace(page)
    open_panel(page, "descent")
    expect(page.locator("[data-testid=descent-params] input")).to_have_count(3)
    assert page.eval_on_selector_all("[data-testid=descent-params] input", "xs => xs.map(x => x.checked)") == \
        [False, False, False]

    page.click("[data-testid=descent-step]")

    expect(page.locator("[data-testid=descent-message]")).to_have_text("Tick at least one parameter to move.")
    page.check("[data-testid=descent-param-x]")
    page.click("[data-testid=descent-step]")
    expect(page.locator(HISTORY_ROWS)).to_have_count(2)
    x = page.locator("[data-testid=descent-moves] tbody tr[data-label=x]")
    assert (x.get_attribute("data-before"), x.get_attribute("data-grad")) == ("-2", "-4")
    assert float(x.get_attribute("data-after")) == -2 - 0.1 * -4  # the default rate, 0.1
    assert_clean(probe, live_server)


def test_the_rate_slider_is_logarithmic_and_the_url_fields_survive_a_reload(open_page, live_server):
    probe = open_squared_loss(open_page)
    page = probe.page
    page.locator("[data-testid=descent-lr-slider]").fill("-1")
    expect(page.locator("[data-testid=descent-lr]")).to_have_value("0.1")
    page.locator("[data-testid=descent-lr-slider]").fill("0.5")
    expect(page.locator("[data-testid=descent-lr]")).to_have_value("3.16")
    set_rate(page, "0.3")
    page.check("[data-testid=descent-param-x]")
    open_panel(page, "gradcheck")

    query = parse_qs(urlsplit(page.url).query)
    assert query["lr"] == ["0.3"]
    assert query["params"] == ["w,x"]
    assert set(query["panels"][0].split(",")) == {"descent", "gradcheck"}

    page.reload()
    wait_for_trace(page)
    expect(page.locator("[data-testid=descent-panel]")).to_have_attribute("open", "")
    expect(page.locator("[data-testid=gradcheck-panel]")).to_have_attribute("open", "")
    expect(page.locator("[data-testid=descent-lr]")).to_have_value("0.3")
    assert math.isclose(float(page.input_value("[data-testid=descent-lr-slider]")), math.log10(0.3), abs_tol=0.01)
    expect(page.locator("[data-testid=descent-param-w]")).to_be_checked()
    expect(page.locator("[data-testid=descent-param-x]")).to_be_checked()
    expect(page.locator("[data-testid=descent-param-y]")).not_to_be_checked()
    assert_clean(probe, live_server)


def test_a_rate_outside_the_slider_is_clamped_in_the_box_and_the_url(open_page, live_server):
    probe = open_page("/?example=squared-loss&lr=1e9&panels=descent")
    page = probe.page
    wait_for_trace(page)
    expect(page.locator("[data-testid=descent-lr]")).to_have_value("10")
    set_rate(page, "0.00001", kept="0.0001")
    expect(page.locator("[data-testid=descent-lr]")).to_have_value("0.0001")
    assert parse_qs(urlsplit(page.url).query)["lr"] == ["0.0001"]
    assert_clean(probe, live_server)


# ---- Gradient check ---------------------------------------------------------------------------------

def test_the_gradient_check_passes_every_input_of_the_worked_example(open_page, live_server, artifacts):
    probe = open_page("/")
    page = probe.page
    wait_for_trace(page)
    open_panel(page, "gradcheck")
    expect(page.locator("[data-panel=gradcheck]")).to_contain_text("centered differences")

    page.click("[data-testid=gradcheck-run]")

    rows = page.locator("[data-testid=gradcheck-table] tbody tr")
    expect(rows).to_have_count(3)
    shown = page.eval_on_selector_all("[data-testid=gradcheck-table] tbody tr", """rows => rows.map(row => ({
        ...row.dataset, cells: [...row.cells].map(cell => cell.textContent.trim()) }))""")
    by_label = {row["label"]: row for row in shown}
    assert sorted(by_label) == ["x", "y", "z"]
    for label, row in by_label.items():
        assert float(row["analytic"]) == WORKED_EXAMPLE[label][1]
        assert math.isclose(float(row["numeric"]), WORKED_EXAMPLE[label][1], rel_tol=1e-6)
        assert row["verdict"] == "pass"
        assert row["cells"][4] == "✓ pass"  # a symbol and a word, not colour alone
    assert by_label["x"]["cells"][1] == f"{MINUS}4"
    expect(page.locator("[data-testid=gradcheck-summary]")).to_have_text("3 of 3 inputs pass.")
    colour = page.eval_on_selector(".verdict-pass", "e => getComputedStyle(e).color")
    assert colour != page.eval_on_selector("body", "e => getComputedStyle(e).color")
    page.locator("[data-panel=gradcheck]").screenshot(path=str(artifacts / "panels-gradcheck.png"))
    assert_clean(probe, live_server)


def test_the_gradient_check_flags_the_numerically_bad_program_as_undefined(open_page, live_server):
    probe = open_page("/?example=numerically-bad&panels=gradcheck")
    page = probe.page
    wait_for_trace(page)
    page.click("[data-testid=gradcheck-run]")
    row = page.locator("[data-testid=gradcheck-table] tbody tr[data-label=x]")
    expect(row).to_have_attribute("data-verdict", "undefined")
    expect(row.locator(".verdict")).to_have_text("? undefined")
    assert_clean(probe, live_server)


def test_the_gradient_check_clears_when_the_values_change(open_page, live_server):
    probe = open_squared_loss(open_page)
    page = probe.page
    open_panel(page, "gradcheck")
    page.click("[data-testid=gradcheck-run]")
    expect(page.locator("[data-testid=gradcheck-table] tbody tr")).to_have_count(3)

    apply_updates(page, 1)

    expect(page.locator("[data-testid=gradcheck-table]")).to_be_hidden()
    expect(page.locator("[data-testid=gradcheck-message]")).to_contain_text("Check the gradients")
    assert_clean(probe, live_server)


# ---- Export -----------------------------------------------------------------------------------------

def download(page, testid: str):
    with page.expect_download() as info:
        page.click(f"[data-testid={testid}]")
    return info.value


def test_export_json_saves_the_trace_of_the_worked_example(open_page, live_server):
    probe = open_page("/")
    page = probe.page
    wait_for_trace(page)

    saved = download(page, "export-json")

    assert saved.suggested_filename == "backprop-trace.json"
    assert urlsplit(saved.url).scheme == "blob"
    trace = json.loads(saved.path().read_text(encoding="utf-8"))
    nodes = {node["label"]: (node["value"], node["grad"]) for node in trace["nodes"]}
    assert nodes == WORKED_EXAMPLE
    assert {step["phase"] for step in trace["steps"]} == {"forward", "backward"}
    expect(page.locator("[data-testid=export-message]")).to_have_text("Saved backprop-trace.json.")
    assert_clean(probe, live_server)


def test_export_svg_saves_a_standalone_drawing_with_every_node_label(open_page, live_server, artifacts):
    probe = open_page("/")
    page = probe.page
    wait_for_trace(page)
    page.wait_for_selector("[data-testid=graph] [data-label=f]")

    saved = download(page, "export-svg")

    assert saved.suggested_filename == "backprop-graph.svg"
    text = saved.path().read_text(encoding="utf-8")
    (artifacts / "panels-export-graph.svg").write_text(text, encoding="utf-8")
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == f"{SVG}svg"
    assert float(root.get("width")) > 100 and float(root.get("height")) > 50
    assert len(root.get("viewBox").split()) == 4
    words = {" ".join("".join(element.itertext()).split()) for element in root.iter(f"{SVG}text")}
    labels = {element.get("data-label") for element in root.iter() if element.get("data-label")}
    assert set(WORKED_EXAMPLE) <= labels
    assert all(any(label == word or word.startswith(f"{label} ") for word in words) for label in WORKED_EXAMPLE), words
    assert "style=" in text  # styles inlined: the file does not need the page's stylesheets
    assert "<link" not in text and "@import" not in text
    assert_clean(probe, live_server)


def test_export_png_draws_the_graph_into_a_png_file(open_page, live_server, artifacts):
    probe = open_page("/")
    page = probe.page
    wait_for_trace(page)
    page.wait_for_selector("[data-testid=graph] [data-label=f]")

    saved = download(page, "export-png")

    data = saved.path().read_bytes()
    (artifacts / "panels-export-graph.png").write_bytes(data)
    assert saved.suggested_filename == "backprop-graph.png"
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 200 and height > 100
    assert len(data) > 5_000
    assert_clean(probe, live_server)


# ---- A phone, in Chinese ----------------------------------------------------------------------------

def test_the_panels_fit_a_phone_and_speak_chinese(open_page, live_server, artifacts):
    probe = open_page("/?example=squared-loss&lang=zh&panels=descent,gradcheck&lr=0.3", width=375, height=800,
                      locale="zh-CN")
    page = probe.page
    wait_for_trace(page)
    apply_updates(page, 2)
    page.click("[data-testid=gradcheck-run]")
    expect(page.locator("[data-testid=gradcheck-table] tbody tr").first).to_contain_text("通过")

    expect(page.locator("[data-testid=descent-verdict]")).to_contain_text("过冲")
    expect(page.locator("[data-panel=gradcheck]")).to_contain_text("中心差分")
    expect(page.locator("[data-testid=export-png]")).to_have_text("计算图（PNG）")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    controls = page.eval_on_selector_all(
        "[data-panel] button, [data-panel] input[type=number], [data-panel] input[type=range], [data-panel] summary,"
        " [data-panel] label.param-choice",
        "xs => xs.filter(x => x.offsetParent).map(x => [x.dataset.testid || x.textContent, x.getBoundingClientRect().height])")
    assert controls and all(height >= 44 for _, height in controls), controls
    page.locator("#panels").screenshot(path=str(artifacts / "panels-375-zh.png"))
    assert_clean(probe, live_server)


def test_the_svg_export_works_from_the_table_view_too(open_page, live_server):
    probe = open_page("/")
    page = probe.page
    wait_for_trace(page)
    page.wait_for_selector("[data-testid=graph] [data-label=f]")
    page.click("[data-testid=view-table]")
    expect(page.locator("[data-testid=graph]")).to_be_hidden()

    root = ET.fromstring(download(page, "export-svg").path().read_bytes())

    assert set(WORKED_EXAMPLE) <= {element.get("data-label") for element in root.iter() if element.get("data-label")}
    assert float(root.get("width")) > 100
    assert_clean(probe, live_server)


# ---- What a closed panel costs ----------------------------------------------------------------------

def test_closed_panels_fetch_no_code_until_opened(open_page, live_server):
    probe = open_page("/")
    page = probe.page
    wait_for_trace(page)
    lazy = ("descent_panel.js", "chart.js", "gradcheck_panel.js", "export_image.js")
    assert [url for url in probe.requests if url.endswith(lazy)] == []

    open_panel(page, "descent")
    expect(page.locator("[data-testid=descent-step]")).to_be_visible()

    fetched = {url.rsplit("/", 1)[-1] for url in probe.requests}
    assert {"descent_panel.js", "chart.js"} <= fetched
    assert "gradcheck_panel.js" not in fetched
    assert_clean(probe, live_server)


def test_switching_language_retranslates_the_open_panels(open_page, live_server):
    probe = open_squared_loss(open_page)
    page = probe.page
    apply_updates(page, 1)
    open_panel(page, "gradcheck")
    page.click("[data-testid=gradcheck-run]")
    expect(page.locator("[data-testid=gradcheck-summary]")).to_have_text("3 of 3 inputs pass.")

    page.click("[data-testid=lang-zh]")

    expect(page.locator("[data-testid=descent-verdict]")).to_contain_text("损失从")
    expect(page.locator("[data-testid=descent-step]")).to_have_text("执行一次更新")
    expect(page.locator("[data-testid=descent-run]")).to_have_text("执行 10 次更新")
    expect(page.locator("[data-testid=gradcheck-summary]")).to_have_text("3 个输入中有 3 个通过。")
    expect(page.locator("[data-testid=export-json]")).to_have_text("计算过程（JSON）")
    assert_clean(probe, live_server)
