"""BFCL items read from the bfcl-eval package, offered as JSON Schema tools, and scored from decoded replies."""

from __future__ import annotations

import jsonschema
import pytest
from support import require_in_ci

from llamasys.apps.eval.bfcl import (
    CATEGORIES,
    PYTHON_NOTE,
    BfclError,
    load_items,
    score_item,
    summarize,
    to_tool_definition,
)
from llamasys.core_model.messages import AssistantMessage, ToolCall


@pytest.fixture(scope="module")
def items():
    try:
        return load_items(CATEGORIES, limit=3)
    except BfclError as exc:
        require_in_ci(str(exc))


def test_subset_is_evenly_spaced_and_complete(items):
    assert [i.id for i in items if i.category == "simple_python"] == [
        "simple_python_0",
        "simple_python_133",
        "simple_python_267",
    ]
    assert {i.category for i in items} == set(CATEGORIES)
    assert all(i.ground_truth for i in items if i.category != "irrelevance")


def test_functions_become_valid_json_schema(items):
    for item in items:
        for function in item.functions:
            tool = to_tool_definition(function)
            jsonschema.Draft202012Validator.check_schema(tool.parameters)
            assert tool.parameters["type"] == "object" and tool.description.endswith(PYTHON_NOTE)
            assert "dict" not in str(tool.parameters) and "'float'" not in str(tool.parameters)


def test_replies_are_scored_like_bfcl(items):
    simple = next(i for i in items if i.id == "simple_python_0")  # calculate_triangle_area(base=10, height=5)
    right = AssistantMessage(
        tool_calls=[ToolCall(tool_name="calculate_triangle_area", arguments={"base": 10, "height": 5})]
    )
    wrong_type = AssistantMessage(
        tool_calls=[ToolCall(tool_name="calculate_triangle_area", arguments={"base": "10", "height": 5})]
    )
    prose = AssistantMessage(content="The area is 25.")
    irrelevant = next(i for i in items if i.category == "irrelevance")
    results = [
        score_item(simple, right),
        score_item(simple, wrong_type),
        score_item(simple, prose),
        score_item(irrelevant, prose),
        score_item(irrelevant, right),
    ]
    assert [r.valid for r in results] == [True, False, False, True, False]
    assert results[0].schema_valid_calls == 1 and results[1].schema_valid_calls == 0
    assert results[0].selection_ok and results[1].selection_ok and not results[2].selection_ok
    report = summarize(results)
    assert report.categories["simple_python"].accuracy == pytest.approx(1 / 3, abs=1e-4)
    assert report.categories["irrelevance"].accuracy == 0.5
    assert report.positive_call_rate == pytest.approx(2 / 3, abs=1e-4)
    assert report.balanced == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5), abs=1e-3)
