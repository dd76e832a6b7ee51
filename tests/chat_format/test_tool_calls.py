"""Every tool-call form decodes; broken ones become text + parse_errors; Meta's decoder bugs are not repeated."""

from __future__ import annotations

import pytest
from support import import_or_require

from llamasys.core_model.chat.tool_call_codec import (
    ChatFormatError,
    encode_tool_call,
    encode_tool_call_segments,
    local_tool_name,
    parse_llama3_completion,
    parse_tagged_json_completion,
)
from llamasys.core_model.messages import AssistantMessage, StopReason, ToolCall


def decode(fmt, text: str) -> AssistantMessage:
    return fmt.decode_assistant_message(
        fmt.tokenizer.encode(text, allow_special=True), StopReason.out_of_tokens
    )


def calls(message: AssistantMessage) -> list[tuple[str, dict]]:
    return [(c.tool_name, c.arguments) for c in message.tool_calls]


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        (
            '<|python_tag|>brave_search.call(query="gold price")<|eom_id|>',
            [("brave_search", {"query": "gold price"})],
        ),
        ('<|python_tag|>wolfram_alpha.call(query="2+2")<|eom_id|>', [("wolfram_alpha", {"query": "2+2"})]),
        # an escaped quote inside the query (the reference regex stops at the first quote)
        (
            '<|python_tag|>brave_search.call(query="the \\"best\\" pizza")',
            [("brave_search", {"query": 'the "best" pizza'})],
        ),
        ("<|python_tag|>print(6 * 7)<|eom_id|>", [("code_interpreter", {"code": "print(6 * 7)"})]),
        ('<function=get_time>{"tz": "UTC"}</function><|eot_id|>', [("get_time", {"tz": "UTC"})]),
        ("<function=get_time>{}</function>", [("get_time", {})]),
        ("<function=noargs></function>", [("noargs", {})]),
        # apostrophes inside a value survive (the reference replaces every ' with ")
        ('<function=say>{"text": "it\'s fine"}</function>', [("say", {"text": "it's fine"})]),
        (
            "<function=say>{'text': 'single quoted', 'flag': True}</function>",
            [("say", {"text": "single quoted", "flag": True})],
        ),
        (
            '<|python_tag|>{"type": "function", "name": "f", "parameters": {"a": 1}}<|eom_id|>',
            [("f", {"a": 1})],
        ),
        ('{"name": "f", "parameters": {"a": [1, 2.5, null, true]}}', [("f", {"a": [1, 2.5, None, True]})]),
        ('{"name": "f", "arguments": "{\\"a\\": 1}"}', [("f", {"a": 1})]),
        ('{"type": "function", "function": {"name": "f", "arguments": {"a": 1}}}', [("f", {"a": 1})]),
        (
            '[{"name": "f", "parameters": {}}, {"name": "g", "parameters": {"x": "y"}}]',
            [("f", {}), ("g", {"x": "y"})],
        ),
        (
            '<|python_tag|>{"name": "f", "parameters": {}}; {"name": "g", "parameters": {}}',
            [("f", {}), ("g", {})],
        ),
        # every call of a python list (the reference returned only the first)
        (
            "[f(a=1), g(b='x', c=[1, 2], d={'k': None}), h()]",
            [("f", {"a": 1}), ("g", {"b": "x", "c": [1, 2], "d": {"k": None}}), ("h", {})],
        ),
        ("[f(flag=true, none=null, neg=-3)]<|eot_id|>", [("f", {"flag": True, "none": None, "neg": -3})]),
        (
            '<|python_tag|>[get_weather(city="San Francisco")]<|eot_id|>',
            [("get_weather", {"city": "San Francisco"})],
        ),
        # a built-in called in custom syntax keeps the built-in's `query`
        ('<function=brave_search>{"q": "news"}</function>', [("brave_search", {"query": "news"})]),
        # several calls after one python tag, and several tags
        (
            '<|python_tag|>brave_search.call(query="a")\nwolfram_alpha.call(query="b")',
            [("brave_search", {"query": "a"}), ("wolfram_alpha", {"query": "b"})],
        ),
        (
            '<|python_tag|>brave_search.call(query="a")<|python_tag|>print(1)',
            [("brave_search", {"query": "a"}), ("code_interpreter", {"code": "print(1)"})],
        ),
    ],
)
def test_every_call_form_decodes(llama3_format, completion, expected):
    message = decode(llama3_format, completion)
    assert calls(message) == expected
    assert message.parse_errors == []


def test_text_before_a_call_is_kept_and_the_call_text_is_not(llama3_format):
    message = decode(llama3_format, 'Let me check. <function=get_time>{"tz": "UTC"}</function>')
    assert message.content == "Let me check."  # not the raw call text (a 0.0.2 bug)
    assert calls(message) == [("get_time", {"tz": "UTC"})]
    message = decode(llama3_format, 'Searching now.<|python_tag|>brave_search.call(query="x")<|eom_id|>')
    assert message.content == "Searching now."
    assert message.stop_reason == StopReason.end_of_message


