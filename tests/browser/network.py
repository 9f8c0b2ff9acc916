"""What the network page tests share: waiting for the drawing and reading the numbers it carries."""
from __future__ import annotations

from urllib.parse import urlencode

MINUS = "\u2212"
LINES = "svg[data-testid=network] line.weight"
NEURONS = "svg[data-testid=network] g.neuron"
# A small net that steps quickly: 2 -> 3 -> 1 on 40 moons points (32 for training), SGD.
SMALL = {"data": "moons", "points": "40", "arch": "3-tanh", "opt": "sgd", "lr": "0.5", "seed": "0"}


def network_url(**params: str) -> str:
    return "/network?" + urlencode({**SMALL, **params})


def wait_for_network(page) -> None:
    """The first iteration is drawn, the timeline knows its stages and the data are plotted."""
    page.wait_for_selector(LINES, state="attached")
    page.wait_for_function("() => document.querySelector('[data-testid=step-counter]').textContent !== ''")
    page.wait_for_function("() => !document.querySelector('[data-testid=status-line]').textContent.includes('…')")
    page.wait_for_function("() => document.querySelector('[data-testid=plot]').dataset.points !== undefined")


def stage(page) -> int:
    return int(page.get_attribute("[data-testid=timeline]", "data-step"))


def go_to_stage(page, index: int) -> None:
    page.evaluate("document.activeElement?.blur()")
    page.keyboard.press("Home")
    for _ in range(index):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => document.querySelector('[data-testid=timeline]').dataset.step === '{index}'")


def weights(page) -> dict[tuple[int, int, int], dict[str, str]]:
    """(layer, to, from) -> the line's data-weight and data-grad as drawn now."""
    lines = page.eval_on_selector_all(LINES, "lines => lines.map(l => ({...l.dataset, cls: l.getAttribute('class')}))")
    return {(int(line["layer"]), int(line["to"]), int(line["from"])): line for line in lines}


def neurons(page) -> dict[tuple[int, int], dict[str, str]]:
    """(layer, unit) -> the neuron's data-value (a of the sample shown), data-grad (dZ), data-bias."""
    found = page.eval_on_selector_all(NEURONS, "nodes => nodes.map(n => ({...n.dataset, cls: n.getAttribute('class')}))")
    return {(int(node["layer"]), int(node["unit"])): node for node in found}


def switch_view(page, view: str) -> None:
    page.click(f"[data-testid=view-{view}]")
    page.wait_for_function(f"() => document.querySelector('[data-testid=view-{view}]').getAttribute('aria-pressed') === 'true'")


def wait_for_training_to_stop(page, timeout: float = 30_000) -> None:
    page.wait_for_function("() => document.querySelector('[data-testid=pause]').disabled", timeout=timeout)


def wait_for_stages(page, total: int) -> None:
    """The timeline holds an iteration of `total` stages (7 layer by layer for 2 -> 3 -> 1, 11 neuron by neuron)."""
    page.wait_for_function(f"() => document.querySelector('[data-testid=scrub]').max === '{total - 1}'", timeout=30_000)


def zoom(page) -> float:
    return float(page.get_attribute("svg[data-testid=network]", "data-zoom"))


def wait_for_zoom(page, test: str) -> None:
    """Wait until the drawing's zoom passes `test`, a JavaScript comparison on k such as 'k > 1.4'."""
    page.wait_for_function(f"() => {{ const k = Number(document.querySelector('svg[data-testid=network]').dataset.zoom); "
                           f"return {test}; }}", timeout=10_000)
