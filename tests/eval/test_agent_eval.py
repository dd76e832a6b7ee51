"""The held-out agent tasks through the real Agent and real tools, driven by a scripted back-end."""

from __future__ import annotations

import pytest

from llamasys.apps.eval.agent_eval import run_agent_tasks
from llamasys.apps.eval.agent_tasks import AGENT_TASKS, AgentTask
from llamasys.core_model.messages import ToolCall


def test_scored_by_tool_value_and_schema(sandbox):
    from llamasys.agentic import ScriptedBackend

    tasks = [
        AgentTask(prompt="What is 1234 * 5678? Use Python.", tool="code_interpreter", value="7006652"),
        AgentTask(prompt="Search the web for llamas.", tool="web_search"),
        AgentTask(prompt="Hi!", tool=None),
        AgentTask(prompt="What does our handbook say about leave?", tool="knowledge_search"),
    ]
    backend = ScriptedBackend(
        [
            ToolCall(tool_name="code_interpreter", arguments={"code": "print(1234 * 5678)"}),
            lambda messages: f"It is {messages[-1].content.split()[2]}.",  # quotes the interpreter's stdout
            ToolCall(tool_name="web_search", arguments={"query": 42}),  # wrong type: not schema-valid
            "Here is what I found.",
            "Hello!",
            "I don't know.",  # should have searched the documents
        ]
    )
    report = run_agent_tasks(backend, tasks=tasks, progress=False)
    by_prompt = {i.prompt: i for i in report.items}
    assert by_prompt[tasks[0].prompt].correct and "7006652" in by_prompt[tasks[0].prompt].output
    assert by_prompt[tasks[1].prompt].tool_ok and by_prompt[tasks[1].prompt].schema_valid_calls == 0
    assert by_prompt["Hi!"].correct and by_prompt["Hi!"].calls == 0
    assert not by_prompt[tasks[3].prompt].tool_ok
    assert report.tool_accuracy == 0.75 and report.schema_valid_call_rate == 0.5
    assert report.call_rate_needed == pytest.approx(2 / 3, abs=1e-3)


def test_held_out_tasks_cover_every_kind():
    tools = {t.tool for t in AGENT_TASKS}
    assert tools == {"code_interpreter", "web_search", "knowledge_search", None}
    assert all(t.value for t in AGENT_TASKS if t.tool == "code_interpreter")
    assert any(t.prompt == "What is 1234 * 5678? Use Python." for t in AGENT_TASKS)
    assert any(t.prompt == "Hi, how are you?" and t.tool is None for t in AGENT_TASKS)
