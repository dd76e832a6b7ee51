"""The steps of a turn, as stored and streamed: pydantic models told apart by `step_type`.

    inference          one model call: the assistant message it produced, token usage, timings, and how
                       many history messages were trimmed to fit the context window
    tool_execution     the tool calls of one assistant message and their responses, in the model's order
    shield_call        one touchpoint's shield verdicts (a blocking one ends the turn with its refusal);
                       recommended shields whose model is not installed are listed in `not_installed`
    memory_retrieval   documents ingested into the session's memory bank, or context retrieved from it

Every step is JSON-serialisable (`step.model_dump(mode="json")`) and parsed back with `STEP_ADAPTER`.
Times are UTC datetimes; durations are seconds (float).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from llamasys.core_model.messages import AssistantMessage, ToolCall
from llamasys.safety.verdict import ShieldVerdict
from llamasys.tools.base import Attachment

__all__ = [
    "STEP_ADAPTER",
    "InferenceStep",
    "MemoryRetrievalStep",
    "ShieldCallStep",
    "Step",
    "StepType",
    "ToolExecutionStep",
    "ToolResponse",
    "Usage",
    "new_id",
    "utcnow",
]

StepType = Literal["inference", "tool_execution", "shield_call", "memory_retrieval"]


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Usage(BaseModel):
    """Token counts of one inference. `prefix_tokens_reused`: prompt tokens served from a cached prefix
    (None when the back-end does not say)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    prefix_tokens_reused: int | None = None


class _StepBase(BaseModel):
    step_id: str = Field(default_factory=new_id)
    turn_id: str = ""
    started_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None
    duration_s: float = 0.0


class InferenceStep(_StepBase):
    step_type: Literal["inference"] = "inference"
    model_response: AssistantMessage = Field(default_factory=AssistantMessage)
    usage: Usage = Field(default_factory=Usage)
    timings: dict[str, float] = Field(default_factory=dict, description="seconds: ttft_s, total_s, ...")
    trimmed_messages: int = Field(0, description="history messages dropped to fit the context window")
    tools_offered: bool = Field(True, description="False for a forced tool-free final answer")
    error: str | None = None


class ToolResponse(BaseModel):
    """A tool call's outcome. `content` is what the model was fed; `error` marks a failed call; `blocked`
    a result a tool-output shield replaced (the raw text is never fed back); `source` says who produced
    it: the server-side tool, the client (client-side tools), or the orchestrator itself (unknown tool,
    malformed call, repeated call, denied approval, interruption)."""

    call_id: str
    tool_name: str
    content: str
    error: bool = False
    blocked: bool = False
    source: Literal["tool", "client", "orchestrator"] = "tool"
    attachments: list[Attachment] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ToolExecutionStep(_StepBase):
    step_type: Literal["tool_execution"] = "tool_execution"
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_responses: list[ToolResponse] = Field(default_factory=list)


class ShieldCallStep(_StepBase):
    step_type: Literal["shield_call"] = "shield_call"
    touchpoint: str
    verdicts: list[ShieldVerdict] = Field(default_factory=list)
    violation: ShieldVerdict | None = Field(None, description="the blocking verdict, if any")
    not_installed: list[str] = Field(
        default_factory=list, description="recommended shields skipped because their model is missing"
    )
    call_id: str | None = Field(None, description="the tool call judged (tool_input / tool_output)")


class MemoryRetrievalStep(_StepBase):
    step_type: Literal["memory_retrieval"] = "memory_retrieval"
    memory_bank_ids: list[str] = Field(default_factory=list)
    ingested_documents: list[str] = Field(default_factory=list)
    inserted_context: str = ""


Step = Annotated[
    InferenceStep | ToolExecutionStep | ShieldCallStep | MemoryRetrievalStep,
    Field(discriminator="step_type"),
]
STEP_ADAPTER: TypeAdapter[Any] = TypeAdapter(Step)
