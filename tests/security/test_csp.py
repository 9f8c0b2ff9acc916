"""Every page works under its Content-Security-Policy: no securitypolicyviolation event, in Chromium.

Each page is loaded and used the way its own tests use it (step, train, compare, run, export), with
a listener for securitypolicyviolation installed before the page's scripts run.
"""
from __future__ import annotations

from typing import Callable

import pytest

from tests.browser.network import network_url, wait_for_network

from .conftest import Watched


def assert_no_violations(probe: Watched) -> None:
    probe.page.wait_for_timeout(300)
    assert probe.violations() == [], f"Content-Security-Policy violations: {probe.violations()}"
    assert probe.page_errors == []


def use_explorer(page) -> None:
    page.wait_for_selector("svg[data-testid=graph] g.node[data-label=f]", state="attached")
    page.keyboard.press("End")
    page.click("[data-testid=view-table]")
    page.click("[data-testid=view-graph]")
    with page.expect_download():
        page.click("[data-testid=export-json]")


def export_drawings(page) -> None:
    page.wait_for_selector("svg[data-testid=graph] g.node[data-label=f]", state="attached")
    for kind in ("svg", "png"):
        with page.expect_download():
            page.click(f"[data-testid=export-{kind}]")


def use_network(page) -> None:
    wait_for_network(page)
    for _ in range(3):
        page.keyboard.press("ArrowRight")


def use_descent(page) -> None:
    page.wait_for_selector("[data-testid=surface-select]", state="attached")
    page.wait_for_load_state("networkidle")
    page.keyboard.press("End")


@pytest.mark.parametrize("path, use", [
    ("/", use_explorer),
    ("/?lang=zh", use_explorer),
    (network_url(), use_network),
    ("/descent", use_descent),
    ("/descent?surface=custom&src=f%20%3D%20a%20*%20a%20%2B%20b", use_descent),
    ("/", export_drawings),
], ids=["explorer", "explorer-zh", "network", "descent", "descent-custom", "explorer-export-svg-png"])
def test_a_page_in_use_violates_nothing_in_its_policy(open_watched: Callable[..., Watched], path, use):
    probe = open_watched(path)
    assert probe.page.evaluate("() => document.querySelector('meta[http-equiv]') === null")  # the header is the policy
    use(probe.page)
    assert_no_violations(probe)


@pytest.mark.parametrize("path", ["/", "/network", "/descent"])
def test_a_page_at_phone_width_violates_nothing(open_watched: Callable[..., Watched], path):
    probe = open_watched(path, width=375, height=812)
    assert_no_violations(probe)
    probe.assert_clean()
