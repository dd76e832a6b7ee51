"""The shield base: fail-closed policy, caller errors, running several shields, verdict JSON."""

from __future__ import annotations

import json
import logging

import pytest

from llamasys.core_model.messages import AssistantMessage, ToolCall, UserMessage
from llamasys.safety import (
    CodeShield,
    NoopShield,
    Shield,
    ShieldInputError,
    ShieldVerdict,
    Touchpoint,
    ViolationLevel,
    first_block,
    run_shields,
)


class Exploding(Shield):
    name = "exploding"

    async def _check(self, messages, touchpoint):
        raise RuntimeError("CUDA out of memory")


async def test_a_crashing_model_gives_an_unavailable_verdict_that_blocks(caplog):
    with caplog.at_level(logging.ERROR):
        verdict = await Exploding().check([UserMessage(content="x")], touchpoint="user_input")
    assert not verdict.allowed and verdict.unavailable and verdict.level == ViolationLevel.block
    assert "CUDA out of memory" in verdict.details["reason"] and "exploding failed" in caplog.text
    lenient = await Exploding(on_unavailable="warn").check(
        [UserMessage(content="x")], touchpoint="user_input"
    )
    assert lenient.allowed and lenient.level == ViolationLevel.warn


async def test_caller_errors_raise():
    with pytest.raises(ShieldInputError, match="at least one message"):
        await NoopShield().check([], touchpoint="user_input")
    with pytest.raises(ShieldInputError, match="not a list"):
        await NoopShield().check([{"role": "robot", "content": "x"}], touchpoint="user_input")
    with pytest.raises(ValueError, match="on_unavailable"):
        NoopShield(on_unavailable="allow")


async def test_run_shields_keeps_order_and_does_not_mutate_messages():
    call = ToolCall(tool_name="code_interpreter", arguments={"code": ":(){ :|:& };:"})
    messages = [{"role": "user", "content": "run it"}, AssistantMessage(tool_calls=[call])]
    snapshot = [m if isinstance(m, dict) else m.model_dump() for m in messages]
    verdicts = await run_shields([NoopShield(), CodeShield()], messages, touchpoint=Touchpoint.tool_input)
    assert [v.shield for v in verdicts] == ["noop", "code_shield"]
    assert first_block(verdicts) is verdicts[1] and verdicts[1].categories == ["SH-FORK-BOMB"]
    assert [m if isinstance(m, dict) else m.model_dump() for m in messages] == snapshot
    assert first_block(verdicts[:1]) is None


def test_verdicts_round_trip_through_json():
    v = ShieldVerdict.violation(
        "llama_guard", Touchpoint.user_input, categories=["S1"], score=0.9, user_message="no"
    )
    again = ShieldVerdict.model_validate(json.loads(v.model_dump_json()))
    assert again == v and again.level == ViolationLevel.block and not again.allowed
