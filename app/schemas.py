"""Request and response shapes. Every string, list and number is bounded by engine.limits."""
from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Callable, Literal, Union

import orjson
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)
from pydantic_core import InitErrorDetails, PydanticCustomError

from engine.data import GENERATORS
from engine.limits import LIMITS
from engine.nn import LOSSES
from engine.optim import OPTIMIZERS


def _whole(value: Any) -> Any:
    # NOTE: JSON has one kind of number: 3.0 is the integer 3 (JSON Schema's "integer" agrees), while
    # "3", true and 2.5 stay refused by the strict integer fields this runs before.
    return int(value) if isinstance(value, float) and value.is_integer() else value


WHOLE = BeforeValidator(_whole)  # last in an Annotated[int, Field(...), WHOLE]: the Field's bounds stay in the schema


# ---- Caps: stated in the schema, named in the schema, named in the 422 ---------------------------
# Every bound that comes from engine.limits is a JSON Schema keyword (so that clients and fuzzers see
# it) and names its cap: "x-limit" for the upper bound (and for the lower one when that is its
# negative, as in |x| <= max_abs_value), "x-limit-minimum" for a lower bound of its own
# (min_learning_rate). A 422 over such a bound names the same cap: RequestModel reads it from the schema.

def _named(limit: str, floor: str | None = None) -> dict[str, str]:
    return {"x-limit": limit} if floor is None else {"x-limit": limit, "x-limit-minimum": floor}


def _at_most(limit: str, **constraints: Any) -> Any:
    return Field(le=getattr(LIMITS, limit), json_schema_extra=_named(limit), **constraints)


def _longest(limit: str, **constraints: Any) -> Any:
    return Field(max_length=getattr(LIMITS, limit), json_schema_extra=_named(limit), **constraints)


def _names_as_property_names(schema: dict[str, Any]) -> None:
    """pydantic writes dict[Name, X] as patternProperties, which leaves a key that does not match the
    pattern unconstrained in the schema though the model refuses it; say it with propertyNames instead."""
    patterns = schema.pop("patternProperties", None)
    if patterns:
        (pattern, member), = patterns.items()
        schema.setdefault("propertyNames", {})["pattern"] = pattern
        schema["additionalProperties"] = member


def _keyed_by_names(limit: str) -> Callable[[dict[str, Any]], None]:
    """A dictionary of at most `limit` entries whose keys are names (see _names_as_property_names)."""
    def extra(schema: dict[str, Any]) -> None:
        _names_as_property_names(schema)
        schema["x-limit"] = limit
    return extra


# What pydantic calls an error over a bound: the JSON Schema keyword of that bound, and the key of the
# bound in the error's context. A too_long list or dictionary is told apart by its field_type.
_BOUNDS = {"less_than_equal": ("maximum", "le"), "less_than": ("exclusiveMaximum", "lt"),
           "greater_than_equal": ("minimum", "ge"), "greater_than": ("exclusiveMinimum", "gt"),
           "string_too_long": ("maxLength", "max_length"), "too_long": ("maxItems", "max_length")}
_LOWER = ("minimum", "exclusiveMinimum")


@cache
def _request_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def _places(schema: dict[str, Any], location: tuple[Any, ...]) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """The schema nodes an error location can be at, each with the cap names it carries or inherits
    from the property that holds it (x-limit is written next to anyOf, not in its members). A location
    step that is a union member's tag (pydantic's 'list[constrained-float]') stays where it was."""
    definitions = schema.get("$defs", {})

    def expand(node: dict[str, Any], names: dict[str, str], parent: dict[str, Any] | None,
               in_union: bool) -> list[tuple[dict[str, Any], dict[str, str], dict[str, Any] | None, bool]]:
        while "$ref" in node:
            node = definitions[node["$ref"].rsplit("/", 1)[-1]]
        names = {key: node[key] for key in ("x-limit", "x-limit-minimum") if key in node} or names
        members = node.get("anyOf", []) + node.get("oneOf", [])
        found = [(node, names, parent, in_union)]
        for member in members:  # no recursion into more than the nesting of unions a schema has
            found += expand(member, names, parent, True)
        return found

    places = expand(schema, {}, None, False)
    for step in location:
        following = []
        for node, names, parent, in_union in places:
            if isinstance(step, int):
                items = node.get("prefixItems") or []
                child = items[step] if step < len(items) else node.get("items")
                if isinstance(child, dict):
                    following += expand(child, {}, None, False)
            elif step == "[key]" and parent is not None and "propertyNames" in parent:
                following += expand(parent["propertyNames"], {}, None, False)
            elif step in node.get("properties", {}):
                following += expand(node["properties"][step], {}, None, False)
            elif node.get("type") == "object" and node.get("additionalProperties", True) is not False:
                entry = node.get("additionalProperties")  # any JSON when not a schema of its own
                following += expand(entry if isinstance(entry, dict) else {}, {}, node, False)
            if isinstance(step, str) and in_union:
                following.append((node, names, parent, in_union))
        places = following
    return [(node, names) for node, names, _, _ in places]


