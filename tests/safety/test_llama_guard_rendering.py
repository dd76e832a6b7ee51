"""Which category list a model name gets, and how tool calls are written into Llama Guard's prompt.

Found unpinned by `make mutation` (llama_guard): `categories_for` had no test of its own, and the
rendering of calls was checked for one built-in call and raw code only. Pinned here as the module
writes it: code_interpreter calls as their code, other built-in tools as `tool.call(k=v)`, custom tools
as `{"name": ..., "parameters": ...}` JSON, one call a line, non-ASCII kept as written."""

from __future__ import annotations

import pytest

from llamasys.core_model.messages import AssistantMessage, ToolCall
from llamasys.safety import LlamaGuard, Touchpoint
from llamasys.safety.llama_guard import CATEGORIES_1B, CATEGORIES_8B, categories_for


@pytest.mark.parametrize(
    ("model", "categories"),
    [
        ("llama-guard-3-1b", CATEGORIES_1B),
        ("/models/Llama-Guard-3-1B", CATEGORIES_1B),  # the folder's name, any case
        ("meta-llama/Llama-Guard-3-11B-Vision", CATEGORIES_1B),  # 11B Vision: S1-S13 like 1B
        ("llama-guard-3-8b", CATEGORIES_8B),
        ("/models/LLAMA-GUARD-3-8B", CATEGORIES_8B),
        ("llama-guard-3-18b", None),  # neither 1B nor 8B, though the name ends in "8b"
        ("my-guard", None),
        (None, None),
    ],
)
def test_categories_follow_the_model_size_in_its_name(model, categories):
    assert categories_for(model) == categories


def _agent_text(calls: list[ToolCall]) -> str:
    prompt = LlamaGuard("llama-guard-3-8b").build_prompt(
        [AssistantMessage(tool_calls=calls)], Touchpoint.tool_input
    )
    return prompt.split("<BEGIN CONVERSATION>\n\n", 1)[1].split("\n\n<END CONVERSATION>", 1)[0]


def test_tool_calls_are_rendered_one_a_line_in_their_kind_of_syntax():
    calls = [
        ToolCall(tool_name="lookup", arguments={"city": "Tromsø", "code": "SELECT 1"}),  # custom: JSON
        ToolCall(tool_name="brave_search", arguments={"query": "café", "count": 2}),  # built-in
        ToolCall(tool_name="code_interpreter", arguments={"code": "print('hé')"}),  # its code
    ]
    assert _agent_text(calls) == (
        'Agent: {"name": "lookup", "parameters": {"city": "Tromsø", "code": "SELECT 1"}}\n'
        'brave_search.call(query="café", count=2)\n'
        "print('hé')"
    )


def test_a_code_interpreter_call_without_code_text_is_rendered_as_a_call():
    assert _agent_text([ToolCall(tool_name="code_interpreter", arguments={"code": 5})]) == (
        "Agent: code_interpreter.call(code=5)"
    )
