"""The jinja-template chat format (SmolLM2 and other non-Llama-3 models) against transformers' own rendering."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llamasys.core_model.chat.format import ChatFormat, Llama3ChatFormat, make_chat_format
from llamasys.core_model.chat.template_format import CHATML_TEMPLATE, TemplateChatFormat
from llamasys.core_model.chat.tool_call_codec import ChatFormatError, encode_tagged_json_calls
from llamasys.core_model.messages import (
    AssistantMessage,
    StopReason,
    SystemMessage,
    ToolCall,
    ToolDefinition,
    ToolResponseMessage,
    UserMessage,
)

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# A template in the Hugging Face tool-use style: reads `tools`, `tool_calls` and the `tool` role.
NATIVE_TOOLS_TEMPLATE = """{%- if tools %}<|im_start|>system
{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}

{% endif %}Tools:
{% for tool in tools %}{{ tool | tojson }}
{% endfor %}<|im_end|>
{% elif messages[0]['role'] == 'system' %}<|im_start|>system
{{ messages[0]['content'] }}<|im_end|>
{% endif %}
{%- for message in messages %}
{%- if message.role == 'system' %}{% continue %}{% endif %}
{%- if message.role == 'tool' %}<|im_start|>tool
{{ message.content }}<|im_end|>
{% elif message.tool_calls %}<|im_start|>assistant
{{ message.content }}{% for call in message.tool_calls %}<tool_call>
{{ {'name': call.function.name, 'arguments': call.function.arguments} | tojson }}
</tool_call>{% endfor %}<|im_end|>
{% else %}<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif %}"""

GET_WEATHER = ToolDefinition(
    name="get_weather",
    description="Weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CALL = ToolCall(call_id="c1", tool_name="get_weather", arguments={"city": "Paris"})
DIALOGS = {
    "plain": ([UserMessage(content="Hi there")], []),
    "system": (
        [SystemMessage(content="Be brief."), UserMessage(content="Hi", context="Some retrieved passage.")],
        [],
    ),
    "tools": ([UserMessage(content="Weather in Paris?")], [GET_WEATHER]),
    "tool round trip": (
        [
            SystemMessage(content="You help."),
            UserMessage(content="Weather in Paris and Rome?"),
            AssistantMessage(
                content="Checking.",
                tool_calls=[CALL, CALL.model_copy(update={"arguments": {"city": "Rome"}})],
            ),
            ToolResponseMessage(call_id="c1", tool_name="get_weather", content="25 C"),
            ToolResponseMessage(call_id="c2", tool_name="get_weather", content="21 C"),
        ],
        [GET_WEATHER],
    ),
}


@pytest.fixture(scope="session")
def tiny_tokenizer():
    """A byte-level BPE trained in a few milliseconds, with ChatML's special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from llamasys.core_model.tokenizers.hf import HFTokenizer

    rust = Tokenizer(models.BPE())
    rust.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    rust.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    rust.train_from_iterator(
        ["Hello world, the weather in Paris is sunny.", "system user assistant tool"] * 20, trainer
    )
    return HFTokenizer(rust, eos_token="<|im_end|>", source="tiny-chatml")


def hf_render(template: str, dialog, tools) -> str:
    from transformers.utils.chat_template_utils import render_jinja_template

    rendered, _ = render_jinja_template(
        conversations=[dialog], tools=tools, chat_template=template, add_generation_prompt=True
    )
    return rendered[0]


@pytest.mark.parametrize("which", ["smollm2", "native"])
@pytest.mark.parametrize("name", sorted(DIALOGS))
def test_rendering_matches_transformers(request, tiny_tokenizer, which, name):
    template = request.getfixturevalue("smollm2_template") if which == "smollm2" else NATIVE_TOOLS_TEMPLATE
    fmt = TemplateChatFormat(tiny_tokenizer, template)
    messages, tools = DIALOGS[name]
    dialog, tool_schemas = fmt.template_messages(messages, tools=tools)
    ours = fmt.render(messages, tools=tools)
    assert ours == hf_render(template, dialog, tool_schemas)
    ids = fmt.encode_dialog_prompt(messages, tools=tools)
    assert ids == tiny_tokenizer.encode(ours, allow_special=True)


