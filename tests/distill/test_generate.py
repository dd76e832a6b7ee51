"""The synthetic data generator: deterministic per seed, every emitted example verifies, bad ones do not."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest
from support import require_in_ci

from llamasys.apps.distill.catalogue import TEMPLATES, draw_tool
from llamasys.apps.distill.generate import (
    DEFAULT_MIX,
    NO_TOOL_KINDS,
    Example,
    GenerateConfig,
    generate,
    parse_mix,
    render_example,
    verify_example,
)
from llamasys.apps.eval.agent_tasks import held_out_prompts
from llamasys.core_model.messages import AssistantMessage, UserMessage

COUNT = 30


@pytest.fixture(scope="module")
def chat_format():
    from llamasys.core_model.chat import make_chat_format
    from llamasys.core_model.checkpoints import read_tokenizer
    from llamasys.core_model.errors import ModelNotDownloadedError

    try:
        tokenizer, template = read_tokenizer("smollm2-135m-instruct")
    except ModelNotDownloadedError as exc:
        require_in_ci(f"the SmolLM2 GGUF is not installed: {exc}")
    return make_chat_format(tokenizer, template)


@pytest.fixture(scope="module")
def generated(chat_format, sandbox):
    config = GenerateConfig(seed=11, count=COUNT, avoid_prompts=sorted(held_out_prompts()))
    first = asyncio.run(generate(config, chat_format=chat_format))
    second = asyncio.run(generate(config, chat_format=chat_format))
    return first, second


def test_same_seed_same_data(generated):
    (a, report_a), (b, report_b) = generated
    assert [e.model_dump_json() for e in a] == [e.model_dump_json() for e in b]
    assert report_a == report_b
    assert report_a.kept + sum(report_a.dropped.values()) == COUNT


def test_every_example_verifies_and_covers_the_kinds(generated, chat_format):
    examples, report = generated[0]
    assert len(examples) >= COUNT - 3
    for example in examples:
        assert verify_example(example, chat_format) == [], example.id
        assert not any(
            isinstance(m, UserMessage) and m.content in held_out_prompts() for m in example.messages
        )
    kinds = {e.kind for e in examples}
    assert {"code", "custom"} <= kinds and kinds & NO_TOOL_KINDS
    code = next(e for e in examples if e.kind == "code")
    (printed,) = code.code_outputs.values()
    assert printed in code.messages[-1].content  # the answer quotes what the sandbox printed


def test_default_mix_has_enough_no_tool_examples():
    assert sum(DEFAULT_MIX[k] for k in NO_TOOL_KINDS) / sum(DEFAULT_MIX.values()) >= 0.15


def _corrupt(example: Example, how: str) -> Example:
    e = example.model_copy(deep=True)
    call_message = next(m for m in e.messages if isinstance(m, AssistantMessage) and m.tool_calls)
    call = call_message.tool_calls[0]
    if how == "answer":
        e.messages[-1] = AssistantMessage(content="I computed it.")
    elif how == "schema":
        key = next(iter(call.arguments))
        call.arguments[key] = {"not": "valid"}
    elif how == "unknown tool":
        call.tool_name = "no_such_tool"
    elif how == "code output":
        e.code_outputs = {call.call_id: "-1"}
    return e


@pytest.mark.parametrize("how", ["answer", "schema", "unknown tool", "code output"])
def test_broken_examples_fail_verification(generated, chat_format, how):
    examples, _ = generated[0]
    code = next(e for e in examples if e.kind == "code")
    assert verify_example(_corrupt(code, how), chat_format) != []


def test_rendering_marks_only_assistant_turns(generated, chat_format):
    example = next(e for e in generated[0][0] if e.kind == "code")
    rendered = render_example(example, chat_format)
    text = [chat_format.tokenizer.decode(rendered.tokens[a:b]) for a, b in rendered.spans]
    assert text[0].startswith("<tool_call>") and text[0].endswith("<|im_end|>")
    assert example.messages[-1].content in text[-1]
    assert rendered.prefix_len < rendered.spans[0][0]
    system = chat_format.tokenizer.decode(rendered.tokens[: rendered.prefix_len])
    assert "You are a helpful assistant." in system and "<tools>" in system


def test_catalogue_avoids_names_and_masks_some():
    rng = random.Random(0)
    forbidden = frozenset(t.name for t in TEMPLATES)
    names = [draw_tool(rng, t, avoid_names=forbidden).name for t in TEMPLATES for _ in range(20)]
    assert not forbidden & set(names)
    descriptions = {draw_tool(random.Random(i), TEMPLATES[0]).definition.description for i in range(60)}
    assert len(descriptions) >= 3  # original, paraphrases and masked descriptions all occur
    tool = draw_tool(random.Random(3), TEMPLATES[3])
    call = tool.sample_call(random.Random(4))
    assert json.loads(json.dumps(call.arguments)) == call.arguments
    assert call.answer_value in call.answer


class _Oracle:
    """A teacher that answers with the generator's own reference turns (looked up by the request)."""

    def __init__(self, examples: list[Example]) -> None:
        self.by_request = {e.messages[1].content: e for e in examples}

    def complete(self, dialogs):
        replies = []
        for messages, _tools in dialogs:
            reference = self.by_request[messages[1].content]
            replies.append(reference.messages[len(messages)])
        return replies


