"""A class on the network page, in two Chromium contexts: what the teacher's page does beyond its URL (one
iteration taken, a training run, its pause, an optimizer comparison) appears on the student's page, which
shows the teacher's results and never trains or compares itself (200 students must not start 200 runs).

Waits are generous (a shared 2-core machine); every check ends on exact final values.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from .network import LINES, network_url, wait_for_network, wait_for_stages, wait_for_training_to_stop, weights
from .test_classroom_pages import FOLLOW_SECONDS, eventually, join_class, start_class, wait_until

SETTLE_SECONDS = 10.0  # a student's page that must also fetch the iteration at the teacher's parameters


def progress(page) -> str:
    return page.get_attribute("[data-testid=train-progress]", "data-iteration")


def drawn_weights(page) -> dict:
    return {key: line["weight"] for key, line in weights(page).items()}


def computed_by(probe, *paths: str) -> list[str]:
    return [url for url in probe.requests if any(urlsplit(url).path == f"/api/v1/network/{path}" for path in paths)]


def test_the_students_network_shows_the_teachers_iteration_training_and_comparison(open_page, artifacts):
    teacher, code, join = start_class(open_page, network_url(iters="150"))
    t = teacher.page
    # A room made on this page: its code, join link and QR code (drawn by this server), the key in this tab only.
    assert t.get_by_test_id("classroom-qr").get_attribute("src") == f"/api/v1/rooms/{code}/qr.svg"
    wait_until(t, "() => document.querySelector('[data-testid=classroom-qr]').naturalWidth > 0", what="the QR code")
    assert t.evaluate("(code) => sessionStorage.getItem('bpx.presenter.' + code) !== null", code)
    t.get_by_test_id("classroom-close").click()
    wait_for_network(t)
    student = join_class(open_page, join)
    s = student.page
    assert urlsplit(s.url).path == "/network"
    assert s.evaluate("Object.keys(sessionStorage).filter((k) => k.startsWith('bpx.presenter.'))") == []
    wait_for_network(s)
    assert progress(s) == progress(t) == "0"

    # One iteration taken: the student's page stands at the teacher's new parameters.
    t.get_by_test_id("next-iteration").click()
    wait_until(t, "() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '1'",
               what="the teacher's iteration 1")
    wait_until(s, "() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '1'",
               timeout=FOLLOW_SECONDS, what="the student's iteration 1")
    eventually(lambda: drawn_weights(s) == drawn_weights(t), SETTLE_SECONDS, "the student's weights after one step")
    assert len(drawn_weights(t)) == 2 * 3 + 3 * 1 and all(drawn_weights(t).values())

    # Stages and views only show what the page has: the student's page asks the server for nothing.
    asked = len(computed_by(student, "iteration")) + len([u for u in student.requests if "/api/v1/data/" in u])
    t.evaluate("document.activeElement?.blur()")
    for _ in range(2):
        t.get_by_test_id("step-forward").click()
    wait_until(s, "() => document.querySelector('[data-testid=timeline]').dataset.step === '2'", timeout=FOLLOW_SECONDS,
               what="the student's stage 2")
    eventually(lambda: weights(s) == weights(t), SETTLE_SECONDS, "the student's stage 2 drawn as the teacher's")
    t.get_by_test_id("view-train").click()
    wait_until(s, "() => document.querySelector('[data-testid=view-train]').getAttribute('aria-pressed') === 'true'",
               timeout=FOLLOW_SECONDS, what="the student's train view")
    assert progress(s) == "1"
    assert len(computed_by(student, "iteration")) + len([u for u in student.requests if "/api/v1/data/" in u]) == asked

    # A training run of 150 more iterations: the same curve, boundary, weights and iteration.
    iterations_before_run = len(computed_by(student, "iteration"))
    t.get_by_test_id("train").click()
    wait_for_training_to_stop(t)
    wait_until(t, "() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '151'",
               timeout=10, what="the teacher's run done")
    wait_until(s, "() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '151'"
                  " && !document.querySelector('[data-testid=train]').disabled", timeout=SETTLE_SECONDS,
               what="the student's page at the end of the run")
    chart = "[data-testid=loss-chart]"
    eventually(lambda: s.get_attribute(chart, "data-last") == t.get_attribute(chart, "data-last"), SETTLE_SECONDS,
               "the student's last loss")
    assert float(t.get_attribute(chart, "data-last")) < float(t.get_attribute(chart, "data-first"))
    assert s.get_attribute(chart, "data-first") == t.get_attribute(chart, "data-first")
    plot = "[data-testid=plot]"
    assert s.get_attribute(plot, "data-boundary") == t.get_attribute(plot, "data-boundary") == "grid"
    # 16-bit probabilities: a cell could only change class within 1e-5 of a tie.
    counts = [[int(n) for n in page.get_attribute(plot, "data-boundary-counts").split(",")] for page in (t, s)]
    assert sum(counts[0]) == sum(counts[1]) and all(abs(a - b) <= 1 for a, b in zip(*counts)), counts
    assert abs(float(s.get_attribute(plot, "data-boundary-mean")) - float(t.get_attribute(plot, "data-boundary-mean"))) < 1e-4
    eventually(lambda: drawn_weights(s) == drawn_weights(t), SETTLE_SECONDS, "the student's weights after the run")
    s.screenshot(path=str(artifacts / "classroom-student-1280-network-trained.png"))

    # The optimizers compared: the student's page shows the teacher's three runs.
    t.get_by_test_id("view-compare").click()
    t.get_by_test_id("compare").click()
    cards = "figure.compare-run"
    wait_until(t, f"() => document.querySelectorAll({cards!r}).length === 3", timeout=20, what="the teacher's comparison")
    read = lambda page: page.eval_on_selector_all(  # noqa: E731
        cards, "figs => figs.map(f => [f.dataset.testid, f.dataset.status, f.querySelector('.run-loss, .run-diverged')?.textContent])")
    eventually(lambda: read(s) == read(t), SETTLE_SECONDS, "the student's comparison")
    assert [card[0] for card in read(s)] == ["compare-run-sgd", "compare-run-momentum", "compare-run-adam"]
    s.screenshot(path=str(artifacts / "classroom-student-1280-network-compare.png"))

    # The student's page computed none of it: no training run, no comparison of its own, and not even the
    # iteration at the new parameters, which only the step view (not shown since) would need.
    assert len(computed_by(student, "iteration")) == iterations_before_run
    assert computed_by(student, "train", "train/stream", "compare") == []
    assert len(computed_by(teacher, "train/stream")) == 1 and len(computed_by(teacher, "compare")) == 1
    teacher.assert_clean()
    student.assert_clean()


def test_a_run_going_on_shows_on_the_students_page_and_its_pause_too(open_page):
    slow = network_url(points="1000", arch="16-tanh,16-tanh", iters="15000", view="train")
    teacher, code, join = start_class(open_page, slow)
    t = teacher.page
    t.get_by_test_id("classroom-close").click()
    wait_for_network(t)
    student = join_class(open_page, join)
    s = student.page
    wait_for_network(s)

    t.get_by_test_id("train").click()
    # The run shows as going on: the student's Train waits, its curve grows with the teacher's.
    wait_until(s, "() => document.querySelector('[data-testid=train]').disabled "
                  "&& Number(document.querySelector('[data-testid=loss-chart]').dataset.points) > 0",
               timeout=FOLLOW_SECONDS + 3, what="the run on the student's page")
    first = int(s.get_attribute("[data-testid=loss-chart]", "data-points"))
    wait_until(s, "(n) => Number(document.querySelector('[data-testid=loss-chart]').dataset.points) > n", first,
               timeout=FOLLOW_SECONDS + 3, what="the student's curve growing")
    t.get_by_test_id("pause").click()
    wait_for_training_to_stop(t)
    wait_until(t, "() => Number(document.querySelector('[data-testid=train-progress]').dataset.iteration) > 0",
               what="the teacher's paused iteration")
    paused = progress(t)
    wait_until(s, "(n) => document.querySelector('[data-testid=train-progress]').dataset.iteration === n"
                  " && !document.querySelector('[data-testid=train]').disabled", paused, timeout=SETTLE_SECONDS,
               what="the student's page at the teacher's pause")
    eventually(lambda: drawn_weights(s) == drawn_weights(t), SETTLE_SECONDS, "the student's weights at the pause")
    assert int(paused) < 15_000 and s.query_selector_all(LINES)
    assert computed_by(student, "train", "train/stream", "compare") == []
    teacher.assert_clean()
    student.assert_clean()


def test_a_detached_student_trains_alone_and_resyncs_to_the_teachers_iteration(open_page):
    teacher, code, join = start_class(open_page, network_url(iters="50", view="train"))
    t = teacher.page
    t.get_by_test_id("classroom-close").click()
    wait_for_network(t)
    student = join_class(open_page, join)
    s = student.page
    wait_for_network(s)

    s.get_by_test_id("classroom-detach").click()
    s.get_by_test_id("train").click()  # alone: the student's own run
    wait_until(s, "() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '50'",
               timeout=SETTLE_SECONDS, what="the student's own run")
    t.get_by_test_id("train-step").click()
    wait_until(t, "() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '1'",
               what="the teacher's one step")
    s.wait_for_timeout(1000)
    assert progress(s) == "50"  # detached: the teacher's step is kept, not shown

    s.get_by_test_id("classroom-resync").click()
    wait_until(s, "() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '1'",
               timeout=FOLLOW_SECONDS, what="the student back at the teacher's iteration")
    eventually(lambda: drawn_weights(s) == drawn_weights(t), SETTLE_SECONDS, "the student's weights after resync")
    assert len(computed_by(student, "train/stream")) == 1  # its own run, while detached
    teacher.assert_clean()
    student.assert_clean()


def test_a_network_too_large_to_copy_says_so_and_still_shows_the_teachers_curve(open_page):
    # 2-64-64-1: 4,417 parameters, about 80 KiB of JSON, over the room's 32 KiB state
    teacher, code, join = start_class(open_page, network_url(arch="64-tanh,64-tanh", iters="20", view="train"))
    t = teacher.page
    t.get_by_test_id("classroom-close").click()
    wait_for_network(t)
    student = join_class(open_page, join)
    s = student.page
    wait_for_network(s)
    assert s.get_by_test_id("classroom-note").is_hidden()

    t.get_by_test_id("train").click()
    wait_for_training_to_stop(t)
    wait_until(t, "() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '20'",
               timeout=SETTLE_SECONDS, what="the teacher's run done")
    wait_until(s, "() => !document.querySelector('[data-testid=classroom-note]').hidden", timeout=SETTLE_SECONDS,
               what="the note on the student's bar")
    assert "too large" in s.text_content("[data-testid=classroom-note]")
    chart = "[data-testid=loss-chart]"
    eventually(lambda: s.get_attribute(chart, "data-last") == t.get_attribute(chart, "data-last"), SETTLE_SECONDS,
               "the teacher's curve on the student's page")
    assert s.get_attribute("[data-testid=plot]", "data-boundary") == "grid"  # the boundary still fits
    assert computed_by(student, "train", "train/stream", "compare") == []

    # Reset by the teacher: the note goes, both pages stand at the seeded start again.
    t.get_by_test_id("train-reset").click()
    wait_until(s, "() => document.querySelector('[data-testid=classroom-note]').hidden"
                  " && document.querySelector('[data-testid=train-progress]').dataset.iteration === '0'",
               timeout=SETTLE_SECONDS, what="the student back at the start")
    eventually(lambda: drawn_weights(s) == drawn_weights(t), SETTLE_SECONDS, "the seeded weights on both pages")
    teacher.assert_clean()
    student.assert_clean()


def asked_the_server(probe) -> list[str]:
    """The API paths a page asked for, beyond the room's own (its events, state and results)."""
    paths = [urlsplit(url).path for url in probe.requests]
    return [path for path in paths if path.startswith("/api/v1/") and not path.startswith("/api/v1/rooms")]