@pytest.mark.parametrize(
    "completion",
    [
        "Hello there!",
        '{"answer": 42}',  # a JSON answer is not a call
        '{"name": "Bob", "age": 3}',  # "name" without parameters: text (the reference raised KeyError)
        "[1, 2, 3]",
        "The call syntax is f(x=1).",
        "print(1) is how you print",
        "",
    ],
)
def test_plain_text_stays_text(llama3_format, completion):
    message = decode(llama3_format, completion + "<|eot_id|>")
    assert message.content == completion
    assert message.tool_calls == [] and message.parse_errors == []


@pytest.mark.parametrize(
    ("completion", "why"),
    [
        ('<|python_tag|>{"type": "function", "name": "f", "parameters": {"a": ', "unterminated"),
        ('{"name": "f", "parameters": {"a": 1', "unterminated"),
        ('<function=f>{"a": 1', "unterminated"),
        ("<function=f>not json</function>", "not followed by a JSON object"),
        ("[f(a=foo)]", "`foo` is not a JSON value"),
        ("<|python_tag|>[f(a=1 + 2)]", "`1 + 2` is not a JSON value"),
        ("[f(a={1, 2})]", "is not a JSON value"),
        ('[f(a=b"x")]', "bytes is not a JSON value"),
        ('{"name": "f", "parameters": {"a": NaN}}', "NaN is not a JSON value"),
        ('{"name": "f", "parameters": [1, 2]}', "arguments must be an object"),
        ('{"name": 7, "parameters": {}}', "not a non-empty string"),
        ("[f(1, 2)]", "keyword"),
        ('<|python_tag|>brave_search.call(query="unterminated', "unterminated"),
        ("<|python_tag|>", "nothing follows"),
        ("[get_weather(city='Paris'), get_weather(city=Paris)]", "`Paris` is not a JSON value"),
    ],
)
def test_broken_calls_become_text_with_a_parse_error(llama3_format, completion, why):
    message = decode(llama3_format, completion)
    assert message.tool_calls == []
    assert len(message.parse_errors) == 1 and why in message.parse_errors[0]
    assert message.content == completion.replace("<|python_tag|>", "")


def test_stop_tokens_set_the_stop_reason_and_end_the_completion(llama3_format):
    assert decode(llama3_format, "hi<|eot_id|>").stop_reason == StopReason.end_of_turn
    assert decode(llama3_format, "hi<|eom_id|>").stop_reason == StopReason.end_of_message
    assert decode(llama3_format, "hi<|end_of_text|>").stop_reason == StopReason.end_of_turn
    assert decode(llama3_format, "hi").stop_reason == StopReason.out_of_tokens
    message = decode(llama3_format, "hi<|eot_id|>ignored<|eom_id|>")
    assert (message.content, message.stop_reason) == ("hi", StopReason.end_of_turn)


def test_leading_assistant_header_is_dropped(llama3_format):
    message = decode(llama3_format, "<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>")
    assert message.content == "Hello"


def test_ids_outside_the_vocabulary_are_reported_not_raised(llama3_format):
    ok = llama3_format.tokenizer.encode("Hi")
    message = llama3_format.decode_assistant_message([*ok, -5, 10**9])
    assert message.content == "Hi"
    assert len(message.parse_errors) == 2 and "outside the vocabulary" in message.parse_errors[0]


def test_special_token_text_in_a_reply_is_literal_text(llama3_format):
    tok = llama3_format.tokenizer
    ids = tok.encode("say <|python_tag|> please")  # plain text, not the special token
    message = llama3_format.decode_assistant_message(ids)
    assert message.content == "say <|python_tag|> please" and message.tool_calls == []


def test_encoding_custom_calls_in_each_format():
    call = ToolCall(tool_name="f", arguments={"s": 'a "q"\n', "n": 1.5, "l": [True, None], "d": {"k": "v"}})
    assert encode_tool_call(call, "json") == (
        '{"type": "function", "name": "f", "parameters": {"s": "a \\"q\\"\\n", "n": 1.5, "l": [true, null], "d": {"k": "v"}}}'
    )
    assert encode_tool_call(call, "function_tag") == (
        '<function=f>{"s": "a \\"q\\"\\n", "n": 1.5, "l": [true, null], "d": {"k": "v"}}</function>'
    )
    assert (
        encode_tool_call(call, "python_list") == '[f(s="a \\"q\\"\\n", n=1.5, l=[True, None], d={"k": "v"})]'
    )
    assert (
        encode_tool_call(ToolCall(tool_name="web_search", arguments={"query": "x"}))
        == 'brave_search.call(query="x")'
    )
    with pytest.raises(ChatFormatError, match="keyword argument"):
        encode_tool_call(ToolCall(tool_name="f", arguments={"not an identifier": 1}), "python_list")
    with pytest.raises(ChatFormatError, match="tool_prompt_format"):
        encode_tool_call(call, "yaml")  # type: ignore[arg-type]


