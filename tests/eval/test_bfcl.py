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


def test_constrained_engine_model_allows_only_valid_calls_of_the_offered_tools(items, tmp_path):
    """`--constrained`: each reply is decoded under the format's auto constraint (valid calls or text)."""
    import torch

    from llamasys.apps.eval.bfcl import EngineModel, _messages
    from llamasys.core_model import load_model
    from llamasys.core_model.structured import RowConstraint
    from llamasys.core_model.testing import tiny_args, write_meta_checkpoint

    folder = write_meta_checkpoint(tmp_path / "m", tiny_args())
    engine = load_model(
        str(folder), dtype=torch.float32, max_seq_len=1536, max_batch_size=2, cpu_kernels=False
    )
    simple = next(i for i in items if i.id == "simple_python_0")  # calculate_triangle_area(base, height)
    dialog = (_messages(simple, "Use the tools."), [to_tool_definition(f) for f in simple.functions])
    model = EngineModel(engine, max_new_tokens=24, constrained=True)
    constraint, no_tools = model.constraints_for([dialog, (dialog[0], [])])
    assert no_tools is None

    def accepts(text: str) -> bool:
        row = RowConstraint.start(constraint, engine.tokenizer)
        ids = [engine.tokenizer.special_id("<|python_tag|>"), *engine.tokenizer.encode(text)]
        return all(row.accept(t) for t in ids)

    call = '{"type": "function", "name": "calculate_triangle_area", "parameters": {"base": 10, "height": 5}}'
    assert accepts(call)
    assert not accepts(call.replace("calculate_triangle_area", "calculate_circle_area"))
    assert not accepts(call.replace('"base": 10', '"base": "ten"'))
    (reply,) = model.complete([dialog])
    assert not reply.parse_errors  # a random model's reply: text, or calls that decode and validate
    for tool_call in reply.tool_calls:
        jsonschema.validate(tool_call.arguments, dialog[1][0].parameters)


def test_a_property_named_type_stays_a_property_and_values_are_copied_as_they_are():
    """BFCL has many parameters named `type` (simple_python_164's crime type): only schema positions map."""
    function = {
        "name": "get_crime_rate",
        "description": "Crime rate of a city.",
        "parameters": {
            "type": "dict",
            "properties": {
                "city": {"type": "string"},
                "type": {"type": "string", "description": "The type of crime."},
                "window": {"type": "tuple", "items": {"type": "float"}, "default": {"type": "dict"}},
                "filters": {"type": "dict", "properties": {"type": {"type": "any"}}},
            },
            "required": ["city"],
        },
    }
    tool = to_tool_definition(function)
    properties = tool.parameters["properties"]
    assert properties["type"] == {"type": "string", "description": "The type of crime."}
    assert properties["window"] == {"type": "array", "items": {"type": "number"}, "default": {"type": "dict"}}
    assert properties["filters"] == {"type": "object", "properties": {"type": {}}}
    jsonschema.Draft202012Validator.check_schema(tool.parameters)
    jsonschema.validate({"city": "Paris", "type": "theft"}, tool.parameters)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"city": "Paris", "type": 3}, tool.parameters)


def test_every_bfcl_function_converts_to_a_valid_schema_keeping_every_parameter():
    try:
        every = load_items(CATEGORIES)
    except BfclError as exc:
        require_in_ci(str(exc))
    for item in every:
        for function in item.functions:
            tool = to_tool_definition(function)
            jsonschema.Draft202012Validator.check_schema(tool.parameters)
            names = set((function.get("parameters") or {}).get("properties", {}))
            assert set(tool.parameters.get("properties", {})) == names, item.id


def test_a_reply_cut_at_max_new_tokens_is_counted_as_truncated(items):
    """A parallel reply cut mid-call decodes to no call: the report says how many were cut, per category."""
    from llamasys.core_model.messages import StopReason

    simple = next(i for i in items if i.id == "simple_python_0")
    cut = AssistantMessage(
        content='<tool_call>\n{"name": "calculate_triangle_area", "arguments": {"base": 1',
        stop_reason=StopReason.out_of_tokens,
    )
    whole = AssistantMessage(
        tool_calls=[ToolCall(tool_name="calculate_triangle_area", arguments={"base": 10, "height": 5})]
    )
    results = [score_item(simple, cut), score_item(simple, whole)]
    assert [r.truncated for r in results] == [True, False]
    assert not results[0].called and not results[0].valid
    report = summarize(results)
    assert report.truncated == 1 and report.categories["simple_python"].truncated == 1


def test_eval_cli_warns_when_replies_were_cut(tmp_path):
    """`llamasys eval tools` on a tiny random checkpoint with a 2-token budget: JSON says how many replies
    were cut and stderr says to raise --max-new-tokens."""
    import json

    from typer.testing import CliRunner

    from llamasys.apps.cli import app
    from llamasys.core_model.testing import random_meta_state_dict, tiny_args, write_meta_checkpoint

    try:
        load_items(["simple_python"], limit=1)
    except BfclError as exc:
        require_in_ci(str(exc))
    args = tiny_args()
    folder = write_meta_checkpoint(tmp_path / "m", args, random_meta_state_dict(args, seed=0))
    result = CliRunner().invoke(
        app,
        ["eval", "tools", "--model", str(folder), "--categories", "simple_python", "--limit", "2",
         "--max-new-tokens", "2", "--no-agent-tasks", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    report = json.loads(result.stdout)["bfcl"]
    assert report["truncated"] == 2 and report["categories"]["simple_python"]["truncated"] == 2
    assert "2 of 2 replies were cut at --max-new-tokens 2" in result.stderr
    assert "raise --max-new-tokens" in result.stderr