def pressed(page, testid: str) -> str:
    return f"() => document.querySelector('[data-testid={testid}]')?.getAttribute('aria-pressed') === 'true'"


def test_only_new_settings_make_the_students_page_ask_the_server_again(open_page):
    # 200 students: a stage, layer, view or choice of optimizers must cost the server nothing per student.
    teacher, code, join = start_class(open_page, network_url())
    t = teacher.page
    t.get_by_test_id("classroom-close").click()
    wait_for_network(t)
    student = join_class(open_page, join)
    s = student.page
    wait_for_network(s)
    before = asked_the_server(student)
    assert before.count("/api/v1/network/iteration") == 1

    for _ in range(3):
        t.get_by_test_id("step-forward").click()
    wait_until(s, "() => document.querySelector('[data-testid=timeline]').dataset.step === '3'", timeout=FOLLOW_SECONDS,
               what="the student's stage 3")
    eventually(lambda: weights(s) == weights(t), SETTLE_SECONDS, "the student's stage 3 drawn as the teacher's")
    t.get_by_test_id("layer-button-2").click()
    wait_until(s, pressed(s, "layer-button-2"), timeout=FOLLOW_SECONDS, what="the student's layer 2")
    assert s.inner_text("[data-testid=layer-heading]") == "Layer 2"
    t.get_by_test_id("view-train").click()
    wait_until(s, pressed(s, "view-train"), timeout=FOLLOW_SECONDS, what="the student's train view")
    t.get_by_test_id("view-compare").click()
    t.get_by_test_id("compare-nesterov").click()
    wait_until(s, pressed(s, "compare-nesterov"), timeout=FOLLOW_SECONDS, what="the student's choice of optimizers")
    assert s.get_attribute("[data-testid=view-compare]", "aria-pressed") == "true"
    t.get_by_test_id("view-step").click()
    wait_until(s, pressed(s, "view-step"), timeout=FOLLOW_SECONDS, what="the student's step view")
    assert s.get_attribute("[data-testid=timeline]", "data-step") == "3"
    assert asked_the_server(student) == before

    # Neuron by neuron: that iteration is asked for once; back to layer by layer, the page has it still.
    t.get_by_test_id("detail-neuron").click()
    wait_for_stages(s, 11)
    assert asked_the_server(student) == [*before, "/api/v1/network/iteration"]
    t.get_by_test_id("detail-layer").click()
    wait_for_stages(s, 7)
    wait_until(s, pressed(s, "detail-layer"), timeout=FOLLOW_SECONDS, what="the student's layer detail")
    eventually(lambda: weights(s) == weights(t), SETTLE_SECONDS, "the student's drawing back layer by layer")
    assert asked_the_server(student) == [*before, "/api/v1/network/iteration"]

    # A new learning rate is a new setting: the student's page starts afresh, as the teacher's did.
    t.fill("[data-testid=lr]", "0.2")
    t.press("[data-testid=lr]", "Enter")
    wait_until(s, "() => document.querySelector('[data-testid=lr]').value === '0.2'", timeout=FOLLOW_SECONDS,
               what="the student's learning rate")
    eventually(lambda: asked_the_server(student).count("/api/v1/network/iteration") == 3, SETTLE_SECONDS,
               "the student's iteration at the new rate")
    t.evaluate("document.activeElement?.blur()")
    t.keyboard.press("End")
    wait_until(s, "() => document.querySelector('[data-testid=timeline]').dataset.step === '6'", timeout=FOLLOW_SECONDS,
               what="the student's update stage")
    eventually(lambda: drawn_weights(s) == drawn_weights(t), SETTLE_SECONDS, "the weights updated at the new rate")
    assert asked_the_server(student).count("/api/v1/network/iteration") == 3
    teacher.assert_clean()
    student.assert_clean()
