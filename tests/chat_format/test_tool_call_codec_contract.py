"""The tool-call codec's promises that mutation testing found unpinned (`.ci/mutation.py tool_call_codec`).

Each test names the behaviour; the survivors it kills are listed in README's mutation section. Pure string
work: the codec is called directly, no tokenizer.
"""

from __future__ import annotations

import pytest

from llamasys.core_model.chat.tool_call_codec import (
    CODE_INTERPRETER,
    ChatFormatError,
    encode_tagged_json_calls,
    encode_tool_call,
    encode_tool_call_segments,
    local_tool_name,
    parse_llama3_completion,
    parse_tagged_json_completion,
)
from llamasys.core_model.messages import ToolCall


def _calls(decoded) -> list[tuple[str, dict]]:
    return [(c.tool_name, c.arguments) for c in decoded.tool_calls]


# ----------------------------------------------------------------------------------------------- names


def test_a_name_with_no_alias_comes_back_unchanged_even_when_web_search_is_registered() -> None:
    assert local_tool_name("get_weather", ["web_search"]) == "get_weather"
    assert local_tool_name("brave_search", ["web_search"]) == "web_search"
    assert local_tool_name("brave_search", ["web_search", "brave_search"]) == "brave_search"
    assert local_tool_name("brave_search", ["get_weather"]) == "brave_search"


# -------------------------------------------------------------------------------------------- encoding


@pytest.mark.parametrize("name", ["class", "lambda", "None", "my-tool", "2fast"])
def test_python_list_refuses_names_that_are_not_python_identifiers_word_for_word(name: str) -> None:
    message = (
        f"tool name {name!r} cannot be written as a Python call: "
        "use identifier names or the json / function_tag tool_prompt_format"
    )
    call = ToolCall(tool_name=name, arguments={"a": 1})
    with pytest.raises(ChatFormatError) as single:
        encode_tool_call(call, "python_list")
    assert str(single.value) == message
    with pytest.raises(ChatFormatError) as segments:
        encode_tool_call_segments([call], "python_list")
    assert str(segments.value) == message
    # the other formats write any name
    assert name in encode_tool_call(call, "json")


def test_template_calls_keep_non_ascii_text_as_is() -> None:
    call = ToolCall(tool_name="get_weather", arguments={"city": "Zürich", "note": "東京 ☂"})
    assert encode_tagged_json_calls([call]) == (
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Zürich", "note": "東京 ☂"}}\n</tool_call>'
    )


# ---------------------------------------------------------------------------- built-in call syntax


def test_a_built_in_called_with_one_positional_argument_gets_it_as_the_query() -> None:
    # the reference's regex (kept as a fallback) reads only query="..."; this form goes through ast
    decoded = parse_llama3_completion("", ['brave_search.call("gold price")'])
    assert _calls(decoded) == [("brave_search", {"query": "gold price"})]
    assert decoded.errors == []
    decoded = parse_llama3_completion("", ["wolfram_alpha.call('2+2')"])
    assert _calls(decoded) == [("wolfram_alpha", {"query": "2+2"})]
    # any name: the argument is the query (for the two built-ins a lone argument is renamed anyway)
    decoded = parse_llama3_completion("", ['my_lookup.call("x")'])
    assert _calls(decoded) == [("my_lookup", {"query": "x"})]


@pytest.mark.parametrize("body", ['brave_search.call("a", "b")', 'brave_search.call("a", count=3)'])
def test_a_built_in_with_more_than_one_positional_argument_is_an_error(body: str) -> None:
    # untagged (after the tag this is valid Python, so code for the interpreter)
    decoded = parse_llama3_completion(body)
    assert decoded.tool_calls == []
    assert len(decoded.errors) == 1
    assert decoded.errors[0].endswith("brave_search.call: arguments must be given by keyword")


def test_an_attribute_other_than_call_is_code_not_a_built_in_call() -> None:
    body = 'brave_search.caller(query="x")'
    decoded = parse_llama3_completion("", [body])
    assert _calls(decoded) == [(CODE_INTERPRETER, {"code": body})]


def test_a_built_in_call_followed_by_a_non_call_on_the_same_line_names_the_expected_syntax() -> None:
    body = 'brave_search.call(query="a") brave_search.caller(query="b")'
    decoded = parse_llama3_completion("", [body])
    assert decoded.tool_calls == []
    assert decoded.errors == [f"tool call after <|python_tag|> {body!r}: expected name.call(...)"]


# ------------------------------------------------------------------------------ code after the tag


@pytest.mark.parametrize(
    "code",
    [
        "[f(x) + 1]",  # a list whose first element is an expression around a call
        "[f(x) for x in y]",  # a comprehension
        "[print(x)]\nx = 1",  # valid Python, but statements: not one list display
        "[g(x)[0], 2]",
    ],
)
def test_valid_code_that_opens_like_a_call_list_goes_to_the_interpreter(code: str) -> None:
    decoded = parse_llama3_completion("", [code])
    assert decoded.errors == []
    assert _calls(decoded) == [(CODE_INTERPRETER, {"code": code})]


def test_a_call_list_with_positional_arguments_after_the_tag_is_a_failed_call_not_code() -> None:
    decoded = parse_llama3_completion("", ['[get_weather("Dublin")]'])
    assert decoded.tool_calls == []
    assert decoded.errors and decoded.errors[0].endswith("get_weather: arguments must be given by keyword")


