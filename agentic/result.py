"""What a turn hands back: `TurnResult` (status, output, steps, pending calls)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from llamasys.core_model.messages import ToolCall

from .steps import Step, Usage

__all__ = ["PendingCall", "TurnResult", "TurnStatus"]

TurnStatus = Literal[
    "running",
    "completed",
    "blocked",
    "awaiting_input",
    "max_iterations",
    "failed",
    "cancelled",
    "interrupted",
]


class PendingCall(BaseModel):
    """A call the turn waits on. kind "client": the client runs the tool and resumes with its response;
    kind "approval": a person approves (the server then runs it) or denies it."""

    call: ToolCall
    kind: Literal["client", "approval"]


class TurnResult(BaseModel):
    """The outcome of one turn.

    status: "completed" | "blocked" (a shield refused; `output` is the refusal) | "awaiting_input"
    (client-side tools or approvals pending, see `pending`) | "max_iterations" (`max_infer_iters`
    reached; `output` is a tool-free final answer) | "failed" (`error` says why; completed steps are
    kept) | "cancelled" | "interrupted" (a stored turn cut short by a crashed process)."""

    session_id: str
    turn_id: str
    status: TurnStatus
    output: str = ""
    steps: list[Step] = Field(default_factory=list)
    pending: list[PendingCall] = Field(default_factory=list)
    error: str | None = None
    usage: Usage = Field(default_factory=Usage)