def _cap_at(schema: dict[str, Any], location: tuple[Any, ...], error_type: str,
            context: dict[str, Any]) -> str | None:
    """The cap of engine.limits that the bound an error is about stands for, or None (a bound of its own)."""
    if error_type not in _BOUNDS:
        return None
    keyword, key = _BOUNDS[error_type]
    if context.get("field_type") == "Dictionary":
        keyword = "maxProperties"
    bound = context.get(key)
    if bound is None:
        return None
    for node, names in _places(schema, location):
        if node.get(keyword) != bound:
            continue
        if keyword not in _LOWER:
            return names.get("x-limit")
        floor, cap = names.get("x-limit-minimum"), names.get("x-limit")
        if floor is not None and getattr(LIMITS, floor) == bound:
            return floor
        if cap is not None and getattr(LIMITS, cap) == -bound:
            return cap
    return None


class RequestModel(BaseModel):
    """A request body or a part of one: unknown fields refused, and a 422 over a cap names the cap."""
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _name_the_caps(cls, value: Any, handler: Callable[[Any], Any]) -> Any:
        try:
            return handler(value)
        except ValidationError as refusal:
            errors = refusal.errors()
            named = [_cap_named(cls, error) for error in errors]
            if named == errors:
                raise
            raise ValidationError.from_exception_data(refusal.title, [
                InitErrorDetails(type=PydanticCustomError(error["type"], error["msg"], error.get("ctx")),
                                 loc=error["loc"], input=error["input"]) for error in named]) from None


def _cap_named(model: type[BaseModel], error: Any) -> Any:
    """The error with its cap named in ctx["limit"] (app.errors puts it in where.limit) and in its message,
    or as it was."""
    context = error.get("ctx") or {}
    if "limit" in context:  # named already, by a nested model or by the validator that raised it
        return error
    location = tuple(error["loc"])
    limit = _cap_at(_request_schema(model), location, error["type"], context)
    if limit is None:
        return error
    return {**error, "msg": f"{error['msg']} ({limit})", "ctx": {**context, "limit": limit}}


Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", min_length=1, max_length=LIMITS.max_name_chars,
                            json_schema_extra=_named("max_name_chars"))]
Number = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-LIMITS.max_abs_value, le=LIMITS.max_abs_value,
                                json_schema_extra=_named("max_abs_value"))]
Vector = Annotated[list[Number], _longest("max_tensor_side", min_length=1)]
Matrix = Annotated[list[Vector], _longest("max_tensor_side", min_length=1)]
Value = Union[Number, Vector, Matrix]
LearningRate = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=LIMITS.min_learning_rate,
                                      le=LIMITS.max_learning_rate,
                                      json_schema_extra=_named("max_learning_rate", "min_learning_rate"))]
Values = Annotated[dict[Name, Value], Field(max_length=LIMITS.max_inputs,
                                            json_schema_extra=_keyed_by_names("max_inputs"),
                                            description="A number, list or list of lists per input name.")]
Source = Annotated[str, _longest("max_source_chars", min_length=1)]

WORKED_EXAMPLE = {"source": "q = x + y\nf = q * z", "values": {"x": -2, "y": 5, "z": -4}}


class TraceRequest(RequestModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [WORKED_EXAMPLE]})

    source: Annotated[Source, Field(description="The program: statements separated by new lines or ';'.")]
    values: Values = {}
    params: Annotated[list[Name], _longest("max_params",
                                           description="Inputs to move by one gradient-descent step.")] = []
    learning_rate: LearningRate | None = None
    gradcheck: Annotated[bool, Field(strict=True, description="Compare with centered finite differences.")] = False


class StateRequest(TraceRequest):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{**WORKED_EXAMPLE, "step": 6}]})

    step: Annotated[int, _at_most("max_steps", strict=True, ge=0, description="0-based step index."), WHOLE]


# ---- Networks (app.routes.network, app.routes.data) --------------------------------------------

