"""GET /api/v1/datasets, POST /data/parse and GET or POST /data/points; bad uploads name their row."""
from __future__ import annotations

import json

import pytest

from engine.data import GENERATORS
from engine.limits import LIMITS

from .conftest import assert_envelope, strict_json

PARSE = "/api/v1/data/parse"
POINTS = "/api/v1/data/points"


def ok(response):
    assert response.status_code == 200, response.text[:500]
    return strict_json(response.text)


# ---- The toy data sets --------------------------------------------------------------------------

def test_datasets_lists_every_toy_set_with_its_kind_defaults_and_both_languages(client):
    sets = {entry["id"]: entry for entry in ok(client.get("/api/v1/datasets"))["datasets"]}
    assert set(sets) == set(GENERATORS) >= {"xor", "moons", "circles", "spiral", "blobs", "sine", "line"}
    assert sets["moons"] == {**sets["moons"], "kind": "classification", "features": 2, "classes": 2,
                             "choose_classes": False, "default_points": 200, "default_noise": 0.1}
    assert sets["sine"]["kind"] == "regression" and sets["sine"]["features"] == 1 and sets["sine"]["classes"] == 0
    assert sets["spiral"]["choose_classes"] is True
    for entry in sets.values():
        assert set(entry["title"]) == set(entry["description"]) == {"en", "zh"}
        assert all(entry["title"].values()) and all(entry["description"].values())


def test_points_are_split_into_train_and_test_rows_reproducibly(client):
    answer = ok(client.get(POINTS, params={"dataset": "moons", "points": 100, "noise": 0.1, "seed": 3}))
    assert (answer["dataset"], answer["kind"], answer["features"], answer["classes"], answer["size"]) == \
        ("moons", "classification", 2, 2, 100)
    assert len(answer["train"]) == 80 and len(answer["test"]) == 20
    assert all(len(row) == 3 and row[2] in (0, 1) for row in answer["train"] + answer["test"])
    assert len(answer["bounds"]) == 2 and all(low < high for low, high in answer["bounds"])
    assert ok(client.get(POINTS, params={"dataset": "moons", "points": 100, "noise": 0.1, "seed": 3})) == answer
    posted = ok(client.post(POINTS, json={"data": {"dataset": "moons", "points": 100, "noise": 0.1, "seed": 3}}))
    assert posted == answer
    other = ok(client.get(POINTS, params={"dataset": "moons", "points": 100, "seed": 4}))
    assert other["train"] != answer["train"]


def test_points_of_a_three_class_spiral_and_of_a_regression(client):
    spiral = ok(client.get(POINTS, params={"dataset": "spiral", "points": 90, "classes": 3, "test_fraction": 0}))
    assert spiral["classes"] == 3 and spiral["test"] == [] and {row[2] for row in spiral["train"]} == {0, 1, 2}
    sine = ok(client.get(POINTS, params={"dataset": "sine", "points": 50}))
    assert sine["kind"] == "regression" and all(len(row) == 2 for row in sine["train"])


def test_own_points_come_back_split_the_same_way(client):
    rows = [[float(k), float(-k), k % 2] for k in range(10)]
    answer = ok(client.post(POINTS, json={"data": {"custom": rows, "seed": 1}, "test_fraction": 0.3}))
    assert answer["dataset"] == "own" and answer["size"] == 10 and len(answer["test"]) == 3
    assert sorted(answer["train"] + answer["test"]) == sorted(rows)


@pytest.mark.parametrize("params, field", [
    ({"dataset": "moons", "points": 10**6}, "points"),
    ({"dataset": "moons", "points": 1}, "points"),
    ({"dataset": "moons", "points": 2.5}, "points"),
    ({"dataset": "moons", "classes": 3}, "classes"),
    ({"dataset": "moons", "noise": "nan"}, "noise"),
    ({"dataset": "nope"}, "dataset"),
    ({"dataset": "moons", "test_fraction": 0.9}, "test_fraction"),
    ({"dataset": "moons", "colour": "red"}, "colour"),
])
def test_bad_points_queries_name_the_parameter(client, params, field):
    error = assert_envelope(client.get(POINTS, params=params), 422)
    assert error["where"]["field"].endswith(field)


# ---- The user's own points from text ---------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "x1,x2,label\n0.5,1.2,0\n-0.3,0.8,1\n",
    "# my points\n0.5, 1.2, 0\n\n-0.3, 0.8, 1",
    "[[0.5, 1.2, 0], [-0.3, 0.8, 1]]",
    '{"points": [{"x1": 0.5, "x2": 1.2, "label": 0}, {"x1": -0.3, "x2": 0.8, "label": 1}]}',
], ids=["csv-with-header", "csv-with-comment-and-blank-line", "json-rows", "json-objects"])
def test_points_parse_from_csv_or_json(client, text):
    answer = ok(client.post(PARSE, json={"text": text}))
    assert answer == {"points": [[0.5, 1.2, 0], [-0.3, 0.8, 1]], "kind": "classification", "features": 2,
                      "classes": 2, "size": 2}


