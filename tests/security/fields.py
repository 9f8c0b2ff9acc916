"""Every field of every request, read from the app's own OpenAPI document: so a field added later is attacked too.

operations() lists the operations that take a JSON body, each with a valid body to start from (the
schema's own example) and its fields: a path into the body (keys, 0 for the first item of a list,
KEY for the name of an entry of a dictionary), the JSON type there and the bounds the schema gives.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from app.main import create_app
from app.settings import Settings

KEY = object()  # a path step that names a dictionary entry's key, not its value
Path = tuple[Any, ...]

# Bodies for operations whose schema has no example of its own.
EXAMPLES = {"/api/v1/rooms/{code}/quiz/reveal": {"answer": -4}, "/api/v1/rooms": {"page": "explorer"}}


@dataclass
class Field:
    path: Path
    kind: str  # "string", "number", "integer", "array" or "object" (a dictionary: its entries are not fixed)
    schema: dict[str, Any]

    @property
    def name(self) -> str:
        return ".".join("<key>" if step is KEY else str(step) for step in self.path)


@dataclass
class Operation:
    method: str
    path: str  # the template, /api/v1/rooms/{code}/state
    example: Any
    fields: list[Field] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def openapi() -> dict[str, Any]:
    return create_app(Settings(rate_limit_enabled=False)).openapi()


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _walk(schema: dict[str, Any], spec: dict[str, Any], path: Path, depth: int = 0) -> Iterator[Field]:
    schema = _resolve(schema, spec)
    if depth > 10:
        return
    for member in schema.get("anyOf", []) + schema.get("oneOf", []):
        if not {"type", "$ref", "anyOf"} & set(member):
            continue  # not another kind of value but a further rule on this one (DataSpec: dataset or custom)
        yield from _walk({**{k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}, **member}, spec,
                         path, depth + 1)
    kind = schema.get("type")
    if kind in ("string", "number", "integer"):
        yield Field(path, kind, schema)
    elif kind == "array":
        yield Field(path, "array", schema)
        items = schema.get("prefixItems") or [schema.get("items", {})]
        yield from _walk(items[0], spec, path + (0,), depth + 1)
    elif kind == "object":
        for name, member in schema.get("properties", {}).items():
            yield from _walk(member, spec, path + (name,), depth + 1)
        extra = schema.get("additionalProperties", True)
        if "properties" not in schema:
            yield Field(path, "object", schema)
        if "properties" not in schema or extra not in (False, None):
            names = {"type": "string", **schema.get("propertyNames", {})}
            yield Field(path + (KEY,), "string", names)
            if isinstance(extra, dict) and extra:
                yield from _walk(extra, spec, path + (_sample_key(names),), depth + 1)
            else:  # any JSON at all: text is one of the things it may hold
                yield Field(path + (_sample_key(names),), "string", {"type": "string"})


def _sample_key(names: dict[str, Any]) -> str:
    """A key the dictionary accepts: an input name (x), a parameter (W1), or any."""
    pattern = re.compile(names.get("pattern", ".*"))
    return next(key for key in ("x", "W1", "k") if pattern.search(key))


def operations(spec: dict[str, Any] | None = None) -> list[Operation]:
    spec = spec or openapi()
    found = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body is None:
                continue
            resolved = _resolve(body, spec)
            member = next((_resolve(m, spec) for m in resolved.get("anyOf", []) if m.get("type") != "null"), resolved)
            example = (member.get("examples") or [EXAMPLES.get(path)])[0]
            assert example is not None, f"{method.upper()} {path} has no example to start from"
            seen: dict[tuple[Path, str], Field] = {}
            for found_field in _walk(body, spec, ()):
                seen.setdefault((tuple(id(s) if s is KEY else s for s in found_field.path), found_field.kind),
                                found_field)
            found.append(Operation(method.upper(), path, example, list(seen.values())))
    return found


def target(operation: Operation, room: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The operation's path with a live room's code in it, and that room's presenter key as a header."""
    return operation.path.replace("{code}", room["code"]), {"X-Presenter-Key": room["presenter_key"]}


def with_value(example: Any, path: Path, value: Any) -> Any:
    """A copy of the example with `value` at `path` (containers made on the way as needed)."""
    body = copy.deepcopy(example)
    if not path:
        return value
    target = body
    for step, following in zip(path[:-1], path[1:]):
        if isinstance(step, int):
            if not target:
                target.append([] if isinstance(following, int) else {})
            elif not isinstance(target[step], (list, dict)):
                target[step] = [] if isinstance(following, int) else {}
            target = target[step]
        else:
            key = _existing_key(target, step)
            if not isinstance(target.get(key), (list, dict)):
                target[key] = [] if isinstance(following, int) else {}
            target = target[key]
    last = path[-1]
    if last is KEY:
        raise ValueError("use with_key for a key")
    if isinstance(last, int):
        if target:
            target[0] = value
        else:
            target.append(value)
    else:
        target[_existing_key(target, last)] = value
    return body


def with_key(example: Any, path: Path, key: str) -> Any:
    """A copy of the example whose dictionary at path[:-1] holds one more entry named `key`."""
    body = copy.deepcopy(example)
    target = body
    for step in path[:-1]:
        if isinstance(step, int):
            target = target[0] if target else target
        else:
            step = _existing_key(target, step)
            target = target.setdefault(step, {})
    sample = next(iter(target.values()), 1) if isinstance(target, dict) and target else 1
    target[key] = sample
    return body


def _existing_key(target: dict[str, Any], step: str) -> str:
    return step
