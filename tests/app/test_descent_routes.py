"""GET /api/v1/surfaces and POST /api/v1/descent/surface, /run, /taylor, /line: the contract in
app/routes/descent.py through HTTP, and every bad input answered 422 in the envelope."""
from __future__ import annotations

import json
import zlib

import pytest

from engine.limits import LIMITS

from .conftest import assert_envelope, strict_json

SURFACE = "/api/v1/descent/surface"
RUN = "/api/v1/descent/run"
TAYLOR = "/api/v1/descent/taylor"
LINE = "/api/v1/descent/line"
EVERY_OPTIMIZER = [{"name": "sgd", "learning_rate": 0.1}, {"name": "momentum", "learning_rate": 0.05, "beta": 0.9},
                   {"name": "nesterov", "learning_rate": 0.05}, {"name": "rmsprop", "learning_rate": 0.05, "rho": 0.9},
                   {"name": "adam", "learning_rate": 0.1, "label": "Adam 0.1"}]


def post(client, path, body):
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text[:500]
    return strict_json(response.text)


def post_raw(client, path, text):
    return client.post(path, content=text.encode(), headers={"content-type": "application/json"})


# ---- The catalogue ----------------------------------------------------------------------------

def test_surfaces_lists_all_seven_with_box_start_minima_and_settings(client):
    response = client.get("/api/v1/surfaces")
    assert response.status_code == 200
    surfaces = {entry["id"]: entry for entry in strict_json(response.text)["surfaces"]}
    assert set(surfaces) == {"quadratic", "rosenbrock", "himmelblau", "saddle", "logistic", "network", "custom"}
    for entry in surfaces.values():
        assert {"title", "description", "box", "start", "minima", "settings", "learning_rate"} <= set(entry)
    assert surfaces["rosenbrock"]["minima"] == [[1.0, 1.0]]
    assert len(surfaces["himmelblau"]["minima"]) == 4
    condition = next(s for s in surfaces["quadratic"]["settings"] if s["name"] == "condition")
    assert (condition["default"], condition["min"], condition["max"]) == (10.0, LIMITS.min_condition,
                                                                          LIMITS.max_condition)
    assert surfaces["quadratic"]["critical_lr"] == 0.2


# ---- /descent/surface -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["quadratic", "rosenbrock", "himmelblau", "saddle", "logistic", "network"])
def test_every_surface_serves_a_grid_with_rows_along_b(client, name):
    answer = post(client, SURFACE, {"surface": name, "grid": 21})
    assert len(answer["xs"]) == len(answer["ys"]) == 21 and len(answer["values"]) == 21
    assert all(len(row) == 21 for row in answer["values"])
    assert answer["nonfinite"] == 0 and answer["min"] <= answer["max"]
    assert answer["id"] == name and answer["box"][0][0] == answer["xs"][0]


def test_quadratic_surface_states_its_hessian_and_critical_rate(client):
    answer = post(client, SURFACE, {"surface": "quadratic", "condition": 50, "grid": 3, "box": [[-1, 1], [0, 2]]})
    assert answer["hessian"] == [[1.0, 0.0], [0.0, 50.0]]
    assert (answer["lambda_min"], answer["lambda_max"], answer["critical_lr"]) == (1.0, 50.0, 0.04)
    assert answer["values"][1] == [0.5 + 25.0, 25.0, 0.5 + 25.0]  # b = 1: (a^2 + 50) / 2


def test_surface_with_a_point_answers_the_gradient_arrow_there(client):
    answer = post(client, SURFACE, {"surface": "rosenbrock", "grid": 2, "point": [-1.2, 1.0]})
    at = answer["at"]
    assert at["loss"] == pytest.approx(24.2)
    assert at["gradient"] == pytest.approx([-2 * 2.2 - 400 * -1.2 * (1 - 1.44), 200 * (1 - 1.44)])


def test_custom_surface_with_a_non_finite_region_answers_nulls(client):
    answer = post(client, SURFACE, {"surface": "custom", "source": "f = log(a) + b^2", "grid": 4})
    assert answer["nonfinite"] == 8 and answer["values"][0][:2] == [None, None]
    assert answer["values"][0][2] == pytest.approx(9.0)


def test_logistic_surface_sends_its_data_points(client):
    answer = post(client, SURFACE, {"surface": "logistic", "grid": 2, "data_seed": 4})
    assert len(answer["data"]["x"]) == len(answer["data"]["labels"]) == 40
    assert answer["settings"] == {"data_seed": 4}