Activation = Literal["tanh", "relu", "sigmoid", "linear", "softmax"]
Loss = Literal[tuple(LOSSES)]  # type: ignore[valid-type]
Task = Literal["classification", "regression"]
DatasetName = Literal[tuple(GENERATORS)]  # type: ignore[valid-type]
OptimizerName = Literal[tuple(OPTIMIZERS)]  # type: ignore[valid-type]
Fraction = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, lt=1.0)]
ParamName = Annotated[str, Field(pattern=r"^[Wb][1-9][0-9]?$", max_length=3, description="W1, b1, W2, b2, ...")]
# A row of W1 has a column per feature, a row of a later W one per unit of the layer before.
_WIDEST_ROW = "max_features" if LIMITS.max_features >= LIMITS.max_units else "max_units"
ParamRow = Annotated[list[Number], _longest(_WIDEST_ROW, min_length=1)]
ParamMatrix = Annotated[list[ParamRow], _longest("max_units", min_length=1, description=(
    "Rows of the matrix; a bias b[l] is a column, [[0.1], [0]]."))]
ParamSet = Annotated[dict[ParamName, ParamMatrix], Field(max_length=2 * LIMITS.max_layers,
                                                         json_schema_extra=_keyed_by_names("max_layers"),
                                                         description="W[l] and b[l] of each layer (max_layers)")]
PointRow = Annotated[list[Number], Field(min_length=2, max_length=LIMITS.max_features + 1,
                                         json_schema_extra=_named("max_features"),
                                         description="x1, x2, ..., label (or x, y for a regression): at most "
                                                     "max_features numbers, then the label")]


class LayerSpec(RequestModel):
    model_config = ConfigDict(extra="forbid")

    units: Annotated[int, _at_most("max_units", strict=True, ge=1), WHOLE]
    activation: Annotated[Activation | None, Field(
        description="Hidden layers: tanh (default), relu, sigmoid or linear. The output layer's follows from the "
                    "loss when absent: sigmoid for bce, softmax for cross_entropy, linear for mse.")] = None


class DataSpec(RequestModel):
    """A toy data set made from a seed, or the user's own points; `seed` also seeds the train/test split."""
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"dataset": "moons", "points": 200, "noise": 0.1, "seed": 0}, {"custom": [[0.5, 1.2, 0], [-0.3, 0.8, 1]]}],
        # _one_source below, said in the schema so that clients and fuzzers see it too.
        "oneOf": [{"required": ["dataset"], "properties": {"dataset": {"not": {"type": "null"}},
                                                           "custom": {"type": "null"}}},
                  {"required": ["custom"], "properties": {"custom": {"type": "array"}, "dataset": {"type": "null"}},
                   "not": {"anyOf": [{"required": ["points"]}, {"required": ["noise"]}, {"required": ["classes"]}]}}]})

    dataset: DatasetName | None = None
    points: Annotated[int, _at_most("max_points", strict=True, ge=2), WHOLE] = 200
    noise: Annotated[float | None, _at_most("max_noise", strict=True, allow_inf_nan=False, ge=0.0,
                                            description="Absent: the data set's own default.")] = None
    classes: Annotated[int | None, _at_most("max_classes", strict=True, ge=2,
                                            description="spiral and blobs only"), WHOLE] = None
    seed: Annotated[int, _at_most("max_seed", strict=True, ge=0), WHOLE] = 0
    custom: Annotated[list[PointRow] | None, _longest("max_points", min_length=2)] = None
    kind: Annotated[Task | None, Field(description="What custom points are; absent: regression for the mse "
                                                   "loss, else classification.")] = None

    @model_validator(mode="after")
    def _one_source(self) -> "DataSpec":
        if (self.dataset is None) == (self.custom is None):
            raise PydanticCustomError("data_source", "give either dataset (a toy set such as moons) or custom (your "
                                                     "own points), not both and not neither")
        if self.custom is not None and self.model_fields_set & {"points", "noise", "classes"}:
            raise PydanticCustomError("data_source", "points, noise and classes describe a toy data set; custom "
                                                     "points bring their own")
        return self


class OptimizerSpec(RequestModel):
    model_config = ConfigDict(extra="forbid")

    name: OptimizerName = "adam"
    learning_rate: LearningRate = 0.01
    beta: Annotated[Fraction, Field(description="momentum's (and nesterov's) decay of the velocity")] = 0.9
    beta1: Annotated[Fraction, Field(description="Adam's decay of m")] = 0.9
    beta2: Annotated[Fraction, Field(description="Adam's decay of v")] = 0.999
    rho: Annotated[Fraction, Field(description="RMSProp's decay of the running mean of g^2")] = 0.9
    eps: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0.0, le=1.0,
                                description="Adam's and RMSProp's guard against dividing by 0")] = 1e-8


class OptimizerState(RequestModel):
    """An optimizer's own numbers, as an answer's optimizer_state gives them, to go on where a run stopped."""
    model_config = ConfigDict(extra="forbid")

    t: Annotated[int | None, _at_most("max_steps_taken", strict=True, ge=0, description="Adam's step count"),
                 WHOLE] = None
    velocity: Annotated[ParamSet | None, Field(description="momentum and nesterov")] = None
    m: Annotated[ParamSet | None, Field(description="Adam's first moments")] = None
    v: Annotated[ParamSet | None, Field(description="Adam's second moments")] = None
    mean_square: Annotated[ParamSet | None, Field(description="RMSProp's running mean of g^2")] = None


