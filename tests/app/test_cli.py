"""The command line, run in-process: `backprop-explorer trace ...` and `backprop-explorer serve ...`."""
from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app import cli
from app.cli import main

from .conftest import WORKED_EXAMPLE, strict_json

ROOT = Path(__file__).resolve().parents[2]
WORKED = ["trace", "q = x + y; f = q * z", "x=-2", "y=5", "z=-4"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def section(out: str, title: str) -> str:
    """The lines of one table, from its title to the next blank line."""
    lines = out.split("\n")
    start = next(k for k, line in enumerate(lines) if line.startswith(title))
    end = next((k for k in range(start, len(lines)) if not lines[k].strip()), len(lines))
    return "\n".join(lines[start:end])


def row(table: str, first: str) -> list[str]:
    return next(line.split() for line in table.split("\n") if line.split()[:1] == [first])


# ---- trace: the tables ----------------------------------------------------------------------

def test_worked_example_node_table_shows_q_3_and_f_minus_12_with_their_gradients(capsys):
    code, out, err = run(capsys, *WORKED)
    assert code == 0 and err == ""
    nodes = section(out, "Nodes")
    assert nodes.split("\n")[1].split() == ["label", "op", "value", "grad", "status"]
    assert row(nodes, "q") == ["q", "add", "3", "-4", "ok"]
    assert row(nodes, "f") == ["f", "mul", "-12", "1", "ok"]
    assert row(nodes, "x") == ["x", "input", "-2", "-4", "ok"]
    assert row(nodes, "z") == ["z", "input", "-4", "3", "ok"]
    assert out.startswith("output f = -12\n")


def test_worked_example_forward_table_shows_the_formulas(capsys):
    _, out, _ = run(capsys, *WORKED)
    forward = section(out, "Forward")
    assert re.search(r"^\s+2\s+q = x \+ y = -2 \+ 5 = 3$", forward, re.M)
    assert re.search(r"^\s+4\s+f = q \* z = 3 \* \(-4\) = -12$", forward, re.M)


def test_worked_example_backward_lines_show_upstream_times_local_equals_contribution(capsys):
    _, out, _ = run(capsys, *WORKED)
    backward = section(out, "Backward")
    # step, from -> node, upstream x local = contribution, grad so far
    for line in (r"6\s+f\s+->\s+q\s+1\s+x\s+-4\s+=\s+-4\s+-4",
                 r"7\s+f\s+->\s+z\s+1\s+x\s+3\s+=\s+3\s+3",
                 r"8\s+q\s+->\s+x\s+-4\s+x\s+1\s+=\s+-4\s+-4",
                 r"9\s+q\s+->\s+y\s+-4\s+x\s+1\s+=\s+-4\s+-4"):
        assert re.search(rf"^\s+{line}$", backward, re.M), line
    assert re.search(r"^\s+5\s+seed\s+f\s+1$", backward, re.M)


def test_table_columns_are_aligned(capsys):
    _, out, _ = run(capsys, *WORKED)
    backward = section(out, "Backward").split("\n")[1:]
    arrows = {line.index("->") for line in backward if "->" in line}
    equals = {line.index(" = ") for line in backward if " = " in line}
    assert len(arrows) == 1 and len(equals) == 1


def test_source_with_new_lines_prints_the_same_as_with_semicolons(capsys):
    _, with_semicolons, _ = run(capsys, *WORKED)
    _, with_newlines, _ = run(capsys, "trace", "q = x + y\nf = q * z", "x=-2", "y=5", "z=-4")
    assert with_newlines == with_semicolons


def test_source_dash_reads_the_program_from_stdin(capsys, monkeypatch):
    _, expected, _ = run(capsys, *WORKED)
    monkeypatch.setattr(sys, "stdin", io.StringIO("q = x + y\nf = q * z\n"))
    code, out, _ = run(capsys, "trace", "-", "x=-2", "y=5", "z=-4")
    assert code == 0 and out == expected


def test_numbers_in_tables_have_at_most_six_significant_digits(capsys):
    code, out, _ = run(capsys, "trace", "a = sigmoid(z)", "z=1")
    assert code == 0
    assert row(section(out, "Nodes"), "a")[2] == "0.731059"
    assert "0.7310585" not in out.split("Forward")[0]


def test_tensor_values_are_given_as_json_lists(capsys):
    code, out, _ = run(capsys, "trace", "f = x * w", "x=[1,2,3]", "w=2")
    assert code == 0
    nodes = section(out, "Nodes")
    assert "[2, 4, 6]" in nodes
    assert row(nodes, "w")[:4] == ["w", "input", "2", "6"]


def test_params_print_the_update_with_after_equal_before_minus_lr_grad_and_the_losses(capsys):
    code, out, _ = run(capsys, "trace", "p = w * x; L = (p - y) ** 2", "w=0.2", "x=2", "y=3",
                       "--params", "w", "--lr", "0.05")
    assert code == 0
    update = section(out, "Update")
    assert update.split("\n")[1].split() == ["param", "before", "grad", "lr", "after"]
    param, before, grad, lr, after = row(update, "w")
    assert (before, grad, lr) == ("0.2", "-10.4", "0.05")
    assert float(after) == pytest.approx(0.2 - 0.05 * -10.4)
    assert re.search(r"loss before 6\.76, after 2\.4336, predicted 1\.352 ", update)


def test_name_value_pairs_may_follow_params(capsys):
    code, out, _ = run(capsys, "trace", "L = w * x", "--params", "w", "w=2", "x=3")
    assert code == 0
    assert row(section(out, "Update"), "w")[1:] == ["2", "3", "0.1", "1.7"]  # --lr defaults to 0.1


def test_gradcheck_prints_one_passing_row_per_input(capsys):
    code, out, _ = run(capsys, *WORKED, "--gradcheck")
    assert code == 0
    table = section(out, "Gradient check")
    assert [row(table, name)[-1] for name in "xyz"] == ["pass", "pass", "pass"]
    assert row(table, "z")[1:3] == ["3", "3"]


def test_non_finite_values_print_as_null_with_their_status(capsys):
    code, out, _ = run(capsys, "trace", "u = log(x); f = x * u", "x=0")
    assert code == 0
    nodes = section(out, "Nodes")
    assert row(nodes, "u")[:3] == ["u", "log", "null"]
    assert row(nodes, "u")[-1] == "div0"
    assert out.startswith("output f = null (nan)")


# ---- trace --json ----------------------------------------------------------------------------

def test_json_output_is_exactly_what_the_api_answers(capsys, client):
    code, out, _ = run(capsys, "trace", WORKED_EXAMPLE["source"], "x=-2", "y=5", "z=-4", "--json")
    assert code == 0
    api = client.post("/api/v1/trace", json=WORKED_EXAMPLE)
    assert strict_json(out) == api.json()
    assert out.strip() == api.text


def test_json_output_with_update_and_gradcheck_matches_the_api(capsys, client):
    code, out, _ = run(capsys, "trace", "z = w * x + b; a = tanh(z)", "w=0.5", "x=1.5", "b=-0.2",
                       "--params", "w", "b", "--lr", "0.3", "--gradcheck", "--json")
    assert code == 0
    body = {"source": "z = w * x + b; a = tanh(z)", "values": {"w": 0.5, "x": 1.5, "b": -0.2},
            "params": ["w", "b"], "learning_rate": 0.3, "gradcheck": True}
    assert out.strip() == client.post("/api/v1/trace", json=body).text


def test_json_output_of_a_numerically_bad_program_is_strict_json(capsys):
    code, out, _ = run(capsys, "trace", "0 * log(x)", "x=0", "--json")
    assert code == 0
    assert strict_json(out)["nodes"][-1]["value"] is None


# ---- trace: errors --------------------------------------------------------------------------

@pytest.mark.parametrize("argv, words", [
    (["trace", "x +", "x=1"], "line 1, column 4"),
    (["trace", "q = x + y\nf = q * * z", "x=1", "y=1", "z=1"], "line 2, column 9"),
    (["trace", "foo(x)", "x=1"], "unknown function 'foo'"),
    (["trace", "x.real", "x=1"], "attribute access"),
    (["trace", "x * y", "x=1"], "no value given for 'y'"),
    (["trace", "x", "x=1", "w=2"], "'w', which the program does not use"),
    (["trace", "x", "x"], "expected name=value"),
    (["trace", "x", "=3"], "expected name=value"),
    (["trace", "x", "x="], "expected name=value"),
    (["trace", "x", "x=abc"], "must be a number or a JSON list"),
    (["trace", "x", "x=[1,"], "not a valid JSON list"),
    (["trace", "x", "x=[1,NaN]"], "not a valid JSON list"),
    (["trace", "x", "x=[true]"], "numbers only"),
    (["trace", "x", 'x=["1"]'], "numbers only"),
    (["trace", "x", "x=" + "[" * 100_000], "not a valid JSON list"),
    (["trace", "x", "x=nan"], "finite"),
    (["trace", "x", "x=1e400"], "finite"),
    (["trace", "x", "x=1", "x=2"], "given twice"),
    (["trace", "x", "x=[[1,2],[3]]"], "ragged"),
    (["trace", "x * x", "x=1", "--params", "x", "--lr", "0"], "learning_rate must be between"),
    (["trace", "q = x * x; q", "x=1", "--params", "q"], "not an input"),
], ids=["syntax", "syntax-line-2", "unknown-function", "attribute", "missing-value", "unused-value",
        "no-equals", "no-name", "no-value", "not-a-number", "bad-json", "nan-in-list", "bool-in-list",
        "string-in-list", "deep-json", "nan", "overflow", "twice", "ragged", "lr-zero", "param-not-input"])
def test_bad_input_exits_2_with_a_one_line_message_and_no_traceback(capsys, argv, words):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("backprop-explorer: error: ")
    assert err.count("\n") == 1
    assert words in err
    assert "Traceback" not in err


def test_usage_errors_exit_2(capsys):
    assert run(capsys)[0] == 2
    assert run(capsys, "trace")[0] == 2
    assert run(capsys, "frobnicate")[0] == 2
    code, _, err = run(capsys, "trace", "x", "x=1", "--lr", "fast")
    assert code == 2 and "--lr" in err


def test_help_exits_0(capsys):
    code, out, _ = run(capsys, "trace", "--help")
    assert code == 0 and "name=value" in out


# ---- serve ----------------------------------------------------------------------------------

@pytest.fixture
def uvicorn_calls(monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **options: calls.append((target, options)))
    for name in ("BACKPROP_HOST", "BACKPROP_PORT", "BACKPROP_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    return calls


def test_serve_runs_the_app_with_the_settings_defaults(capsys, uvicorn_calls):
    assert run(capsys, "serve")[0] == 0
    assert uvicorn_calls == [("app.main:app", {"host": "127.0.0.1", "port": 8000, "reload": False, "workers": 1})]


def test_serve_reads_backprop_environment_variables(capsys, uvicorn_calls, monkeypatch):
    monkeypatch.setenv("BACKPROP_PORT", "9001")
    monkeypatch.setenv("BACKPROP_WORKERS", "3")
    assert run(capsys, "serve")[0] == 0
    assert uvicorn_calls[0][1] == {"host": "127.0.0.1", "port": 9001, "reload": False, "workers": 3}


def test_serve_options_override_the_environment(capsys, uvicorn_calls, monkeypatch):
    monkeypatch.setenv("BACKPROP_PORT", "9001")
    assert run(capsys, "serve", "--host", "0.0.0.0", "--port", "8080", "--workers", "2")[0] == 0
    assert uvicorn_calls[0][1] == {"host": "0.0.0.0", "port": 8080, "reload": False, "workers": 2}


def test_serve_reload_runs_one_worker(capsys, uvicorn_calls):
    assert run(capsys, "serve", "--reload")[0] == 0
    assert uvicorn_calls[0][1]["reload"] is True


@pytest.mark.parametrize("argv, env", [
    (["serve", "--reload", "--workers", "2"], {}),
    (["serve", "--reload"], {"BACKPROP_WORKERS": "4"}),
])
def test_serve_refuses_reload_with_several_workers(capsys, uvicorn_calls, monkeypatch, argv, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "--reload" in err and "workers" in err and err.count("\n") == 1
    assert uvicorn_calls == []


@pytest.mark.parametrize("argv", [["serve", "--port", "0"], ["serve", "--port", "70000"], ["serve", "--workers", "0"]])
def test_serve_refuses_out_of_range_settings(capsys, uvicorn_calls, argv):
    code, _, err = run(capsys, *argv)
    assert code == 2 and err.startswith("backprop-explorer: error: ")
    assert uvicorn_calls == []


def started_workers(log_path: Path) -> list[str]:
    return re.findall(r"Started server process \[(\d+)\]", log_path.read_text(errors="replace"))


def parent_of(pid: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^PPid:\s+(\d+)", status, re.M).group(1))


def wait_until(condition, what: str, log_path: Path, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, log_path.read_text(errors="replace")
        assert time.monotonic() < deadline, f"{what} within {seconds} s:\n" + log_path.read_text(errors="replace")
        time.sleep(0.1)


def test_serve_with_three_workers_runs_three_processes_that_serve_and_stop_cleanly(tmp_path):
    """A real `backprop-explorer serve --workers 3` on a free port: three worker processes under one supervisor
    answer the API; one killed is replaced while the others serve on; SIGTERM ends it, workers and all."""
    port = free_port()
    log_path = tmp_path / "serve.log"
    env = {**os.environ, "BACKPROP_HOST": "127.0.0.1", "BACKPROP_REDIS_URL": ""}
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "3"],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        ready = lambda: log_path.read_text(errors="replace").count("Application startup complete") >= 3  # noqa: E731
        wait_until(ready, "three workers did not start", log_path, process)
        workers = started_workers(log_path)
        assert len(set(workers)) == 3, log_path.read_text()
        assert all(parent_of(pid) == process.pid for pid in workers)  # three processes, one supervisor
        with httpx.Client(timeout=10) as client:
            assert [client.get(f"{base}/health").status_code for _ in range(30)] == [200] * 30
            traced = client.post(f"{base}/trace", json=WORKED_EXAMPLE)
            assert traced.status_code == 200 and {n["label"]: n["value"] for n in traced.json()["nodes"]}["f"] == -12
        os.kill(int(workers[0]), signal.SIGKILL)
        answers = [httpx.get(f"{base}/health", timeout=10).status_code for _ in range(30)]  # fresh connections
        assert answers == [200] * 30  # the other two serve meanwhile
        wait_until(lambda: len(started_workers(log_path)) >= 4, "the killed worker was not replaced", log_path,
                   process)
        replaced = started_workers(log_path)[3]
        assert parent_of(replaced) == process.pid
        assert httpx.get(f"{base}/health", timeout=10).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    text = log_path.read_text(errors="replace")
    assert code == 0, text
    workers = set(started_workers(log_path))
    assert len(workers) == 4, text
    assert all(not Path(f"/proc/{pid}").exists() for pid in workers), "a worker outlived the server"
    assert text.count("Finished server process") == 3 and "Traceback" not in text, text


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---- The installed script -------------------------------------------------------------------

SCRIPT = Path(sys.executable).with_name("backprop-explorer")


@pytest.mark.skipif(not SCRIPT.exists(), reason="the backprop-explorer script is not installed beside python")
def test_the_installed_script_runs_trace_and_reports_errors_with_exit_2():
    done = subprocess.run([str(SCRIPT), "trace", "-", "x=3"], input="f = x * x", capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0
    assert row(section(done.stdout, "Nodes"), "f")[:3] == ["f", "mul", "9"]
    failed = subprocess.run([str(SCRIPT), "trace", "x +", "x=1"], capture_output=True, text=True, timeout=60)
    assert failed.returncode == 2
    assert failed.stderr.startswith("backprop-explorer: error: line 1, column 4")
    assert "Traceback" not in failed.stderr


def test_cli_module_has_no_mathematics_of_its_own():
    source = Path(cli.__file__).read_text()
    assert "import numpy" not in source and "from numpy" not in source