def test_network_surface_is_a_trained_network_s_loss_on_a_plane(client):
    answer = post(client, SURFACE, {"surface": "network", "grid": 3, "box": [[-1, 1], [-1, 1]], "point": [0, 0]})
    assert answer["network"]["sizes"] == [2, 4, 1] and answer["network"]["loss"] == "bce"
    assert len(answer["data"]["x"]) == 40 and answer["settings"] == {"data_seed": 0}
    # The trained weights sit at (0, 0), the middle of the grid, at the bottom of a valley: the slope there is
    # small (training stopped a little short of the minimum listed next to it).
    assert answer["values"][1][1] == answer["min"] < 0.02 and answer["at"]["loss"] == answer["values"][1][1]
    assert max(abs(g) for g in answer["at"]["gradient"]) < 0.05
    (a, b), = answer["minima"]
    assert abs(a) < 0.05 and abs(b) < 0.05
    run = post(client, RUN, {"surface": "network", "steps": 100, "optimizers": [{"name": "sgd"}]})
    sgd = run["runs"][0]
    assert run["start"] == [0.9, 0.9] and sgd["optimizer"]["learning_rate"] == 0.1
    assert sgd["losses"][0] == pytest.approx(7.6577, rel=1e-4) and sgd["losses"][-1] < 0.01


# ---- /descent/run -----------------------------------------------------------------------------

def test_run_five_optimizers_side_by_side_with_aligned_arrays(client):
    answer = post(client, RUN, {"surface": "quadratic", "condition": 10, "start": [-2.5, 1.0], "steps": 60,
                                "optimizers": EVERY_OPTIMIZER})
    assert answer["start"] == [-2.5, 1.0] and answer["surface"]["critical_lr"] == 0.2
    assert [run["optimizer"]["name"] for run in answer["runs"]] == ["sgd", "momentum", "nesterov", "rmsprop", "adam"]
    assert answer["runs"][4]["optimizer"]["label"] == "Adam 0.1"
    for run in answer["runs"]:
        n = run["steps"] + 1
        assert len(run["path"]) == len(run["losses"]) == len(run["gradients"]) == len(run["state"]) == n
        assert len(run["taylor"]) == n and run["taylor"][0]["step"] == 0
        assert run["path"][0] == [-2.5, 1.0] and run["losses"][0] == 8.125
        assert run["status"] in ("converged", "running", "diverged")
        assert set(run["message"]) == {"en", "zh"}
    sgd = answer["runs"][0]
    assert sgd["path"][1] == pytest.approx([-2.5 + 0.25, 1.0 - 1.0])  # g = (-2.5, 10)
    assert answer["runs"][1]["state"][1] == {"velocity": [-2.5, 10.0]}
    assert set(answer["runs"][4]["state"][1]) == {"t", "m", "v"}
    assert set(answer["runs"][3]["state"][1]) == {"mean_square"}


def test_run_flags_a_divergent_rate_at_its_step(client):
    answer = post(client, RUN, {"surface": "quadratic", "start": [-2.5, 1.0], "steps": 200,
                                "optimizers": [{"name": "sgd", "learning_rate": 0.19},
                                               {"name": "sgd", "learning_rate": 0.21}]})
    good, bad = answer["runs"]
    assert good["status"] == "converged" and good["diverged_at"] is None
    assert bad["status"] == "diverged" and bad["reason"] == "loss_grew"
    assert bad["diverged_at"] == len(bad["path"]) - 1 and bad["losses"][-1] > 1000 * bad["losses"][0]


def test_run_defaults_to_the_surface_start_and_rate_and_is_reproducible(client):
    body = {"surface": "himmelblau", "steps": 30, "optimizers": [{"name": "adam"}, {"name": "sgd"}]}
    first = post(client, RUN, body)
    assert first["start"] == [0.0, 0.0] and first["runs"][1]["optimizer"]["learning_rate"] == 0.01
    assert post(client, RUN, body) == first


