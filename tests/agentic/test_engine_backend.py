"""End to end on a tiny random-weight engine: a real chat format, real tokens, a stored turn."""

from typing import Literal

import pytest
from agent_tools import get_weather
from support import require_in_ci

from llamasys.agentic import EngineBackend
from llamasys.core_model.messages import AssistantMessage, SystemMessage, UserMessage
from llamasys.core_model.sampling_params import SamplingParams
from llamasys.core_model.testing import random_meta_state_dict, tiny_args, write_meta_checkpoint
from llamasys.tools import tool


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    args = tiny_args()
    folder = write_meta_checkpoint(
        tmp_path_factory.mktemp("tiny") / "meta", args, random_meta_state_dict(args, seed=0)
    )
    import torch

    return EngineBackend(str(folder), dtype=torch.float32, max_seq_len=1024, max_batch_size=2)


def test_a_turn_on_the_real_engine_streams_stores_and_counts_tokens(backend, make_agent):
    agent = make_agent(
        backend, instructions="Be brief.", tools=[get_weather], sampling=SamplingParams(max_tokens=12)
    )
    session = agent.create_session()
    result = session.run("Hi")
    assert result.status in ("completed", "max_iterations")
    first = next(s for s in result.steps if s.step_type == "inference")
    fed = [SystemMessage(content="Be brief."), UserMessage(content="Hi")]
    prompt = backend.encode(fed, [get_weather.definition])
    assert first.usage.prompt_tokens == len(prompt)
    assert 1 <= first.usage.completion_tokens <= 12
    assert first.timings["prefill_s"] >= 0 and first.timings["ttft_s"] > 0
    if not first.model_response.tool_calls:
        assert result.output == first.model_response.content
        assert session.messages()[-1] == AssistantMessage(content=result.output)


async def test_streamed_text_is_the_answer_and_greedy_is_repeatable(backend):
    messages = [UserMessage(content="Say something")]
    sampling = SamplingParams(max_tokens=10)
    runs = []
    for _ in range(2):
        chunks = [c async for c in backend.stream(messages, [], sampling)]
        final = chunks[-1]
        assert final.type == "message"
        streamed = "".join(c.text for c in chunks if c.type == "text")
        if not final.message.tool_calls:
            assert streamed == final.message.content
        runs.append(final.message)
    assert runs[0] == runs[1]


async def test_a_prompt_longer_than_the_window_is_a_clear_error(backend):
    from llamasys.agentic import BackendError

    with pytest.raises(BackendError, match="larger max_seq_len"):
        _ = [c async for c in backend.stream([UserMessage(content="word " * 2000)], [], SamplingParams())]


async def test_serving_front_and_worker_thread_give_the_same_completion(backend):
    """Both ways of running the engine off the event loop produce the same greedy message."""
    threaded = EngineBackend(backend.engine, serving=False)
    messages = [UserMessage(content="Compare")]
    sampling = SamplingParams(max_tokens=8)
    a = [c async for c in threaded.stream(messages, [get_weather.definition], sampling)][-1]
    assert a.usage.completion_tokens >= 1
    if not hasattr(backend.engine, "serve"):
        require_in_ci("this engine build has no serving front (engine.serve): only the thread path ran")
    served = EngineBackend(backend.engine, serving=True)
    b = [c async for c in served.stream(messages, [get_weather.definition], sampling)][-1]
    assert a.message == b.message and a.usage.completion_tokens == b.usage.completion_tokens
    assert b.usage.prefix_tokens_reused is not None


@tool
def pick(color: Literal["red", "blue"]) -> str:
    """Pick a colour.

    Args:
        color: The colour.
    """
    return color


@pytest.mark.parametrize("tool_choice", ["required", "pick"])
async def test_required_and_named_tool_choice_give_a_valid_call_on_the_engine(backend, tool_choice):
    """The reply is decoded under the format's tool-call grammar: even random weights produce a call of an
    offered tool whose arguments validate, with no parse error (an enum argument keeps the call short)."""
    import jsonschema

    chunks = [
        c
        async for c in backend.stream(
            [UserMessage(content="Colour?")], [pick.definition], SamplingParams(max_tokens=200), tool_choice
        )
    ]
    message = chunks[-1].message
    assert message.parse_errors == []
    assert [call.tool_name for call in message.tool_calls] == ["pick"]
    jsonschema.validate(message.tool_calls[0].arguments, pick.definition.parameters)


async def test_tool_choice_none_never_calls_and_the_grammar_can_be_turned_off(backend):
    chunks = [
        c
        async for c in backend.stream(
            [UserMessage(content="Weather?")], [get_weather.definition], SamplingParams(max_tokens=40), "none"
        )
    ]
    assert chunks[-1].message.tool_calls == []
    off = EngineBackend(backend.engine, constrain_tool_calls=False)
    assert off.constrain_tool_calls is False and backend.constrain_tool_calls is True
