"""Data for the networks: the toy data sets, the user's own points read from text, and points made from a seed.

    GET  /datasets      -> {"datasets": [{"id", "kind", "features", "classes", "choose_classes",
                            "default_points", "default_noise", "title": {"en", "zh"}, "description": {"en", "zh"}}]}
    POST /data/parse    {"text", "kind"?, "format"?} -> {"points": [[x1, x2, label], ...], "kind", "features",
                            "classes", "size"}; a bad row is a 422 whose where is {"field": "text", "row", "column"?}
    GET  /data/points?dataset=moons&points=200&noise=0.1&classes=&seed=0&test_fraction=0.2
    POST /data/points   {"data": <the data part of a network request>, "test_fraction"?}
                        -> {"dataset", "kind", "features", "classes", "size", "train": [[x1, x2, label], ...],
                            "test": [[...], ...], "bounds": [[low, high] per feature]}

Rows are the way people write points, x1, x2, ..., then the label (a whole number) or the regression
target. The split is the one the network requests use: a shuffle seeded by the data's seed, then
the last test_fraction held out. Full details of the network requests are in app/routes/network.py.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from engine.data import CLASSIFICATION, GENERATORS, Dataset, make_dataset, parse_points, points_from_rows, split

from ..errors import fields_renamed, refusals
from ..schemas import DataParseRequest, DataPointsRequest, DataSpec, ErrorEnvelope, PointsQuery
from .trace import json_response

router = APIRouter(tags=["data"])

ERRORS = {**refusals(413, 415),
          422: {"model": ErrorEnvelope, "description": "The points or a field cannot be used; see error.where"}}

DEFAULT_POINTS = DataSpec.model_fields["points"].default
TITLES = {
    "xor": {"en": "XOR", "zh": "异或"},
    "moons": {"en": "Two moons", "zh": "双月"},
    "circles": {"en": "Circles", "zh": "同心圆"},
    "spiral": {"en": "Spiral", "zh": "螺旋"},
    "blobs": {"en": "Gaussian blobs", "zh": "高斯簇"},
    "sine": {"en": "Sine curve", "zh": "正弦曲线"},
    "line": {"en": "Straight line", "zh": "直线"},
}


def load_points(data: DataSpec, kind: str, prefix: str = "data.") -> Dataset:
    """The points a request's data part names; engine errors name the request's fields (data.points, ...)."""
    with fields_renamed(lambda field: f"{prefix}custom" if field == "data" else f"{prefix}{field}"):
        if data.custom is not None:
            return points_from_rows(data.custom, task=data.kind or kind)
        return make_dataset(data.dataset, data.points, noise=data.noise, classes=data.classes, seed=data.seed)


def split_points(dataset: Dataset, test_fraction: float, data: DataSpec) -> tuple[Dataset, Dataset | None]:
    return split(dataset, test_fraction, seed=data.seed)


def rows(dataset: Dataset | None) -> list[list[float]]:
    if dataset is None:
        return []
    shown = dataset.to_dict()
    return [[*x, y] for x, y in zip(shown["x"], shown["y"])]


def describe(dataset: Dataset) -> dict[str, Any]:
    return {"kind": dataset.task, "features": dataset.features, "classes": dataset.classes, "size": dataset.size}


@lru_cache(maxsize=None)
def _features(name: str) -> int:
    return make_dataset(name, 10).features


@router.get("/datasets", summary="The toy data sets: kind, features, classes, defaults, titles (en, zh)")
async def get_datasets() -> dict[str, Any]:
    return {"datasets": [
        {"id": name, "kind": generator.task, "features": _features(name), "classes": generator.classes,
         "choose_classes": generator.choose_classes, "default_points": DEFAULT_POINTS,
         "default_noise": generator.noise, "title": TITLES.get(name, {"en": name, "zh": name}),
         "description": generator.doc}
        for name, generator in GENERATORS.items()]}


@router.post("/data/parse", responses=ERRORS, summary="The user's own points from CSV or JSON text")
async def post_parse(request: DataParseRequest) -> Response:
    with fields_renamed(lambda field: "text" if field == "data" else field):
        dataset = parse_points(request.text, task=request.kind, format=request.format)
    return json_response({"points": rows(dataset), **describe(dataset)})


def _points_answer(data: DataSpec, test_fraction: float, prefix: str = "data.") -> Response:
    dataset = load_points(data, data.kind or CLASSIFICATION, prefix)
    train, test = split_points(dataset, test_fraction, data)
    return json_response({"dataset": data.dataset or "own", **describe(dataset), "train": rows(train),
                          "test": rows(test), "bounds": [list(pair) for pair in dataset.bounds()]})


@router.get("/data/points", responses={422: ERRORS[422]},
            summary="A toy data set's points, split into train and test")
async def get_points(query: Annotated[PointsQuery, Query()]) -> Response:
    data = DataSpec(dataset=query.dataset, points=query.points, noise=query.noise, classes=query.classes,
                    seed=query.seed)
    return _points_answer(data, query.test_fraction, prefix="")


@router.post("/data/points", responses=ERRORS, summary="The points of a network request's data part, split")
async def post_points(request: DataPointsRequest) -> Response:
    return _points_answer(request.data, request.test_fraction)
