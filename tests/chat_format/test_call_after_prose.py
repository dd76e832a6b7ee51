"""Call-shaped text after prose is parsed as a call, or reported (issue 12, fault 6).

The case from the report: a Llama 3.2 model offered `get_weather` wrote
`I will check. [get_weather(location="Dublin")]`, which decoded to plain content with no call and no
parse error; likewise a JSON call after a sentence; and a malformed python-list call after
`<|python_tag|>` went to the code interpreter as code."""

from __future__ import annotations

import pytest

from llamasys.core_model.chat.tool_call_codec import parse_tagged_json_completion
from llamasys.core_model.messages import StopReason

DUBLIN = ("get_weather", {"location": "Dublin"})

PARSED = [
    ('I will check. [get_weather(location="Dublin")]<|eot_id|>', "I will check.", [DUBLIN]),  # reported
    ('I will check.\n{"name": "get_weather", "parameters": {"location": "Dublin"}}<|eot_id|>',
     "I will check.", [DUBLIN]),
    ('Let me see! {"type": "function", "name": "get_weather", "parameters": {"location": "Dublin"}}<|eot_id|>',
     "Let me see!", [DUBLIN]),
    ('Checking: [get_weather(location="Dublin"), get_time(tz="UTC")]<|eot_id|>',
     "Checking:", [DUBLIN, ("get_time", {"tz": "UTC"})]),
    ('One moment.\n\n[get_weather(location="Dublin")]\n<|eot_id|>', "One moment.", [DUBLIN]),
    ('Sure: brave_search.call(query="gold")<|eom_id|>', "Sure:", [("brave_search", {"query": "gold"})]),
]  # fmt: skip
REPORTED = [
    ("I will check. [get_weather(location=Dublin)]<|eot_id|>", "is not a JSON value"),
    ('I will check. [get_weather(location="Dublin"<|eot_id|>', "unterminated"),
    ('I will check.\n{"name": "get_weather", "parameters": {"location": "Dub<|eot_id|>', ""),
    ('<|python_tag|>[get_weather("Dublin")]<|eom_id|>', "arguments must be given by keyword"),  # reported
    ('<|python_tag|>[get_weather(location="Dublin"), 3]<|eom_id|>', "not a call"),
]
PROSE = [
    "Use the list [sorted(x)] to sort it.<|eot_id|>",
    "In Python, [len(s)] is a list. Done.<|eot_id|>",
    'Here is JSON: {"name": "Bob", "age": 3}<|eot_id|>',
    "The answer is 42.<|eot_id|>",
]


def _both(fmt, text):
    ids = fmt.tokenizer.encode(text, allow_special=True)
    one_shot = fmt.decode_assistant_message(ids, StopReason.out_of_tokens)
    parser = fmt.stream_parser()
    for token in ids:
        parser.feed(token)
    parser.flush()
    streamed = parser.finish(StopReason.out_of_tokens)
    assert _without_ids(streamed) == _without_ids(one_shot)  # the streaming parser agrees
    return one_shot


def _without_ids(message):
    return message.model_dump(exclude={"tool_calls": {"__all__": {"call_id"}}})


@pytest.mark.parametrize(("text", "content", "calls"), PARSED)
def test_a_call_after_prose_is_a_call(llama3_format, text, content, calls):
    message = _both(llama3_format, text)
    assert message.content == content and not message.parse_errors
    assert [(c.tool_name, c.arguments) for c in message.tool_calls] == calls


@pytest.mark.parametrize(("text", "why"), REPORTED)
def test_a_broken_call_after_prose_is_reported(llama3_format, text, why):
    message = _both(llama3_format, text)
    assert message.tool_calls == []
    assert len(message.parse_errors) == 1 and why in message.parse_errors[0]


@pytest.mark.parametrize("text", PROSE)
def test_call_shaped_words_inside_prose_stay_prose(llama3_format, text):
    message = _both(llama3_format, text)
    assert message.tool_calls == [] and message.parse_errors == []
    assert message.content == text.removesuffix("<|eot_id|>")


def test_the_template_convention_reads_a_bare_call_after_prose():
    out = parse_tagged_json_completion(
        'I will check. {"name": "get_weather", "arguments": {"location": "Dublin"}}'
    )
    assert (out.content, [(c.tool_name, c.arguments) for c in out.tool_calls]) == ("I will check.", [DUBLIN])
    broken = parse_tagged_json_completion('I will check. {"name": "get_weather", "arguments": {"location": ')
    assert broken.tool_calls == [] and len(broken.errors) == 1
    assert parse_tagged_json_completion("Use [sorted(x)] here.").tool_calls == []
