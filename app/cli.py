"""The command line: `backprop-explorer serve` runs the web app, `backprop-explorer trace` prints a trace.

    backprop-explorer trace "q = x + y; f = q * z" x=-2 y=5 z=-4
    backprop-explorer trace "L = (w * x - t) ** 2" w=0.5 x=2 t=3 --params w --lr 0.1 --gradcheck
    echo "f = x * x" | backprop-explorer trace - x=3 --json
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Collection, Sequence

import orjson
from pydantic import ValidationError

from engine.errors import EngineError
from engine.trace import trace

from .settings import Settings

PROG = "backprop-explorer"


class UsageError(Exception):
    """Bad command-line input that argparse cannot see (a malformed name=value, say)."""


# ---- Reading name=value ----------------------------------------------------------------------

def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number here")


def _only_numbers(value: Any) -> bool:
    if isinstance(value, list):
        return all(_only_numbers(item) for item in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_value(name: str, text: str) -> Any:
    """A number (3, -0.5, 1e-3) or a JSON list of numbers ([1, 2] or [[1, 2], [3, 4]])."""
    if not text.lstrip().startswith("["):
        try:
            return float(text)
        except ValueError:
            raise UsageError(f"the value of {name} must be a number or a JSON list such as [1,2,3], "
                             f"not {text!r}") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise UsageError(f"the value of {name} is not a valid JSON list of numbers, such as [1,2,3]") from None
    if not _only_numbers(value):
        raise UsageError(f"the value of {name} must hold numbers only")
    return value


def parse_assignments(items: Sequence[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items:
        name, equals, text = item.partition("=")
        name = name.strip()
        if not equals or not name or not text.strip():
            raise UsageError(f"expected name=value (such as x=-2 or x=[1,2,3]), got {item!r}")
        if name in values:
            raise UsageError(f"{name} is given twice")
        values[name] = parse_value(name, text.strip())
    return values


def read_source(source: str) -> str:
    if source != "-":
        return source
    try:
        return sys.stdin.read()
    except UnicodeDecodeError:
        raise UsageError("the program read from stdin is not text in the terminal's encoding") from None


# ---- Tables ----------------------------------------------------------------------------------

def number(value: Any) -> str:
    """Up to 6 significant digits; a list stays a list; null (a non-finite number) reads 'null'."""
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(number(item) for item in value) + "]"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def cell(value: Any, limit: int = 40) -> str:
    text = number(value)
    if len(text) <= limit:
        return text
    shape = []
    while isinstance(value, list):
        shape.append(str(len(value)))
        value = value[0] if value else None
    return f"tensor({'x'.join(shape)})"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Collection[str] = ()) -> str:
    """Columns padded to their widest cell; the columns named in `right` are right-aligned (numbers)."""
    widths = [max(len(row[k]) for row in (headers, *rows)) for k in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        cells = [text.rjust(width) if header in right else text.ljust(width)
                 for text, width, header in zip(row, widths, headers)]
        return ("  " + "  ".join(cells)).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def nodes_table(answer: dict[str, Any]) -> str:
    rows = []
    for node in answer["nodes"]:
        status = node["status"]
        if node["grad_status"] not in ("ok", "none"):
            status += f" (grad {node['grad_status']})"
        grad = "" if node["grad_status"] == "none" else cell(node["grad"])  # "none": depends on no input
        rows.append([node["label"], node["op"], cell(node["value"]), grad, status])
    return "Nodes\n" + table(["label", "op", "value", "grad", "status"], rows, right=("value", "grad"))


def forward_table(answer: dict[str, Any]) -> str:
    rows = [[str(step["index"]), step["formula"] + ("" if step["status"] == "ok" else f"   [{step['status']}]")]
            for step in answer["steps"] if step["phase"] == "forward"]
    return "Forward\n" + table(["step", "formula"], rows, right=("step",))


def backward_table(answer: dict[str, Any], label: dict[str, str]) -> str:
    rows = []
    for step in answer["steps"]:
        if step["phase"] != "backward":
            continue
        if "from" not in step:
            rows.append([str(step["index"]), "seed", "", label[step["node"]], "", "", "", "", "", cell(step["grad"])])
            continue
        # On a tensor edge the local derivative is a Jacobian: show its formula instead.
        local = cell(step["local"]) if step["local"] is not None else f"({step['local_formula']})"
        rows.append([str(step["index"]), label[step["from"]], "->", label[step["node"]], cell(step["upstream"]),
                     "x", local, "=", cell(step["contribution"]), cell(step["grad"])])
    headers = ["step", "from", "", "node", "upstream", "", "local", "", "contribution", "grad so far"]
    return "Backward\n" + table(headers, rows, right=("step", "upstream", "local", "contribution", "grad so far"))


def update_table(answer: dict[str, Any], label: dict[str, str]) -> str:
    rows = [[label[step["node"]], cell(step["before"]), cell(step["grad"]), number(step["learning_rate"]),
             cell(step["after"])] for step in answer["steps"] if step["phase"] == "update"]
    update = answer["update"]
    return ("Update (after = before - lr x grad)\n"
            + table(["param", "before", "grad", "lr", "after"], rows, right=("before", "grad", "lr", "after"))
            + f"\n  loss before {number(update['loss_before'])}, after {number(update['loss_after'])}, "
              f"predicted {number(update['loss_predicted'])} (first-order Taylor)")


def gradcheck_table(answer: dict[str, Any]) -> str:
    rows = [[check["label"], cell(check["analytic"]), cell(check["numeric"]), number(check["rel_error"]),
             check["verdict"]] for check in answer["gradcheck"]]
    return ("Gradient check (centered finite differences)\n"
            + table(["input", "analytic", "numeric", "rel_error", "verdict"], rows,
                    right=("analytic", "numeric", "rel_error")))


def render(answer: dict[str, Any]) -> str:
    """The trace as plain-text tables: nodes, forward, backward, then the update and gradient check if any."""
    label = {node["id"]: node["label"] for node in answer["nodes"]}
    output = next(node for node in answer["nodes"] if node["id"] == answer["output"])
    status = "" if output["status"] == "ok" else f" ({output['status']})"
    parts = [f"output {output['label']} = {cell(output['value'])}{status}",
             nodes_table(answer), forward_table(answer), backward_table(answer, label)]
    if "update" in answer:
        parts.append(update_table(answer, label))
    if answer.get("gradcheck") is not None:
        parts.append(gradcheck_table(answer))
    return "\n\n".join(parts)


def json_text(answer: dict[str, Any]) -> str:
    # The same bytes the API answers with (app.routes.trace.json_response).
    return orjson.dumps(answer).decode()


# ---- Commands --------------------------------------------------------------------------------

def run_trace(args: argparse.Namespace) -> int:
    # argparse gives --params everything after it, so name=value pairs written after --params land there.
    params = [name for name in args.params if "=" not in name]
    values = parse_assignments([*args.values, *(item for item in args.params if "=" in item)])
    answer = trace(read_source(args.source), values, params=params,
                   learning_rate=args.lr if params else None, gradcheck=args.gradcheck).to_dict()
    print(json_text(answer) if args.json else render(answer))
    return 0


def run_serve(args: argparse.Namespace) -> int:
    chosen = {key: value for key, value in (("host", args.host), ("port", args.port), ("workers", args.workers))
              if value is not None}
    try:
        settings = Settings(**chosen)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UsageError(f"{first['loc'][0] if first['loc'] else 'settings'}: {first['msg']}") from None
    if args.reload and settings.workers > 1:
        raise UsageError(f"--reload runs a single worker, but {settings.workers} workers were asked for "
                         "(--workers or BACKPROP_WORKERS): drop one of the two")
    if settings.redis_url:
        # Checked here, once: a worker that cannot start is restarted or reported less plainly by uvicorn.
        from .classroom.store import StoreUnavailable, check_redis

        try:
            check_redis(settings.redis_url, settings.redis_timeout_seconds)
        except StoreUnavailable as exc:
            raise UsageError(f"classroom store: {exc}") from None
    import uvicorn

    uvicorn.run("app.main:app", host=settings.host, port=settings.port, reload=args.reload,
                workers=None if args.reload else settings.workers)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Backpropagation and gradient descent, step by step.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{serve,trace}")

    serve = commands.add_parser("serve", help="run the web app and API",
                                description="Run the web app. Defaults come from BACKPROP_HOST, BACKPROP_PORT "
                                            "and BACKPROP_WORKERS (else 127.0.0.1, 8000 and 1).")
    serve.add_argument("--host", help="address to listen on")
    serve.add_argument("--port", type=int, help="port to listen on")
    serve.add_argument("--workers", type=int, help="worker processes")
    serve.add_argument("--reload", action="store_true", help="restart on code changes (development; one worker)")
    serve.set_defaults(run=run_serve)

    trace_cmd = commands.add_parser(
        "trace", help="print a program's forward, backward and update steps",
        description="Print the nodes, forward steps, backward steps (upstream x local = contribution) and, "
                    "with --params, one gradient-descent update. Put '--' before a program that starts with '-'.",
        epilog='example: backprop-explorer trace "q = x + y; f = q * z" x=-2 y=5 z=-4')
    trace_cmd.add_argument("source", metavar="SOURCE",
                           help="the program: statements separated by ';' or new lines; '-' reads it from stdin")
    trace_cmd.add_argument("values", nargs="*", metavar="name=value",
                           help="an input's value: a number, or a JSON list for a tensor (x=[1,2,3])")
    trace_cmd.add_argument("--json", action="store_true", help="print the JSON the API answers with")
    trace_cmd.add_argument("--params", nargs="+", default=[], metavar="NAME",
                           help="inputs to move by one gradient-descent step")
    trace_cmd.add_argument("--lr", type=float, default=0.1, help="learning rate for --params (default 0.1)")
    trace_cmd.add_argument("--gradcheck", action="store_true", help="compare with centered finite differences")
    trace_cmd.set_defaults(run=run_trace)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # argparse has printed usage or help already
        return stop.code if isinstance(stop.code, int) else 2
    try:
        return args.run(args)
    except (EngineError, UsageError) as exc:
        message = exc.message if isinstance(exc, EngineError) else str(exc)
        print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
