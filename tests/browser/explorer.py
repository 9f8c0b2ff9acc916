"""What the explorer tests share: reading the drawn graph and driving the timeline as a person would."""
from __future__ import annotations

MINUS = "\u2212"
NODES = "svg[data-testid=graph] g.node[data-node-id]"
# The worked example of DESIGN.md: f = (x + y) * z at x = -2, y = 5, z = -4.
WORKED_EXAMPLE = {  # label: (op, value, gradient)
    "x": ("input", -2.0, -4.0),
    "y": ("input", 5.0, -4.0),
    "z": ("input", -4.0, 3.0),
    "q": ("add", 3.0, -4.0),
    "f": ("mul", -12.0, 1.0),
}
WORKED_STEPS = 10  # 5 forward, the seed, 4 edges back
# A fetch answered with 4xx is logged by Chromium itself as a console error; the page shows it instead.
EXPECTED_422 = ("status of 422",)


def wait_for_graph(page) -> None:
    page.wait_for_selector(NODES, state="attached")
    page.wait_for_function("document.querySelector('[data-testid=step-counter]').textContent !== ''")


def drawn_nodes(page) -> dict[str, dict[str, str]]:
    """label -> the node's data attributes and texts, read from the SVG as drawn now."""
    wait_for_graph(page)
    nodes = page.eval_on_selector_all(NODES, """groups => groups.map(g => ({
        ...g.dataset,
        valueText: g.querySelector('.node-value').textContent,
        gradText: g.querySelector('.node-grad').textContent,
        title: g.querySelector('title').textContent,
        current: g.classList.contains('current'),
    }))""")
    return {node["label"]: node for node in nodes}


def shown(nodes: dict[str, dict[str, str]]) -> dict[str, tuple[str, str]]:
    return {label: (node["value"], node["grad"]) for label, node in nodes.items()}


def step_index(page) -> int:
    return int(page.get_attribute("[data-testid=timeline]", "data-step"))


def step_count(page) -> int:
    return int(page.get_attribute("[data-testid=scrub]", "max")) + 1


def press(page, key: str, times: int = 1) -> None:
    """Keys go to the page body, as when nobody is typing in a field."""
    for _ in range(times):
        page.keyboard.press(key)


def go_to_step(page, index: int) -> None:
    """Home, then Right index times, from the page itself (a focused text box would take the keys)."""
    page.evaluate("document.activeElement?.blur()")
    press(page, "Home")
    press(page, "ArrowRight", index)
    page.wait_for_function(f"document.querySelector('[data-testid=timeline]').dataset.step === '{index}'")


def url_param(page, name: str) -> str | None:
    return page.evaluate(f"new URLSearchParams(location.search).get({name!r})")


def switch_language(page, code: str) -> None:
    """Press the language button; the table loads on first use, so wait until the switch is done."""
    page.click(f"[data-testid=lang-{code}]")
    page.wait_for_function(f"document.querySelector('[data-testid=lang-{code}]').getAttribute('aria-pressed') === 'true'")
