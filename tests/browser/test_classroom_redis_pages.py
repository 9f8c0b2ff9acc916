"""The classroom across two server processes sharing one Redis, in two Chromium contexts: the teacher's
browser on one worker, the student's on the other (through a small loopback proxy that stands for a load
balancer); the student's network page follows the teacher's training run; the student's worker is killed
mid-lesson, and the student's page reconnects by itself through the proxy to the surviving worker and
catches up on what the teacher did meanwhile.

A real redis-server (tests/app/redis_server.py) and `backprop-explorer serve` processes (tests/app/
test_classroom_redis.py's Worker); waits are generous, every check ends on exact final values.
"""
from __future__ import annotations

import socket
import threading
from contextlib import contextmanager, suppress
from typing import Iterator
from urllib.parse import urlsplit

import pytest

from tests.app.redis_server import free_port, redis_url  # noqa: F401 - a fixture
from tests.app.test_classroom_redis import Worker, start_workers

from .network import network_url, wait_for_training_to_stop, weights
from .test_classroom_pages import FOLLOW_SECONDS, eventually, wait_until

SETTLE_SECONDS = 15.0


class FailoverProxy:
    """A TCP proxy on a free loopback port: each new connection goes to the first backend that accepts it."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        for port in self.ports:
            try:
                upstream = socket.create_connection(("127.0.0.1", port), timeout=2)
                break
            except OSError:
                continue
        else:
            client.close()
            return
        upstream.settimeout(None)
        self.connections += [client, upstream]
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        self._pump(client, upstream)

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        for end in (source, target):  # one side gone: the other learns it at once
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()
        for connection in self.connections:
            with suppress(OSError):
                connection.close()


@pytest.fixture
def two_workers(redis_url, tmp_path) -> Iterator[list[Worker]]:
    workers = start_workers(2, redis_url, tmp_path)
    yield workers
    for worker in workers:
        worker.stop()


@contextmanager
def browser_page(chromium, url: str) -> Iterator[tuple[object, list[str]]]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    try:
        yield page, errors
    finally:
        context.close()


def iteration(page) -> str:
    return page.get_attribute("[data-testid=train-progress]", "data-iteration")


def test_teacher_on_one_worker_student_on_the_other_and_a_killed_worker_is_survived(chromium, two_workers):
    teacher_side, student_side = two_workers
    proxy = FailoverProxy([student_side.port, teacher_side.port])  # the student's worker while it lives
    ready = "() => document.querySelectorAll('svg[data-testid=network] line.weight').length > 0"
    try:
        with browser_page(chromium, teacher_side.base + network_url(iters="100", view="train")) as (t, teacher_errors):
            wait_until(t, ready, timeout=SETTLE_SECONDS, what="the teacher's network")
            t.get_by_test_id("classroom").click()
            t.get_by_test_id("classroom-start").click()
            code = wait_until(t, "() => document.querySelector('[data-testid=classroom-code]')?.dataset.code",
                              timeout=SETTLE_SECONDS, what="a room")
            t.get_by_test_id("classroom-close").click()
            with browser_page(chromium, f"{proxy.base}/join/{code}") as (s, student_errors):
                wait_until(s, "() => document.querySelector('[data-testid=classroom-bar]')?.dataset.status === 'live'",
                           timeout=SETTLE_SECONDS, what="the student following through the other worker")
                wait_until(s, ready, timeout=SETTLE_SECONDS, what="the student's network")

                # A training run on the teacher's worker shows on the student's page, served by the other.
                t.get_by_test_id("train").click()
                wait_for_training_to_stop(t)
                wait_until(t, "() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '100'",
                           timeout=SETTLE_SECONDS, what="the teacher's run done")
                wait_until(s, "() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '100'",
                           timeout=SETTLE_SECONDS, what="the student's page at the end of the run")
                chart = "[data-testid=loss-chart]"
                assert s.get_attribute(chart, "data-last") == t.get_attribute(chart, "data-last")

                # The student's worker dies mid-lesson; the teacher goes on meanwhile.
                s.evaluate("""() => { window.seenStatus = [];
                    new MutationObserver(() => window.seenStatus.push(
                        document.querySelector('[data-testid=classroom-bar]').dataset.status))
                      .observe(document.querySelector('[data-testid=classroom-bar]'),
                               {attributes: true, attributeFilter: ['data-status']}); }""")
                student_side.kill()
                t.get_by_test_id("train-step").click()
                wait_until(t, "() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '101'",
                           timeout=SETTLE_SECONDS, what="the teacher's step")
                # The browser reconnects by itself (through the proxy: the surviving worker) and catches up.
                wait_until(s, "() => document.querySelector('[data-testid=train-progress]').dataset.iteration === '101'",
                           timeout=SETTLE_SECONDS, what="the student caught up after its worker died")
                assert "reconnecting" in s.evaluate("window.seenStatus")
                wait_until(s, "() => document.querySelector('[data-testid=classroom-bar]').dataset.status === 'live'",
                           timeout=SETTLE_SECONDS, what="the student live again")
                # and live again: the next change arrives within the second or two
                asked: list[str] = []
                s.on("request", lambda request: asked.append(request.url)
                     if "/api/v1/" in request.url and "/api/v1/rooms" not in request.url else None)
                t.get_by_test_id("view-step").click()
                wait_until(s, "() => document.querySelector('[data-testid=view-step]').getAttribute('aria-pressed') === 'true'",
                           timeout=FOLLOW_SECONDS + 1, what="the student's view after the reconnection")
                s.wait_for_timeout(500)
                assert iteration(s) == iteration(t) == "101"
                # the step view needs the iteration at the new parameters: fetched now, once (nothing in the
                # train view asked for it), and nothing else: no data again, no training started afresh
                assert [urlsplit(url).path for url in asked] == ["/api/v1/network/iteration"]
                eventually(lambda: weights(s) == weights(t), SETTLE_SECONDS, "the step view as the teacher's")
                assert student_errors == [] and teacher_errors == []
    finally:
        proxy.close()