NETWORK_EXAMPLE = {"layers": [{"units": 8, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}],
                   "loss": "bce", "data": {"dataset": "xor", "points": 200, "seed": 0},
                   "optimizer": {"name": "adam", "learning_rate": 0.05}, "seed": 0}


class NetworkRequest(RequestModel):
    """The shared part of every network request: architecture, data, optimizer, seeds."""
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [NETWORK_EXAMPLE]})

    layers: Annotated[list[LayerSpec], _longest("max_layers", min_length=1, description=(
        "The hidden layers, then the output layer (the input size comes from the data)."))]
    loss: Annotated[Loss, Field(description="bce (two classes, one sigmoid unit), cross_entropy (one softmax "
                                            "unit per class) or mse (regression)")]
    data: DataSpec
    test_fraction: Annotated[float, _at_most("max_test_fraction", strict=True, allow_inf_nan=False, ge=0.0)] = 0.2
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    batch_size: Annotated[int | None, _at_most("max_points", strict=True, ge=1,
                                               description="Absent: the full batch."), WHOLE] = None
    seed: Annotated[int, _at_most("max_seed", strict=True, ge=0, description="The initial weights' seed."), WHOLE] = 0
    l2: Annotated[float, _at_most("max_l2", strict=True, allow_inf_nan=False, ge=0.0)] = 0.0
    params: Annotated[ParamSet | None, Field(description="Start from these parameters (an answer's params or "
                                                         "params_after); absent: seeded initialisation.")] = None
    optimizer_state: Annotated[OptimizerState | None, Field(description="Go on with this optimizer state (an "
                                                                        "answer's optimizer.state).")] = None
    batch_index: Annotated[int, _at_most("max_steps_taken", strict=True, ge=0, description=(
        "The batch the (first) iteration takes, 0-based, in the run's seeded batch order (engine.train."
        "BatchOrder): the iterations done so far, to go on where an answer stopped. No effect with the "
        "full batch.")), WHOLE] = 0


class IterationRequest(NetworkRequest):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{**NETWORK_EXAMPLE, "view": "layer"}]})

    view: Annotated[Literal["layer", "neuron"], Field(description="layer: one node per tensor; neuron: one per "
                                                                  "weight, z and a (small nets)")] = "layer"
    encoding: Annotated[Literal["list", "compact"], Field(description="compact: large tensors as base64 float64 "
                                                                      "and references")] = "list"


class TrainRequest(NetworkRequest):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{**NETWORK_EXAMPLE, "iterations": 300}]})

    iterations: Annotated[int, _at_most("max_iterations", strict=True, ge=1), WHOLE] = 500
    grid: Annotated[int, _at_most("max_grid", strict=True, ge=2, description="Points per side of the decision-"
                                                                             "boundary grid."), WHOLE] = 50
    eval_every: Annotated[int | None, _at_most("max_iterations", strict=True, ge=1, description=(
        "Iterations between loss and accuracy records; absent: about 200 records.")), WHOLE] = None
    divergence_factor: Annotated[float, _at_most("max_training_divergence_factor", strict=True, allow_inf_nan=False,
                                                 gt=1.0, description=(
        "Stop as diverged when the loss exceeds this many times its first value; the largest (1e300) lets a run "
        "go on until a number overflows, and the answer then names the first layer and node that did."))] = 100.0
    encoding: Annotated[Literal["list", "compact"], Field(description=(
        "compact: params, initial_params, the optimizer's state and the boundary's probabilities, each tensor "
        "of 256 numbers or more, as {dtype, shape, base64} (float64, little-endian, row-major)"))] = "list"


def _name_alone(entry: Any) -> Any:
    return {"name": entry} if isinstance(entry, str) else entry


class CompareRequest(TrainRequest):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {**NETWORK_EXAMPLE, "iterations": 300, "optimizers": ["sgd", "momentum", "adam"]}]})

    optimizers: Annotated[list[Annotated[OptimizerSpec, BeforeValidator(_name_alone)]], Field(
        min_length=1, max_length=len(OPTIMIZERS),
        description="A name, or an optimizer object whose absent fields are taken from `optimizer`.")] = Field(
        default_factory=lambda: [OptimizerSpec(name=name) for name in ("sgd", "momentum", "adam")])