# ------------------------------------------------------------------------------ calls after prose


@pytest.mark.parametrize(
    "text",
    [
        # positional arguments: call syntax that does not parse, the brackets closing at the very end
        'I will check. [get_weather("Dublin")]',
        # the same with a line break inside the brackets
        'I will check.\n[get_weather(\n"Dublin")]',
        # unterminated, with a line break inside
        'I will check.\n[get_weather(city="Dublin",\n  unit=',
        # a built-in call followed by more text on its line
        'Let me look. brave_search.call(query="x") and then some',
        # the same for a tool whose name starts with X
        'Done. Xsearch.call(query="a") and more',
    ],
)
def test_call_shaped_text_running_to_the_end_that_does_not_parse_is_an_error(text: str) -> None:
    decoded = parse_llama3_completion(text)
    assert decoded.tool_calls == []
    assert decoded.content == text
    assert len(decoded.errors) == 1 and decoded.errors[0].startswith("tool call after text ")


def test_call_shaped_text_followed_by_more_lines_of_prose_stays_prose() -> None:
    text = 'Look. brave_search.call(query="a") and\nmore prose'
    decoded = parse_llama3_completion(text)
    assert (decoded.content, decoded.tool_calls, decoded.errors) == (text, [], [])


def test_a_later_call_is_found_after_call_shaped_words_inside_the_prose() -> None:
    text = 'Note: brave_search.call(query="a") is how.\n[get_weather(city="Dublin")]'
    decoded = parse_llama3_completion(text)
    assert _calls(decoded) == [("get_weather", {"city": "Dublin"})]
    assert decoded.content == 'Note: brave_search.call(query="a") is how.'
    assert decoded.errors == []


# ------------------------------------------------------------------------------ template convention


def test_a_bare_json_list_of_calls_without_tags_is_read() -> None:
    decoded = parse_tagged_json_completion(
        '[{"name": "f", "arguments": {"a": 1}}, {"name": "g", "arguments": {}}]'
    )
    assert _calls(decoded) == [("f", {"a": 1}), ("g", {})]
    assert decoded.content == ""


def test_a_list_inside_one_tool_call_block_gives_every_call() -> None:
    text = 'Sure.\n<tool_call>\n[{"name": "f", "arguments": {"a": 1}}, {"name": "g", "arguments": {"b": [2]}}]\n</tool_call>'
    decoded = parse_tagged_json_completion(text)
    assert _calls(decoded) == [("f", {"a": 1}), ("g", {"b": [2]})]
    assert decoded.content == "Sure."
    assert decoded.errors == []


@pytest.mark.parametrize("after", ["X", "call f", "XX{}"])
def test_a_tool_call_tag_not_followed_by_json_says_so(after: str) -> None:
    text = f"<tool_call>{after}</tool_call>"
    decoded = parse_tagged_json_completion(text)
    assert decoded.tool_calls == []
    assert decoded.errors == [f"tool call {text!r}: <tool_call> is not followed by a JSON object"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("brave_search.call(foo)", "brave_search.call: `foo` is not a JSON value"),
        ("brave_search.call(query=foo)", "brave_search.call(query=...): `foo` is not a JSON value"),
        ("[get_weather(city=Dublin)]", "get_weather(city=...): `Dublin` is not a JSON value"),
    ],
)
def test_a_non_json_argument_error_names_where_it_is(text: str, error: str) -> None:
    decoded = parse_llama3_completion(text)
    assert decoded.tool_calls == []
    assert decoded.errors == [f"tool call {text!r}: {error}"]


# ------------------------------------------------------------------------------------ segments


def test_segments_default_to_json_and_consecutive_json_calls_share_one_tagged_segment() -> None:
    f = ToolCall(tool_name="f", arguments={"a": 1})
    g = ToolCall(tool_name="g", arguments={})
    search = ToolCall(tool_name="web_search", arguments={"query": "x"})
    f_json = '{"type": "function", "name": "f", "parameters": {"a": 1}}'
    g_json = '{"type": "function", "name": "g", "parameters": {}}'
    assert encode_tool_call_segments([f, g]) == [(True, f_json + "\n" + g_json)]
    assert encode_tool_call_segments([search, f]) == [(True, 'brave_search.call(query="x")\n' + f_json)]


def test_function_tags_after_a_built_in_join_its_tagged_segment_and_code_stands_alone() -> None:
    search = ToolCall(tool_name="web_search", arguments={"query": "x"})
    f = ToolCall(tool_name="f", arguments={"a": 1})
    code = ToolCall(tool_name="code_interpreter", arguments={"code": "print(1)"})
    assert encode_tool_call_segments([search, f], "function_tag") == [
        (True, 'brave_search.call(query="x")\n<function=f>{"a": 1}</function>')
    ]
    assert encode_tool_call_segments([code, f, f], "function_tag") == [
        (True, "print(1)"),
        (True, '<function=f>{"a": 1}</function>\n<function=f>{"a": 1}</function>'),
    ]
    assert encode_tool_call_segments([code, search], "json") == [
        (True, "print(1)"),
        (True, 'brave_search.call(query="x")'),
    ]
