"""benchmarks/bench_descent.py still runs and prints its figures. Smoke only: nothing here asserts on speed."""
from __future__ import annotations

import re

from .test_bench_smoke import NUMBER, run_script


def test_bench_descent_quick_prints_each_surface_beside_the_baselines_and_a_verdict():
    out = run_script("bench_descent.py", "--quick")
    assert re.search(rf"baseline: GET /api/v1/health\s+{NUMBER} ms", out)
    assert re.search(rf"baseline: quadratic grid \+ 5 SGD paths, NumPy\s+{NUMBER} ms", out)
    for name in ("quadratic", "rosenbrock", "himmelblau", "saddle", "logistic", "custom"):
        assert re.search(rf"^{name}: grid 200 \+ run 5 x 500\s+{NUMBER} ms", out, re.MULTILINE), name
        assert re.search(rf"^{name} grid \+ run <= 100 ms\s+{NUMBER} ms\s+(PASS|MISS)$", out, re.MULTILINE), name
