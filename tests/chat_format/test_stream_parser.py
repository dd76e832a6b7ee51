"""What the streaming parser emits while tokens arrive, and that it ends where the one-shot decoder does."""

from __future__ import annotations

import pytest

from llamasys.core_model.chat.stream_parser import llama3_start_opening
from llamasys.core_model.messages import StopReason


def run(fmt, text: str):
    ids = fmt.tokenizer.encode(text, allow_special=True)
    parser = fmt.stream_parser()
    per_token = [parser.feed(t) for t in ids]
    tail = parser.flush()
    return ids, per_token, tail, parser.finish(StopReason.out_of_tokens)


def texts(events, kind="text"):
    return "".join(e.text for e in events if e.type == kind)


def test_plain_text_streams_as_it_comes(llama3_format):
    ids, per_token, tail, message = run(llama3_format, "Paris is the capital of France.<|eot_id|>")
    flat = [e for events in per_token for e in events]
    assert texts(flat) + texts(tail) == "Paris is the capital of France." == message.content
    # only the first word is held back (it could have been `name.call(`); the rest flows token by token
    assert sum(1 for events in per_token if events) >= len(ids) - 3
    assert message.stop_reason == StopReason.end_of_turn


def test_python_tag_switches_to_tool_call_deltas(llama3_format):
    _, per_token, tail, message = run(
        llama3_format, 'Let me look.<|python_tag|>brave_search.call(query="gold")<|eom_id|>'
    )
    flat = [e for events in per_token for e in events]
    assert texts(flat) == "Let me look."
    opening = next(i for i, e in enumerate(flat) if e.type == "tool_call_delta")
    assert all(e.type == "text" for e in flat[:opening])
    assert all(e.type == "tool_call_delta" for e in flat[opening:])
    assert texts(flat, "tool_call_delta") == 'brave_search.call(query="gold")'
    assert [e.type for e in tail] == ["tool_call"]
    assert tail[0].tool_call == message.tool_calls[0]  # same call id in the event and the message
    assert message.stop_reason == StopReason.end_of_message


def test_function_tag_after_text_is_detected_inline(llama3_format):
    _, per_token, tail, message = run(llama3_format, 'Sure! <function=get_time>{"tz": "UTC"}</function>')
    flat = [e for events in per_token for e in events]
    assert texts(flat) == "Sure! "
    assert texts(flat, "tool_call_delta").startswith("<function=get_time>")
    assert message.content == "Sure!" and message.tool_calls[0].tool_name == "get_time"


@pytest.mark.parametrize(
    "reply",
    [
        '{"name": "f", "parameters": {"a": 1}}',
        "[get_weather(city='Paris'), get_weather(city='Rome')]",
        '  {"type": "function", "name": "f", "parameters": {}}',
    ],
)
def test_a_call_at_the_start_is_never_shown_as_text(llama3_format, reply):
    _, per_token, tail, message = run(llama3_format, reply + "<|eot_id|>")
    flat = [e for events in per_token for e in events]
    assert texts(flat) == ""
    assert texts(flat, "tool_call_delta").strip() == reply.strip()
    assert len(message.tool_calls) == len([e for e in tail if e.type == "tool_call"]) >= 1


def test_text_that_only_looked_like_a_call_is_released_at_the_end(llama3_format):
    _, per_token, tail, message = run(llama3_format, '{"name": "Bob", "age": 3}')
    flat = [e for events in per_token for e in events]
    assert texts(flat) == ""  # held as a possible call...
    assert texts(tail) == '{"name": "Bob", "age": 3}' == message.content  # ...and given back as text


def test_a_broken_call_ends_with_a_parse_error_event(llama3_format):
    _, _, tail, message = run(llama3_format, '<|python_tag|>{"name": "f", "parameters": {"a": ')
    assert [e.type for e in tail] == ["text", "parse_error"]
    assert tail[1].error == message.parse_errors[0]
    assert message.tool_calls == [] and message.content == '{"name": "f", "parameters": {"a": '


def test_header_is_skipped_in_events_and_message(llama3_format):
    _, per_token, tail, message = run(
        llama3_format, "<|start_header_id|>assistant<|end_header_id|>\n\nHi there"
    )
    flat = [e for events in per_token for e in events]
    assert texts(flat) + texts(tail) == "Hi there" == message.content


def test_a_header_that_never_closes_is_text(llama3_format):
    _, _, tail, message = run(llama3_format, "<|start_header_id|>assistant and more")
    one_shot = llama3_format.decode_assistant_message(
        llama3_format.tokenizer.encode("<|start_header_id|>assistant and more", allow_special=True)
    )
    assert message.content == one_shot.content == "<|start_header_id|>assistant and more"
    assert texts(tail) == message.content


def test_tokens_after_a_stop_token_are_ignored(llama3_format):
    ids = llama3_format.tokenizer.encode("Done.<|eot_id|>More text", allow_special=True)
    parser = llama3_format.stream_parser()
    events = [e for t in ids for e in parser.feed(t)]
    events += parser.flush()
    assert texts(events) == "Done."
    assert parser.finish().stop_reason == StopReason.end_of_turn


def test_multibyte_characters_split_across_tokens(llama3_format):
    tok = llama3_format.tokenizer
    ids = tok.encode("日本語のテキスト 🦙")
    parser = llama3_format.stream_parser()
    events = [e for t in ids for e in parser.feed(t)] + parser.flush()
    assert texts(events) == "日本語のテキスト 🦙"
    assert all("\ufffd" not in e.text for e in events)


@pytest.mark.parametrize(
    ("start", "verdict"),
    [
        ("", "maybe"),
        ("{", "maybe"),
        ('{"na', "maybe"),
        ('{"name"', "yes"),
        ('{"answer"', "no"),
        ("[", "maybe"),
        ("[get_weather", "maybe"),
        ("[get_weather(", "yes"),
        ("[1", "no"),
        ("brave_search", "maybe"),
        ("brave_search.ca", "maybe"),
        ("brave_search.call(", "yes"),
        ("Hello ", "no"),
        ("42", "no"),
    ],
)
def test_start_of_message_opening_rules(start, verdict):
    assert llama3_start_opening(start) == verdict
