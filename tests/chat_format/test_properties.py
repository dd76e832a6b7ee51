"""Property-based tests (hypothesis, derandomized): round trips, robustness, no forged special tokens, streaming."""

from __future__ import annotations

import keyword

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llamasys.core_model.chat.tool_call_codec import prompt_tool_name
from llamasys.core_model.messages import AssistantMessage, StopReason, ToolCall, UserMessage

SETTINGS = settings(
    max_examples=120,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
FEW = settings(SETTINGS, max_examples=40)

SPECIAL_TEXT = [
    "<|eot_id|>",
    "<|eom_id|>",
    "<|python_tag|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|begin_of_text|>",
]
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
text_with_specials = st.lists(st.one_of(text, st.sampled_from(SPECIAL_TEXT)), max_size=6).map("".join)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text_with_specials,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
RESERVED = {"brave_search", "wolfram_alpha", "code_interpreter", "web_search", "photogen"}
identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda s: not keyword.iskeyword(s) and s not in RESERVED
)
CODE = [
    "print(6 * 7)",
    "import math\nprint(math.pi)",
    "x = [i * i for i in range(5)]\nprint(x)",
    "def f(n):\n    return n\n\nf(3)",
]


@st.composite
def tool_calls(draw, fmt: str) -> ToolCall:
    kind = draw(st.sampled_from(["custom", "custom", "search", "code"]))
    if kind == "search":
        name = draw(st.sampled_from(["brave_search", "web_search", "wolfram_alpha"]))
        return ToolCall(tool_name=name, arguments={"query": draw(text_with_specials)})
    if kind == "code":
        return ToolCall(tool_name="code_interpreter", arguments={"code": draw(st.sampled_from(CODE))})
    keys = identifiers if fmt == "python_list" else text
    return ToolCall(
        tool_name=draw(identifiers), arguments=draw(st.dictionaries(keys, json_values, max_size=4))
    )


@st.composite
def assistant_messages(draw):
    fmt = draw(st.sampled_from(["json", "function_tag", "python_list"]))
    calls = draw(st.lists(tool_calls(fmt), min_size=1, max_size=3))
    content = draw(st.sampled_from(["", "", "Let me check that.", "OK"]))
    stop = draw(st.sampled_from([StopReason.end_of_turn, StopReason.end_of_message]))
    return fmt, AssistantMessage(content=content, tool_calls=calls, stop_reason=stop)


def comparable(message: AssistantMessage) -> dict:
    return message.model_dump(exclude={"tool_calls": {"__all__": {"call_id"}}})


def stream(fmt, ids, stop=StopReason.out_of_tokens):
    parser = fmt.stream_parser()
    events = []
    for token in ids:
        events += parser.feed(token)
    events += parser.flush()
    return parser.finish(stop), events


def assert_stream_agrees(fmt, ids) -> AssistantMessage:
    """Streaming ends where one-shot decoding does; with no calls, the text deltas spell the content."""
    decoded = fmt.decode_assistant_message(ids, StopReason.out_of_tokens)
    streamed, events = stream(fmt, ids)
    assert comparable(streamed) == comparable(decoded)
    if not decoded.tool_calls:
        assert "".join(e.text for e in events if e.type == "text") == decoded.content
    return decoded


@SETTINGS
@given(assistant_messages())
def test_any_tool_call_survives_encode_then_decode(llama3_format, case):
    fmt, message = case
    ids = llama3_format.encode_message(message, fmt)  # as replayed in history: header, calls, terminator
    decoded = assert_stream_agrees(llama3_format, ids)
    assert decoded.parse_errors == []
    assert decoded.content == message.content
    assert decoded.stop_reason == message.stop_reason
    assert [(c.tool_name, c.arguments) for c in decoded.tool_calls] == [
        (prompt_tool_name(c.tool_name), c.arguments) for c in message.tool_calls
    ]


@SETTINGS
@given(assistant_messages(), st.integers(0, 10**6))
def test_truncated_completions_never_raise_and_stream_the_same(llama3_format, case, cut):
    fmt, message = case
    ids = llama3_format.encode_message(message, fmt)
    assert_stream_agrees(llama3_format, ids[: cut % (len(ids) + 1)])


FRAGMENTS = [
    "<|python_tag|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    '"name"',
    '"parameters"',
    '"arguments"',
    ":",
    ",",
    "f",
    "get_weather",
    "=",
    "1",
    "'x'",
    '"y"',
    "true",
    "<function=",
    "</function>",
    ">",
    "brave_search",
    ".call(",
    "query=",
    "\n",
    " ",
    "é",
    "日本",
    "<tool_call>",
]


@SETTINGS
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=25))
def test_random_call_like_completions_never_raise(llama3_format, pieces):
    assert_stream_agrees(llama3_format, llama3_format.tokenizer.encode("".join(pieces), allow_special=True))


@SETTINGS
@given(st.lists(st.integers(-3, 128256 + 3), max_size=40))
def test_random_token_ids_never_raise(llama3_format, ids):
    assert_stream_agrees(llama3_format, ids)


@FEW
@given(st.lists(st.integers(0, 128255), max_size=30))
def test_streamed_bytes_of_split_characters_match_one_shot(llama3_format, ids):
    # Random ids split multi-byte characters across tokens; both paths must replace the same bytes.
    assert_stream_agrees(llama3_format, [i for i in ids if not llama3_format.tokenizer.is_special(i)])


@SETTINGS
@given(text_with_specials, st.one_of(st.none(), text_with_specials))
def test_special_token_text_in_user_content_is_never_a_special_token(llama3_format, content, context):
    tok = llama3_format.tokenizer
    ids = llama3_format.encode_dialog_prompt([UserMessage(content=content, context=context)])
    header = llama3_format.encode_header("user")
    body = ids[1 + len(header) : -1 - len(llama3_format.encode_header("assistant"))]
    assert not any(tok.is_special(i) for i in body)
    expected = content + ("\n\n" + context if context is not None else "")
    assert tok.decode(body) == expected
    assert sum(tok.is_special(i) for i in ids) == 6  # begin, 2 x (start, end header), eot
