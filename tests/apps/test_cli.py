"""`llamasys run` and `llamasys chat` on the agent: the model is scripted, the code interpreter is real."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from llamasys.agentic.backend_scripted import ScriptedBackend
from llamasys.agentic.stream_events import EVENT_ADAPTER
from llamasys.apps import agent_factory
from llamasys.apps.cli import app
from llamasys.core_model.messages import ToolCall

CODE = ToolCall(call_id="c1", tool_name="code_interpreter", arguments={"code": "print(1234 * 5678)"})


@pytest.fixture
def scripted(monkeypatch):
    """Replace only the model: `build_backend(settings)` returns a ScriptedBackend with this plan."""
    backends = []

    def plan(script):
        def build(settings):
            backend = ScriptedBackend(script)
            backends.append((settings, backend))
            return backend

        monkeypatch.setattr(agent_factory, "build_backend", build)
        return backends

    monkeypatch.setenv("LLAMASYS_TOOLS_ENABLED", "code_interpreter")
    return plan


def test_run_json_prints_every_event_as_a_json_line(scripted):
    backends = scripted([CODE, "1234 * 5678 = 7006652"])
    result = CliRunner().invoke(app, ["run", "What is 1234 * 5678?", "--json", "--temperature", "0.3"])
    assert result.exit_code == 0, result.output + result.stderr
    events = [EVENT_ADAPTER.validate_json(line) for line in result.stdout.splitlines()]
    assert events[0].type == "turn_start" and events[-1].type == "turn_complete"
    assert events[-1].result.status == "completed" and events[-1].result.output == "1234 * 5678 = 7006652"
    (tool_step,) = [
        e.step for e in events if e.type == "step_complete" and e.step.step_type == "tool_execution"
    ]
    assert "7006652" in tool_step.tool_responses[0].content  # computed in the sandboxed interpreter
    settings, backend = backends[0]
    assert settings.temperature == 0.3  # the flag reached the settings under its one name
    assert backend.requests[0].sampling.temperature == 0.3
    assert [t.name for t in backend.requests[0].tools] == ["code_interpreter"]


def test_run_prints_the_answer_and_the_steps_and_fails_loudly_when_blocked(scripted):
    scripted([CODE, "The product is 7006652."])
    result = CliRunner().invoke(app, ["run", "What is 1234 * 5678?"])
    assert result.exit_code == 0, result.output + result.stderr
    assert result.stdout.strip() == "The product is 7006652."
    assert "code_interpreter" in result.stderr and "7006652" in result.stderr  # the tool step
    assert "not installed" in result.stderr  # Llama Guard / Prompt Guard are not on this machine
    # code the scanner blocks: the turn goes on without running it, the model is told
    scripted(
        [
            ToolCall(
                call_id="c2",
                tool_name="code_interpreter",
                arguments={"code": "import os; os.system('rm -rf /')"},
            ),
            "I won't run that.",
        ]
    )
    result = CliRunner().invoke(app, ["run", "wipe the disk"])
    assert "code_shield" in result.stderr and "BLOCK" in result.stderr


def test_chat_keeps_one_session_per_conversation_and_new_starts_another(scripted):
    backends = scripted(["Hello!", "You said hello.", "Fresh start."])
    result = CliRunner().invoke(
        app, ["chat", "--no-tools"], input="hello\nwhat did I say?\n/new\nagain\n/exit\n"
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert result.stdout.splitlines() == ["Hello!", "You said hello.", "Fresh start."]
    ((_, backend),) = backends
    second, third = backend.requests[1].messages, backend.requests[2].messages
    assert [m.content for m in second if m.role == "user"] == ["hello", "what did I say?"]
    assert [m.content for m in third if m.role == "user"] == ["again"]  # /new: a new session
    assert backend.requests[0].tools == []


def test_a_bad_setting_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("LLAMASYS_TEMPERATURE", "hot")
    result = CliRunner().invoke(app, ["run", "hi"])
    assert result.exit_code == 2
    assert "temperature" in result.stderr and "LLAMASYS_TEMPERATURE" in result.stderr
