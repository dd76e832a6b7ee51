"""llamasys.agentic: the orchestrator, its sessions, events, inference back-ends and the agent SDK.

    from llamasys.agentic import Agent, EngineBackend, OpenAIBackend, ScriptedBackend

    agent = Agent("smollm2-135m-instruct", instructions="You are a helpful assistant.", tools=[get_weather])
    result = agent.run("What is the weather in Paris?")
    result.output, result.status, result.steps, result.session_id, result.turn_id

Modules: `agent` (Agent, sessions, sync/async runs, resume), `turn` (the turn loop), `steps` (step
models), `stream_events` (event models), `result` (TurnResult), `store` (SQLAlchemy persistence and
the per-session lock), `backend_base` / `backend_engine` / `backend_openai` / `backend_scripted`
(inference back-ends), `context` (fitting history to the window), `safe_defaults` (recommended
shields), `tracing` (OpenTelemetry spans), `langchain_chat_model` (any back-end as a LangChain chat
model), `errors`. Back-ends that need heavy imports (the engine, httpx, langchain) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .agent import Agent, AgentSession
from .backend_base import InferenceBackend, InferenceChunk, MessageChunk, TextChunk, ToolCallChunk
from .backend_scripted import Planned, ScriptedBackend, ScriptedRequest
from .errors import (
    AgentConfigError,
    AgentError,
    BackendError,
    ResumeError,
    SessionBusyError,
    UnknownSessionError,
)
from .result import PendingCall, TurnResult
from .steps import (
    InferenceStep,
    MemoryRetrievalStep,
    ShieldCallStep,
    Step,
    ToolExecutionStep,
    ToolResponse,
    Usage,
)
from .store import AgentStore
from .stream_events import (
    EVENT_ADAPTER,
    AgentEvent,
    StepComplete,
    StepProgress,
    StepStart,
    TurnAwaitingInput,
    TurnComplete,
    TurnStart,
)

__all__ = [
    "EVENT_ADAPTER",
    "Agent",
    "AgentConfigError",
    "AgentError",
    "AgentEvent",
    "AgentSession",
    "AgentStore",
    "BackendError",
    "EngineBackend",
    "InferenceBackend",
    "InferenceChunk",
    "InferenceStep",
    "LlamasysChatModel",
    "MemoryRetrievalStep",
    "MessageChunk",
    "OpenAIBackend",
    "PendingCall",
    "Planned",
    "ResumeError",
    "ScriptedBackend",
    "ScriptedRequest",
    "SessionBusyError",
    "ShieldCallStep",
    "Step",
    "StepComplete",
    "StepProgress",
    "StepStart",
    "TextChunk",
    "ToolCallChunk",
    "ToolExecutionStep",
    "ToolResponse",
    "TurnAwaitingInput",
    "TurnComplete",
    "TurnResult",
    "TurnStart",
    "UnknownSessionError",
    "Usage",
]

_LAZY = {
    "EngineBackend": ".backend_engine",
    "OpenAIBackend": ".backend_openai",
    "LlamasysChatModel": ".langchain_chat_model",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value
    return value
