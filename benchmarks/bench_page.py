"""The explorer page in Chromium: its own bytes, time to the first graph, a 1,000-node graph, and frame times.

    python benchmarks/bench_page.py            # about 30 s
    python benchmarks/bench_page.py --quick    # a short smoke run
    python benchmarks/bench_page.py --runs 9 --nodes 1000 --anim-nodes 300

The app runs in this process under uvicorn on a free 127.0.0.1 port; Debian's Chromium is driven by
Playwright, headless, each page load in a fresh browser context (an empty cache). Every figure is
printed beside a baseline measured in the same run:

- bytes: the page's own JS and CSS as the browser fetched them for / (everything under /static/ but
  /static/vendor/), against the vendored libraries it fetched, listed separately;
- first graph: performance.mark("graph-drawn") of the worked example, in ms after navigation, against
  a blank document served by the same server (a 1-line SVG file: its load event);
- big graph: the same mark for a generated program of about 1,000 nodes, split into the server's
  part (request to answer) and the page's (answer to "graph-drawn": layout with dagre, drawing with d3);
- frames: requestAnimationFrame timestamps while the timeline plays a ~300-node graph at 4x, p95 of
  the frame-to-frame time, as loaded (fitted to the box) and zoomed in to about 1:1 (the view then
  pans to follow the step), against the same page sitting still.

Targets (issue 3): own JS + CSS <= 150 KB; first graph <= 1 s; 1,000-node program laid out and drawn
<= 1.5 s; animation p95 frame time <= 20 ms. The script prints figures and exits 0; it is evidence,
not a gate. Nothing but 127.0.0.1 is contacted.
"""
from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
CHROMIUM_PATHS = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
TARGET_OWN_BYTES = 150 * 1024
TARGET_FIRST_GRAPH_MS = 1000
TARGET_BIG_GRAPH_MS = 1500
TARGET_FRAME_P95_MS = 20
ZOOM_CLICKS = 14  # x1.4 each: from the fitted ~0.007 to about 0.8 for the 300-node program


def program(statements: int) -> tuple[str, dict[str, float]]:
    """A layered program of about 3 nodes per statement: v_i = tanh(v_{i-1} * w_(i mod 5) + v_{i-2})."""
    lines = []
    for i in range(1, statements + 1):
        previous = f"v{i - 1}" if i > 1 else "x"
        before = f"v{i - 2}" if i > 2 else "y"
        lines.append(f"v{i} = tanh({previous} * w{i % 5} + {before})")
    values = {"x": 0.5, "y": -0.3, **{f"w{k}": round(0.1 * (k + 1), 3) for k in range(5)}}
    return "\n".join(lines), values


