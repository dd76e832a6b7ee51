"""What a shield says about a conversation: the verdict, where it was taken, and the policies around it.

    ```python
    v = ShieldVerdict.violation("llama_guard", Touchpoint.user_input, categories=["S1"], score=0.97,
                                user_message="I can't answer that. Can I help with something else?")
    v.allowed, v.level
    # -> (False, <ViolationLevel.block: 'block'>)
    ```

Every verdict is a pydantic model, so it serialises to JSON for events, logs and the CLI.

- `allowed` is the one bit a caller acts on; `level` says how loud (`none`, `warn`: go on but report,
  `block`: stop and show `user_message` instead).
- `unavailable` is True when the shield could not judge at all (model missing, failed to load, failed
  to run, unreadable output). Such a verdict is never a silent "allowed": the shield's
  `on_unavailable` policy turns it into a block (the default) or an explicit warning.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "OnUnavailable",
    "OnViolation",
    "Refusals",
    "ShieldVerdict",
    "Touchpoint",
    "ViolationLevel",
]


class Touchpoint(StrEnum):
    """Where in an agent's turn a shield looks.

    user_input: the user's message before inference; tool_input: a tool call the model wants to run
    (its arguments, e.g. code); tool_output: a tool's result before it goes back to the model
    (third-party content); assistant_output: the final answer before the user sees it."""

    user_input = "user_input"
    tool_input = "tool_input"
    tool_output = "tool_output"
    assistant_output = "assistant_output"


class ViolationLevel(StrEnum):
    """none: nothing to report; warn: go on, but report it; block: stop and show the refusal."""

    none = "none"
    warn = "warn"
    block = "block"


OnUnavailable = Literal["block", "warn"]
OnViolation = Literal["block", "warn"]


class Refusals(BaseModel):
    """The messages shown to the user instead of a blocked turn. Defaults are Meta's canned texts
    (llama-agentic-system / llama-stack); pass your own to any shield as `refusals=`."""

    llama_guard: str = "I can't answer that. Can I help with something else?"
    prompt_guard: str = "Sorry, I cannot do this."
    code_shield: str = "Sorry, I found security concerns in the code."
    unavailable: str = "Sorry, I can't check this request right now, so I won't act on it."


class ShieldVerdict(BaseModel):
    """One shield's judgement of one touchpoint."""

    shield: str = Field(description="which shield judged, e.g. 'llama_guard'")
    touchpoint: Touchpoint
    allowed: bool
    level: ViolationLevel
    categories: list[str] = Field(default_factory=list, description="violated categories or pattern ids")
    score: float | None = Field(None, description="the shield's probability-like score, if it has one")
    user_message: str | None = Field(None, description="the refusal to show the user when not allowed")
    latency_s: float = 0.0
    unavailable: bool = Field(False, description="True when the shield could not judge at all")
    details: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def allow(cls, shield: str, touchpoint: Touchpoint, **kw: Any) -> ShieldVerdict:
        return cls(shield=shield, touchpoint=touchpoint, allowed=True, level=ViolationLevel.none, **kw)

    @classmethod
    def violation(
        cls,
        shield: str,
        touchpoint: Touchpoint,
        *,
        on_violation: OnViolation = "block",
        user_message: str | None = None,
        **kw: Any,
    ) -> ShieldVerdict:
        """A violation: blocked (with `user_message`), or let through as a warning under `on_violation="warn"`."""
        if on_violation == "warn":
            return cls(shield=shield, touchpoint=touchpoint, allowed=True, level=ViolationLevel.warn, **kw)
        return cls(
            shield=shield,
            touchpoint=touchpoint,
            allowed=False,
            level=ViolationLevel.block,
            user_message=user_message,
            **kw,
        )

    @classmethod
    def unavailable_verdict(
        cls,
        shield: str,
        touchpoint: Touchpoint,
        reason: str,
        *,
        on_unavailable: OnUnavailable = "block",
        user_message: str | None = None,
        **kw: Any,
    ) -> ShieldVerdict:
        """The shield could not judge: blocked by default, or an explicit warning under `"warn"`."""
        details = {"reason": reason, **kw.pop("details", {})}
        blocked = on_unavailable != "warn"
        return cls(
            shield=shield,
            touchpoint=touchpoint,
            allowed=not blocked,
            level=ViolationLevel.block if blocked else ViolationLevel.warn,
            user_message=user_message if blocked else None,
            unavailable=True,
            details=details,
            **kw,
        )
