"""engine/data.py: seeded toy sets, the user's own points with errors that name the row, and the split."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine.data import (CLASSIFICATION, GENERATORS, REGRESSION, make_dataset, one_hot, parse_points,
                         points_from_rows, split)
from engine.errors import DataError, LimitError, ValueInputError
from engine.limits import LIMITS


# ---- Toy sets ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(GENERATORS))
def test_every_toy_set_is_reproducible_from_its_seed_and_well_formed(name: str) -> None:
    first = make_dataset(name, 150, seed=11)
    again = make_dataset(name, 150, seed=11)
    other = make_dataset(name, 150, seed=12)
    assert np.array_equal(first.x, again.x) and np.array_equal(first.y, again.y)
    assert not np.array_equal(first.x, other.x)
    assert first.x.shape == (150, 1 if first.task == REGRESSION else 2)
    assert np.isfinite(first.x).all() and np.isfinite(first.y).all()
    assert np.abs(first.x).max() < 3.0  # centred near 0 with a spread near 1
    if first.task == CLASSIFICATION:
        assert set(np.unique(first.y)) == set(range(first.classes))
    x, y = first.columns("cross_entropy" if first.task == CLASSIFICATION else "mse")
    assert x.shape == (first.features, 150) and x.flags.c_contiguous
    assert y.shape == ((first.classes, 150) if first.task == CLASSIFICATION else (1, 150))


def test_spiral_and_blobs_take_a_number_of_classes_and_others_refuse_one() -> None:
    assert make_dataset("spiral", 100, classes=5).classes == 5
    assert set(np.unique(make_dataset("blobs", 100, classes=4).y)) == {0, 1, 2, 3}
    with pytest.raises(ValueInputError) as caught:
        make_dataset("moons", 100, classes=3)
    assert caught.value.where == {"field": "classes"}


def test_xor_labels_are_the_sign_agreement_of_the_two_coordinates_without_noise() -> None:
    data = make_dataset("xor", 400, noise=0.0, seed=1)
    assert np.array_equal(data.y, (data.x[:, 0] * data.x[:, 1] > 0).astype(float))
    assert np.abs(data.x).min() >= 0.1


@pytest.mark.parametrize(("kwargs", "error", "field"), [
    ({"name": "iris"}, ValueInputError, "dataset"),
    ({"name": "moons", "points": 10 ** 6}, LimitError, "points"),
    ({"name": "moons", "points": 0}, ValueInputError, "points"),
    ({"name": "moons", "points": 2.5}, ValueInputError, "points"),
    ({"name": "moons", "noise": -0.1}, ValueInputError, "noise"),
    ({"name": "moons", "noise": math.nan}, ValueInputError, "noise"),
    ({"name": "spiral", "classes": 11}, LimitError, "classes"),
    ({"name": "spiral", "classes": 1}, ValueInputError, "classes"),
    ({"name": "moons", "seed": -1}, ValueInputError, "seed"),
])
def test_bad_toy_set_arguments_name_the_field(kwargs: dict, error: type, field: str) -> None:
    with pytest.raises(error) as caught:
        make_dataset(**kwargs)
    assert caught.value.where == {"field": field}


def test_one_hot_puts_a_one_in_each_column_at_its_label() -> None:
    assert one_hot(np.array([2.0, 0.0]), 3).tolist() == [[0.0, 1.0], [0.0, 0.0], [1.0, 0.0]]


# ---- The user's own points -------------------------------------------------------------------------

def test_csv_points_with_a_header_comments_and_blank_lines() -> None:
    data = parse_points("x1,x2,label\n# a comment\n0.5, 1.5, 0\n\n-1,2,1\n3,4,2\n")
    assert data.task == CLASSIFICATION and data.classes == 3
    assert data.x.tolist() == [[0.5, 1.5], [-1.0, 2.0], [3.0, 4.0]]
    assert data.y.tolist() == [0.0, 1.0, 2.0]


def test_regression_points_are_x_and_y() -> None:
    data = parse_points("x,y\n0,1\n1,3.5\n", task=REGRESSION)
    assert data.task == REGRESSION and data.x.tolist() == [[0.0], [1.0]] and data.y.tolist() == [1.0, 3.5]


def test_json_points_as_lists_objects_or_wrapped() -> None:
    rows = [[0, 0, 0], [1, 1, 1]]
    assert parse_points(json.dumps(rows)).x.tolist() == [[0.0, 0.0], [1.0, 1.0]]
    assert parse_points(json.dumps({"points": rows})).y.tolist() == [0.0, 1.0]
    objects = [{"label": 1, "x2": 5, "x1": 4}, {"x1": 0, "x2": 1, "label": 0}]
    data = parse_points(json.dumps(objects))
    assert data.x.tolist() == [[4.0, 5.0], [0.0, 1.0]] and data.y.tolist() == [1.0, 0.0]
    regression = points_from_rows([{"x": 1, "y": 2}, {"x": 2, "y": 4}], task=REGRESSION)
    assert regression.y.tolist() == [2.0, 4.0]


@pytest.mark.parametrize(("text", "row", "column", "fragment"), [
    ("x1,x2,label\n1,2,0\n3,abc,1\n", 3, 2, "'abc' is not a number"),
    ("1,2,0\n3,4,1\n5,6\n", 3, None, "has 2 values; the rows above have 3"),
    ("1,2,0\n3,nan,1\n", 2, 2, "NaN and infinity are not allowed"),
    ("1,2,0\n3,4,1\n\n-inf,4,1\n", 4, 1, "NaN and infinity are not allowed"),
    ("1,2,0\n3,1e400,1\n", 2, 2, "not a finite number"),
    ("1,2,0\n3,4,1.5\n", 2, 3, "the label 1.5 must be a whole number from 0 to 9"),
    ("1,2,0\n3,4,-1\n", 2, 3, "whole number from 0 to 9"),
    ("1,2,0\n3,4,10\n", 2, 3, "whole number from 0 to 9"),
    ("1,abc,0\n3,4,1\n", 1, 2, "'abc' is not a number"),
    ('[[1, 2, 0], [3, "4", 1]]', 2, 2, '"4" is not a number'),
    ("[[1, 2, 0], [3, 4]]", 2, None, "has 2 values; the rows above have 3"),
    ("[[1, 2, 0], [3, NaN, 1]]", 2, 2, "NaN and infinity are not allowed"),
    ("[[1, 2, 0], [3, true, 1]]", 2, 2, "true is not a number"),
    ('[[1, 2, 0], {"x1": 1, "x2": 2, "label": 0}]', 2, None, "mixes a list row and an object row"),
    ('[{"x1": 1, "x2": 2, "label": 0}, [1, 2, 0]]', 2, None, "mixes a list row and an object row"),
    ('[{"x1": 1, "x2": 2, "label": 0}, {"x1": 1, "label": 0}]', 2, None, "the rows above have"),
    ("[[1, 2, 0],\n [3, 4, 1],\n [5, 6, 1]", 3, 11, "not valid JSON"),
    ("[[1, 2, 0], 7]", 2, None, "each row must be a list"),
])
def test_bad_points_are_refused_naming_the_row(text: str, row: int, column: int | None, fragment: str) -> None:
    with pytest.raises(DataError) as caught:
        parse_points(text)
    error = caught.value
    assert error.row == row and error.column == column
    assert error.where == {"field": "data", "row": row, **({"column": column} if column else {})}
    assert error.message.startswith(f"row {row}")
    assert fragment in error.message, error.message


def test_too_many_rows_are_refused_at_the_first_row_past_the_cap() -> None:
    limits = LIMITS.raised(max_points=100)
    with pytest.raises(DataError) as caught:
        parse_points("".join(f"{k},{k},0\n" for k in range(200)), limits=limits)
    assert caught.value.row == 101 and caught.value.code == "limit_exceeded"
    assert "max_points" in caught.value.message
    with pytest.raises(DataError) as caught:
        parse_points(json.dumps([[k, k, 0] for k in range(200)]), limits=limits)
    assert caught.value.row == 101


def test_a_million_points_are_refused_before_they_are_read() -> None:
    with pytest.raises(LimitError) as caught:
        parse_points("1,2,0\n" * 1_000_000)
    assert caught.value.limit == "max_upload_chars"


@pytest.mark.parametrize(("text", "fragment"), [
    ("1,2,0\n", "at least 2 points"),
    ("1,0\n2,0\n", "every point has label 0"),
    ("", "at least 2 points"),
    ('{"rows": [[1, 2, 0]]}', "must be a list of rows"),
])
def test_data_too_thin_to_learn_from_is_refused(text: str, fragment: str) -> None:
    with pytest.raises(DataError) as caught:
        parse_points(text)
    assert fragment in caught.value.message


def test_too_many_features_are_refused() -> None:
    with pytest.raises(DataError) as caught:
        parse_points("\n".join(",".join(["1"] * 6) + ",0" for _ in range(3)), limits=LIMITS.raised(max_features=5))
    assert caught.value.code == "limit_exceeded" and caught.value.row == 1


# ---- Train and test ------------------------------------------------------------------------------

def test_split_is_seeded_disjoint_and_complete() -> None:
    data = make_dataset("moons", 100, seed=0)
    train, test = split(data, 0.2, seed=5)
    again, _ = split(data, 0.2, seed=5)
    assert train.size == 80 and test is not None and test.size == 20
    assert np.array_equal(train.x, again.x)
    everything = np.concatenate([train.x, test.x])
    assert sorted(map(tuple, everything)) == sorted(map(tuple, data.x))
    whole, none = split(data, 0.0)
    assert none is None and whole.size == 100
    with pytest.raises(ValueInputError):
        split(data, 0.9)
