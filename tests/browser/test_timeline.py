"""The timeline and the explanation: step back restores the state before, the keyboard alone drives it, play
runs to the end, a newer step cancels a running animation, reduced motion jumps, and each step is explained
with its numbers filled in (KaTeX) and one sentence, in English and in Chinese."""
from __future__ import annotations

from .explorer import MINUS, WORKED_STEPS, drawn_nodes, go_to_step, press, shown, step_index, switch_language, \
    wait_for_graph


def test_step_back_restores_the_previous_state(open_page):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)

    states = []
    go_to_step(page, 0)
    for index in range(WORKED_STEPS):
        if index:
            page.click("[data-testid=step-forward]")
        assert step_index(page) == index
        states.append(shown(drawn_nodes(page)))
    assert states[-1]["x"] == ("-2", "-4")
    for index in reversed(range(WORKED_STEPS - 1)):
        page.click("[data-testid=step-back]")
        assert step_index(page) == index
        assert shown(drawn_nodes(page)) == states[index], f"step {index} after stepping back"
    page.click("[data-testid=step-back]")  # already at the first step: stays
    assert step_index(page) == 0
    probe.assert_clean()


def test_the_keyboard_alone_steps_jumps_plays_and_opens_the_shortcuts(open_page):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)

    press(page, "Home")
    assert step_index(page) == 0
    press(page, "ArrowRight", 3)
    assert step_index(page) == 3
    press(page, "ArrowLeft")
    assert step_index(page) == 2
    press(page, "End")
    assert step_index(page) == WORKED_STEPS - 1
    assert float(drawn_nodes(page)["x"]["grad"]) == -4.0

    press(page, "Home")
    press(page, " ")
    assert page.get_attribute("[data-testid=timeline]", "data-playing") == "true"
    assert page.get_attribute("[data-testid=play]", "aria-pressed") == "true"
    press(page, " ")
    assert page.get_attribute("[data-testid=timeline]", "data-playing") == "false"

    press(page, "?")
    dialog = page.locator("[data-testid=shortcuts]")
    dialog.wait_for(state="visible")
    assert "Play or pause" in dialog.inner_text()
    press(page, "Escape")
    dialog.wait_for(state="hidden")

    # Typing in the program is not stepping.
    before = step_index(page)
    page.focus("[data-testid=source]")
    press(page, "ArrowLeft")
    assert step_index(page) == before
    probe.assert_clean()


def test_tab_reaches_every_timeline_control_and_enter_presses_it(open_page):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)
    press(page, "Home")

    page.focus("[data-testid=step-back]")
    press(page, "Tab")
    press(page, "Tab")
    assert page.evaluate("document.activeElement.dataset.testid") == "step-forward"
    press(page, "Enter")
    assert step_index(page) == 1
    press(page, " ")  # Space on a focused button presses that button
    assert step_index(page) == 2
    probe.assert_clean()


def test_play_runs_to_the_end_and_a_newer_step_cancels_the_running_animation(open_page):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)
    page.select_option("[data-testid=speed]", "4")
    press(page, "Home")

    page.click("[data-testid=play]")
    page.wait_for_function("document.querySelector('.pulse') !== null")  # a value is travelling
    press(page, "End")  # a newer state: the running animation stops where it is
    assert page.get_attribute("[data-testid=timeline]", "data-playing") == "false"
    assert page.locator(".pulse").count() == 0
    assert page.locator(".arriving").count() == 0
    assert shown(drawn_nodes(page))["x"] == ("-2", "-4")

    press(page, "Home")
    page.click("[data-testid=play]")
    page.wait_for_function(f"document.querySelector('[data-testid=timeline]').dataset.step === '{WORKED_STEPS - 1}'",
                           timeout=10_000)
    page.wait_for_function("document.querySelector('[data-testid=timeline]').dataset.playing === 'false'")
    assert float(drawn_nodes(page)["z"]["grad"]) == 3.0
    probe.assert_clean()


def test_reduced_motion_jumps_instead_of_animating(chromium, live_server):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, reduced_motion="reduce")
    try:
        page = context.new_page()
        page.goto(live_server + "/")
        wait_for_graph(page)
        press(page, "Home")
        page.evaluate("""() => { window.pulses = 0; new MutationObserver(records => { for (const r of records)
            for (const n of r.addedNodes) if (n.classList?.contains('pulse')) window.pulses += 1; })
            .observe(document.querySelector('g.overlay'), { childList: true }); }""")
        press(page, "ArrowRight", 4)
        page.click("[data-testid=play]")
        page.wait_for_timeout(400)
        assert page.evaluate("window.pulses") == 0
        assert float(drawn_nodes(page)["q"]["value"]) == 3.0
    finally:
        context.close()


def test_the_explanation_fills_in_the_chain_rule_with_numbers(open_page, artifacts):
    probe = open_page("/")
    page = probe.page
    wait_for_graph(page)

    go_to_step(page, 8)  # the gradient flows from q into x
    latex = page.eval_on_selector_all("[data-testid=formula] .formula-line", "lines => lines.map(l => l.dataset.latex)")
    assert latex == [r"\frac{\partial q}{\partial x} = 1",
                     r"\frac{\partial f}{\partial x} = \frac{\partial f}{\partial q} \cdot \frac{\partial q}{\partial x}"
                     r" = (-4)(1) = -4"]
    assert page.locator("[data-testid=formula] .katex").count() == 2
    assert page.locator("[data-testid=formula] .katex-error").count() == 0
    sentence = page.inner_text("[data-testid=sentence]")
    assert sentence == (f"The gradient flows left from q to x: upstream {MINUS}4 times local 1 gives the contribution "
                        f"{MINUS}4. So far ∂f/∂x = {MINUS}4.")
    assert page.inner_text("[data-testid=step-phase]") == "Step 9 of 10: backward pass"
    assert "Sum." in page.inner_text("[data-testid=op-doc]")

    go_to_step(page, 2)  # q = x + y
    latex = page.eval_on_selector_all("[data-testid=formula] .formula-line", "lines => lines.map(l => l.dataset.latex)")
    assert latex == ["q = x + y = \\left(-2\\right) + 5 = 3"]
    assert "q is computed from x, y" in page.inner_text("[data-testid=sentence]")
    page.screenshot(path=str(artifacts / "explorer-1280-explanation.png"))

    switch_language(page, "zh")
    assert page.inner_text("[data-testid=step-phase]") == "第 3 步，共 10 步：前向传播"
    assert "由 x, y 算出" in page.inner_text("[data-testid=sentence]")
    assert page.get_attribute("[data-testid=step-forward]", "aria-label") == "前进一步（→）"
    probe.assert_clean()


def test_user_text_reaches_katex_escaped(open_page):
    # A label is an identifier or a short expression; it still goes through the escaper, and KaTeX
    # runs with trust off: nothing in a program can make it build a link or run a command.
    probe = open_page("/?src=long_name%20%3D%20x_1%20*%202%0Aout%20%3D%20long_name%20%2B%20x_1&values={\"x_1\":3}")
    page = probe.page
    wait_for_graph(page)
    for index in range(step_count_of(page)):
        go_to_step(page, index)
        assert page.locator("[data-testid=formula] .katex-error").count() == 0
        assert page.locator("[data-testid=formula] a, [data-testid=formula] [href]").count() == 0
    probe.assert_clean()


def step_count_of(page) -> int:
    return int(page.get_attribute("[data-testid=scrub]", "max")) + 1
