"""Request and response shapes. Every string, list and number is bounded by engine.limits."""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from engine.limits import LIMITS

Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", min_length=1, max_length=LIMITS.max_name_chars)]
Number = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-LIMITS.max_abs_value, le=LIMITS.max_abs_value)]
Vector = Annotated[list[Number], Field(min_length=1, max_length=LIMITS.max_tensor_side)]
Matrix = Annotated[list[Vector], Field(min_length=1, max_length=LIMITS.max_tensor_side)]
Value = Union[Number, Vector, Matrix]

WORKED_EXAMPLE = {"source": "q = x + y\nf = q * z", "values": {"x": -2, "y": 5, "z": -4}}


class TraceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [WORKED_EXAMPLE]})

    source: Annotated[str, Field(min_length=1, max_length=LIMITS.max_source_chars,
                                 description="The program: statements separated by new lines or ';'.")]
    values: Annotated[dict[Name, Value], Field(max_length=LIMITS.max_inputs,
                                               description="A number, list or list of lists per input name.")] = {}
    params: Annotated[list[Name], Field(max_length=LIMITS.max_params,
                                        description="Inputs to move by one gradient-descent step.")] = []
    learning_rate: Annotated[float | None, Field(strict=True, allow_inf_nan=False, ge=LIMITS.min_learning_rate,
                                                 le=LIMITS.max_learning_rate)] = None
    gradcheck: Annotated[bool, Field(strict=True, description="Compare with centered finite differences.")] = False


class StateRequest(TraceRequest):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{**WORKED_EXAMPLE, "step": 6}]})

    step: Annotated[int, Field(strict=True, ge=0, le=LIMITS.max_steps, description="0-based step index.")]


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
