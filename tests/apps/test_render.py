"""The event -> chat-message rendering of the Gradio app, on real `llamasys.agentic` event models."""

from __future__ import annotations

from pathlib import Path

from llamasys.agentic.result import PendingCall, TurnResult
from llamasys.agentic.steps import InferenceStep, ShieldCallStep, ToolExecutionStep, ToolResponse, Usage
from llamasys.agentic.stream_events import (
    StepComplete,
    StepProgress,
    StepStart,
    TurnAwaitingInput,
    TurnComplete,
    TurnStart,
)
from llamasys.apps.gradio_app.render import TurnView, render_turn
from llamasys.core_model.messages import AssistantMessage, ToolCall
from llamasys.safety.verdict import ShieldVerdict
from llamasys.tools.base import Attachment

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
CALL = ToolCall(call_id="c1", tool_name="code_interpreter", arguments={"code": "print(1234 * 5678)"})


def tool_turn() -> list:
    allowed = ShieldVerdict(
        shield="llama_guard", touchpoint="user_input", allowed=True, level="none", score=0.01
    )
    return [
        TurnStart(session_id="s", turn_id="t"),
        StepStart(turn_id="t", step_id="sh1", step_type="shield_call"),
        StepComplete(
            turn_id="t",
            step=ShieldCallStep(
                step_id="sh1", touchpoint="user_input", verdicts=[allowed], not_installed=["prompt_guard"]
            ),
        ),
        StepStart(turn_id="t", step_id="i1", step_type="inference"),
        StepProgress(turn_id="t", step_id="i1", tool_call_delta='{"name": "code_interpreter"'),
        StepComplete(
            turn_id="t",
            step=InferenceStep(
                step_id="i1",
                model_response=AssistantMessage(tool_calls=[CALL], stop_reason="end_of_message"),
                usage=Usage(prompt_tokens=120, completion_tokens=20),
                duration_s=0.5,
            ),
        ),
        StepStart(turn_id="t", step_id="x1", step_type="tool_execution"),
        StepComplete(
            turn_id="t",
            step=ToolExecutionStep(
                step_id="x1",
                tool_calls=[CALL],
                tool_responses=[
                    ToolResponse(
                        call_id="c1",
                        tool_name="code_interpreter",
                        content="completed\n[stdout]\n7006652\n[/stdout]",
                        attachments=[Attachment(name="figure.png", mime_type="image/png", data=PNG)],
                        metadata={"duration_s": 0.25},
                    )
                ],
                duration_s=0.3,
            ),
        ),
        StepStart(turn_id="t", step_id="i2", step_type="inference"),
        StepProgress(turn_id="t", step_id="i2", text="1234 * 5678 "),
        StepProgress(turn_id="t", step_id="i2", text="= 7006652."),
        StepComplete(
            turn_id="t",
            step=InferenceStep(
                step_id="i2", model_response=AssistantMessage(content="1234 * 5678 = 7006652.")
            ),
        ),
        TurnComplete(
            result=TurnResult(
                session_id="s", turn_id="t", status="completed", output="1234 * 5678 = 7006652."
            )
        ),
    ]


def test_a_tool_turn_shows_every_step_as_a_box_and_the_answer_as_text(tmp_path):
    view = TurnView("What is 1234 * 5678?", files_dir=tmp_path)
    snapshots = []
    for event in tool_turn():
        snapshots.append([dict(m, metadata=dict(m.get("metadata", {}))) for m in view.feed(event)])
    messages = view.messages
    assert messages[0] == {"role": "user", "content": "What is 1234 * 5678?"}
    boxes = {m["metadata"]["id"]: m for m in messages if "metadata" in m and "id" in m["metadata"]}
    # the shield box: the verdict with its score and the shield that is not installed
    shield = boxes["sh1"]
    assert "your message" in shield["metadata"]["title"] and "⚠️" in shield["metadata"]["title"]
    assert "**llama_guard**: ✅ allowed (score 0.01)" in shield["content"]
    assert "prompt_guard**: ⚠️ not installed" in shield["content"]
    assert view.not_installed == ["prompt_guard"]
    # the inference that asked for the tool: usage in the log, the code shown
    assert boxes["i1"]["metadata"]["title"] == "🧠 Model: calls code_interpreter"
    assert boxes["i1"]["metadata"]["log"] == "120 prompt + 20 new tokens"
    assert "print(1234 * 5678)" in boxes["i1"]["content"]
    # the tool call: nested under its step, arguments, result, its own duration
    call = boxes["c1"]
    tools = boxes[call["metadata"]["parent_id"]]  # shown from the moment the model asked for the tool
    assert tools["metadata"]["title"] == "🛠️ Tools: code_interpreter"
    assert call["metadata"]["title"] == "🛠️ code_interpreter ✅"
    assert call["metadata"]["duration"] == 0.25 and call["metadata"]["status"] == "done"
    assert "```python\nprint(1234 * 5678)\n```" in call["content"] and "7006652" in call["content"]
    # the plot inline, written where the chatbot can serve it
    plots = [m for m in messages if isinstance(m["content"], dict)]
    assert len(plots) == 1 and plots[0]["content"]["mime_type"] == "image/png"
    assert Path(plots[0]["content"]["path"]).read_bytes() == PNG
    # the streamed answer is one plain message, not repeated at the end
    answers = [
        m
        for m in messages
        if m["role"] == "assistant" and "metadata" not in m and isinstance(m["content"], str)
    ]
    assert [a["content"] for a in answers] == ["1234 * 5678 = 7006652."]
    assert all(m["metadata"]["status"] == "done" for m in messages if "metadata" in m)
    # while the tool ran, its box was pending: status goes pending -> done
    during_tool = snapshots[5]  # the model has asked for the tool; it runs
    assert [m["metadata"].get("status") for m in during_tool if m.get("metadata", {}).get("id") == "c1"] == [
        "pending"
    ]
    assert view.status == "completed"