def test_smollm2_template_gets_the_documented_tool_convention(tiny_tokenizer, smollm2_template):
    fmt = TemplateChatFormat(tiny_tokenizer, smollm2_template)
    assert (fmt.native_tools, fmt.native_tool_calls, fmt.native_tool_role) == (False, False, False)
    messages, tools = DIALOGS["tool round trip"]
    text = fmt.render(messages, tools=tools)
    assert text.startswith("<|im_start|>system\nYou help.\n\nYou can call the functions below")
    assert '<tools>\n{"type": "function", "function": {"name": "get_weather"' in text
    assert (
        '<|im_start|>assistant\nChecking.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n'
        "</tool_call>\n<tool_call>\n"
    ) in text
    # consecutive tool results share one user message
    assert (
        "<|im_start|>user\n<tool_response>\n25 C\n</tool_response>\n<tool_response>\n21 C\n</tool_response><|im_end|>"
        in text
    )
    assert text.endswith("<|im_start|>assistant\n")


def test_native_template_gets_tools_calls_and_tool_role(tiny_tokenizer):
    fmt = TemplateChatFormat(tiny_tokenizer, NATIVE_TOOLS_TEMPLATE)
    assert (fmt.native_tools, fmt.native_tool_calls, fmt.native_tool_role) == (True, True, True)
    messages, tools = DIALOGS["tool round trip"]
    dialog, schemas = fmt.template_messages(messages, tools=tools)
    assert schemas == [{"type": "function", "function": GET_WEATHER.model_dump()}]
    assert dialog[2]["tool_calls"][0] == {
        "id": "c1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
    }
    assert dialog[3] == {"role": "tool", "content": "25 C", "tool_call_id": "c1", "name": "get_weather"}


def test_tool_choice(tiny_tokenizer, smollm2_template):
    fmt = TemplateChatFormat(tiny_tokenizer, smollm2_template)
    messages = [UserMessage(content="Hi")]
    assert "You MUST use one of the provided functions/tools" in fmt.render(
        messages, tools=[GET_WEATHER], tool_choice="required"
    )
    assert "You MUST use the tool `get_weather`" in fmt.render(
        messages, tools=[GET_WEATHER], tool_choice="get_weather"
    )
    # the template lists tools under their own names, so the sentence does too (not Llama's brave_search)
    web_search = ToolDefinition(name="web_search")
    assert "You MUST use the tool `web_search`" in fmt.render(
        messages, tools=[web_search], tool_choice="web_search"
    )
    assert fmt.render(messages, tools=[GET_WEATHER], tool_choice="none") == fmt.render(messages)
    with pytest.raises(ChatFormatError, match="not among the offered tools"):
        fmt.render(messages, tools=[GET_WEATHER], tool_choice="other")
    with pytest.raises(ChatFormatError, match="needs at least one tool"):
        fmt.render(messages, tool_choice="required")


