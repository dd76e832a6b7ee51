"""The turn loop through ScriptedBackend: events, stored rows and the exact messages the model was fed."""

import json

import pytest
from agent_tools import call, explode, get_weather, multiply, slow

from llamasys.agentic import EVENT_ADAPTER, Planned, ScriptedBackend
from llamasys.core_model.messages import (
    AssistantMessage,
    StopReason,
    SystemMessage,
    ToolResponseMessage,
    UserMessage,
)


def test_tool_round_trip_feeds_the_model_exactly(make_agent):
    backend = ScriptedBackend([call("multiply", "c1", a=1234, b=5678), "1234 * 5678 = 7006652."])
    agent = make_agent(backend, instructions="Be exact.", tools=[multiply])
    result = agent.run("What is 1234 * 5678?")

    assert result.status == "completed"
    assert result.output == "1234 * 5678 = 7006652."
    assert [s.step_type for s in result.steps] == ["inference", "tool_execution", "inference"]
    tool_step = result.steps[1]
    assert tool_step.tool_calls[0].call_id == "c1"
    assert tool_step.tool_responses[0].content == "7006652"
    assert not tool_step.tool_responses[0].error

    first, second = backend.requests
    assert first.messages == [SystemMessage(content="Be exact."), UserMessage(content="What is 1234 * 5678?")]
    assert [t.name for t in first.tools] == ["multiply"]
    assert second.messages == [
        SystemMessage(content="Be exact."),
        UserMessage(content="What is 1234 * 5678?"),
        AssistantMessage(
            tool_calls=[call("multiply", "c1", a=1234, b=5678)], stop_reason=StopReason.end_of_message
        ),
        ToolResponseMessage(call_id="c1", tool_name="multiply", content="7006652"),
    ]

    # the store holds the same turn: steps in order, the conversation, the turn row
    stored = agent.store.steps(result.turn_id)
    assert [s.model_dump() for s in stored] == [s.model_dump() for s in result.steps]
    turn = agent.store.get_turn(result.turn_id)
    assert (turn.status, turn.output, turn.iterations) == ("completed", result.output, 2)
    assert agent.store.messages(result.session_id) == [
        *second.messages[1:],
        AssistantMessage(content=result.output),
    ]
    assert agent.store.get_session(result.session_id).running_turn_id is None


def test_second_turn_sees_the_first(make_agent):
    backend = ScriptedBackend(["Paris.", "About 2.1 million people."])
    agent = make_agent(backend, instructions="")
    first = agent.run("Capital of France?")
    second = agent.run("How many people live there?", session_id=first.session_id)
    assert second.session_id == first.session_id and second.turn_id != first.turn_id
    assert backend.requests[1].messages == [
        UserMessage(content="Capital of France?"),
        AssistantMessage(content="Paris."),
        UserMessage(content="How many people live there?"),
    ]
    assert [t.turn_id for t in agent.get_session(first.session_id).turns()] == [first.turn_id, second.turn_id]


async def test_events_stream_in_order_and_serialise(make_agent):
    backend = ScriptedBackend([call("get_weather", "w1", city="Paris"), "It is sunny in Paris."])
    agent = make_agent(backend, tools=[get_weather])
    session = agent.create_session("weather")
    events = [e async for e in session.turn("Weather in Paris?")]
    kinds = [e.type for e in events]
    assert kinds[0] == "turn_start" and kinds[-1] == "turn_complete"
    assert kinds.count("step_start") == kinds.count("step_complete") == 3
    texts = "".join(e.text for e in events if e.type == "step_progress")
    assert texts == "It is sunny in Paris."
    parsed_calls = [e.tool_call for e in events if e.type == "step_progress" and e.tool_call]
    assert [c.call_id for c in parsed_calls] == ["w1"]
    for event in events:  # one line of JSON each, read back to the same event
        assert EVENT_ADAPTER.validate_json(event.model_dump_json()) == event
    assert json.loads(events[-1].model_dump_json())["result"]["output"] == "It is sunny in Paris."


def test_several_calls_in_one_message_all_run_in_the_models_order(make_agent):
    calls = [
        call("get_weather", "a", city="Rome"),
        call("multiply", "b", a=6, b=7),
        call("get_weather", "c", city="Oslo"),
    ]
    backend = ScriptedBackend([calls, "Done."])
    agent = make_agent(backend, tools=[get_weather, multiply])
    result = agent.run("Three things")
    responses = result.steps[1].tool_responses
    assert [r.call_id for r in responses] == ["a", "b", "c"]
    assert [r.content for r in responses] == ["Sunny, 21 C in Rome", "42", "Sunny, 21 C in Oslo"]
    fed = backend.requests[1].messages
    assert [m.call_id for m in fed if isinstance(m, ToolResponseMessage)] == ["a", "b", "c"]


def test_tool_that_raises_goes_back_to_the_model(make_agent):
    backend = ScriptedBackend([call("explode", "x", reason="test"), "The tool failed."])
    result = make_agent(backend, tools=[explode]).run("Go")
    response = result.steps[1].tool_responses[0]
    assert response.error and "RuntimeError: boom: test" in response.content
    assert backend.requests[1].messages[-1].content == response.content
    assert result.status == "completed"