def test_run_gives_each_optimizer_its_own_rate_and_critical_rate(client):
    answer = post(client, RUN, {"surface": "quadratic", "start": [-2.5, 1.0], "steps": 400, "optimizers": [
        {"name": "sgd", "learning_rate": 0.21}, {"name": "momentum", "learning_rate": 0.21, "beta": 0.9},
        {"name": "nesterov", "learning_rate": 0.05, "beta": 0.5}, {"name": "adam", "learning_rate": 0.3}]})
    sgd, momentum, nesterov, adam = answer["runs"]
    assert [run["optimizer"]["learning_rate"] for run in answer["runs"]] == [0.21, 0.21, 0.05, 0.3]
    # 2 / lambda_max = 0.2, (2 + 2 beta) / lambda_max = 0.38, (2 + 2 beta) / ((1 + 2 beta) lambda_max) = 0.15
    assert [run["critical_lr"] for run in answer["runs"]] == [pytest.approx(0.2), pytest.approx(0.38),
                                                              pytest.approx(0.15), None]
    # The same rate 0.21: past plain descent's critical rate, under momentum's.
    assert sgd["status"] == "diverged" and momentum["status"] != "diverged"
    assert nesterov["status"] == "converged" and adam["status"] != "diverged"


def test_run_with_include_empty_answers_the_paths_alone(client):
    body = {"surface": "rosenbrock", "steps": 40, "optimizers": EVERY_OPTIMIZER}
    full = post(client, RUN, body)
    bare = post(client, RUN, {**body, "include": []})
    assert all("state" not in run and "taylor" not in run for run in bare["runs"])
    assert [run["path"] for run in bare["runs"]] == [run["path"] for run in full["runs"]]
    assert [run["losses"] for run in bare["runs"]] == [run["losses"] for run in full["runs"]]
    taylor_only = post(client, RUN, {**body, "include": ["taylor"]})
    assert all("state" not in run and len(run["taylor"]) == run["steps"] + 1 for run in taylor_only["runs"])


def test_run_overflow_answers_null_with_a_status_not_a_500(client):
    answer = post(client, RUN, {"surface": "custom", "source": "f = exp(a^2)", "start": [1, 0], "steps": 5,
                                "optimizers": [{"name": "sgd", "learning_rate": 1e6}]})
    run = answer["runs"][0]
    assert run["losses"][1] is None and (run["diverged_at"], run["reason"]) == (1, "not_finite")


# ---- /descent/taylor and /descent/line --------------------------------------------------------

def test_taylor_rows_show_the_promise_breaking_as_eta_grows(client):
    answer = post(client, TAYLOR, {"surface": "quadratic", "point": [-2.5, 1.0], "etas": [0.001, 0.05, 0.1, 0.2, 0.3]})
    assert answer["loss"] == 8.125 and answer["gradient"] == [-2.5, 10.0]
    rows = answer["rows"]
    assert [row["predicted_decrease"] for row in rows] == pytest.approx([0.10625, 5.3125, 10.625, 21.25, 31.875])
    assert rows[0]["ratio"] == pytest.approx(1.0, abs=0.01) and rows[-1]["actual_decrease"] < 0
    assert answer["breaks_at"] == 0.2


def test_taylor_without_etas_spans_past_the_critical_rate(client):
    answer = post(client, TAYLOR, {"surface": "quadratic"})
    assert len(answer["rows"]) == 30 and answer["rows"][-1]["eta"] == pytest.approx(0.6)


def test_line_answers_the_loss_along_one_parameter_and_its_tangent(client):
    answer = post(client, LINE, {"surface": "quadratic", "point": [-2.5, 1.0], "parameter": 1, "span": 1.0,
                                 "points": 3})
    assert answer["xs"] == [0.0, 1.0, 2.0] and answer["values"] == [3.125, 8.125, 23.125]
    assert (answer["at"], answer["slope"]) == (8.125, 10.0)
    assert answer["tangent"] == [[0.0, -1.875], [2.0, 18.125]]


# ---- Bad input: always a 4xx in the envelope --------------------------------------------------

