"""Schemathesis against the app's own OpenAPI schema, in process: every default check on every operation.

Each operation gets schema-valid (positive) and schema-violating (negative) requests from Schemathesis's
examples, coverage and fuzzing phases, and every default check runs on every answer: not_a_server_error,
status_code_conformance, content_type_conformance, response_schema_conformance (the event streams
too: their events are documented), response_headers_conformance, positive_data_acceptance,
negative_data_rejection, missing_required_header, unsupported_method, allow_header_conformance, ...

Two expectations are set, and why:
- negative_data_rejection also takes 413: a body over max_body_bytes is refused before it is read, and
  no JSON Schema keyword bounds the size of a whole body in bytes;
- positive_data_acceptance also takes 413 (the same byte cap) and 422, because a request can fit the
  schema and still name something that does not exist or cannot work: a program that does not parse,
  values for names the program lacks, parameters of the wrong shape for the network. Those 422s carry
  the engine's own codes. `schema_valid_requests_pass_validation` below makes that precise: a
  schema-valid request is never refused by the request models themselves (code `invalid_request`),
  which is what "every bound lives in the schema" means. The one exception is a room's free-form page
  JSON (its state, and its results), whose size as JSON, depth and integers (64 bits) are bounds JSON
  Schema cannot state (VALIDATOR_ONLY below; app.schemas.RoomState and RoomResults check them and name
  them). tests/app/test_meta_routes.py walks the schema for the same promise: every string, list, number
  and dictionary of every request bounded, and every bound from engine.limits named by x-limit.

Kept short and the same every run: MAX_EXAMPLES fuzzed requests per operation and mode from a fixed
seed (the coverage phase adds its own boundary cases), training capped at a quarter of a second, rate
limits off: about 30-40 s. For a deeper, random search: FUZZ_EXAMPLES=1000 pytest tests/security/test_schemathesis.py
"""
from __future__ import annotations

import itertools
import os
import warnings

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from app.classroom.rooms import Classroom
from app.main import create_app
from app.routes import network
from app.settings import Settings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
FUZZ_SETTINGS = Settings(rate_limit_enabled=False, max_run_seconds=0.25, redis_url=None, max_rooms=100_000,
                         room_idle_seconds=1, sse_heartbeat_seconds=0.1)

app = create_app(FUZZ_SETTINGS)
app.state.classroom = Classroom.from_settings(FUZZ_SETTINGS)
CONFIG = SchemathesisConfig.from_dict({"checks": {
    "positive_data_acceptance": {"expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "413", "422", "429"]},
    "negative_data_rejection": {"expected-statuses": ["400", "401", "403", "404", "405", "406", "409", "413", "415",
                                                      "422", "428", "429"]}}})
schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)


# field -> what its validator refuses that no JSON Schema keyword can say: the one exception, a room's page JSON
VALIDATOR_ONLY = {field: ("max_room_state_bytes", "max_room_state_depth", "beyond 64 bits")
                  for field in ("state", "results")}


@schemathesis.check
def schema_valid_requests_pass_validation(ctx, response, case):
    """A request the schema allows is never refused by the request models: no bound hides outside the schema."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 422:
        return None
    error = response.json()["error"]
    allowed = VALIDATOR_ONLY.get(error["where"].get("field", ""), ())
    if error["code"] == "invalid_request" and not any(bound in error["message"] for bound in allowed):
        raise AssertionError(f"a request the schema allows failed the request model's validation: {error}")
    return None


# ---- Rooms: positive cases of the room routes reach a real room -----------------------------------

ROOMS = TestClient(app)
# A live room's event stream lasts until the room expires (room_idle_seconds=1 here): a few suffice.
LIVE_STREAMS = itertools.count()


def live_room() -> tuple[str, str, str]:
    """A fresh room with an open question: its code, its presenter key, the question's id."""
    room = ROOMS.post("/api/v1/rooms").json()
    quiz = ROOMS.post(f"/api/v1/rooms/{room['code']}/quiz", json={"node": "n1", "answer": -4},
                      headers={"X-Presenter-Key": room["presenter_key"]}).json()
    return room["code"], room["presenter_key"], quiz["id"]


@pytest.fixture(autouse=True, scope="module")
def short_runs():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(network, "get_settings", lambda: FUZZ_SETTINGS)
        yield


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize="FUZZ_EXAMPLES" not in os.environ)
def test_every_operation_passes_every_default_check(case):
    streams = case.path.endswith("/events")
    if case.meta.generation.mode.is_positive and "{code}" in case.path and (not streams or next(LIVE_STREAMS) < 3):
        code, key, quiz = live_room()
        case.path_parameters["code"] = code
        case.headers = {**(case.headers or {}), "X-Presenter-Key": key}
        if case.path.endswith("/answers") and case.method == "POST" and isinstance(case.body, dict):
            case.body["quiz"] = quiz
    case.call_and_validate()
