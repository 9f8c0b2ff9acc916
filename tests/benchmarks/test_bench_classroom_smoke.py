"""benchmarks/load_classroom.py still runs and prints its figures. Smoke only: nothing here asserts on speed."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
NUMBER = r"\d+(?:\.\d+)?"


def test_load_classroom_quick_prints_delivery_and_memory_beside_the_one_student_baseline():
    done = subprocess.run([sys.executable, str(BENCHMARKS / "load_classroom.py"), "--quick"], capture_output=True,
                          text=True, timeout=120, cwd=BENCHMARKS.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(rf"^  delivery p99\s+{NUMBER} ms\s+{NUMBER} ms$", out, re.MULTILINE), out
    assert re.search(r"^  errors\s+0\s+0$", out, re.MULTILINE), out
    assert re.search(r"^  students counted by the room\s+20$", out, re.MULTILINE), out
    assert re.search(rf"^  memory per connected student\s+-?{NUMBER} KiB$", out, re.MULTILINE), out
    target = r"target: p99 delivery to 20 students <= 1 s, no errors\s+\S+ ms\s+(PASS|MISS)$"
    assert re.search(target, out, re.MULTILINE), out
