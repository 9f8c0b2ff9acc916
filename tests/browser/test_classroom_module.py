"""static/js/classroom.js in two Chromium contexts (teacher and student), before any page shows it.

The teacher's context creates a room and pushes states; the student's opens the join link and
follows with EventSource. Rooms live in the test server's memory.
"""
from __future__ import annotations

import time
from urllib.parse import urlsplit

MODULE = "import('/static/js/classroom.js')"
WORKED = {"source": "q = x + y\nf = q * z", "values": {"x": -2, "y": 5, "z": -4}}


# A light same-origin document to run the module in (the pages themselves are not needed here).
BLANK = "/static/favicon.svg"


def teacher_creates_a_room(open_page) -> tuple[object, dict]:
    teacher = open_page(BLANK)
    room = teacher.page.evaluate(f"""async () => {{
        const m = await {MODULE};
        window.presenter = await m.Presenter.create({{page: "explorer", url: "/?step=1", state: {{step: 1}}}});
        return {{code: window.presenter.code, join: window.presenter.room.join_url,
                 kept: sessionStorage.getItem("bpx.presenter." + window.presenter.code) !== null}};
    }}""")
    return teacher, room


def student_follows(open_page, join_url: str, via_join_link: bool = False) -> object:
    code = urlsplit(join_url).path.rsplit("/", 1)[1]
    # the join link leads to the teacher's page (/join/CODE -> /?step=1&room=CODE)
    student = open_page(urlsplit(join_url).path if via_join_link else f"{BLANK}?room={code}")
    student.page.evaluate(f"""async () => {{
        const m = await {MODULE};
        window.m = m;
        window.seen = [];
        window.follower = new m.Follower(m.roomInUrl(), {{
            onState: (state, version) => window.seen.push({{step: state.state.step, version}}),
            onResults: (results) => {{ window.results = results; }},
            onQuiz: (quiz) => {{ window.quiz = quiz; }},
            onReveal: (quiz, counts) => {{ window.reveal = {{quiz, counts}}; }},
        }}).start();
    }}""")
    student.page.wait_for_function("window.seen.length === 1 && window.seen[0].step === 1", timeout=5000)
    return student


def test_the_join_link_opens_the_teachers_page_and_the_student_follows_within_one_second(open_page):
    teacher, room = teacher_creates_a_room(open_page)
    assert room["kept"]
    student = student_follows(open_page, room["join"], via_join_link=True)
    assert student.page.url.endswith(f"/?step=1&room={room['code']}")
    for step in (2, 3, 4):
        started = time.monotonic()
        push = "(step) => window.presenter.push({page: 'explorer', url: `/?step=${step}`, state: {step}})"
        teacher.page.evaluate(push, step)
        student.page.wait_for_function(f"window.seen.at(-1).step === {step}", timeout=2000)
        assert time.monotonic() - started < 1.0
    teacher.assert_clean(allowed_console=("/favicon.ico",))  # the bare SVG document asks for one
    student.assert_clean()


def test_a_detached_student_keeps_the_teachers_state_and_resyncs_in_one_call(open_page):
    teacher, room = teacher_creates_a_room(open_page)
    student = student_follows(open_page, room["join"])
    student.page.evaluate("window.follower.detach()")
    teacher.page.evaluate("window.presenter.push({page: 'explorer', state: {step: 7}})")
    teacher.page.evaluate("window.presenter.pushResults({page: 'network', results: {at: 12}})")
    student.page.wait_for_function("window.follower.latest.state.step === 7 && window.follower.results?.results.at === 12",
                                   timeout=3000)
    assert student.page.evaluate("window.seen.at(-1).step") == 1
    assert student.page.evaluate("window.results === undefined")  # kept, not shown
    student.page.evaluate("window.follower.resync()")
    assert student.page.evaluate("window.seen.at(-1).step") == 7
    assert student.page.evaluate("window.results.results") == {"at": 12}
    # following again: the next results are shown as they come
    teacher.page.evaluate("window.presenter.pushResults({page: 'network', results: {at: 13}})")
    student.page.wait_for_function("window.results.results.at === 13", timeout=3000)


def test_quiz_round_trip_and_a_student_cannot_reveal(open_page):
    teacher, room = teacher_creates_a_room(open_page)
    student = student_follows(open_page, room["join"])
    opened = teacher.page.evaluate("(worked) => window.presenter.openQuiz({node: 'n2', label: 'q', ...worked})", WORKED)
    assert opened["answer"] == -4
    student.page.wait_for_function(f"window.quiz && window.quiz.id === '{opened['id']}'", timeout=2000)
    refused = student.page.evaluate(f"""async () => {{
        try {{ await new window.m.Presenter("{room['code']}", "not-the-key").reveal(-4); return null; }}
        catch (error) {{ return [error.status, error.code]; }}
    }}""")
    assert refused == [403, "presenter_key_required"]
    sent = student.page.evaluate(f"window.m.submitAnswer('{room['code']}', window.quiz.id, -4)")
    assert sent["value"] == -4
    histogram = teacher.page.evaluate("window.presenter.answers()")
    assert histogram["histogram"]["count"] == 1 and histogram["correct"] == 1
    teacher.page.evaluate("window.presenter.reveal()")
    student.page.wait_for_function("window.reveal !== undefined", timeout=2000)
    assert student.page.evaluate("window.m.isRight(-4, window.reveal.quiz)") is True
    assert student.page.evaluate("window.m.isRight(3, window.reveal.quiz)") is False
    assert student.page.evaluate("window.reveal.counts") == {"answers": 1, "correct": 1}


