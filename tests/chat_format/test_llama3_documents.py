"""Meta's Llama 3.1 and 3.2 prompt-format documents (shipped in llama-models) encoded and decoded exactly.

Expected token ids are the documented prompt tokenized with `allow_special=True`; Meta's own reference
`ChatFormat` from llama-models is a second oracle.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import llama_models
import pytest
from support import import_or_require

from llamasys.core_model.chat.format import Llama3ChatFormat
from llamasys.core_model.chat.system_prompt import build_system_prompt, json_tools_prompt
from llamasys.core_model.messages import (
    AssistantMessage,
    StopReason,
    SystemMessage,
    ToolCall,
    ToolDefinition,
    ToolResponseMessage,
    UserMessage,
)

DOC_31 = "llama3_1/prompt_format.md"
DOC_32 = "llama3_2/text_prompt_format.md"
MESSAGE = re.compile(
    r"<\|start_header_id\|>(\w+)<\|end_header_id\|>\n\n(.*?)(<\|eot_id\|>|<\|eom_id\|>)", re.S
)
ASSISTANT_PROMPT = "<|start_header_id|>assistant<|end_header_id|>\n\n"
DOC_EXAMPLE = re.compile(
    r"##### Input Prompt Format\n```\n(.*?)\n```\s*##### Model Response Format\n```\n(.*?)\n```", re.S
)


def doc_examples(name: str) -> list[tuple[str, str]]:
    """(input prompt, model response) pairs of a prompt-format document shipped in llama-models."""
    return DOC_EXAMPLE.findall((Path(llama_models.__file__).parent / name).read_text())


def chat_examples(name: str) -> list[tuple[str, str]]:
    return [(p, r) for p, r in doc_examples(name) if p.startswith("<|begin_of_text|><|start_header_id|>")]


def all_chat_examples() -> list[tuple[str, str, str]]:
    out = []
    for name in (DOC_31, DOC_32):
        for i, (prompt, reply) in enumerate(chat_examples(name)):
            out.append((f"{name.split('/')[0]}-{i}", prompt, reply))
    return out


EXAMPLES = all_chat_examples()


def dialog_from_prompt(fmt: Llama3ChatFormat, prompt: str):
    """The messages a documented prompt shows; assistant turns are decoded as a model reply would be."""
    assert prompt.startswith("<|begin_of_text|>") and prompt.endswith(ASSISTANT_PROMPT)
    body = prompt[len("<|begin_of_text|>") : -len(ASSISTANT_PROMPT)]
    messages = []
    consumed = 0
    for match in MESSAGE.finditer(body):
        assert match.start() == consumed, "document prompt has text between messages"
        consumed = match.end()
        role, content, end = match.groups()
        if role == "system":
            messages.append(SystemMessage(content=content))
        elif role == "user":
            messages.append(UserMessage(content=content))
        elif role == "ipython":
            messages.append(ToolResponseMessage(call_id="doc", tool_name="doc", content=content))
        else:
            ids = fmt.tokenizer.encode(content + end, allow_special=True)
            messages.append(fmt.decode_assistant_message(ids))
    assert consumed == len(body)
    return messages


def test_both_documents_are_found():
    assert len(chat_examples(DOC_31)) == 6
    assert len(chat_examples(DOC_32)) == 5


@pytest.mark.parametrize(("name", "prompt", "reply"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_documented_dialogs_encode_to_the_documented_tokens(llama3_format, name, prompt, reply):
    tok = llama3_format.tokenizer
    messages = dialog_from_prompt(llama3_format, prompt)
    fmt = "python_list" if "[get_weather" in prompt else "json"
    ids = llama3_format.encode_dialog_prompt(messages, tool_prompt_format=fmt)
    assert tok.decode(ids) == prompt
    assert ids == header_piecewise_ids(tok, prompt)
    if not re.search(r"<\|end_header_id\|>\n\n\s", prompt):
        assert ids == tok.encode(prompt, allow_special=True)


SPECIAL = re.compile(r"(<\|[a-z_0-9]+\|>)")


def header_piecewise_ids(tok, prompt: str) -> list[int]:
    """The prompt tokenized with specials allowed, except that the "\\n\\n" closing a header is its own
    piece (as Meta's encoder makes it). This only matters when a message starts with whitespace: in the
    pi example the tool result starts with "\\n", and "\\n\\n" + "\\n{" are not the tokens of "\\n\\n\\n{".
    """
    ids: list[int] = []
    after_header = False
    for piece in SPECIAL.split(prompt):
        if SPECIAL.fullmatch(piece):
            ids.append(tok.special_id(piece))
            after_header = piece == "<|end_header_id|>"
            continue
        if after_header and piece.startswith("\n\n"):
            ids += tok.encode("\n\n")
            piece = piece[2:]
        ids += tok.encode(piece) if piece else []
        after_header = False
    return ids


def _meta_messages(messages):
    from llama_models.datatypes import RawMessage
    from llama_models.datatypes import StopReason as MetaStop
    from llama_models.datatypes import ToolCall as MetaToolCall

    out = []
    for m in messages:
        if isinstance(m, AssistantMessage):
            calls = [
                MetaToolCall(call_id=c.call_id, tool_name=c.tool_name, arguments=c.arguments)
                for c in m.tool_calls
            ]
            out.append(
                RawMessage(
                    role="assistant",
                    content=m.content,
                    stop_reason=MetaStop(m.stop_reason.value),
                    tool_calls=calls,
                )
            )
        elif isinstance(m, ToolResponseMessage):
            out.append(RawMessage(role="tool", content=m.content))
        else:
            out.append(RawMessage(role=m.role, content=m.content, context=getattr(m, "context", None)))
    return out


@pytest.fixture(scope="module")
def meta_chat_format():
    chat_format = import_or_require(
        "llama_models.llama3.chat_format",
        "pip install llama-models==0.3.0 (a runtime dependency: Meta's reference code)",
    )
    tokenizer = import_or_require(
        "llama_models.llama3.tokenizer",
        "pip install llama-models==0.3.0 (a runtime dependency: Meta's reference code)",
    )
    return chat_format.ChatFormat(tokenizer.Tokenizer.get_instance())


@pytest.mark.parametrize(("name", "prompt", "reply"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_documented_dialogs_match_metas_reference_encoder(
    llama3_format, meta_chat_format, name, prompt, reply
):
    from llama_models.datatypes import ToolPromptFormat

    messages = dialog_from_prompt(llama3_format, prompt)
    fmt = "python_list" if "[get_weather" in prompt else "json"
    ours = llama3_format.encode_dialog_prompt(messages, tool_prompt_format=fmt)
    theirs = meta_chat_format.encode_dialog_prompt(_meta_messages(messages), ToolPromptFormat(fmt)).tokens
    replayed_non_code_calls = any(
        isinstance(m, AssistantMessage) and m.tool_calls and m.tool_calls[0].tool_name != "code_interpreter"
        for m in messages
    )
    if not replayed_non_code_calls:
        assert ours == theirs
    else:
        # The one deliberate difference (chat_format docstring): the documents, and the model itself, put
        # <|python_tag|> before a replayed built-in or python-list call; the reference encoder does not.
        tag = llama3_format.tokenizer.special_id("<|python_tag|>")
        assert ours != theirs
        assert [t for t in ours if t != tag] == [t for t in theirs if t != tag]
        assert ours.count(tag) == theirs.count(tag) + 1


WEB_SEARCH = ToolDefinition(
    name="web_search",
    description="Search the web",
    parameters={"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
)
WOLFRAM = ToolDefinition(name="wolfram_alpha", description="Compute with Wolfram Alpha")
CODE = ToolDefinition(name="code_interpreter", description="Run Python")
TRENDING_SONGS = ToolDefinition(
    name="trending_songs",
    description="Returns the trending songs on a Music site",
    parameters={
        "type": "object",
        "properties": {
            "n": {"type": "integer", "description": "The number of songs to return"},
            "genre": {"type": "string", "description": "The genre of the songs to return"},
        },
        "required": ["n"],
    },
)
GET_WEATHER = ToolDefinition(
    name="get_weather",
    description="Get weather info for places",
    parameters={
        "type": "object",
        "required": ["city"],
        "properties": {
            "city": {"type": "string", "description": "The name of the city to get the weather for"},
            "metric": {
                "type": "string",
                "description": "The metric for weather. Options are: celsius, fahrenheit",
                "default": "celsius",
            },
        },
    },
)


def test_builder_reproduces_builtin_tool_prompt(llama3_format):
    prompt, _ = chat_examples(DOC_31)[1]
    messages = [
        SystemMessage(content="You are a helpful assistant."),
        UserMessage(content="Search the web for the latest price of 1oz gold?"),
    ]
    ids = llama3_format.encode_dialog_prompt(messages, tools=[WEB_SEARCH, WOLFRAM, CODE])
    assert llama3_format.tokenizer.decode(ids) == prompt
    assert ids == llama3_format.tokenizer.encode(prompt, allow_special=True)


def test_builder_reproduces_function_tag_prompt(llama3_format):
    prompt, _ = chat_examples(DOC_31)[5]
    messages = [
        SystemMessage(content="You are a helpful assistant."),
        UserMessage(content="Use tools to get latest trending songs"),
    ]
    ids = llama3_format.encode_dialog_prompt(
        messages, tools=[TRENDING_SONGS], tool_prompt_format="function_tag"
    )
    assert llama3_format.tokenizer.decode(ids) == prompt


def test_builder_reproduces_json_tool_prompt_up_to_the_schema_layout(llama3_format):
    prompt, _ = chat_examples(DOC_31)[4]
    documented = MESSAGE.findall(prompt)
    assert (
        build_system_prompt(
            tools=[TRENDING_SONGS], instructions="You are a helpful assistant.", today=date(2024, 9, 21)
        )
        == documented[0][1]
    )
    # The document hand-writes a legacy parameter layout; we send the tool's real JSON Schema in the same
    # envelope, head and tail.
    ours = json_tools_prompt([TRENDING_SONGS])
    head, tail = "Here is a list of functions in JSON format:\n", "\n\nReturn function calls in JSON format."
    assert ours.split(head)[0] == documented[1][1].split(head)[0]
    assert ours.endswith(tail) and documented[1][1].endswith(tail)
    envelope = json.loads(ours.split(head)[1][: -len(tail)])
    assert envelope == {
        "type": "function",
        "function": {
            "name": "trending_songs",
            "description": "Returns the trending songs on a Music site",
            "parameters": TRENDING_SONGS.parameters,
        },
    }
    ids = llama3_format.encode_dialog_prompt(
        [
            SystemMessage(content="You are a helpful assistant."),
            UserMessage(content="Use tools to get latest trending songs"),
        ],
        tools=[TRENDING_SONGS],
    )
    text = llama3_format.tokenizer.decode(ids)
    assert text.startswith(
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n" + documented[0][1]
    )
    assert ours + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nUse tools" in text


def test_builder_reproduces_llama32_code_interpreter_prompt(llama32_format):
    prompt, _ = chat_examples(DOC_32)[3]
    user = "Write code to check if number is prime. Use it to verify if number 7 is prime"
    ids = llama32_format.encode_dialog_prompt([UserMessage(content=user)], tools=[CODE])
    assert llama32_format.tokenizer.decode(ids) == prompt


def test_builder_reproduces_llama32_function_list_system_prompt():
    prompt, _ = chat_examples(DOC_32)[1]
    documented_system = MESSAGE.findall(prompt)[0][1]
    ours = build_system_prompt(tools=[GET_WEATHER], tool_prompt_format="python_list", include_date=False)
    assert ours == documented_system


def test_llama32_e2e_history_with_python_list_call(llama3_format):
    prompt, _ = chat_examples(DOC_32)[4]
    system = MESSAGE.findall(prompt)[0][1]
    messages = [
        SystemMessage(content=system),
        UserMessage(content="What is the weather in SF?"),
        AssistantMessage(
            tool_calls=[
                ToolCall(tool_name="get_weather", arguments={"city": "San Francisco", "metric": "celsius"})
            ],
            stop_reason=StopReason.end_of_turn,
        ),
        ToolResponseMessage(call_id="1", tool_name="get_weather", content='"25 C"'),
    ]
    ids = llama3_format.encode_dialog_prompt(messages, tool_prompt_format="python_list")
    assert llama3_format.tokenizer.decode(ids) == prompt


@pytest.fixture(scope="module")
def llama32_format(llama3_tokenizer):
    return Llama3ChatFormat(llama3_tokenizer, today=lambda: date(2024, 9, 24))


PI_JSON_START = '\n{\n    "queryresult": {'

DOCUMENTED_REPLIES = {
    # (document, example index): (content, [(tool name, arguments)], stop reason)
    (DOC_31, 0): ('Here\'s my response\n\n"What is a helpful assistant?"', [], StopReason.end_of_turn),
    (DOC_31, 1): ("", [("brave_search", {"query": "latest price of 1oz gold"})], StopReason.end_of_message),
    (DOC_31, 3): ("The 100th decimal of pi is 7.", [], StopReason.end_of_turn),
    (DOC_31, 4): ("", [("trending_songs", {"n": "10", "genre": "all"})], StopReason.end_of_message),
    (DOC_31, 5): ("", [("trending_songs", {"n": 10})], StopReason.end_of_turn),
    (DOC_32, 1): (
        "",
        [
            ("get_weather", {"city": "San Francisco", "metric": "celsius"}),
            ("get_weather", {"city": "Seattle", "metric": "celsius"}),
        ],
        StopReason.end_of_turn,
    ),
    (DOC_32, 2): ("", [("get_user_info", {"user_id": 7890, "special": "black"})], StopReason.end_of_turn),
    (DOC_32, 4): ("The weather in San Francisco is 25 C.", [], StopReason.end_of_turn),
}


@pytest.mark.parametrize(("doc", "index"), sorted(DOCUMENTED_REPLIES))
def test_documented_replies_decode_to_the_documented_calls(llama3_format, doc, index):
    _, reply = chat_examples(doc)[index]
    content, calls, stop = DOCUMENTED_REPLIES[(doc, index)]
    ids = llama3_format.tokenizer.encode(reply, allow_special=True)
    message = llama3_format.decode_assistant_message(ids, StopReason.out_of_tokens)
    assert message.content == content
    assert [(c.tool_name, c.arguments) for c in message.tool_calls] == calls
    assert message.stop_reason == stop
    assert message.parse_errors == []
    parser = llama3_format.stream_parser()
    for token in ids:
        parser.feed(token)
    assert parser.finish().model_dump(exclude={"tool_calls": {"__all__": {"call_id"}}}) == message.model_dump(
        exclude={"tool_calls": {"__all__": {"call_id"}}}
    )


@pytest.mark.parametrize("doc", [DOC_31, DOC_32])
def test_documented_code_replies_decode_to_code_interpreter_calls(llama3_format, doc):
    index = 2 if doc == DOC_31 else 3
    _, reply = chat_examples(doc)[index]
    message = llama3_format.decode_assistant_message(
        llama3_format.tokenizer.encode(reply, allow_special=True)
    )
    code = reply.removeprefix("<|python_tag|>").removesuffix("<|eom_id|>")
    assert code.startswith("def is_prime(n):") and code.endswith("# Output: True")
    assert [(c.tool_name, c.arguments) for c in message.tool_calls] == [("code_interpreter", {"code": code})]
    assert message.stop_reason == StopReason.end_of_message and message.content == ""


def test_wolfram_history_replays_with_python_tag_and_eom(llama3_format):
    prompt, _ = chat_examples(DOC_31)[3]
    messages = dialog_from_prompt(llama3_format, prompt)
    call_message = messages[2]
    assert isinstance(call_message, AssistantMessage)
    assert [(c.tool_name, c.arguments) for c in call_message.tool_calls] == [
        ("wolfram_alpha", {"query": "100th decimal of pi"})
    ]
    assert call_message.stop_reason == StopReason.end_of_message
    assert messages[3].content.startswith(PI_JSON_START)