class DivergenceWhere(BaseModel):
    """One place in the drawing of the network: a layer and a unit (neuron) of it, and the quantity there."""
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"phase": "update", "layer": 2, "unit": 0, "quantity": "W", "node": "n6", "label": "W2", "status": "exploded",
         "rule": "largest_relative_update", "growth": 3.1e5},
        {"phase": "backward", "layer": 1, "unit": 3, "quantity": "dZ", "node": "n4", "label": "Z1",
         "status": "overflow", "rule": "first_non_finite", "growth": None}]})

    phase: Literal["forward", "backward", "update"]
    layer: int = Field(ge=1, description="1..L, the output layer being L")
    unit: int = Field(ge=0, description="0-based row of the layer's tensors: the neuron to highlight")
    quantity: str = Field(description="forward Z, A, WA (= W A_prev), W, b, loss, L2; backward dZ, dA, dW, db, dL2")
    node: str = Field(description="the layer view's node id (trace.nodes[].id, network.node_ids)")
    label: str = Field(description="that node's label: Z1, A2, W1, L ...")
    status: Literal["nan", "inf", "overflow", "div0", "exploded"]
    rule: Literal["first_non_finite", "largest_relative_update"] = Field(description=(
        "first_non_finite: the first number that stopped being finite, in forward then backward order. "
        "largest_relative_update (status exploded: the loss blew up while every number stayed finite): the unit "
        "whose incoming weights and bias the last update changed the most relative to their size before it."))
    growth: float | None = Field(description=(
        "largest_relative_update: ||delta [W_i, b_i]|| / ||[W_i, b_i]|| of that unit in the last update (null "
        "when they were all 0); first_non_finite: null"))


class DivergenceReport(BaseModel):
    iteration: int = Field(description="the iteration (1-based, in this request) at which the run stopped")
    learning_rate: float
    reason: Literal["non_finite_loss", "non_finite_gradient", "non_finite_parameter", "loss_exploded"]
    loss: float | None
    initial_loss: float | None
    where: DivergenceWhere
    message: str = Field(description="English; names the rule")
    message_zh: str = Field(description="简体中文")


class TrainRun(BaseModel):
    """One run of /network/train or of /network/compare's runs (the routes write it; here it is documented)."""
    model_config = ConfigDict(extra="allow")

    status: Literal["finished", "diverged", "stopped"]
    stop_reason: Literal["max_run_seconds"] | None
    iterations: int
    history: dict[str, list[Any]]
    metrics: dict[str, float | None]
    params: dict[str, Any] = Field(description="lists of rows, or {dtype, shape, base64} with encoding compact")
    boundary: dict[str, Any] | None
    divergence: DivergenceReport | None
    optimizer: dict[str, Any] = Field(description="name, settings, formula and state (send back as optimizer_state)")


class TrainAnswer(TrainRun):
    initial_params: dict[str, Any]
    network: dict[str, Any]
    data: dict[str, Any]


class CompareAnswer(BaseModel):
    runs: list[TrainRun]
    initial_params: dict[str, Any]
    network: dict[str, Any]
    data: dict[str, Any]


class IterationAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")

    view: Literal["layer", "neuron"]
    network: dict[str, Any]
    data: dict[str, Any] = Field(description="... batch_size, batch_index and batch_rows (the training rows of the "
                                             "batch, 0-based, in the order /data/points lists them)")
    trace: dict[str, Any]
    non_finite: DivergenceWhere | None = Field(description="layer view: where a number first stopped being finite")
    params: dict[str, Any]
    params_after: dict[str, Any]
    optimizer: dict[str, Any]


class DataParseRequest(RequestModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "x1,x2,label\n0.5,1.2,0\n-0.3,0.8,1", "kind": "classification"}]})

    text: Annotated[str, _longest("max_upload_chars", min_length=1, description=(
        "CSV (x1,x2,label per line; a header line is allowed) or JSON ([[x1, x2, label], ...] or objects)."))]
    kind: Task = "classification"
    format: Annotated[Literal["csv", "json"] | None, Field(description="Absent: JSON when the text starts with "
                                                                       "[ or {, else CSV.")] = None


class DataPointsRequest(RequestModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"data": {"dataset": "moons"}}]})

    data: DataSpec
    test_fraction: Annotated[float, _at_most("max_test_fraction", strict=True, allow_inf_nan=False, ge=0.0)] = 0.2


class PointsQuery(RequestModel):
    """GET /data/points?dataset=moons&points=200&noise=0.1&seed=0: numbers come as text, so not strict here."""
    model_config = ConfigDict(extra="forbid")

    dataset: DatasetName
    points: Annotated[int, _at_most("max_points", ge=2), WHOLE] = 200
    noise: Annotated[float | None, _at_most("max_noise", allow_inf_nan=False, ge=0.0)] = None
    classes: Annotated[int | None, _at_most("max_classes", ge=2), WHOLE] = None
    seed: Annotated[int, _at_most("max_seed", ge=0), WHOLE] = 0
    test_fraction: Annotated[float, _at_most("max_test_fraction", allow_inf_nan=False, ge=0.0)] = 0.2