@pytest.mark.parametrize("path, text, field", [
    (RUN, '{"surface": "quadratic", "steps": 1000000, "optimizers": [{"name": "sgd"}]}', "steps"),
    (RUN, '{"surface": "quadratic", "start": [NaN, 1], "optimizers": [{"name": "sgd"}]}', "start.0"),
    (RUN, '{"surface": "quadratic", "start": [Infinity, 1], "optimizers": [{"name": "sgd"}]}', "start.0"),
    (RUN, '{"surface": "quadratic", "start": [1e400, 1], "optimizers": [{"name": "sgd"}]}', "start.0"),
    (RUN, '{"surface": "quadratic", "start": [1e9, 1], "optimizers": [{"name": "sgd"}]}', "start.0"),
    (RUN, '{"surface": "quadratic", "start": [1], "optimizers": [{"name": "sgd"}]}', "start.1"),
    (RUN, '{"surface": "quadratic", "steps": 1e400, "optimizers": [{"name": "sgd"}]}', "steps"),
    (RUN, '{"surface": "quadratic", "steps": "10", "optimizers": [{"name": "sgd"}]}', "steps"),
    (RUN, '{"surface": "quadratic", "optimizers": []}', "optimizers"),
    (RUN, '{"surface": "quadratic"}', "optimizers"),
    (RUN, '{"surface": "quadratic", "optimizers": [{"name": "sgd", "learning_rate": 1e7}]}',
     "optimizers.0.learning_rate"),
    (RUN, '{"surface": "quadratic", "optimizers": [{"name": "sgd", "learning_rate": -0.1}]}',
     "optimizers.0.learning_rate"),
    (RUN, '{"surface": "quadratic", "optimizers": [{"name": "adagrad"}]}', "optimizers.0.name"),
    (RUN, '{"surface": "quadratic", "optimizers": [{"name": "momentum", "beta": 1.0}]}', "optimizers.0.beta"),
    (RUN, '{"surface": "quadratic", "optimizers": [{"name": "adam", "eps": 0}]}', "optimizers.0.eps"),
    (RUN, '{"surface": "quadratic", "optimizers": [{"name": "adam", "beta2": 1.5}]}', "optimizers.0.beta2"),
    (RUN, '{"surface": "quadratic", "optimizers": [{"name": "rmsprop", "rho": -0.1}]}', "optimizers.0.rho"),
    (RUN, '{"surface": "quadratic", "optimizers": [{"name": "adam", "eps": 2}]}', "optimizers.0.eps"),
    (RUN, '{"surface": "quadratic", "optimizers": [{"name": "sgd", "label": "%s"}]}' % ("x" * 65),
     "optimizers.0.label"),
    (RUN, '{"surface": "quadratic", "include": ["paths"], "optimizers": [{"name": "sgd"}]}', "include.0"),
    (RUN, '{"surface": "quadratic", "tolerance": 0, "optimizers": [{"name": "sgd"}]}', "tolerance"),
    (RUN, '{"surface": "quadratic", "divergence_factor": 1, "optimizers": [{"name": "sgd"}]}', "divergence_factor"),
    (RUN, '{"surface": "quadratic", "condition": 1e9, "optimizers": [{"name": "sgd"}]}', "condition"),
    (RUN, '{"surface": "quadratic", "angle": 180, "optimizers": [{"name": "sgd"}]}', "angle"),
    (RUN, '{"surface": "logistic", "data_seed": -1, "optimizers": [{"name": "sgd"}]}', "data_seed"),
    (RUN, '{"surface": "bowl", "optimizers": [{"name": "sgd"}]}', "surface"),
    (RUN, '{"surface": "quadratic", "colour": "red", "optimizers": [{"name": "sgd"}]}', "colour"),
    (RUN, '{"surface": "custom", "optimizers": [{"name": "sgd"}]}', "source"),
    (SURFACE, '{"surface": "quadratic", "grid": 201}', "grid"),
    (SURFACE, '{"surface": "quadratic", "grid": 1}', "grid"),
    (SURFACE, '{"surface": "quadratic", "box": [[1, -1], [0, 1]]}', "box"),
    (SURFACE, '{"surface": "quadratic", "box": [[0, 1e300], [0, 1]]}', "box.0.1"),
    (TAYLOR, '{"surface": "quadratic", "etas": []}', "etas"),
    (TAYLOR, '{"surface": "quadratic", "etas": [0.1, NaN]}', "etas.1"),
    (LINE, '{"surface": "quadratic", "points": 1000000}', "points"),
    (LINE, '{"surface": "quadratic", "parameter": 2}', "parameter"),
    (LINE, '{"surface": "quadratic", "span": -1}', "span"),
])
def test_bad_input_is_422_naming_the_field(client, path, text, field):
    error = assert_envelope(post_raw(client, path, text), 422)
    assert error["where"]["field"] == field, error
    assert set(error["where"]) <= {"field", "limit"}, error


@pytest.mark.parametrize("path, key, count, cap", [
    (RUN, "steps", 10 ** 6, "max_descent_steps"),
    (RUN, "optimizers", LIMITS.max_descent_optimizers + 1, "max_descent_optimizers"),
    (SURFACE, "grid", LIMITS.max_surface_grid + 1, "max_surface_grid"),
    (TAYLOR, "etas", LIMITS.max_etas + 1, "max_etas"),
    (LINE, "points", LIMITS.max_line_points + 1, "max_line_points"),
])
def test_a_count_over_its_cap_names_the_cap(client, path, key, count, cap):
    body = {"surface": "quadratic", "optimizers": [{"name": "sgd"}]} if path == RUN else {"surface": "quadratic"}
    body[key] = {"optimizers": [{"name": "sgd"}] * count, "etas": [0.1] * count}.get(key, count)
    error = assert_envelope(client.post(path, json=body), 422)
    assert cap in error["message"] and str(count) in error["message"]