def test_several_calls_are_grouped_into_segments():
    a = ToolCall(tool_name="a", arguments={"x": 1})
    b = ToolCall(tool_name="b", arguments={})
    code = ToolCall(tool_name="code_interpreter", arguments={"code": "print(1)"})
    assert encode_tool_call_segments([a, b], "python_list") == [(True, "[a(x=1), b()]")]
    assert encode_tool_call_segments([a, b], "function_tag") == [
        (False, '<function=a>{"x": 1}</function><function=b>{}</function>')
    ]
    assert encode_tool_call_segments([code, a], "function_tag") == [
        (True, "print(1)"),
        (True, '<function=a>{"x": 1}</function>'),
    ]
    segments = encode_tool_call_segments([a, code, b], "json")
    assert [tagged for tagged, _ in segments] == [True, True, True]


def test_local_tool_name_maps_brave_search_back_to_web_search():
    assert local_tool_name("brave_search", ["web_search", "get_time"]) == "web_search"
    assert local_tool_name("brave_search", ["brave_search", "web_search"]) == "brave_search"
    assert local_tool_name("get_time", ["get_time"]) == "get_time"


def test_string_level_parser_keeps_plain_text_untouched():
    decoded = parse_llama3_completion("  spaced  ")
    assert decoded.content == "  spaced  " and not decoded.tool_calls


@pytest.mark.parametrize(
    ("text", "content", "expected", "error"),
    [
        ('<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>', "", [("f", {"a": 1})], None),
        (
            'Sure.\n<tool_call>{"name": "f", "arguments": {}}</tool_call>\n<tool_call>{"name": "g", "arguments": {"b": [1]}}</tool_call>',
            "Sure.",
            [("f", {}), ("g", {"b": [1]})],
            None,
        ),
        (
            '<tool_call>{"name": "f", "arguments": {"a": 1}}',
            "",
            [("f", {"a": 1})],
            None,
        ),  # stopped before the tag
        ('{"name": "f", "arguments": {"a": 1}}', "", [("f", {"a": 1})], None),  # bare JSON
        ("Just text.", "Just text.", [], None),
        ('<tool_call>{"name": "f", "argu', None, [], "unterminated"),
        ('<tool_call>{"name": "f", "arguments": {}} trailing</tool_call>', None, [], "missing </tool_call>"),
        ("<tool_call>nope</tool_call>", None, [], "not followed by a JSON object"),
    ],
)
def test_tagged_json_convention(text, content, expected, error):
    decoded = parse_tagged_json_completion(text)
    assert [(c.tool_name, c.arguments) for c in decoded.tool_calls] == expected
    if error is None:
        assert decoded.content == content and decoded.errors == []
    else:
        assert decoded.content == text and error in decoded.errors[0]


META_PYTHON_LISTS = [
    '[get_boiling_point(liquid_name="water", celcius=True)]',
    '[get_boiling_point(liquid_name="water", celcius=True), get_melting_point(substance="ice", kelvin=False)]',
    "[calculate_volume(radius=5.2, height=10)]",
    '[process_data(name="sample", value=42, active=True, ratio=3.14)]',
    "[initialize()]",
    '[analyze_text(content="Hello, world!", language="en")]',
    '[get_boiling_point(liquid={"name":"water", "color":"translucent"}), convert_temperature(value=[100, 101], from_unit="C", to_unit="F")]',
]
META_NOT_LISTS = [
    "[]",
    '[get_boiling_point(liquid_name="water"), 42]',
    '[get_boiling_point("water", True)]',
    '[[get_boiling_point(liquid_name="water")]]',
    '{"func": get_boiling_point(liquid_name="water")}',
    '[get_boiling_point(liquid_name="water", celcius=True',
    'get_boiling_point(liquid_name="water")',
    '[(get_boiling_point(liquid_name="water"),)]',
]


@pytest.mark.parametrize("text", META_PYTHON_LISTS)
def test_python_lists_from_metas_own_tests_give_every_call(llama3_format, text):
    tool_utils = import_or_require(
        "llama_models.llama3.tool_utils",
        "pip install llama-models==0.3.0 (a runtime dependency: Meta's reference code)",
    )
    expected = tool_utils.parse_python_list_for_function_calls(text)  # Meta's parser, all calls
    assert calls(decode(llama3_format, text + "<|eot_id|>")) == [(n, a) for n, a in expected]
    # Meta's decoder returns only the first (its "FIXME: Enable multiple tool calls")
    assert tool_utils.ToolUtils.maybe_extract_custom_tool_call(text) == expected[0]


@pytest.mark.parametrize("text", META_NOT_LISTS)
def test_what_metas_tests_reject_is_not_a_call(llama3_format, text):
    message = decode(llama3_format, text + "<|eot_id|>")
    assert message.tool_calls == [] and message.content == text


def test_function_tag_without_closing_tag_as_in_metas_test(llama3_format):
    message = decode(llama3_format, '<function=getWeather>{"location":"New York","date":"2023-08-05"}')
    assert calls(message) == [("getWeather", {"location": "New York", "date": "2023-08-05"})]