class _Silent:
    """A teacher that never calls a tool."""

    def complete(self, dialogs):
        return [AssistantMessage(content="I cannot help with that.") for _ in dialogs]


def test_teacher_mode_keeps_verified_answers_only(generated, chat_format):
    from llamasys.apps.distill.teacher import teacher_generate

    examples, report = generated[0]
    config = GenerateConfig(seed=11, count=COUNT, avoid_prompts=sorted(held_out_prompts()))
    taught, taught_report = asyncio.run(teacher_generate(config, _Oracle(examples), chat_format=chat_format))
    # the same conversations (the teacher's code is its own, so no exact-stdout expectation is recorded)
    assert [e.model_dump(exclude={"code_outputs"}) for e in taught] == [
        e.model_dump(exclude={"code_outputs"}) for e in examples
    ]
    silent, silent_report = asyncio.run(teacher_generate(config, _Silent(), chat_format=chat_format))
    assert {e.kind for e in silent} <= NO_TOOL_KINDS  # no tool example survives without its calls
    assert sum(silent_report.dropped.values()) >= sum(1 for e in examples if e.kind not in NO_TOOL_KINDS)


class _BatchRecorder(_Oracle):
    """The oracle teacher, recording how many requests each `complete` call carried."""

    def __init__(self, examples: list[Example]) -> None:
        super().__init__(examples)
        self.sizes: list[int] = []

    def complete(self, dialogs):
        self.sizes.append(len(dialogs))
        return super().complete(dialogs)


def test_teacher_mode_batches_in_flight_requests_and_keeps_the_order(generated, chat_format):
    """`batch_size` items in flight: their requests reach the teacher together, never more than
    batch_size per call, and the kept examples are the sequential run's, in the same order."""
    from llamasys.apps.distill.teacher import teacher_generate

    examples, _ = generated[0]
    config = GenerateConfig(seed=11, count=COUNT, avoid_prompts=sorted(held_out_prompts()))
    one, batched = _BatchRecorder(examples), _BatchRecorder(examples)
    sequential, _ = asyncio.run(teacher_generate(config, one, chat_format=chat_format))
    together, _ = asyncio.run(teacher_generate(config, batched, chat_format=chat_format, batch_size=4))
    assert set(one.sizes) == {1} and max(batched.sizes) <= 4
    assert sum(batched.sizes) == sum(one.sizes) and len(batched.sizes) < len(one.sizes)
    assert [e.model_dump() for e in together] == [e.model_dump() for e in sequential]
    # catalogue tools only (no subprocess to wait for): every item asks at once, batches are full
    custom = GenerateConfig(seed=12, count=8, mix={"custom": 1.0})
    reference, _ = asyncio.run(generate(custom, chat_format=chat_format))
    recorder = _BatchRecorder(reference)
    taught, _ = asyncio.run(teacher_generate(custom, recorder, chat_format=chat_format, batch_size=4))
    assert recorder.sizes == [4, 4, 4, 4] and len(taught) == 8  # a call and a final answer per item
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        asyncio.run(teacher_generate(config, batched, chat_format=chat_format, batch_size=0))


class _Broken:
    def complete(self, dialogs):
        raise ConnectionError("teacher server went away")


def test_a_teacher_error_stops_the_run_with_that_error(chat_format):
    from llamasys.apps.distill.teacher import teacher_generate

    config = GenerateConfig(seed=11, count=6, mix={"custom": 1.0})
    with pytest.raises(ConnectionError, match="teacher server went away"):
        asyncio.run(teacher_generate(config, _Broken(), chat_format=chat_format, batch_size=3))


def test_every_catalogue_family_has_near_misses_that_fill_in():
    from llamasys.apps.distill.tasks import NEAR_MISSES, NO_TOOL_FITS, near_miss_request

    assert set(NEAR_MISSES) == {t.name for t in TEMPLATES}
    rng = random.Random(3)
    for template in TEMPLATES:
        for _ in range(6):
            question, answer = near_miss_request(rng, template.name)
            assert "{" not in question and question.strip() and answer.strip()
    assert {near_miss_request(random.Random(i), "factorial")[1] for i in range(40)} & set(NO_TOOL_FITS)
    with pytest.raises(KeyError):
        near_miss_request(rng, "no_such_family")