@pytest.mark.parametrize("source, line, column, code", [
    ("f = a + c", 1, 9, "unknown_input"),
    ("f = a *\n", 1, 8, "syntax_error"),
    ("q = a\nf = sum(q)", 2, 5, "not_elementwise"),
])
def test_a_bad_custom_source_points_at_its_line_and_column(client, source, line, column, code):
    for path, extra in ((SURFACE, {}), (RUN, {"optimizers": [{"name": "sgd"}]}), (TAYLOR, {}), (LINE, {})):
        error = assert_envelope(client.post(path, json={"surface": "custom", "source": source, **extra}), 422)
        assert error["where"] == {"line": line, "column": column} and error["code"] == code


def test_a_custom_source_over_the_node_cap_is_refused(client):
    source = "f = a" + " + a" * LIMITS.max_surface_nodes
    error = assert_envelope(client.post(SURFACE, json={"surface": "custom", "source": source}), 422)
    assert "max_surface_nodes" in error["message"]


def test_bodies_that_are_not_objects_are_422(client):
    for text in ("[1, 2]", "nope", json.dumps("quadratic"), "null"):
        assert_envelope(post_raw(client, RUN, text), 422)


# ---- Large answers gzipped at level 1, small ones plain ---------------------------------------

def test_a_large_run_is_gzipped_and_decodes_to_the_plain_answer(client):
    body = {"surface": "quadratic", "steps": 500, "optimizers": EVERY_OPTIMIZER, "include": []}
    plain = client.post(RUN, json=body, headers={"Accept-Encoding": "identity"})
    zipped = client.post(RUN, json=body, headers={"Accept-Encoding": "gzip, deflate"})
    assert plain.status_code == zipped.status_code == 200
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["vary"]
    assert int(zipped.headers["content-length"]) < len(plain.content) / 2
    assert zipped.json() == plain.json() and len(plain.content) > 200_000


def test_a_grid_is_gzipped_at_the_fastest_level(client):
    body = {"surface": "network", "grid": 200}
    with client.stream("POST", SURFACE, json=body, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.status_code == 200 and response.headers["content-encoding"] == "gzip"
        raw = b"".join(response.iter_raw())
    # The gzip magic, and XFL 4: compressed at the fastest level (the app's middleware, at level 5, writes 0).
    assert raw[:2] == b"\x1f\x8b" and raw[8] == 4
    answer = json.loads(zlib.decompress(raw, 31))
    assert len(answer["values"]) == 200 and answer["id"] == "network"
    assert int(response.headers["content-length"]) == len(raw)


def test_a_small_answer_is_not_compressed(client):
    response = client.post(RUN, json={"surface": "quadratic", "steps": 3, "optimizers": EVERY_OPTIMIZER[:1],
                                      "include": []}, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and "content-encoding" not in response.headers
    assert strict_json(response.text)["runs"][0]["steps"] == 3


# ---- Identical requests answered from the answer cache (app.answer_cache; more in test_answer_cache.py) ----

def test_an_identical_run_is_answered_byte_for_byte_from_the_cache(client):
    body = {"surface": "saddle", "steps": 17, "optimizers": [{"name": "nesterov"}]}
    first = client.post(RUN, json=body)
    reordered = {"optimizers": [{"beta": 0.9, "name": "nesterov"}], "steps": 17, "surface": "saddle",
                 "include": ["state", "taylor"]}
    second = client.post(RUN, json=reordered)
    assert first.status_code == second.status_code == 200 and second.content == first.content
    assert strict_json(second.text)["runs"][0]["steps"] <= 17


def test_the_cache_keeps_gzip_and_plain_answers_apart(client):
    body = {"surface": "quadratic", "steps": 499, "optimizers": EVERY_OPTIMIZER, "include": []}
    for _ in range(2):
        zipped = client.post(RUN, json=body, headers={"Accept-Encoding": "gzip"})
        plain = client.post(RUN, json=body, headers={"Accept-Encoding": "identity"})
        assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
        assert zipped.json() == plain.json() and len(plain.content) > 200_000
