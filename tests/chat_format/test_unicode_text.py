"""Text crossing into the model or the store is always valid Unicode (issue 12, fault 5).

Lone surrogates (undecodable bytes of a file name, a half escape pair) become U+FFFD; a JSON or
Python `\\ud83c\\udf78` escape pair becomes the one character it encodes, in every call syntax and in
the streaming parser, as it does in JSON itself."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llamasys.core_model.messages import (
    AssistantMessage,
    StopReason,
    SystemMessage,
    ToolCall,
    ToolResponseMessage,
    UserMessage,
    to_messages,
    valid_unicode,
)
from llamasys.tools.base import Attachment, ToolResult
from llamasys.tools.memory.ingest import load_text

ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40)


@settings(max_examples=300, deadline=None)
@given(text=ANY_TEXT)
def test_valid_unicode_always_encodes_and_keeps_valid_text(text):
    out = valid_unicode(text)
    out.encode("utf-8")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        assert "\ufffd" in out or len(out) < len(text)  # something was replaced or a pair joined
    else:
        assert out is text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("caf\udce9.txt", "caf\ufffd.txt"),  # surrogate-escaped byte (os.listdir of a Latin-1 name)
        ("\ud83c\udf78", "🍸"),  # a pair, as Python's escape decoding leaves it
        ("x\ud83cy", "x\ufffdy"),  # a lone high surrogate
        ("\udf78", "\ufffd"),  # a lone low surrogate
        ("\udf78\ud83c", "\ufffd\ufffd"),  # the wrong order is no pair
        ("ok 🍸 é", "ok 🍸 é"),
    ],
)
def test_every_message_and_result_field(raw, clean):
    assert UserMessage(content=raw).content == clean
    assert UserMessage(content="q", context=raw).context == clean
    assert SystemMessage(content=raw).content == clean
    assert AssistantMessage(content=raw).content == clean
    assert ToolResponseMessage(call_id="1", tool_name="t", content=raw).content == clean
    call = ToolCall(tool_name="t", arguments={"a": raw, "nested": [{"k": raw}], raw: 1})
    assert call.arguments == {"a": clean, "nested": [{"k": clean}], clean: 1}
    assert to_messages([{"role": "user", "content": raw}])[0].content == clean
    assert ToolResult(content=raw, metadata={"m": raw}).content == clean
    assert ToolResult(content="x", metadata={"m": raw}).metadata == {"m": clean}
    assert Attachment(name=raw, data=b"").name == clean
    doc = load_text(f"text {raw}", title=raw)
    assert (doc.text, doc.title) == (f"text {clean}", clean)
    json.dumps(call.model_dump(), ensure_ascii=False).encode("utf-8")


CALLS = {
    "json": '{"name": "get_weather", "parameters": {"location": "%s"}}<|eom_id|>',
    "json_after_tag": '<|python_tag|>{"name": "get_weather", "parameters": {"location": "%s"}}<|eom_id|>',
    "function_tag": '<function=get_weather>{"location": "%s"}</function><|eom_id|>',
    "python_list": '[get_weather(location="%s")]<|eot_id|>',
    "builtin": '<|python_tag|>brave_search.call(query="%s")<|eom_id|>',
}


@pytest.mark.parametrize("syntax", CALLS)
@pytest.mark.parametrize(
    ("escaped", "value"),
    [("\\ud83c\\udf78", "🍸"), ("\\ud83c", "\ufffd"), ("caf\\u00e9", "café"), ("\\udf78x", "\ufffdx")],
)
def test_escape_pairs_become_one_character_in_every_call_syntax(llama3_format, syntax, escaped, value):
    text = CALLS[syntax] % escaped
    ids = llama3_format.tokenizer.encode(text, allow_special=True)
    message = llama3_format.decode_assistant_message(ids, StopReason.out_of_tokens)
    assert len(message.tool_calls) == 1, (message.content, message.parse_errors)
    (argument,) = message.tool_calls[0].arguments.values()
    assert argument == value
    parser = llama3_format.stream_parser()
    for token in ids:
        parser.feed(token)
    parser.flush()
    streamed = parser.finish(StopReason.out_of_tokens)
    assert streamed.tool_calls[0].arguments == message.tool_calls[0].arguments