# ---- static/js/network_classroom.js: the network page's results, packed within the room's limit ----------

PACKING = """async () => {
    const m = await import('/static/js/network_classroom.js');
    const side = 50;
    const axis = (low, high) => Array.from({length: side}, (_, k) => low + (high - low) * k / (side - 1));
    const p1 = Array.from({length: side}, (_, r) => Array.from({length: side}, (_, c) => 1 / (1 + Math.exp(-(c - r) / 7))));
    const boundary = {kind: 'grid', x1: axis(-1.5, 2.5), x2: axis(-1, 1.5),
                      probabilities: [p1.map((row) => row.map((p) => 1 - p)), p1], predicted: null};
    const worst = (bits) => {
        const back = m.unpackBoundary(m.packBoundary(boundary, bits));
        let error = 0;
        back.probabilities.forEach((rows, k) => rows.forEach((row, r) => row.forEach((p, c) => {
            error = Math.max(error, Math.abs(p - boundary.probabilities[k][r][c])); })));
        return {error, x1: Math.max(...back.x1.map((x, i) => Math.abs(x - boundary.x1[i]))),
                predicted: back.predicted[10][30], size: JSON.stringify(m.packBoundary(boundary, bits)).length};
    };
    const weights = (n) => Array.from({length: n}, (_, i) => [Math.sin(i + 1) / 3]);
    const history = Array.from({length: 1000}, (_, i) => ({x: i, y: 1 / (i + 1) + 0.123456789}));
    const page = {
        spec: {layers: [{units: 8}], seed: 0}, view: 'train', compareAnswer: null,
        training: {position: {params: {W1: weights(300), b1: weights(300)}, optimizerState: {t: 3}, iteration: 300},
                   run: null, running: false, history: {train: history, test: []}, boundary, boundaryIteration: 300,
                   result: {status: 'finished', iterations: 300}},
    };
    const part = m.extend(page);
    const sizes = {};
    for (const budget of [200000, 20000, 6000, 2000, 300]) {
        const packed = part.snapshot(budget);
        sizes[budget] = {bytes: new TextEncoder().encode(JSON.stringify(packed)).length, at: packed.at,
                         params: Boolean(packed.params), state: Boolean(packed.optimizer_state),
                         bits: packed.boundary?.bits ?? 0, points: packed.history?.train.length ?? 0,
                         last: packed.history?.train.at(-1) ?? null};
    }
    return {bits16: worst(16), bits8: worst(8), sizes, thin: m.thinPoints(history, 5),
            fingerprints: [m.fingerprint({a: 1}), m.fingerprint({a: 1}), m.fingerprint({a: 2})]};
}"""


def test_network_results_fit_the_budget_given_coarser_first_and_round_trip_closely(open_page):
    probe = open_page(BLANK)
    found = probe.page.evaluate(PACKING)
    assert found["bits16"]["error"] <= 1 / 65534 and found["bits8"]["error"] <= 1 / 254
    assert found["bits16"]["x1"] < 1e-12 and found["bits16"]["predicted"] == 1  # column 30 > row 10: class 1
    assert found["bits8"]["size"] < found["bits16"]["size"] < 7_000  # 2,500 cells of one class's probability
    sizes = {int(budget): shape for budget, shape in found["sizes"].items()}
    for budget, shape in sizes.items():
        assert shape["bytes"] <= budget and shape["at"] == 300, (budget, shape)
    assert sizes[200000] | {"bytes": 0} == {"bytes": 0, "at": 300, "params": True, "state": True, "bits": 16,
                                             "points": 240, "last": [999, 1 / 1000 + 0.123456789]}
    assert sizes[20000]["params"] and sizes[20000]["bits"] == 8  # coarser before anything is left out
    assert not sizes[6000]["params"] and sizes[6000]["bits"] == 8  # 600 parameters do not fit: the curves do
    assert sizes[300]["points"] == 0 and not sizes[300]["params"]  # the least: where training stands
    # thinned: first and last exact, the rest rounded to 6 digits
    assert found["thin"] == [[0, 1.123456789], [250, 0.127441], [500, 0.125453], [749, 0.124790], [999, 0.124456789]]
    one, same, other = found["fingerprints"]
    assert one == same != other and len(one) == 8
    probe.assert_clean(allowed_console=("/favicon.ico",))
