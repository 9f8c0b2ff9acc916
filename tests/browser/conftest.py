"""The browser tests' fixtures (live_server, chromium, open_page, artifacts) and their Probe live in
tests/conftest.py, shared with tests/security: Playwright's sync API runs once per process."""
from __future__ import annotations

from tests.conftest import ARTIFACTS, CHROMIUM_ARGS, CHROMIUM_PATHS, LOCAL_HOST, Probe  # noqa: F401 - for imports
