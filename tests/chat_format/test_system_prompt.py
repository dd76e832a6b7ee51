"""The system-prompt builder: layout, tool placement per format, tool_choice, errors, tool results."""

from __future__ import annotations

import json
from datetime import date

import pytest

from llamasys.core_model.chat.format import Llama3ChatFormat
from llamasys.core_model.chat.system_prompt import (
    build_system_prompt,
    format_code_interpreter_result,
    format_prompt_date,
    function_tag_tools_prompt,
    prepare_tool_dialog,
)
from llamasys.core_model.chat.tool_call_codec import ChatFormatError
from llamasys.core_model.messages import SystemMessage, ToolDefinition, UserMessage

TODAY = date(2026, 11, 26)
WEB = ToolDefinition(
    name="web_search", parameters={"type": "object", "properties": {"query": {"type": "string"}}}
)
WOLFRAM = ToolDefinition(name="wolfram_alpha")
CODE = ToolDefinition(name="code_interpreter")
ADD = ToolDefinition(
    name="add",
    description="Add two numbers",
    parameters={
        "type": "object",
        "properties": {"a": {"type": "number", "description": "first"}, "b": {"type": ["integer", "null"]}},
        "required": ["a"],
    },
)


def test_issue_example_layout():
    text = build_system_prompt(tools=[WEB, WOLFRAM, CODE], instructions="Be helpful.", today=TODAY)
    assert text == (
        "Environment: ipython\nTools: brave_search, wolfram_alpha\nCutting Knowledge Date: December 2023\n"
        "Today Date: 26 November 2026\n\nBe helpful.\n"
    )


def test_date_is_locale_independent_and_zero_padded():
    assert format_prompt_date(date(2024, 7, 5)) == "05 July 2024"


def test_code_interpreter_alone_enables_ipython_without_tools_line():
    assert build_system_prompt(tools=[CODE], today=TODAY) == (
        "Environment: ipython\n\nCutting Knowledge Date: December 2023\nToday Date: 26 November 2026\n"
    )


def test_duplicate_builtins_and_aliases_are_listed_once():
    both = ToolDefinition(name="brave_search")
    assert "Tools: brave_search\n" in build_system_prompt(tools=[WEB, both], today=TODAY)


@pytest.mark.parametrize(
    ("choice", "sentence"),
    [
        ("required", "You MUST use one of the provided functions/tools to answer the user query."),
        ("add", "You MUST use the tool `add` to answer the user query."),
        ("web_search", "You MUST use the tool `brave_search` to answer the user query."),
    ],
)
def test_tool_choice_sentence_closes_the_system_prompt(choice, sentence):
    text = build_system_prompt(tools=[WEB, ADD], instructions="Be helpful.", tool_choice=choice, today=TODAY)
    assert text.endswith("Be helpful.\n\n" + sentence + "\n")


def test_json_and_function_tag_tools_go_in_a_user_message_after_the_system_message():
    dialog = [SystemMessage(content="Be helpful."), UserMessage(content="What is 2+3?")]
    for fmt, marker in (("json", "Return function calls in JSON format."), ("function_tag", "<function=")):
        out = prepare_tool_dialog(dialog, [ADD], tool_prompt_format=fmt, today=TODAY)
        assert [m.role for m in out] == ["system", "user", "user"]
        assert (
            out[0].content.startswith("Environment: ipython\n\nCutting") and "Be helpful." in out[0].content
        )
        assert marker in out[1].content and '"add"' in out[1].content
        assert out[2] == dialog[1]


def test_python_list_tools_go_in_the_system_message():
    out = prepare_tool_dialog(
        [UserMessage(content="2+3?")], [ADD], tool_prompt_format="python_list", today=TODAY
    )
    assert [m.role for m in out] == ["system", "user"]
    assert not out[0].content.startswith("Environment")  # only built-ins need the ipython environment
    listing = json.loads(out[0].content.split("that you can invoke.\n\n")[1])
    assert listing == [
        {
            "name": "add",
            "description": "Add two numbers",
            "parameters": {"type": "dict", "required": ["a"], "properties": ADD.parameters["properties"]},
        }
    ]


def test_function_tag_parameters_use_the_documented_legacy_layout():
    line = function_tag_tools_prompt([ADD]).split("\n")[3]
    assert json.loads(line) == {
        "name": "add",
        "description": "Add two numbers",
        "parameters": {
            "a": {"description": "first", "param_type": "float", "required": True},
            "b": {"description": "", "param_type": "int", "required": False},
        },
    }


def test_no_tools_means_the_dialog_is_untouched():
    dialog = [SystemMessage(content="Be helpful."), UserMessage(content="hi")]
    assert prepare_tool_dialog(dialog, []) == dialog
    assert prepare_tool_dialog(dialog, [ADD], tool_choice="none") == dialog


@pytest.mark.parametrize(
    ("tools", "kwargs", "message"),
    [
        ([], {"tool_choice": "required"}, "needs at least one tool"),
        ([ADD], {"tool_choice": "multiply"}, "not among the offered tools"),
        ([ADD], {"tool_prompt_format": "xml"}, "unknown tool_prompt_format"),
    ],
)
def test_bad_tool_arguments_are_clear_errors(tools, kwargs, message):
    with pytest.raises(ChatFormatError, match=message):
        prepare_tool_dialog([UserMessage(content="hi")], tools, **kwargs)


def test_encode_applies_the_builder_with_the_injected_date(llama3_tokenizer):
    fmt = Llama3ChatFormat(llama3_tokenizer, today=lambda: TODAY)
    text = llama3_tokenizer.decode(fmt.encode_dialog_prompt([UserMessage(content="hi")], tools=[WEB]))
    assert text.startswith(
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\n"
        "Tools: brave_search\nCutting Knowledge Date: December 2023\nToday Date: 26 November 2026\n<|eot_id|>"
    )
    plain = llama3_tokenizer.decode(fmt.encode_dialog_prompt([UserMessage(content="hi")]))
    assert "Cutting Knowledge" not in plain  # builder-free without tools, exactly as Meta's encoder


def test_code_interpreter_result_text():
    assert format_code_interpreter_result(stdout="7\n") == "completed[stdout]7\n[/stdout]"
    assert (
        format_code_interpreter_result(stdout="", stderr="boom", success=False)
        == "failed[stderr]boom[/stderr]"
    )
    assert format_code_interpreter_result() == "completed"
    assert (
        format_code_interpreter_result(stdout="a", stderr="w")
        == "completed[stdout]a[/stdout][stderr]w[/stderr]"
    )


def test_llama3_format_implements_the_protocol_and_accepts_dict_messages(llama3_format):
    from llamasys.core_model.chat.format import ChatFormat

    assert isinstance(llama3_format, ChatFormat)
    as_dicts = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi", "context": "doc"},
    ]
    as_models = [SystemMessage(content="Be brief."), UserMessage(content="hi", context="doc")]
    assert llama3_format.encode_dialog_prompt(as_dicts) == llama3_format.encode_dialog_prompt(as_models)
    assert llama3_format.stop_token_ids == {
        llama3_format.tokenizer.special_id(t) for t in ("<|end_of_text|>", "<|eom_id|>", "<|eot_id|>")
    }