# ---- Responses (documentation of the contract; routes answer with ready JSON) -----------------

JsonValue = Union[float, list[Any], None]


class TraceNode(BaseModel):
    id: str
    label: str
    op: str
    inputs: list[str]
    role: Literal["input", "constant", "intermediate", "output"]
    shape: list[int]
    value: JsonValue
    grad: JsonValue
    status: str = Field(description="ok, nan, inf, overflow or div0 (null value)")
    grad_status: str = Field(description="ok, none (no gradient: depends on no input) or a non-finite status")
    bad_from: str | None = Field(description="the node where a non-finite value began")
    grad_bad_from: str | None
    requires_grad: bool
    aliases: list[str]
    span: dict[str, int] | None


class TraceStep(BaseModel):
    model_config = ConfigDict(extra="allow")

    index: int
    phase: Literal["forward", "backward", "update"]
    node: str


class TraceUpdate(BaseModel):
    learning_rate: float
    loss_before: float | None
    loss_after: float | None
    loss_predicted: float | None


class GradCheckRow(BaseModel):
    node: str
    label: str
    analytic: JsonValue
    numeric: JsonValue
    rel_error: float | None
    verdict: Literal["pass", "warn", "fail", "undefined"]


class TraceResponse(BaseModel):
    nodes: list[TraceNode]
    output: str
    steps: list[TraceStep]
    update: TraceUpdate | None = None
    gradcheck: list[GradCheckRow] | None = None


class ErrorBody(BaseModel):
    code: str
    message: str
    where: dict[str, Any]


class ErrorEnvelope(BaseModel):
    error: ErrorBody


def event_stream(*events: str) -> dict[str, Any]:
    """OpenAPI content of a server-sent event stream: each event is one of these names, its data one JSON object."""
    event = {"type": "object", "required": ["event", "data"], "properties": {
        "event": {"enum": list(events)}, "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string", "pattern": "^[0-9]+$"}, "retry": {"type": "integer"}}}
    return {"text/event-stream": {"schema": event}}


# ---- Classroom rooms (app.classroom, app.routes.classroom) ------------------------------------

NodeId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]+$", min_length=1, max_length=LIMITS.max_name_chars,
                              json_schema_extra=_named("max_name_chars"))]
StateKey = Annotated[str, _longest("max_name_chars")]
QuizId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$", min_length=1, max_length=32)]
StudentId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$", min_length=8, max_length=64,
                                 description="Any stable random id the student's browser keeps (8-64 of A-Z a-z 0-9 _ -).")]


def _json_depth(value: Any) -> int:
    deepest, todo = 0, [(value, 1)]
    while todo:  # no recursion: the depth is what is being measured
        item, depth = todo.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            todo.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            todo.extend((child, depth + 1) for child in item)
    return deepest


def _bounded_room_json(value: dict[str, Any]) -> dict[str, Any]:
    """A room's state or results: at most max_room_state_depth deep and max_room_state_bytes as JSON."""
    if _json_depth(value) > LIMITS.max_room_state_depth:
        raise ValueError(f"nests deeper than {LIMITS.max_room_state_depth} levels (max_room_state_depth)")
    try:
        size = len(orjson.dumps(value))  # the size stored and sent
    except TypeError:  # NOTE: Python's json reads what orjson cannot write: huge integers, lone surrogates
        raise ValueError("holds a value that cannot be stored as JSON (an integer beyond 64 bits, or text "
                         "that is not valid Unicode)") from None
    if size > LIMITS.max_room_state_bytes:
        raise ValueError(f"is larger than {LIMITS.max_room_state_bytes} bytes as JSON (max_room_state_bytes)")
    return value


RoomPage = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$", min_length=1, max_length=32,
                                description="explorer, network, descent ...")]


class RoomState(RequestModel):
    """What the teacher's page shows; every student's page follows it."""
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "page": "explorer", "url": "/?src=q%20%3D%20x%20%2B%20y%0Af%20%3D%20q%20*%20z&step=6",
        "state": {"source": "q = x + y\nf = q * z", "values": {"x": -2, "y": 5, "z": -4}, "step": 6,
                  "panels": ["descent"]}}]})

    page: RoomPage
    url: Annotated[str | None, Field(max_length=LIMITS.max_room_url_chars, pattern=r"^/(?:[^/\\\s][^\\\s]*)?$",
                                     json_schema_extra=_named("max_room_url_chars"),
                                     description="The page's own address, path and query (starts with one '/').")] = None
    # NOTE: its size as JSON and its depth are checked below, the one bound here that JSON Schema cannot say.
    state: Annotated[dict[StateKey, Any], _longest("max_room_state_keys", description=(
        "The page's view state: program, values, step, panels ..."))] = {}

    @field_validator("state")
    @classmethod
    def _bounded(cls, state: dict[str, Any]) -> dict[str, Any]:
        return _bounded_room_json(state)