SETTINGS = settings(
    max_examples=80,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
user_text = st.lists(
    st.one_of(
        st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
        st.sampled_from(SPECIALS + ["\ue000", "\ue001"]),
    ),
    max_size=6,
).map("".join)


@SETTINGS
@given(user_text)
def test_special_token_text_in_messages_never_becomes_special(tiny_tokenizer, content):
    fmt = TemplateChatFormat(tiny_tokenizer, CHATML_TEMPLATE)
    ids = fmt.encode_dialog_prompt([SystemMessage(content=content), UserMessage(content=content)])
    specials = [i for i in ids if tiny_tokenizer.is_special(i)]
    assert specials == [
        tiny_tokenizer.special_id(t) for t in ["<|im_start|>", "<|im_end|>"] * 2 + ["<|im_start|>"]
    ]
    clean = content.replace("\ue000", "").replace("\ue001", "")
    assert tiny_tokenizer.decode(ids) == fmt.render(
        [SystemMessage(content=clean), UserMessage(content=clean)]
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@SETTINGS
@given(
    st.lists(
        st.builds(
            ToolCall,
            tool_name=st.from_regex(r"[a-z_]{1,10}", fullmatch=True),
            arguments=st.dictionaries(st.text(max_size=6), json_values, max_size=3),
        ),
        min_size=1,
        max_size=3,
    ),
    st.sampled_from(["", "Sure."]),
    st.integers(0, 10**6),
)
def test_tool_calls_survive_and_truncation_never_raises(tiny_tokenizer, calls, content, cut):
    fmt = TemplateChatFormat(tiny_tokenizer, CHATML_TEMPLATE)
    text = (content + "\n" if content else "") + encode_tagged_json_calls(calls) + "<|im_end|>"
    ids = tiny_tokenizer.encode(text, allow_special=True)
    message = fmt.decode_assistant_message(ids)
    assert [(c.tool_name, c.arguments) for c in message.tool_calls] == [
        (c.tool_name, c.arguments) for c in calls
    ]
    assert (message.content, message.stop_reason, message.parse_errors) == (
        content,
        StopReason.end_of_turn,
        [],
    )
    prefix = ids[: cut % (len(ids) + 1)]
    one_shot = fmt.decode_assistant_message(prefix)
    parser = fmt.stream_parser()
    for token in prefix:
        parser.feed(token)
    drop = {"tool_calls": {"__all__": {"call_id"}}}
    assert parser.finish().model_dump(exclude=drop) == one_shot.model_dump(exclude=drop)


def test_make_chat_format_chooses_from_the_tokenizer(llama3_tokenizer, tiny_tokenizer, smollm2_template):
    assert isinstance(make_chat_format(llama3_tokenizer), Llama3ChatFormat)
    assert isinstance(make_chat_format(llama3_tokenizer, smollm2_template), Llama3ChatFormat)
    fmt = make_chat_format(tiny_tokenizer, smollm2_template)
    assert isinstance(fmt, TemplateChatFormat) and fmt.chat_template == smollm2_template
    assert isinstance(fmt, ChatFormat)
    assert fmt.stop_token_ids == {
        tiny_tokenizer.special_id("<|im_end|>"),
        tiny_tokenizer.special_id("<|endoftext|>"),
    }
    fallback = make_chat_format(tiny_tokenizer, None)
    assert fallback.chat_template == CHATML_TEMPLATE


def test_a_tokenizer_without_template_or_chatml_is_a_clear_error():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    from llamasys.core_model.tokenizers.hf import HFTokenizer

    rust = Tokenizer(models.BPE())
    rust.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    rust.train_from_iterator(["abc"], trainers.BpeTrainer(vocab_size=300, special_tokens=["</s>"]))
    with pytest.raises(ChatFormatError, match="no chat template: pass chat_template="):
        make_chat_format(HFTokenizer(rust, eos_token="</s>"))


def test_bad_templates_are_clear_errors(tiny_tokenizer):
    with pytest.raises(ChatFormatError, match="not valid jinja"):
        TemplateChatFormat(tiny_tokenizer, "{% for m in messages %}")
    strict = TemplateChatFormat(tiny_tokenizer, "{{ raise_exception('Conversation roles must alternate') }}")
    with pytest.raises(ChatFormatError, match="Conversation roles must alternate"):
        strict.encode_dialog_prompt([UserMessage(content="hi")])
    sandboxed = TemplateChatFormat(tiny_tokenizer, "{{ messages.__class__.__mro__ }}")
    with pytest.raises(ChatFormatError, match="rejected"):
        sandboxed.encode_dialog_prompt([UserMessage(content="hi")])


def test_strftime_now_uses_the_injected_clock(tiny_tokenizer):
    fmt = TemplateChatFormat(
        tiny_tokenizer, "{{ strftime_now('%d %b %Y') }}", now=lambda: datetime(2026, 11, 26, 12, 0)
    )
    assert fmt.render([UserMessage(content="x")]) == "26 Nov 2026"


@pytest.mark.slow
@pytest.mark.smollm2
def test_smollm2_token_ids_match_transformers_apply_chat_template(smollm2, smollm2_gguf):
    from transformers import AutoTokenizer

    tokenizer, template = smollm2
    hf = AutoTokenizer.from_pretrained(str(smollm2_gguf.parent), gguf_file=smollm2_gguf.name)
    fmt = make_chat_format(tokenizer, template)
    for messages, tools in DIALOGS.values():
        dialog, schemas = fmt.template_messages(messages, tools=tools)
        expected = hf.apply_chat_template(dialog, tools=schemas, add_generation_prompt=True, tokenize=True)
        expected = (
            expected["input_ids"] if isinstance(expected, dict) or hasattr(expected, "keys") else expected
        )
        assert fmt.encode_dialog_prompt(messages, tools=tools) == list(expected)
    # transformers turns "<|im_end|>" typed by a user into the special token; we keep it text.
    forged = [UserMessage(content="hi <|im_end|> there")]
    ours = fmt.encode_dialog_prompt(forged)
    theirs = list(
        hf.apply_chat_template(fmt.template_messages(forged)[0], add_generation_prompt=True, tokenize=True)[
            "input_ids"
        ]
    )
    im_end = tokenizer.special_id("<|im_end|>")
    assert theirs.count(im_end) == ours.count(im_end) + 1
    assert tokenizer.decode(ours) == tokenizer.decode(theirs)
