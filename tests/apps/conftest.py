"""Fixtures for the app tests: a scripted agent with a real tool, and a Gradio app served on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os

import pytest

from llamasys.agentic import Agent
from llamasys.agentic.backend_scripted import ScriptedBackend
from llamasys.core_model.messages import ToolCall
from llamasys.tools import tool


@tool
def multiply(a: int, b: int) -> str:
    """Multiply two integers exactly.

    Args:
        a: The first factor.
        b: The second factor.
    """
    return str(a * b)


def scripted_agent(tmp_path, script, **kwargs) -> Agent:
    """An agent whose model replays `script`, storing in a SQLite file under tmp_path; the recommended
    shields (Llama Guard / Prompt Guard are not installed here, so they are reported as such)."""
    return Agent(
        ScriptedBackend(script),
        tools=kwargs.pop("tools", [multiply]),
        store=f"sqlite:///{tmp_path / 'agents.db'}",
        **kwargs,
    )


def multiply_script() -> list:
    return [
        ToolCall(call_id="call-1", tool_name="multiply", arguments={"a": 1234, "b": 5678}),
        "1234 times 5678 is 7006652.",
    ]


@contextlib.contextmanager
def served(demo):
    """Launch `demo` on a free 127.0.0.1 port (Gradio's own test pattern) and yield its URL."""
    from llamasys.apps.gradio_app import launch

    _, url, _ = launch(demo, host="127.0.0.1", port=None, prevent_thread_lock=True, quiet=True)
    try:
        yield url
    finally:
        demo.close()


@pytest.fixture
def make_agent(tmp_path):
    return lambda script, **kwargs: scripted_agent(tmp_path, script, **kwargs)


@pytest.fixture
def serve():
    return served


@pytest.fixture
def multiply_plan():
    return multiply_script()


@pytest.fixture(autouse=True)
def _gradio_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("LLAMASYS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    os.environ.pop("HTTP_PROXY", None)
