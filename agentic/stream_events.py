"""Events streamed while a turn runs: pydantic models with one `type` field, JSON-serialisable.

    turn_start           a turn began (or a paused one resumed: `resumed=True`)
    step_start           a step began (`step_type`, `step_id`)
    step_progress        text deltas and tool-call deltas of an inference step, as the model writes them
    step_complete        the finished step (timings, token usage, prefix tokens reused, verdicts...)
    turn_awaiting_input  the turn paused for client-side tools or approvals: `pending` lists the calls
    turn_complete        the turn ended; `result` is the same `TurnResult` `Agent.run` returns

`event.model_dump_json()` is one line of JSON; `EVENT_ADAPTER.validate_json(line)` reads it back.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from llamasys.core_model.messages import ToolCall

from .result import PendingCall, TurnResult
from .steps import Step, StepType

__all__ = [
    "EVENT_ADAPTER",
    "AgentEvent",
    "StepComplete",
    "StepProgress",
    "StepStart",
    "TurnAwaitingInput",
    "TurnComplete",
    "TurnStart",
]


class TurnStart(BaseModel):
    type: Literal["turn_start"] = "turn_start"
    session_id: str
    turn_id: str
    resumed: bool = False


class StepStart(BaseModel):
    type: Literal["step_start"] = "step_start"
    turn_id: str
    step_id: str
    step_type: StepType


class StepProgress(BaseModel):
    """`text`: answer text the model just wrote; `tool_call_delta`: raw text of a call being written;
    `tool_call`: a call once it is complete (native back-ends) or parsed."""

    type: Literal["step_progress"] = "step_progress"
    turn_id: str
    step_id: str
    step_type: StepType = "inference"
    text: str = ""
    tool_call_delta: str = ""
    tool_call: ToolCall | None = None


class StepComplete(BaseModel):
    type: Literal["step_complete"] = "step_complete"
    turn_id: str
    step: Step


class TurnAwaitingInput(BaseModel):
    type: Literal["turn_awaiting_input"] = "turn_awaiting_input"
    session_id: str
    turn_id: str
    pending: list[PendingCall]


class TurnComplete(BaseModel):
    type: Literal["turn_complete"] = "turn_complete"
    result: TurnResult


AgentEvent = Annotated[
    TurnStart | StepStart | StepProgress | StepComplete | TurnAwaitingInput | TurnComplete,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(AgentEvent)