class RoomResults(RequestModel):
    """What the teacher's page shows that its address cannot say (the network page: where training stands,
    its curves and boundary, the optimizers compared), apart from the state so that a new step of the
    state does not send them again."""
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "page": "network", "results": {"v": 1, "at": 300, "running": False, "history": {"train": [[0, 0.69],
                                                                                                  [300, 0.12]]}}}]})

    page: RoomPage
    # NOTE: bounded like the state (size as JSON and depth below).
    results: Annotated[dict[StateKey, Any], _longest("max_room_state_keys", description=(
        "The page's results, as its classroom part packs them"))]

    @field_validator("results")
    @classmethod
    def _bounded(cls, results: dict[str, Any]) -> dict[str, Any]:
        return _bounded_room_json(results)


class QuizOpen(RequestModel):
    """Predict the gradient: the teacher asks for one node's gradient."""
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"node": "n2", "label": "q", "step": 7, **WORKED_EXAMPLE}]})

    node: NodeId
    label: Annotated[str | None, _longest("max_name_chars")] = None
    step: Annotated[int | None, _at_most("max_steps", strict=True, ge=0), WHOLE] = None
    prompt: Annotated[str | None, _longest("max_quiz_prompt_chars")] = None
    answer: Annotated[Number | None, Field(description="The right gradient; else computed from source and values, "
                                                       "or given at reveal.")] = None
    source: Source | None = None
    values: Values = {}
    tolerance: Annotated[float, Field(strict=True, ge=0, le=1, description="Relative: right when |answer - "
                                      "right| <= max(tolerance * |right|, 0.001).")] = 0.01


class AnswerIn(RequestModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"quiz": "q1a2b3c4", "value": -4, "student": "s-3f9a1c7e"}]})

    quiz: QuizId
    value: Number
    student: StudentId | None = None


class RevealIn(RequestModel):
    model_config = ConfigDict(extra="forbid")

    answer: Number | None = None


# ---- The gradient-descent lab (engine.landscape, engine.descent, app.routes.descent) ----------

def _counted(limit: str, keyword: str, **constraints: Any) -> Any:
    """A count whose cap (`keyword`, for the schema) its field's own validator checks with _over_cap."""
    return Field(json_schema_extra={keyword: getattr(LIMITS, limit), **_named(limit)}, **constraints)


def _over_cap(value: Any, cap: int, limit: str) -> Any:
    """A count over its cap is refused before anything else is read, with a message naming the cap."""
    size = len(value) if isinstance(value, list) else value
    if isinstance(size, (int, float)) and not isinstance(size, bool) and size > cap:
        shown = f"{len(value)} items" if isinstance(value, list) else (f"{value}" if isinstance(value, int) else
                                                                        f"{value:g}")
        raise PydanticCustomError("limit_exceeded", f"{shown} is over the cap of {cap} ({limit})", {"limit": limit})
    return value


SurfaceId = Literal["quadratic", "rosenbrock", "himmelblau", "saddle", "logistic", "network", "custom"]
OptimizerName = Literal["sgd", "momentum", "nesterov", "rmsprop", "adam"]
Coordinate = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-LIMITS.max_coordinate,
                                    le=LIMITS.max_coordinate, json_schema_extra=_named("max_coordinate"))]
PointAB = Annotated[tuple[Coordinate, Coordinate], Field(description="[a, b]")]
Interval = Annotated[tuple[Coordinate, Coordinate], Field(description="[low, high]")]
Decay = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, lt=1.0)]


class SurfaceSpec(RequestModel):
    """Which surface, with its settings; a setting another surface uses is accepted and ignored."""
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"surface": "quadratic",
                                                                               "condition": 10}]})

    surface: SurfaceId
    condition: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=LIMITS.min_condition,
                                      le=LIMITS.max_condition,
                                      json_schema_extra=_named("max_condition", "min_condition"),
                                      description="quadratic: lambda_max / lambda_min")] = 10.0
    angle: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-90.0, le=90.0,
                                  description="quadratic: the turn of the axes, in degrees")] = 0.0
    source: Annotated[Source | None, Field(description="custom: a program whose inputs are a and b")] = None
    data_seed: Annotated[int, _at_most("max_seed", strict=True, ge=0,
                                       description="logistic, network: the seed of the toy data set (and of "
                                                   "the network's training and directions)"), WHOLE] = 0


