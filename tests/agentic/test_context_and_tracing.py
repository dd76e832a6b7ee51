"""History trimmed to the window (oldest first, calls kept with their results, reported in the step),
and OpenTelemetry spans for turn, inference, tool and shield steps."""

from agent_tools import get_weather
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llamasys.agentic import ScriptedBackend
from llamasys.agentic.backend_base import approximate_tokens
from llamasys.agentic.context import fit_to_window, history_units
from llamasys.core_model.messages import (
    AssistantMessage,
    StopReason,
    SystemMessage,
    ToolCall,
    ToolResponseMessage,
    UserMessage,
)
from llamasys.core_model.sampling_params import SamplingParams


def test_units_are_exchanges_that_keep_each_call_with_its_results():
    call = AssistantMessage(
        tool_calls=[ToolCall(call_id="a", tool_name="t"), ToolCall(call_id="b", tool_name="t")]
    )
    history = [
        UserMessage(content="q1"),
        call,
        ToolResponseMessage(call_id="a", tool_name="t", content="ra"),
        ToolResponseMessage(call_id="b", tool_name="t", content="rb"),
        AssistantMessage(content="answer"),
        UserMessage(content="q2"),
        AssistantMessage(content="answer 2"),
    ]
    assert [len(u) for u in history_units(history)] == [5, 2]
    system = [SystemMessage(content="sys")]
    current = [UserMessage(content="now")]
    count = len  # one token per message
    kept, dropped = fit_to_window(system, history, current, budget=4, count=count)
    assert kept == [*system, *history[5:], *current] and dropped == 5
    kept, dropped = fit_to_window(system, history, current, budget=100, count=count)
    assert dropped == 0 and len(kept) == 9
    kept, dropped = fit_to_window(system, history, current, budget=2, count=count)
    assert kept == [*system, *current] and dropped == 7


def test_agent_trims_old_turns_and_reports_it(make_agent):
    long = "word " * 200
    backend = ScriptedBackend(
        ["first answer " + long, "second answer", "third answer"],
        context_window=800,
    )
    agent = make_agent(backend, instructions="Stay short.", sampling=SamplingParams(max_tokens=100))
    r1 = agent.run("first question " + long)
    r2 = agent.run("second question", session_id=r1.session_id)
    assert r2.steps[0].trimmed_messages == 0
    r3 = agent.run("third question " + long, session_id=r1.session_id)
    fed = backend.requests[2].messages
    assert fed[0] == SystemMessage(content="Stay short.")
    assert fed[-1].content.startswith("third question")
    assert r3.steps[0].trimmed_messages == 2  # the first exchange went, oldest first
    assert fed[1] == UserMessage(content="second question")
    assert approximate_tokens(fed) <= 800 - 100


def test_spans_for_turn_inference_tool_and_shield(make_agent):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    from llamasys.agentic import tracing

    original = tracing._tracer
    tracing._tracer = provider.get_tracer("test")
    try:
        from llamasys.safety import NoopShield

        backend = ScriptedBackend(
            [
                AssistantMessage(
                    tool_calls=[ToolCall(call_id="w", tool_name="get_weather", arguments={"city": "Oslo"})],
                    stop_reason=StopReason.end_of_message,
                ),
                "ok",
            ]
        )
        agent = make_agent(backend, tools=[get_weather], input_shields=[NoopShield()])
        result = agent.run("weather")
    finally:
        tracing._tracer = original
    spans = exporter.get_finished_spans()
    names = [s.name for s in spans]
    assert names.count("agent.inference") == 2 and names.count("agent.tool") == 1
    assert names.count("agent.shield") == 1 and names.count("agent.turn") == 1
    turn = next(s for s in spans if s.name == "agent.turn")
    assert turn.attributes["llamasys.turn_id"] == result.turn_id
    assert turn.attributes["llamasys.status"] == "completed"
    tool_span = next(s for s in spans if s.name == "agent.tool")
    assert tool_span.attributes["llamasys.tool"] == "get_weather"
    assert tool_span.parent.span_id == turn.context.span_id
    assert trace.get_tracer_provider() is not provider  # the global provider was never touched
