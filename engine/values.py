"""Input values in and numbers out: binding request values to a graph's inputs, JSON-safe numbers
(non-finite becomes null plus a status), and the short number text used in formulas."""
from __future__ import annotations

import binascii
import math
from typing import Any, Mapping

import numpy as np

from .errors import LimitError, ValueInputError
from .graph import Graph
from .limits import LIMITS, Limits


def is_finite(x: Any) -> bool:
    if isinstance(x, float):
        return math.isfinite(x)
    return bool(np.isfinite(x).all())


# Tensors at least this large are written specially by the "numpy" and "compact" encodings: below it
# .tolist() is as fast, and small numbers are best read as plain JSON.
ARRAY_MIN_ELEMENTS = 64
COMPACT_MIN_ELEMENTS = 256
ENCODINGS = ("list", "numpy", "compact")


def all_finite(x: Any) -> bool:
    """Is every number finite? For a large array one BLAS pass: x . x is finite exactly when every x is,
    unless it overflows (some |x| > 1e154), and then the element-wise check decides."""
    if isinstance(x, float):
        return math.isfinite(x)
    if x.size >= 4096 and x.flags.c_contiguous:
        flat = x.reshape(-1)
        if math.isfinite(np.dot(flat, flat)):
            return True
    return bool(np.isfinite(x).all())


def to_json(x: Any, encoding: str = "list") -> Any:
    """A float or a nested list; every non-finite number becomes None (JSON null).

    encoding="numpy" keeps a large finite tensor a C-contiguous float64 ndarray, for orjson.dumps(...,
    option=orjson.OPT_SERIALIZE_NUMPY), which writes the same JSON without a .tolist().
    encoding="compact" writes a large tensor as {"dtype": "float64", "shape": [...], "base64": ...}: its
    little-endian bytes in row-major order, where NaN and infinity keep their IEEE bit patterns.
    """
    if isinstance(x, float):
        return float(x) if math.isfinite(x) else None
    if x is None:
        return None
    array = np.asarray(x, dtype=np.float64)
    if array.ndim == 0:
        value = float(array)
        return value if math.isfinite(value) else None
    if encoding == "compact" and array.size >= COMPACT_MIN_ELEMENTS:
        raw = np.ascontiguousarray(array, dtype="<f8").tobytes()
        return {"dtype": "float64", "shape": list(array.shape), "base64": binascii.b2a_base64(raw, newline=False)
                .decode("ascii")}
    if np.isfinite(array).all():
        if encoding == "numpy" and array.size >= ARRAY_MIN_ELEMENTS:
            return np.ascontiguousarray(array)
        return array.tolist()
    return np.where(np.isfinite(array), array, None).tolist()


def from_compact(encoded: dict[str, Any]) -> np.ndarray:
    """The tensor that to_json(..., encoding="compact") wrote (what a Python client does with one)."""
    raw = binascii.a2b_base64(encoded["base64"])
    return np.frombuffer(raw, dtype="<f8").reshape(encoded["shape"]).astype(np.float64)


def shape_of(x: Any) -> list[int]:
    return [] if isinstance(x, float) else list(np.shape(x))


def number_text(x: Any) -> str:
    """A number as a student reads it: 3, -4, 0.25, 1.5e-07, nan, inf."""
    if not isinstance(x, float):
        if np.ndim(x) > 0:
            return "tensor(" + "×".join(str(n) for n in np.shape(x)) + ")"
        x = float(x)
    if x.is_integer() and -1e15 < x < 1e15:
        return str(int(x))
    return f"{x:.6g}"  # also spells nan, inf and -inf


def as_value(raw: Any, field: str, limits: Limits = LIMITS) -> Any:
    """A request value (a number or a nested list of numbers) as float64: a scalar or an array."""
    if (type(raw) is float or type(raw) is int) and -limits.max_abs_value <= raw <= limits.max_abs_value:  # NaN fails
        return np.float64(raw)
    if isinstance(raw, bool) or raw is None or isinstance(raw, str):
        raise ValueInputError(f"{field} must be a number or a list of numbers", field, code="invalid_value")
    if isinstance(raw, (int, float)):
        try:
            value = float(raw)
        except OverflowError:  # a whole number too large for float64
            value = math.inf
        _check_finite(value, field, limits)
        return np.float64(value)
    try:
        array = np.array(raw, dtype=np.float64)
    except (ValueError, TypeError):
        raise ValueInputError(f"{field} must be a number or a rectangular (not ragged) list of numbers",
                              field, code="invalid_value") from None
    except OverflowError:  # a whole number too large for float64
        raise ValueInputError(f"{field} must hold finite numbers of size at most {limits.max_abs_value:g}",
                              field, code="invalid_value") from None
    if array.size > limits.max_tensor_elements:
        raise LimitError(f"{field} has {array.size} numbers; the cap is {limits.max_tensor_elements} "
                         "(max_tensor_elements)", "max_tensor_elements", limits.max_tensor_elements, field=field)
    if array.ndim > 2 or any(n == 0 for n in array.shape):
        raise ValueInputError(f"{field} must be a number, a non-empty list or a list of equal-length lists",
                              field, code="invalid_value")
    if not np.isfinite(array).all() or np.abs(array).max() > limits.max_abs_value:
        raise ValueInputError(f"{field} must hold finite numbers of size at most {limits.max_abs_value:g}",
                              field, code="invalid_value")
    return array


def _check_finite(value: float, field: str, limits: Limits) -> None:
    if not math.isfinite(value) or abs(value) > limits.max_abs_value:
        raise ValueInputError(f"{field} must be a finite number of size at most {limits.max_abs_value:g}",
                              field, code="invalid_value")


def bind(graph: Graph, values: Mapping[str, Any], limits: Limits = LIMITS) -> dict[int, Any]:
    """Match request values to the program's inputs: every input needs one, and no extras."""
    if len(values) > limits.max_inputs:
        raise LimitError(f"values has {len(values)} entries; the cap is {limits.max_inputs} (max_inputs)",
                         "max_inputs", limits.max_inputs, field="values")
    missing = [name for name in graph.inputs if name not in values]
    if missing:
        first = graph.nodes[graph.inputs[missing[0]]].span
        at = f" (first used at line {first.line}, column {first.column})" if first else ""
        names = ", ".join(f"'{n}'" for n in missing)
        raise ValueInputError(f"no value given for {names}{at}; add {'it' if len(missing) == 1 else 'them'} "
                              "to values", f"values.{missing[0]}", code="missing_value", missing=missing)
    unused = [name for name in values if name not in graph.inputs]
    if unused:
        inputs = ", ".join(graph.inputs) or "none"
        names = ", ".join(f"'{n}'" for n in unused)
        raise ValueInputError(f"values has {names}, which the program does not use; its inputs are {inputs}",
                              f"values.{unused[0]}", code="unused_value", unused=unused)
    return {index: as_value(values[name], f"values.{name}", limits) for name, index in graph.inputs.items()}
