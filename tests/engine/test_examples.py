"""engine/examples.py: every preset traces, every preset with params takes a descent step that lowers its loss,
every text exists in English and Chinese, and the numbers the explanations quote are the engine's numbers."""
from __future__ import annotations

import math
import re

import pytest

from engine.examples import EXAMPLES
from engine.limits import LIMITS
from engine.parse import parse
from engine.trace import trace

EXAMPLE_ID = re.compile(r"^[a-z0-9-]{1,64}$")  # what the explorer's URL state accepts
LANGUAGES = {"en", "zh"}
CJK = re.compile(r"[\u4e00-\u9fff]")
FIRST_LECTURE = {"worked-example", "sigmoid-neuron", "tanh-neuron", "used-twice", "numerically-bad", "squared-loss",
                 "relu-neuron", "softplus", "vanishing-sigmoids", "max-min", "division"}
BY_ID = {example["id"]: example for example in EXAMPLES}


def grads_by_label(example: dict, values: dict | None = None) -> dict[str, float | None]:
    answer = trace(example["source"], values or example["values"]).to_dict()
    return {node["label"]: node["grad"] for node in answer["nodes"]}


def test_ids_are_unique_and_fit_the_url():
    ids = [example["id"] for example in EXAMPLES]
    assert len(ids) == len(set(ids))
    assert all(EXAMPLE_ID.match(example_id) for example_id in ids)
    assert EXAMPLES[0]["id"] == "worked-example"


def test_the_presets_of_a_first_lecture_are_all_there():
    assert FIRST_LECTURE <= set(BY_ID)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e["id"])
def test_title_and_explanation_exist_in_english_and_chinese(example):
    for field in ("title", "explain"):
        assert set(example[field]) == LANGUAGES, (example["id"], field)
        assert all(isinstance(text, str) and text.strip() for text in example[field].values())
        assert CJK.search(example[field]["zh"]), f"{example['id']}: the Chinese {field} has no Chinese in it"
        assert not CJK.search(example[field]["en"])


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e["id"])
def test_every_preset_traces_with_an_input_value_for_each_input(example):
    graph = parse(example["source"])
    assert set(graph.inputs) == set(example["values"]), example["id"]
    answer = trace(example["source"], example["values"]).to_dict()
    assert answer["steps"]
    assert answer["output"] == answer["nodes"][-1]["id"]


@pytest.mark.parametrize("example", [e for e in EXAMPLES if "params" in e], ids=lambda e: e["id"])
def test_a_preset_with_params_takes_a_descent_step_that_lowers_its_loss(example):
    assert set(example["params"]) <= set(example["values"])
    assert LIMITS.min_learning_rate <= example["learning_rate"] <= LIMITS.max_learning_rate
    update = trace(example["source"], example["values"], params=example["params"],
                   learning_rate=example["learning_rate"]).update
    assert update is not None
    assert all(math.isfinite(x) for x in (update.loss_before, update.loss_after, update.loss_predicted))
    assert update.loss_after < update.loss_before, example["id"]


def test_presets_without_params_have_no_learning_rate():
    assert all("learning_rate" not in example for example in EXAMPLES if "params" not in example)


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e["id"] != "numerically-bad"], ids=lambda e: e["id"])
def test_every_finite_preset_passes_its_gradient_check(example):
    checks = trace(example["source"], example["values"], gradcheck=True).gradcheck
    assert {check.verdict for check in checks} == {"pass"}, example["id"]


# ---- What the explanations claim -------------------------------------------------------------------

def test_the_numerically_bad_preset_ends_in_a_non_finite_output():
    answer = trace(BY_ID["numerically-bad"]["source"], BY_ID["numerically-bad"]["values"]).to_dict()
    assert answer["nodes"][-1]["status"] != "ok"


def test_squared_loss_overshoots_at_0_3_as_its_explanation_says():
    example = BY_ID["squared-loss"]
    values, losses = dict(example["values"]), []
    for _ in range(3):
        result = trace(example["source"], values, params=["w"], learning_rate=0.3)
        losses.append(result.update.loss_after)
        values["w"] = next(step.after for step in result.steps if getattr(step, "after", None) is not None)
    assert result.update.loss_before < losses[-1]
    assert losses == sorted(losses)  # every step makes it worse


def test_the_division_gradients_are_the_quoted_ones():
    grads = grads_by_label(BY_ID["division"])
    assert (grads["x"], grads["y"], grads["s"]) == pytest.approx((0.1875, -0.0625, -0.0625))


def test_max_and_min_route_the_gradient_to_the_winner():
    grads = grads_by_label(BY_ID["max-min"])
    assert (grads["x"], grads["y"], grads["z"]) == pytest.approx((0.0, 2.0, 3.0))


def test_the_relu_neuron_gradients_are_the_quoted_ones():
    grads = grads_by_label(BY_ID["relu-neuron"])
    assert (grads["w1"], grads["w2"], grads["b"]) == pytest.approx((-5.2, -1.3, -2.6))


def test_softplus_slope_is_the_sigmoid_and_overflows_at_1000():
    assert grads_by_label(BY_ID["softplus"])["x"] == pytest.approx(1 / (1 + math.exp(-2)))
    answer = trace(BY_ID["softplus"]["source"], {"x": 1000}).to_dict()
    assert answer["nodes"][-1]["value"] is None and answer["nodes"][-1]["status"] == "inf"


def test_the_gradient_shrinks_through_every_sigmoid():
    grads = grads_by_label(BY_ID["vanishing-sigmoids"])
    chain = [grads[label] for label in ("f", "h4", "h3", "h2", "h1", "x")]
    assert all(later < earlier / 4 for earlier, later in zip(chain, chain[1:]))
    assert grads["x"] == pytest.approx(0.0004861, rel=1e-3)


def test_the_line_fit_gradients_are_the_quoted_ones_and_0_18_diverges():
    example = BY_ID["line-fit"]
    grads = grads_by_label(example)
    assert (grads["w"], grads["b"]) == pytest.approx((-16.0, -6.0))
    update = trace(example["source"], example["values"], params=example["params"], learning_rate=0.18).update
    assert update.loss_after > update.loss_before