def program_url(nodes: int) -> tuple[str, int]:
    statements = max((nodes - 7) // 3, 1)
    source, values = program(statements)
    return "/?" + urlencode({"src": source, "values": json.dumps(values), "step": 0}), statements


def start_server():
    import uvicorn

    from app.main import app

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((HOST, 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the app did not start")
        time.sleep(0.02)
    return server, thread, f"http://{HOST}:{port}"


def chromium_path() -> str:
    for path in CHROMIUM_PATHS:
        if Path(path).is_file():
            return path
    raise SystemExit("Chromium not found (apt-get install chromium)")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(int(round(share * (len(ordered) - 1))), len(ordered) - 1)
    return ordered[index]


class Bench:
    def __init__(self, browser, base: str):
        self.browser = browser
        self.base = base
        self.remote: list[str] = []

    def page(self, width: int = 1280, height: int = 900):
        context = self.browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.on("request", lambda request: self.remote.append(request.url)
                if urlsplit(request.url).hostname not in (HOST, None) and not request.url.startswith("blob:") else None)
        return context, page

    def mark(self, page, name: str, timeout: float = 30_000) -> float:
        page.wait_for_function(f"performance.getEntriesByName({name!r}).length > 0", timeout=timeout)
        return page.evaluate(f"performance.getEntriesByName({name!r})[0].startTime")

    def bytes_loaded(self) -> tuple[dict[str, int], dict[str, int]]:
        context, page = self.page()
        sizes: dict[str, int] = {}

        def remember(response):
            path = urlsplit(response.url).path
            if path.startswith("/static/") and (path.endswith(".js") or path.endswith(".mjs") or path.endswith(".css")):
                try:
                    sizes[path] = len(response.body())
                except Exception:  # noqa: BLE001 - a response without a body counts as nothing
                    sizes[path] = 0

        page.on("response", remember)
        page.goto(self.base + "/")
        self.mark(page, "graph-drawn")
        page.wait_for_load_state("networkidle")
        context.close()
        own = {path: size for path, size in sizes.items() if not path.startswith("/static/vendor/")}
        vendored = {path: size for path, size in sizes.items() if path.startswith("/static/vendor/")}
        return own, vendored

    def blank_load_ms(self) -> float:
        context, page = self.page()
        page.goto(self.base + "/static/favicon.svg")
        value = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
        context.close()
        return value

    def first_graph_ms(self, path: str = "/") -> dict[str, float]:
        context, page = self.page()
        page.goto(self.base + path)
        drawn = self.mark(page, "graph-drawn", timeout=60_000)
        start = page.evaluate("performance.getEntriesByName('trace-start').at(-1).startTime")
        received = page.evaluate("performance.getEntriesByName('trace-received').at(-1).startTime")
        nodes = page.locator("g.node").count()
        context.close()
        return {"drawn": drawn, "server": received - start, "page": drawn - received, "nodes": nodes}

    def frames(self, path: str, seconds: float, play: bool, zoom_clicks: int = 0) -> tuple[list[float], int]:
        context, page = self.page()
        page.goto(self.base + path)
        self.mark(page, "graph-drawn", timeout=60_000)
        nodes = page.locator("g.node").count()
        page.keyboard.press("Home")
        for _ in range(zoom_clicks):  # from fit-to-view towards 1:1, where the view follows the step
            page.click("[data-testid=zoom-in]")
            page.wait_for_timeout(220)
        page.select_option("[data-testid=speed]", "4")
        page.wait_for_timeout(300)
        if play:
            page.click("[data-testid=play]")
        stamps = page.evaluate("""seconds => new Promise(resolve => {
            const stamps = [];
            const tick = now => {
                stamps.push(now);
                if (now - stamps[0] < seconds * 1000) requestAnimationFrame(tick); else resolve(stamps);
            };
            requestAnimationFrame(tick);
        })""", seconds)
        context.close()
        return [later - earlier for earlier, later in zip(stamps, stamps[1:])], nodes


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--runs", type=int, default=7, help="page loads per timing (median reported)")
    parser.add_argument("--nodes", type=int, default=1000, help="size of the big program")
    parser.add_argument("--anim-nodes", type=int, default=300, help="size of the animated program")
    parser.add_argument("--seconds", type=float, default=4.0, help="how long frames are recorded")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.seconds = 2, 1.0

    from playwright.sync_api import sync_playwright

    server, thread, base = start_server()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
            bench = Bench(browser, base)
            bench.first_graph_ms()  # warm up the server and the disk cache

            own, vendored = bench.bytes_loaded()
            blank = [bench.blank_load_ms() for _ in range(args.runs)]
            first = [bench.first_graph_ms() for _ in range(args.runs)]
            big_path, _ = program_url(args.nodes)
            big = [bench.first_graph_ms(big_path) for _ in range(max(args.runs // 2, 1))]
            anim_path, _ = program_url(args.anim_nodes)
            still, anim_nodes = bench.frames(anim_path, args.seconds, play=False)
            playing, _ = bench.frames(anim_path, args.seconds, play=True)
            zoomed, _ = bench.frames(anim_path, args.seconds, play=True, zoom_clicks=ZOOM_CLICKS)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)

    own_total = sum(own.values())
    vendored_total = sum(vendored.values())
    median = statistics.median
    print("Explorer page in Chromium (headless), app on 127.0.0.1; medians of fresh-context loads")
    print()
    print(f"{'bytes fetched by /':44} {'bytes':>10}")
    for path, size in sorted(own.items()):
        print(f"  {path:42} {size:>10,}")
    print(f"{'own JS + CSS (excluding vendored)':44} {own_total:>10,}")
    for path, size in sorted(vendored.items()):
        print(f"  {path:42} {size:>10,}")
    print(f"{'baseline: vendored libraries fetched':44} {vendored_total:>10,}")
    print()
    print(f"{'timing':52} {'median':>9} {'worst':>9}")
    print(f"{'baseline: blank document load event':52} {median(blank):>6.0f} ms {max(blank):>6.0f} ms")
    drawn = [run["drawn"] for run in first]
    print(f"{'worked example: graph drawn after navigation':52} {median(drawn):>6.0f} ms {max(drawn):>6.0f} ms")
    big_drawn = [run["drawn"] for run in big]
    big_page = [run["page"] for run in big]
    big_server = [run["server"] for run in big]
    label = f"{big[0]['nodes']}-node program: graph drawn after navigation"
    print(f"{label:52} {median(big_drawn):>6.0f} ms {max(big_drawn):>6.0f} ms")
    print(f"{'  of which the server (trace request to answer)':52} {median(big_server):>6.0f} ms {max(big_server):>6.0f} ms")
    print(f"{'  of which the page (layout + drawing)':52} {median(big_page):>6.0f} ms {max(big_page):>6.0f} ms")
    print()
    print(f"{'frames (requestAnimationFrame deltas)':52} {'p50':>9} {'p95':>9} {'frames':>7}")
    print(f"{f'baseline: {anim_nodes}-node graph, still':52} {percentile(still, 0.5):>6.1f} ms "
          f"{percentile(still, 0.95):>6.1f} ms {len(still):>7}")
    print(f"{f'{anim_nodes}-node graph, playing at 4x':52} {percentile(playing, 0.5):>6.1f} ms "
          f"{percentile(playing, 0.95):>6.1f} ms {len(playing):>7}")
    print(f"{f'{anim_nodes}-node graph, playing at 4x, zoomed in':52} {percentile(zoomed, 0.5):>6.1f} ms "
          f"{percentile(zoomed, 0.95):>6.1f} ms {len(zoomed):>7}")
    print()
    print(f"{'target (issue 3)':52} {'figure':>12} verdict")
    rows = [
        ("own JS + CSS <= 150 KB", f"{own_total / 1024:.1f} KB", own_total <= TARGET_OWN_BYTES),
        ("first graph drawn <= 1 s after navigation", f"{median(drawn):.0f} ms", median(drawn) <= TARGET_FIRST_GRAPH_MS),
        (f"{big[0]['nodes']}-node program laid out and drawn <= 1.5 s", f"{median(big_drawn):.0f} ms",
         median(big_drawn) <= TARGET_BIG_GRAPH_MS),
        ("animation p95 frame time <= 20 ms (fitted)", f"{percentile(playing, 0.95):.1f} ms",
         percentile(playing, 0.95) <= TARGET_FRAME_P95_MS),
        ("animation p95 frame time <= 20 ms (zoomed in)", f"{percentile(zoomed, 0.95):.1f} ms",
         percentile(zoomed, 0.95) <= TARGET_FRAME_P95_MS),
    ]
    for name, figure, ok in rows:
        print(f"{name:52} {figure:>12} {verdict(ok)}")
    if bench.remote:
        print(f"WARNING: requests left the machine: {bench.remote}")


if __name__ == "__main__":
    main()