def test_tool_that_times_out_goes_back_to_the_model(make_agent):
    backend = ScriptedBackend([call("slow", "s", seconds=5), "Too slow."])
    result = make_agent(backend, tools=[slow]).run("Go")
    response = result.steps[1].tool_responses[0]
    assert response.error and "did not finish within 0.2 s" in response.content
    assert response.metadata["kind"] == "timeout"
    assert result.status == "completed"


def test_unknown_tool_goes_back_to_the_model(make_agent):
    backend = ScriptedBackend([call("get_wether", "u", city="Rome"), "Sorry."])
    result = make_agent(backend, tools=[get_weather]).run("Go")
    response = result.steps[1].tool_responses[0]
    assert response.error and response.source == "orchestrator"
    assert "Unknown tool 'get_wether'" in response.content and "get_weather" in response.content
    assert result.status == "completed"


def test_malformed_arguments_go_back_to_the_model(make_agent):
    backend = ScriptedBackend([call("multiply", "m", a="six", b=7), call("multiply", "m2", a=6, b=7), "42"])
    result = make_agent(backend, tools=[multiply]).run("6*7")
    first = result.steps[1].tool_responses[0]
    assert first.error and "a" in first.content
    assert result.steps[3].tool_responses[0].content == "42"
    assert result.output == "42" and result.status == "completed"


def test_truncated_call_text_goes_back_to_the_model(make_agent):
    truncated = AssistantMessage(
        content='{"name": "multiply", "parameters": {"a": 6,',
        stop_reason=StopReason.out_of_tokens,
        parse_errors=["truncated tool call: the JSON ends before it closes"],
    )
    backend = ScriptedBackend([truncated, call("multiply", "ok", a=6, b=7), "42"])
    result = make_agent(backend, tools=[multiply]).run("6*7")
    assert result.status == "completed" and result.output == "42"
    notice = backend.requests[1].messages[-1]
    assert isinstance(notice, UserMessage) and "truncated tool call" in notice.content


def test_repeated_identical_call_is_stopped_then_a_tool_free_answer(make_agent):
    backend = ScriptedBackend(
        [call("get_weather", "r1", city="Rome"), call("get_weather", "r2", city="Rome"), "Sunny in Rome."]
    )
    result = make_agent(backend, tools=[get_weather]).run("Weather?")
    repeat = result.steps[3].tool_responses[0]
    assert repeat.source == "orchestrator" and "already called get_weather" in repeat.content
    assert backend.requests[2].tools == [] and backend.requests[2].tool_choice == "none"
    assert result.status == "completed" and result.output == "Sunny in Rome."
    assert len(backend.requests) == 3


def test_iteration_limit_ends_with_a_tool_free_answer(make_agent):
    backend = ScriptedBackend(
        [call("multiply", "1", a=1, b=1), call("multiply", "2", a=2, b=2), "Best effort: 1 and 4."]
    )
    result = make_agent(backend, tools=[multiply], max_infer_iters=2).run("Go")
    assert result.status == "max_iterations"
    assert result.output == "Best effort: 1 and 4."
    last = backend.requests[2]
    assert last.tools == [] and last.tool_choice == "none"
    assert "tool-calling rounds" in last.messages[-1].content
    assert [s.step_type for s in result.steps].count("inference") == 3


def test_backend_failing_mid_stream_keeps_completed_steps(make_agent):
    backend = ScriptedBackend(
        [call("multiply", "f", a=2, b=3), Planned(content="The answer", fail_with="connection reset")]
    )
    agent = make_agent(backend, tools=[multiply])
    result = agent.run("2*3")
    assert result.status == "failed" and "connection reset" in result.error
    assert [s.step_type for s in result.steps] == ["inference", "tool_execution"]
    assert [s.step_type for s in agent.store.steps(result.turn_id)] == ["inference", "tool_execution"]
    assert agent.store.get_turn(result.turn_id).status == "failed"
    assert agent.store.get_session(result.session_id).running_turn_id is None  # the session is usable again
    backend.extend(["6"])
    assert agent.run("again", session_id=result.session_id).output == "6"


def test_exhausted_script_is_a_failed_turn_with_a_clear_error(make_agent):
    result = make_agent(ScriptedBackend([])).run("hi")
    assert result.status == "failed" and "script is exhausted" in result.error


@pytest.mark.parametrize("bad", [object(), len])
def test_a_tool_that_is_not_a_tool_is_refused(make_agent, bad):
    from llamasys.agentic import AgentConfigError

    with pytest.raises(AgentConfigError, match="tools:"):
        make_agent(ScriptedBackend([]), tools=[bad])


@pytest.mark.parametrize("choice", ["required", "multiply"])
def test_a_forced_tool_choice_holds_until_a_tool_ran_then_the_model_may_answer(make_agent, choice):
    backend = ScriptedBackend([call("multiply", "c1", a=2, b=3), "2 * 3 = 6."])
    agent = make_agent(backend, tools=[multiply], tool_choice=choice)
    result = agent.run("What is 2 * 3?")
    assert result.status == "completed" and result.output == "2 * 3 = 6."
    assert [r.tool_choice for r in backend.requests] == [choice, "auto"]


def test_tool_choice_none_stays_none_after_a_tool_step(make_agent):
    backend = ScriptedBackend([call("multiply", "c1", a=2, b=3), "6"])
    agent = make_agent(backend, tools=[multiply], tool_choice="none")
    agent.run("What is 2 * 3?")
    assert [r.tool_choice for r in backend.requests] == ["none", "none"]