def test_a_blocked_answer_is_withdrawn_and_replaced_by_the_refusal():
    refusal = "I can't answer that. Can I help with something else?"
    block = ShieldVerdict(
        shield="llama_guard",
        touchpoint="assistant_output",
        allowed=False,
        level="block",
        categories=["S2"],
        score=0.93,
        user_message=refusal,
    )
    events = [
        StepStart(turn_id="t", step_id="i1", step_type="inference"),
        StepProgress(turn_id="t", step_id="i1", text="Here is how to "),
        StepComplete(
            turn_id="t",
            step=InferenceStep(step_id="i1", model_response=AssistantMessage(content="Here is how to")),
        ),
        StepStart(turn_id="t", step_id="sh", step_type="shield_call"),
        StepComplete(
            turn_id="t",
            step=ShieldCallStep(
                step_id="sh", touchpoint="assistant_output", verdicts=[block], violation=block
            ),
        ),
        TurnComplete(result=TurnResult(session_id="s", turn_id="t", status="blocked", output=refusal)),
    ]
    messages = render_turn("bad question", events)
    texts = [m["content"] for m in messages if "metadata" not in m]
    assert texts == ["bad question", f"⛔ {refusal}"]
    shield = next(m for m in messages if m.get("metadata", {}).get("id") == "sh")
    assert shield["metadata"]["title"] == "🛡️ Shields on the answer: ⛔ blocked"
    assert "**llama_guard**: ⛔ blocked (S2; score 0.93)" in shield["content"]


def test_approvals_become_buttons_and_json_dumped_events_render_the_same():
    events = [
        TurnAwaitingInput(
            session_id="s",
            turn_id="t",
            pending=[
                PendingCall(
                    call=ToolCall(call_id="k9", tool_name="delete_file", arguments={"path": "a"}),
                    kind="approval",
                )
            ],
        ),
        TurnComplete(result=TurnResult(session_id="s", turn_id="t", status="awaiting_input")),
    ]
    messages = render_turn("remove a", events)
    assert messages[-1]["options"] == [
        {"label": "✅ Approve delete_file", "value": "approve:k9"},
        {"label": "❌ Deny delete_file", "value": "deny:k9"},
    ]
    as_json = [e.model_dump(mode="json") for e in tool_turn()]
    assert render_turn("q", as_json) == render_turn("q", tool_turn())


def test_a_failed_turn_says_why_and_leaves_no_spinner():
    events = [
        StepStart(turn_id="t", step_id="i1", step_type="inference"),
        TurnComplete(
            result=TurnResult(session_id="s", turn_id="t", status="failed", error="server went away")
        ),
    ]
    messages = render_turn("hi", events)
    assert messages[-1]["content"] == "💥 The turn failed: server went away"
    assert messages[1]["metadata"]["status"] == "done" and "not finished" in messages[1]["metadata"]["log"]


def test_a_tool_call_is_pending_while_it_runs_and_its_duration_is_measured_when_the_agent_gives_none():
    ticks = iter([10.0, 12.5, 12.5])
    view = TurnView("q", clock=lambda: next(ticks))
    ask = InferenceStep(
        step_id="i1", model_response=AssistantMessage(tool_calls=[CALL], stop_reason="end_of_message")
    )
    view.feed(StepComplete(turn_id="t", step=ask))
    running = [m for m in view.messages if m.get("metadata", {}).get("id") == "c1"]
    assert running[0]["metadata"]["status"] == "pending"
    view.feed(StepStart(turn_id="t", step_id="x1", step_type="tool_execution"))
    response = ToolResponse(call_id="c1", tool_name="code_interpreter", content="completed")
    view.feed(
        StepComplete(
            turn_id="t", step=ToolExecutionStep(step_id="x1", tool_calls=[CALL], tool_responses=[response])
        )
    )
    assert running[0]["metadata"]["status"] == "done" and running[0]["metadata"]["duration"] == 2.5
