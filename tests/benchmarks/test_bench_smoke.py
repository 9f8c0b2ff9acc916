"""The benchmark scripts still run and print their figures. Smoke only: nothing here asserts on speed.

Each script runs as a user would run it (`python benchmarks/<script>.py --quick`) in a subprocess,
so its servers, signal handling and exit code are exercised as they are for real.
"""
from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
NUMBER = r"\d+(?:\.\d+)?"


def run_script(name: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(BENCHMARKS / name), *args], capture_output=True, text=True,
                          timeout=120, cwd=BENCHMARKS.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_bench_engine_quick_prints_each_figure_beside_its_baseline_and_a_verdict():
    out = run_script("bench_engine.py", "--quick")
    assert re.search(rf"worked example: trace\(\).*?{NUMBER} µs\s+{NUMBER} µs", out)
    assert re.search(rf"baseline \(a\): plain-Python.*?{NUMBER} µs", out)
    assert re.search(rf"ratio engine / baseline \(a\)\s+{NUMBER} x", out)
    assert "1,000-node chain: 1000 nodes" in out
    assert re.search(rf"baseline \(b\): orjson.dumps of a plain dict.*?{NUMBER} ms", out)
    for stage in ("parse", r"trace_graph \(record=True\)", "to_dict", "orjson.dumps"):
        assert re.search(rf"^  {stage}\s+{NUMBER} ms\s+{NUMBER} ms\s+\d+%$", out, re.MULTILINE), stage
    assert re.search(rf"worked example trace\(\) median <= 50 µs\s+{NUMBER} µs\s+(PASS|MISS)$", out, re.MULTILINE)
    assert re.search(rf"1,000-node trace .*?<= 5 ms\s+{NUMBER} ms\s+(PASS|MISS)$", out, re.MULTILINE)


def test_bench_nn_quick_prints_each_target_with_a_verdict():
    out = run_script("bench_nn.py", "--quick")
    assert re.search(rf"engine: Trainer.step \(graph, record=False, update\)\s+{NUMBER} ms", out)
    assert re.search(rf"baseline: hand-written NumPy forward/backward/update\s+{NUMBER} ms\s+engine / numpy", out)
    assert re.search(r"baseline: PyTorch CPU, autograd \+ SGD\s+(n/a|\d)", out)
    assert re.search(rf'to_dict\("compact"\) \+ orjson.dumps\s+{NUMBER} ms\s+{NUMBER} MB', out)
    for target in (r"step <= 1.0x PyTorch", r"step <= 1.3x hand-written NumPy", r"faster than micrograd",
                   r"two moons to 97% training accuracy < 1 s", r"iteration trace to JSON <= 10 ms"):
        assert re.search(rf"{target}.*\s(PASS|MISS|n/a)$", out, re.MULTILINE), target


def _assert_http_table(out: str) -> None:
    for endpoint in ("minimal FastAPI POST /echo", "app POST /api/v1/trace"):
        row = re.search(rf"^{re.escape(endpoint)}.*?\s(\d+)\s+{NUMBER} ms\s+{NUMBER} ms\s+(\d+)\s+(\d+)", out,
                        re.MULTILINE)
        assert row, f"no figures for {endpoint}:\n{out}"
        assert int(row.group(2)) > 0, f"{endpoint} answered no requests"
        assert int(row.group(3)) == 0, f"{endpoint} had failed requests"
    assert re.search(r"trace requests/s >= 50% of minimal\s+\d+%\s+(PASS|MISS)", out)


@pytest.mark.skipif(shutil.which("wrk") is None and importlib.util.find_spec("httpx") is None,
                    reason="no load generator: neither wrk nor httpx is installed")
def test_bench_http_quick_loads_both_servers_and_prints_the_ratio():
    _assert_http_table(run_script("bench_http.py", "--quick"))


@pytest.mark.skipif(shutil.which("wrk") is None or importlib.util.find_spec("httpx") is None,
                    reason="the Python client is already what the test above runs, or httpx is missing")
def test_bench_http_python_client_fallback_runs_bounded():
    out = run_script("bench_http.py", "--client", "python", "--duration", "0.3", "--warmup", "0.2",
                     "--connections", "8", "--max-requests", "200")
    _assert_http_table(out)
    assert "inconclusive" in out


def test_bench_page_quick_prints_bytes_timings_and_frames_beside_their_baselines():
    out = run_script("bench_page.py", "--quick")
    assert re.search(r"^own JS \+ CSS \(excluding vendored\)\s+[\d,]+$", out, re.MULTILINE)
    assert re.search(r"^baseline: vendored libraries fetched\s+[\d,]+$", out, re.MULTILINE)
    assert re.search(rf"^baseline: blank document load event\s+{NUMBER} ms", out, re.MULTILINE)
    assert re.search(rf"^worked example: graph drawn after navigation\s+{NUMBER} ms", out, re.MULTILINE)
    assert re.search(rf"^\d+-node program: graph drawn after navigation\s+{NUMBER} ms", out, re.MULTILINE)
    assert re.search(rf"^baseline: \d+-node graph, still\s+{NUMBER} ms\s+{NUMBER} ms", out, re.MULTILINE)
    for target in (r"own JS \+ CSS <= 150 KB", r"first graph drawn <= 1 s", r"laid out and drawn <= 1\.5 s",
                   r"animation p95 frame time <= 20 ms"):
        assert re.search(rf"{target}.*\s(PASS|MISS)$", out, re.MULTILINE), target
    assert "requests left the machine" not in out
