"""engine/values.py: request values in, JSON-safe numbers and formula text out."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine.errors import LimitError, ValueInputError
from engine.limits import LIMITS
from engine.values import as_value, number_text, to_json


@pytest.mark.parametrize(("raw", "fragment"), [
    pytest.param(True, "must be a number", id="bool"),
    pytest.param(None, "must be a number", id="null"),
    pytest.param("3", "must be a number", id="string"),
    pytest.param([1, [2, 3]], "rectangular", id="ragged"),
    pytest.param([[1, "a"]], "rectangular", id="string-inside"),
    pytest.param([], "non-empty", id="empty-list"),
    pytest.param([[[1.0]]], "list of equal-length lists", id="three-dimensional"),
    pytest.param(math.nan, "finite", id="nan"),
    pytest.param(math.inf, "finite", id="infinity"),
    pytest.param([1.0, math.inf], "finite", id="infinity-inside"),
    pytest.param(1e16, "finite", id="too-large"),
    pytest.param([0.0, -1e16], "finite", id="too-large-inside"),
    pytest.param(10 ** 400, "finite", id="whole-number-beyond-float64"),
    pytest.param([[1, -10 ** 400]], "finite", id="whole-number-beyond-float64-inside"),
])
def test_values_that_are_not_finite_numbers_or_rectangular_lists_are_refused(raw: object, fragment: str) -> None:
    with pytest.raises(ValueInputError) as caught:
        as_value(raw, "values.x")
    assert caught.value.code == "invalid_value"
    assert caught.value.where == {"field": "values.x"}
    assert fragment in caught.value.message


def test_a_tensor_with_too_many_elements_is_refused() -> None:
    with pytest.raises(LimitError) as caught:
        as_value([0.0] * (LIMITS.max_tensor_elements + 1), "values.x")
    assert caught.value.limit == "max_tensor_elements"
    assert caught.value.where == {"field": "values.x"}


def test_numbers_and_lists_become_float64() -> None:
    scalar = as_value(3, "values.x")
    assert isinstance(scalar, np.float64) and scalar == 3.0
    matrix = as_value([[1, 2], [3, 4]], "values.x")
    assert matrix.dtype == np.float64 and matrix.shape == (2, 2)


def test_non_finite_numbers_become_null_in_json() -> None:
    assert to_json(np.float64(math.inf)) is None
    assert to_json(np.float64(math.nan)) is None
    assert to_json(np.array([1.0, math.nan, -math.inf])) == [1.0, None, None]
    assert to_json(np.array([[1.0, 2.0]])) == [[1.0, 2.0]]
    json.dumps(to_json(np.array([[math.nan, 1.0]])), allow_nan=False)


@pytest.mark.parametrize(("value", "text"), [
    (3.0, "3"), (-4.0, "-4"), (0.25, "0.25"), (1.5e-7, "1.5e-07"), (1 / 3, "0.333333"),
    (math.nan, "nan"), (math.inf, "inf"), (-math.inf, "-inf"), (1e20, "1e+20"),
])
def test_numbers_read_the_way_a_student_writes_them(value: float, text: str) -> None:
    assert number_text(np.float64(value)) == text


def test_a_tensor_reads_as_its_shape() -> None:
    assert number_text(np.zeros((2, 3))) == "tensor(2×3)"
