"""benchmarks/load.py still runs and prints its figures. Smoke only: nothing here asserts on speed."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
NUMBER = r"\d+(?:\.\d+)?"
ENDPOINTS = ("minimal GET /ping (baseline)", "minimal POST /echo (baseline)", "GET /api/v1/health", "GET /api/v1/ops",
             "GET /api/v1/examples", "POST /api/v1/trace", "POST /api/v1/network/iteration",
             "POST /api/v1/descent/run")


def test_load_quick_prints_every_endpoint_beside_the_minimal_one_with_no_errors():
    done = subprocess.run([sys.executable, str(BENCHMARKS / "load.py"), "--quick"], capture_output=True, text=True,
                          timeout=180, cwd=BENCHMARKS.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for endpoint in ENDPOINTS:
        figures = rf"\s+8\s+\d+\s+{NUMBER} ms\s+{NUMBER} ms\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$"
        row = re.search(rf"^{re.escape(endpoint)}{figures}", out, re.MULTILINE)
        assert row, f"no figures for {endpoint}:\n{out}"
        requests, errors, client_errors, server_errors = (int(group) for group in row.groups())
        assert requests > 0 and (errors, client_errors, server_errors) == (0, 0, 0), row.group(0)
    assert re.search(r"zero 5xx at every load\s+0\s+PASS$", out, re.MULTILINE), out
    assert re.search(rf"POST /api/v1/trace @8: p50, p99 vs minimal\s+{NUMBER}x\s+{NUMBER}x", out), out