def test_regression_points_parse_with_their_kind(client):
    answer = ok(client.post(PARSE, json={"text": "x,y\n0,0.1\n0.5,0.4\n1,0.9", "kind": "regression"}))
    assert answer["points"] == [[0, 0.1], [0.5, 0.4], [1, 0.9]] and answer["kind"] == "regression"
    assert answer["classes"] == 0 and answer["features"] == 1


@pytest.mark.parametrize("text, row, column", [
    ("0.5,1.2,0\n-0.3,abc,1\n", 2, 2),
    ("0.5,1.2,0\n-0.3,0.8\n", 2, None),
    ("0.5,1.2,0\n1,2,0\nnan,0.8,1\n", 3, 1),
    ("0.5,1.2,0\ninf,0.8,1\n", 2, 1),
    ("0.5,1.2,0\n0.1,0.8,1.5\n", 2, 3),
    ("[[0.5, 1.2, 0], [-0.3, \"x\", 1]]", 2, 2),
    ("[[0.5, 1.2, 0], [-0.3, 1]]", 2, None),
    ("[[0.5, 1.2, 0],\n [-0.3, 1.2, 1],,]", 2, 17),
], ids=["not-a-number", "ragged", "nan", "infinity", "fractional-label", "json-string", "json-ragged",
        "json-syntax"])
def test_an_upload_that_is_not_numbers_ragged_or_nan_is_422_naming_the_row(client, text, row, column):
    error = assert_envelope(client.post(PARSE, json={"text": text}), 422)
    assert error["code"] == "invalid_data"
    expected = {"field": "text", "row": row} if column is None else {"field": "text", "row": row, "column": column}
    assert error["where"] == expected
    assert f"row {row}" in error["message"]


def test_an_upload_with_too_many_points_names_the_row_past_the_cap(client):
    text = "0,0,0\n0,1,1\n" * (LIMITS.max_points // 2) + "1,1,0\n"
    error = assert_envelope(client.post(PARSE, json={"text": text}), 422)
    assert error["code"] == "limit_exceeded"
    assert error["where"] == {"field": "text", "row": LIMITS.max_points + 1, "limit": "max_points"}


def test_an_upload_over_the_character_cap_is_refused_naming_the_cap(client):
    error = assert_envelope(client.post(PARSE, json={"text": "1" * (LIMITS.max_upload_chars + 1)}), 422)
    assert error["where"] == {"field": "text", "limit": "max_upload_chars"}
    assert "max_upload_chars" in error["message"]


@pytest.mark.parametrize("custom, field, limit", [
    ([[0, 0, 0]] * (LIMITS.max_points + 1), "data.custom", "max_points"),
    ([[0] * (LIMITS.max_features + 2), [1] * (LIMITS.max_features + 2)], "data.custom.0", "max_features"),
    ([[0, 2 * LIMITS.max_abs_value, 0], [1, 1, 1]], "data.custom.0.1", "max_abs_value"),
], ids=["too-many-points", "a-row-too-wide", "a-number-too-big"])
def test_own_points_over_a_cap_are_refused_naming_the_cap(client, custom, field, limit):
    error = assert_envelope(client.post(POINTS, json={"data": {"custom": custom}}), 422)
    assert error["where"]["field"] == field and f"({limit})" in error["message"]


def test_an_upload_over_the_body_cap_is_413(client):
    body = json.dumps({"text": "0.1,0.2,1\n" * (LIMITS.max_body_bytes // 10)})
    error = assert_envelope(client.post(PARSE, content=body, headers={"content-type": "application/json"}), 413)
    assert error["code"] == "body_too_large"


@pytest.mark.parametrize("body, field", [
    ({"text": ""}, "text"),
    ({"text": 5}, "text"),
    ({"text": "0,0,0\n1,1,1", "kind": "clustering"}, "kind"),
    ({"text": "0,0,0\n1,1,1", "format": "xml"}, "format"),
    ({"text": "0,0,0\n1,1,1", "extra": 1}, "extra"),
])
def test_bad_parse_fields_are_422_naming_the_field(client, body, field):
    error = assert_envelope(client.post(PARSE, json=body), 422)
    assert error["where"]["field"] == field


def test_one_class_only_is_refused(client):
    error = assert_envelope(client.post(PARSE, json={"text": "0,0,0\n1,1,0"}), 422)
    assert "two classes" in error["message"]