def test_irrelevant_only_mix_verifies_and_never_calls(chat_format, sandbox):
    config = GenerateConfig(
        seed=5, count=24, mix=parse_mix(",".join(f"{k}=0" for k in DEFAULT_MIX) + ",irrelevant=1")
    )
    examples, report = asyncio.run(generate(config, chat_format=chat_format))
    assert report.kinds == {"irrelevant": 24} and len(examples) == 24
    texts = set()
    for example in examples:
        assert verify_example(example, chat_format) == [], example.id
        assert not any(isinstance(m, AssistantMessage) and m.tool_calls for m in example.messages)
        assert example.tools  # tools are offered: the point is declining them
        texts.add(example.messages[1].content)
    assert len(texts) >= 18  # varied requests, not one template


def test_parse_mix_replaces_named_shares_and_names_bad_entries():
    mix = parse_mix("irrelevant=0.3, custom=0.2")
    assert mix["irrelevant"] == 0.3 and mix["custom"] == 0.2 and mix["code"] == DEFAULT_MIX["code"]
    assert parse_mix("") == DEFAULT_MIX
    for bad, words in [("irelevant=0.3", "KIND=SHARE"), ("code", "KIND=SHARE"), ("code=x", "not a number"),
                       ("code=-1", ">= 0"), (",".join(f"{k}=0" for k in DEFAULT_MIX), "every share")]:  # fmt: skip
        with pytest.raises(ValueError, match=words):
            parse_mix(bad)


@pytest.mark.parametrize("rate", [0.0, 1.0])
def test_optional_rate_sets_every_or_no_optional_parameter(chat_format, sandbox, rate):
    mix = parse_mix(",".join(f"{k}=0" for k in DEFAULT_MIX) + ",custom=1,parallel_multiple=1")
    examples, _ = asyncio.run(generate(GenerateConfig(seed=3, count=16, mix=mix, optional_rate=rate),
                                       chat_format=chat_format))  # fmt: skip
    optional_seen = 0
    for example in examples:
        assert verify_example(example, chat_format) == [], example.id
        offered = {t.name: t.parameters for t in example.tools}
        for call in example.messages[2].tool_calls:
            schema = offered[call.tool_name]
            required = set(schema.get("required", []))
            expected = set(schema["properties"]) if rate == 1.0 else required
            assert set(call.arguments) == expected, (example.id, call)
            optional_seen += len(set(schema["properties"]) - required)
    assert optional_seen > 0  # the families drawn have optional parameters to set or leave out
    with pytest.raises(ValueError, match="less than or equal to 1"):
        GenerateConfig(optional_rate=1.5)


def test_number_style_rate_types_the_requests_numbers_and_every_example_still_verifies(chat_format, sandbox):
    import re

    mix = parse_mix(",".join(f"{k}=0" for k in DEFAULT_MIX) + ",custom=1,parallel=1,irrelevant=1")
    config = GenerateConfig(seed=5, count=40, mix=mix, number_style_rate=1.0)
    examples, stats = asyncio.run(generate(config, chat_format=chat_format))
    assert len(examples) == 40, stats
    typed = 0
    for example in examples:
        assert verify_example(example, chat_format) == [], example.id
        typed += bool(
            re.search(r"[$\u20ac\u00a3]\d|\d,\d{3}\b|\d%|\d(kg|m/s|km|m)\b", example.messages[1].content)
        )
    assert typed >= 3, typed
    with pytest.raises(ValueError, match="less than or equal to 1"):
        GenerateConfig(number_style_rate=2)


def test_the_dataset_manifest_records_the_generator_commit(generated, chat_format, tmp_path):
    import subprocess

    from llamasys.apps.distill.generate import write_dataset

    examples, report = generated[0]
    manifest = write_dataset(tmp_path, examples, report, chat_format, GenerateConfig(seed=11, count=COUNT))
    assert json.loads((tmp_path / "manifest.json").read_text())["source"] == manifest["source"]
    from llamasys.apps.distill import generate as module

    head = subprocess.run(["git", "-C", str(Path(module.__file__).parent), "rev-parse", "HEAD"],
                          capture_output=True, text=True)  # fmt: skip
    if head.returncode != 0:
        assert manifest["source"] is None  # not a git checkout: nothing to record
    else:
        assert manifest["source"]["commit"] == head.stdout.strip()
        assert isinstance(manifest["source"]["modified"], bool)


def test_parallel_multiple_calls_two_to_four_times_across_different_tools(chat_format, sandbox):
    mix = parse_mix(",".join(f"{k}=0" for k in DEFAULT_MIX) + ",parallel_multiple=1")
    examples, report = asyncio.run(
        generate(GenerateConfig(seed=8, count=40, mix=mix), chat_format=chat_format)
    )
    assert len(examples) == 40, report.dropped
    sizes = []
    for example in examples:
        assert verify_example(example, chat_format) == [], example.id
        names = [c.tool_name for c in example.messages[2].tool_calls]
        assert 2 <= len(names) <= 4 and len(set(names)) >= 2, names
        sizes.append((len(names), len(names) > len(set(names))))
    assert {n for n, _ in sizes} == {2, 3, 4}  # every size occurs
    assert any(repeated for _, repeated in sizes)  # some tool is called twice in one reply
