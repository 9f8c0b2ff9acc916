"""benchmarks/bench_descent_page.py still runs in Chromium and prints its figures. Smoke only: nothing here
asserts on speed."""
from __future__ import annotations

import re

from .test_bench_smoke import NUMBER, run_script

SETUPS = ("bowl, 3 optimizers x 100 steps (as it opens)", "bowl, 5 optimizers x 500 steps")
ROWS = ("baseline: GET /api/v1/health by fetch", "baseline: the same POST /descent/run by fetch alone",
        "slider change: input event to request sent", "slider change: request (input event to answer)",
        "slider change: drawing (answer to drawn)", "slider change: input event to drawn",
        "slider change: input event to the next painted frame")


def test_bench_descent_page_quick_prints_each_setup_beside_its_baselines_a_drag_and_a_verdict():
    out = run_script("bench_descent_page.py", "--quick")
    assert "4 slider changes per setup" in out
    assert re.search(rf"^load average \(1 min\) before / after: {NUMBER} / {NUMBER} on \d+ CPUs$", out, re.MULTILINE)
    tables = out.split("target (issue 5)")[0]
    for setup, following in zip(SETUPS, (*SETUPS[1:], "drag:")):
        section = tables.split(setup, 1)[1].split(following, 1)[0]
        for row in ROWS:
            assert re.search(rf"^  {re.escape(row)}\s+{NUMBER} ms\s+{NUMBER} ms$", section, re.MULTILINE), (setup, row)
    assert re.search(r"^  drag: 60 input events 8 ms apart, 2 drags$", out, re.MULTILINE)
    asked = re.search(rf"^    runs asked of the server per drag\s+({NUMBER})$", out, re.MULTILINE)
    drawn = re.search(rf"^    runs drawn per drag\s+({NUMBER})$", out, re.MULTILINE)
    assert asked and drawn and float(drawn.group(1)) >= 1
    assert re.search(rf"^    last input event to the last rate painted\s+{NUMBER} ms\s+{NUMBER} ms$", out, re.MULTILINE)
    for setup in SETUPS:
        assert re.search(rf"^  {re.escape(setup)}\s+{NUMBER} ms (PASS|MISS)$", out, re.MULTILINE), setup