class SurfaceGridRequest(SurfaceSpec):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"surface": "rosenbrock", "grid": 60, "point": [-1.2, 1.0]}]})

    grid: Annotated[int, _counted("max_surface_grid", "maximum", strict=True, ge=2, description="points per side"),
                    WHOLE] = 60
    box: Annotated[tuple[Interval, Interval] | None, Field(description="[[a_min, a_max], [b_min, b_max]]; "
                                                                       "the surface's own box when left out")] = None
    point: Annotated[PointAB | None, Field(description="also answer the loss, gradient and curvature here")] = None

    @field_validator("grid", mode="before")
    @classmethod
    def _grid_cap(cls, value: Any) -> Any:
        return _over_cap(value, LIMITS.max_surface_grid, "max_surface_grid")


class DescentOptimizer(RequestModel):
    model_config = ConfigDict(extra="forbid")

    name: OptimizerName
    learning_rate: Annotated[LearningRate | None, Field(description="the surface's suggested rate when left out")] = None
    beta: Annotated[Decay, Field(description="momentum, nesterov")] = 0.9
    beta1: Annotated[Decay, Field(description="adam")] = 0.9
    beta2: Annotated[Decay, Field(description="adam")] = 0.999
    rho: Annotated[Decay, Field(description="rmsprop")] = 0.9
    eps: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0.0, le=1.0, description="adam, rmsprop")] = 1e-8
    label: Annotated[str | None, _longest("max_name_chars", description="echoed back")] = None


class DescentRunRequest(SurfaceSpec):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"surface": "quadratic", "condition": 10, "start": [-2.5, 1.0], "steps": 100,
         "optimizers": [{"name": "sgd", "learning_rate": 0.15}, {"name": "momentum", "learning_rate": 0.05}]}]})

    start: Annotated[PointAB | None, Field(description="the surface's own start when left out")] = None
    steps: Annotated[int, _counted("max_descent_steps", "maximum", strict=True, ge=0), WHOLE] = 100
    divergence_factor: Annotated[float, _at_most("max_divergence_factor", strict=True, allow_inf_nan=False,
                                                 gt=1.0)] = 1000.0
    tolerance: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0.0, le=1.0,
                                      description="converged once the gradient norm stays below this")] = 1e-6
    optimizers: Annotated[list[DescentOptimizer], _counted("max_descent_optimizers", "maxItems", min_length=1)]
    include: Annotated[list[Literal["state", "taylor"]], Field(
        max_length=2, description="per-step parts to answer besides path, losses and gradients: the optimizers' "
                                  "state and the Taylor rows (both when left out; [] for paths alone)")] = \
        ["state", "taylor"]

    @field_validator("steps", mode="before")
    @classmethod
    def _steps_cap(cls, value: Any) -> Any:
        return _over_cap(value, LIMITS.max_descent_steps, "max_descent_steps")

    @field_validator("optimizers", mode="before")
    @classmethod
    def _optimizers_cap(cls, value: Any) -> Any:
        return _over_cap(value, LIMITS.max_descent_optimizers, "max_descent_optimizers")


class TaylorRequest(SurfaceSpec):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"surface": "quadratic", "point": [-2.5, 1.0], "etas": [0.01, 0.05, 0.1, 0.2, 0.25]}]})

    point: Annotated[PointAB | None, Field(description="the surface's own start when left out")] = None
    etas: Annotated[Annotated[list[LearningRate], _counted("max_etas", "maxItems", min_length=1)] | None, Field(
        description="30 rates up to 3 x 2 / lambda_max when left out")] = None

    @field_validator("etas", mode="before")
    @classmethod
    def _etas_cap(cls, value: Any) -> Any:
        return _over_cap(value, LIMITS.max_etas, "max_etas")


class LineRequest(SurfaceSpec):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"surface": "quadratic", "point": [-2.5, 1.0], "parameter": 0, "span": 2.0, "points": 101}]})

    point: Annotated[PointAB | None, Field(description="the surface's own start when left out")] = None
    parameter: Annotated[int, Field(strict=True, ge=0, le=1, description="0 moves a, 1 moves b"), WHOLE] = 0
    span: Annotated[float, _at_most("max_coordinate", strict=True, allow_inf_nan=False, gt=0.0,
                                    description="the view runs from point - span to point + span")] = 2.0
    points: Annotated[int, _counted("max_line_points", "maximum", strict=True, ge=2), WHOLE] = 101

    @field_validator("points", mode="before")
    @classmethod
    def _points_cap(cls, value: Any) -> Any:
        return _over_cap(value, LIMITS.max_line_points, "max_line_points")

