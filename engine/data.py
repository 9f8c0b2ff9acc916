"""Toy data sets made with NumPy from a seed, the user's own points, and a seeded train/test split.

A Dataset keeps points as rows, the way people write them (x1, x2, label); `columns()` turns them
into the network's layout, samples as COLUMNS:

    X  (features, m)        Y  (classes, m) one-hot for cross-entropy, (1, m) for bce and regression

Classification labels are whole numbers 0, 1, ..., classes - 1. Every set is centred near 0 with a
spread near 1, so the same learning rates work on all of them.
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from .errors import DataError, LimitError, ValueInputError
from .limits import LIMITS, Limits

CLASSIFICATION = "classification"
REGRESSION = "regression"


@dataclass(frozen=True)
class Dataset:
    name: str
    task: str  # classification | regression
    x: np.ndarray  # (m, features), one point per row
    y: np.ndarray  # (m,): labels 0..classes-1 (as float64) or regression targets
    classes: int  # 0 for regression

    @property
    def size(self) -> int:
        return int(self.x.shape[0])

    @property
    def features(self) -> int:
        return int(self.x.shape[1])

    def columns(self, loss: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """X (features, m) and the targets the loss reads: one-hot (classes, m) for cross_entropy, else (1, m)."""
        x = np.ascontiguousarray(self.x.T)
        if loss == "cross_entropy":
            return x, one_hot(self.y, self.classes)
        return x, np.ascontiguousarray(self.y.reshape(1, -1))

    def subset(self, rows: np.ndarray, name: str | None = None) -> "Dataset":
        return replace(self, name=name or self.name, x=self.x[rows], y=self.y[rows])

    def bounds(self, padding: float = 0.1) -> list[tuple[float, float]]:
        """Per feature (low, high): the bounding box of the points widened by `padding` of its size on each side."""
        low, high = self.x.min(axis=0), self.x.max(axis=0)
        margin = np.maximum((high - low) * padding, 1e-3)
        return [(float(a), float(b)) for a, b in zip(low - margin, high + margin)]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "task": self.task, "classes": self.classes, "size": self.size,
                "features": self.features, "x": self.x.tolist(),
                "y": (self.y.astype(int).tolist() if self.task == CLASSIFICATION else self.y.tolist())}


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    encoded = np.zeros((classes, labels.shape[0]))
    encoded[labels.astype(np.int64), np.arange(labels.shape[0])] = 1.0
    return encoded


# ---- Toy sets ---------------------------------------------------------------------------------

def _xor(rng: np.random.Generator, n: int, noise: float, classes: int) -> tuple[np.ndarray, np.ndarray]:
    # Uniform in the square, pushed a little away from the axes so the four quadrants are separable.
    x = rng.uniform(-1.0, 1.0, size=(n, 2))
    x += np.where(x >= 0, 0.1, -0.1)
    labels = (x[:, 0] * x[:, 1] > 0).astype(np.float64)
    return x + rng.normal(0.0, noise, size=x.shape), labels


def _moons(rng: np.random.Generator, n: int, noise: float, classes: int) -> tuple[np.ndarray, np.ndarray]:
    outer, inner = n - n // 2, n // 2
    t_outer = np.linspace(0.0, np.pi, outer)
    t_inner = np.linspace(0.0, np.pi, inner)
    x = np.concatenate([np.column_stack([np.cos(t_outer), np.sin(t_outer)]),
                        np.column_stack([1.0 - np.cos(t_inner), 0.5 - np.sin(t_inner)])])
    x -= (0.5, 0.25)
    labels = np.concatenate([np.zeros(outer), np.ones(inner)])
    return x + rng.normal(0.0, noise, size=x.shape), labels


def _circles(rng: np.random.Generator, n: int, noise: float, classes: int) -> tuple[np.ndarray, np.ndarray]:
    outer, inner = n - n // 2, n // 2
    angles = rng.uniform(0.0, 2.0 * np.pi, size=n)
    radius = np.concatenate([np.ones(outer), np.full(inner, 0.5)])
    x = np.column_stack([radius * np.cos(angles), radius * np.sin(angles)])
    labels = np.concatenate([np.zeros(outer), np.ones(inner)])
    return x + rng.normal(0.0, noise, size=x.shape), labels


def _spiral(rng: np.random.Generator, n: int, noise: float, classes: int) -> tuple[np.ndarray, np.ndarray]:
    # k arms winding out from the centre, as in Stanford's CS231n notes.
    sizes = [n // classes + (1 if k < n % classes else 0) for k in range(classes)]
    points, labels = [], []
    for k, size in enumerate(sizes):
        radius = np.linspace(0.05, 1.0, size)
        angle = np.linspace(0.0, 4.0, size) + k * 2.0 * np.pi / classes + rng.normal(0.0, noise, size=size)
        points.append(np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]))
        labels.append(np.full(size, float(k)))
    return np.concatenate(points), np.concatenate(labels)


def _blobs(rng: np.random.Generator, n: int, noise: float, classes: int) -> tuple[np.ndarray, np.ndarray]:
    angles = 2.0 * np.pi * np.arange(classes) / classes + np.pi / 4.0
    centres = np.column_stack([np.cos(angles), np.sin(angles)])
    labels = np.arange(n) % classes
    x = centres[labels] + rng.normal(0.0, noise, size=(n, 2))
    return x, labels.astype(np.float64)


def _sine(rng: np.random.Generator, n: int, noise: float, classes: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.sort(rng.uniform(-1.0, 1.0, size=n))
    return x.reshape(-1, 1), np.sin(np.pi * x) + rng.normal(0.0, noise, size=n)


def _line(rng: np.random.Generator, n: int, noise: float, classes: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.sort(rng.uniform(-1.0, 1.0, size=n))
    return x.reshape(-1, 1), 0.8 * x + 0.3 + rng.normal(0.0, noise, size=n)


@dataclass(frozen=True)
class Generator:
    make: Callable[[np.random.Generator, int, float, int], tuple[np.ndarray, np.ndarray]]
    task: str
    noise: float  # the default
    classes: int  # the default; 0 for regression, fixed at 2 where `choose_classes` is False
    choose_classes: bool
    doc: dict[str, str]


GENERATORS: dict[str, Generator] = {
    "xor": Generator(_xor, CLASSIFICATION, 0.05, 2, False, {
        "en": "Two classes in the four quadrants: class 1 where x1 and x2 have the same sign. No line separates "
              "them.",
        "zh": "四个象限中的两类：x1 与 x2 同号时为第 1 类。没有一条直线能把它们分开。"}),
    "moons": Generator(_moons, CLASSIFICATION, 0.1, 2, False, {
        "en": "Two interleaving half circles.", "zh": "两个交错的半圆。"}),
    "circles": Generator(_circles, CLASSIFICATION, 0.05, 2, False, {
        "en": "A small circle (class 1) inside a large one (class 0).",
        "zh": "大圆（第 0 类）中的小圆（第 1 类）。"}),
    "spiral": Generator(_spiral, CLASSIFICATION, 0.2, 3, True, {
        "en": "k arms spiralling out from the centre, one class each.",
        "zh": "从中心旋出的 k 条旋臂，每条一类。"}),
    "blobs": Generator(_blobs, CLASSIFICATION, 0.3, 3, True, {
        "en": "k Gaussian clusters around a circle, one class each.",
        "zh": "围成一圈的 k 个高斯簇，每簇一类。"}),
    "sine": Generator(_sine, REGRESSION, 0.1, 0, False, {
        "en": "Regression: y = sin(pi x) plus noise, for x in [-1, 1].",
        "zh": "回归：y = sin(pi x) 加噪声，x 在 [-1, 1]。"}),
    "line": Generator(_line, REGRESSION, 0.1, 0, False, {
        "en": "Regression: y = 0.8 x + 0.3 plus noise, for x in [-1, 1].",
        "zh": "回归：y = 0.8 x + 0.3 加噪声，x 在 [-1, 1]。"}),
}


def make_dataset(name: str, points: int = 200, *, noise: float | None = None, classes: int | None = None,
                 seed: int = 0, limits: Limits = LIMITS) -> Dataset:
    """A toy set, the same for the same arguments on every machine (numpy.random.default_rng(seed))."""
    generator = GENERATORS.get(name)
    if generator is None:
        raise ValueInputError(f"dataset must be one of {', '.join(GENERATORS)}, not {name!r}", "dataset",
                              code="invalid_value")
    _check_whole("points", points, 2, limits.max_points, "max_points")
    _check_whole("seed", seed, 0, limits.max_seed, "max_seed")
    noise = generator.noise if noise is None else noise
    if not (isinstance(noise, (int, float)) and not isinstance(noise, bool) and 0.0 <= noise <= limits.max_noise):
        raise ValueInputError(f"noise must be a number from 0 to {limits.max_noise:g} (max_noise)", "noise",
                              code="invalid_value")
    if classes is None:
        classes = generator.classes
    elif not generator.choose_classes and classes != generator.classes:
        raise ValueInputError(f"{name} has {generator.classes or 'no'} classes; only spiral and blobs take a "
                              "number of classes", "classes", code="invalid_value")
    if generator.choose_classes:
        _check_whole("classes", classes, 2, limits.max_classes, "max_classes")
        if classes > points:
            raise ValueInputError(f"{classes} classes need at least {classes} points", "points", code="invalid_value")
    x, y = generator.make(np.random.default_rng(seed), points, float(noise), classes)
    return Dataset(name, generator.task, np.ascontiguousarray(x, dtype=np.float64), y.astype(np.float64), classes)


def _check_whole(field: str, value: Any, low: int, high: int, limit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueInputError(f"{field} must be a whole number", field, code="invalid_value")
    if value > high:
        raise LimitError(f"{field} is {value}; the cap is {high} ({limit})", limit, high, field=field)
    if value < low:
        raise ValueInputError(f"{field} must be at least {low}", field, code="invalid_value")


# ---- The user's own points --------------------------------------------------------------------

def parse_points(text: str, *, task: str = CLASSIFICATION, format: str | None = None,
                 limits: Limits = LIMITS) -> Dataset:
    """Points from CSV text (x1,x2,label or x,y per line; an optional header line) or JSON text.

    JSON is a list of rows, each a list [x1, x2, label] or an object {"x1": .., "x2": .., "label": ..}
    ({"x": .., "y": ..} for regression), optionally wrapped as {"points": [...]}. Every error names
    its row, counted from 1 as an editor counts lines (for CSV) or list items (for JSON).
    """
    if task not in (CLASSIFICATION, REGRESSION):
        raise ValueInputError(f"task must be {CLASSIFICATION} or {REGRESSION}", "task", code="invalid_value")
    if not isinstance(text, str):
        raise ValueInputError("the points must be given as text", "data", code="invalid_value")
    if len(text) > limits.max_upload_chars:
        raise LimitError(f"the data has {len(text)} characters; the cap is {limits.max_upload_chars} "
                         "(max_upload_chars)", "max_upload_chars", limits.max_upload_chars, field="data")
    if format is None:
        format = "json" if text.lstrip()[:1] in ("[", "{") else "csv"
    if format == "csv":
        return _from_csv(text, task, limits)
    if format == "json":
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as error:
            raise DataError(f"this is not valid JSON ({error.msg})", error.lineno, column=error.colno,
                            code="invalid_data") from None
        except RecursionError:
            raise DataError("the JSON is nested too deeply", None, code="invalid_data") from None
        return points_from_rows(parsed, task=task, limits=limits)
    raise ValueInputError("format must be csv or json", "format", code="invalid_value")


def _from_csv(text: str, task: str, limits: Limits) -> Dataset:
    rows: list[tuple[int, list[str]]] = []
    header_seen = False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        cells = [cell.strip() for cell in next(csv.reader(io.StringIO(stripped)))]
        if not rows and not header_seen and not any(_looks_numeric(cell) for cell in cells):
            header_seen = True  # a first line of names such as x1,x2,label
            continue
        rows.append((number, cells))
        if len(rows) > limits.max_points:
            raise DataError(f"more than {limits.max_points} points (max_points)", number, code="limit_exceeded",
                            limit="max_points", value=limits.max_points)
    return _assemble([(number, [_cell_number(cell, number, column) for column, cell in enumerate(cells, 1)])
                      for number, cells in rows], task, limits)


def _looks_numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _cell_number(cell: str, row: int, column: int) -> float:
    try:
        value = float(cell)
    except ValueError:
        shown = cell if len(cell) <= 24 else cell[:20] + "…"
        raise DataError(f"'{shown}' is not a number", row, column=column, code="invalid_data") from None
    return value


def points_from_rows(rows: Any, *, task: str = CLASSIFICATION, limits: Limits = LIMITS) -> Dataset:
    """Points from already-parsed JSON: a list of [x1, x2, label] lists or of objects (see parse_points)."""
    if isinstance(rows, dict) and set(rows) == {"points"}:
        rows = rows["points"]
    if not isinstance(rows, list):
        raise DataError('the points must be a list of rows such as [[0.5, 1.2, 0], ...] or {"points": [...]}',
                        None, code="invalid_data")
    if len(rows) > limits.max_points:
        raise DataError(f"more than {limits.max_points} points (max_points)", limits.max_points + 1,
                        code="limit_exceeded", limit="max_points", value=limits.max_points)
    numbered = []
    keys: list[str] | None = None
    for number, row in enumerate(rows, start=1):
        if number > 1 and isinstance(row, dict) != (keys is not None):
            raise DataError("mixes a list row and an object row (with keys): write every row the same way", number,
                            code="invalid_data")
        if isinstance(row, dict):
            keys = keys or _object_keys(row, number, task)
            if set(row) != set(keys):
                raise DataError(f"has the keys {', '.join(sorted(map(str, row)))}; the rows above have "
                                f"{', '.join(sorted(keys))}", number, code="invalid_data")
            row = [row[key] for key in keys]
        elif not isinstance(row, list):
            raise DataError("each row must be a list of numbers such as [0.5, 1.2, 0], or an object", number,
                            code="invalid_data")
        values = []
        for column, value in enumerate(row, start=1):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise DataError(f"{json.dumps(value)[:24]} is not a number", number, column=column, code="invalid_data")
            try:
                values.append(float(value))
            except OverflowError:
                values.append(math.inf)
        numbered.append((number, values))
    return _assemble(numbered, task, limits)


def _object_keys(row: dict[str, Any], number: int, task: str) -> list[str]:
    target = "label" if task == CLASSIFICATION else "y"
    features = sorted((key for key in row if key != target), key=lambda key: (len(key), key))
    if target not in row or not features or not all(key == "x" or (key[:1] == "x" and key[1:].isdigit())
                                                     for key in features):
        example = '{"x1": 0.5, "x2": 1.2, "label": 0}' if task == CLASSIFICATION else '{"x": 0.5, "y": 1.2}'
        raise DataError(f"an object row needs feature keys x (or x1, x2, ...) and the key '{target}', "
                        f"such as {example}", number, code="invalid_data")
    return features + [target]


def _assemble(numbered: list[tuple[int, list[float]]], task: str, limits: Limits) -> Dataset:
    if len(numbered) < 2:
        raise DataError("at least 2 points are needed", None, code="invalid_data")
    width = len(numbered[0][1])
    if width < 2:
        raise DataError("each row needs at least one feature and then the " +
                        ("label" if task == CLASSIFICATION else "target"), numbered[0][0], code="invalid_data")
    if width - 1 > limits.max_features:
        raise DataError(f"{width - 1} features; the cap is {limits.max_features} (max_features)", numbered[0][0],
                        code="limit_exceeded", limit="max_features", value=limits.max_features)
    for number, values in numbered:
        if len(values) != width:
            raise DataError(f"has {len(values)} values; the rows above have {width}", number, code="invalid_data")
        for column, value in enumerate(values, start=1):
            if not math.isfinite(value) or abs(value) > limits.max_abs_value:
                raise DataError(f"{value!r} is not a finite number of size at most {limits.max_abs_value:g} "
                                "(NaN and infinity are not allowed)", number, column=column, code="invalid_data")
    table = np.array([values for _, values in numbered], dtype=np.float64)
    x, y = table[:, :-1], table[:, -1]
    if task == REGRESSION:
        return Dataset("own", REGRESSION, np.ascontiguousarray(x), y.copy(), 0)
    for (number, _), label in zip(numbered, y):
        if label != int(label) or not 0 <= label < limits.max_classes:
            raise DataError(f"the label {label:g} must be a whole number from 0 to {limits.max_classes - 1}", number,
                            column=width, code="invalid_data")
    classes = int(y.max()) + 1
    if classes < 2:
        raise DataError("every point has label 0: a classifier needs points of at least two classes", None,
                        code="invalid_data")
    return Dataset("own", CLASSIFICATION, np.ascontiguousarray(x), y.copy(), classes)


# ---- Train and test ---------------------------------------------------------------------------

def split(dataset: Dataset, test_fraction: float = 0.2, seed: int = 0,
          limits: Limits = LIMITS) -> tuple[Dataset, Dataset | None]:
    """A seeded shuffle, then the last `test_fraction` of the points held out (None when nothing is held out)."""
    if not (isinstance(test_fraction, (int, float)) and 0.0 <= test_fraction <= limits.max_test_fraction):
        raise ValueInputError(f"test_fraction must be a number from 0 to {limits.max_test_fraction:g} "
                              "(max_test_fraction)", "test_fraction", code="invalid_value")
    order = np.random.default_rng(seed).permutation(dataset.size)
    held_out = int(round(dataset.size * test_fraction))
    if held_out == 0:
        return dataset.subset(order, f"{dataset.name}/train"), None
    return (dataset.subset(order[:-held_out], f"{dataset.name}/train"),
            dataset.subset(order[-held_out:], f"{dataset.name}/test"))
