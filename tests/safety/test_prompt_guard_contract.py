"""Prompt Guard's verdict details, its threshold at exact equality and its input errors, word for word.

Found unpinned by `make mutation` (prompt_guard): `details["threshold"]` / `details["version"]`, a score
exactly at the threshold (the existing test checks 1e-6 either side), and the texts of the
wrong-last-message errors."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from transformers import AutoTokenizer

from llamasys.core_model.messages import AssistantMessage, UserMessage
from llamasys.core_model.testing import write_random_prompt_guard
from llamasys.safety import PromptGuard, ShieldInputError


class Constant(torch.nn.Module):
    """A v1 classifier (BENIGN, INJECTION, JAILBREAK) giving the same logits for every window."""

    def __init__(self, logits):
        super().__init__()
        labels = {0: "BENIGN", 1: "INJECTION", 2: "JAILBREAK"}
        self.config = SimpleNamespace(num_labels=3, id2label=labels, max_position_embeddings=32)
        self.logits = torch.tensor(logits)

    def forward(self, input_ids, attention_mask):
        return SimpleNamespace(logits=self.logits.expand(input_ids.shape[0], -1).float())


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return AutoTokenizer.from_pretrained(
        write_random_prompt_guard(tmp_path_factory.mktemp("pg"), num_labels=3, max_len=32)
    )


async def test_a_score_exactly_at_the_threshold_blocks_and_details_say_what_decided(tokenizer):
    model = (Constant([0.0, 0.0, 1.0]), tokenizer)
    score = PromptGuard(model).jailbreak_score("x")
    verdict = await PromptGuard(model, threshold=score).check(
        [UserMessage(content="x")], touchpoint="user_input"
    )
    assert not verdict.allowed and verdict.score == score
    assert verdict.details["threshold"] == score and verdict.details["version"] == 1
    assert verdict.details["jailbreak_score"] == score


async def test_the_wrong_last_message_is_refused_in_these_words(tokenizer):
    pg = PromptGuard((Constant([0.0, 0.0, 1.0]), tokenizer))
    with pytest.raises(ShieldInputError) as user:
        await pg.check([AssistantMessage(content="hi")], touchpoint="user_input")
    assert (
        str(user.value)
        == "a user_input check judges a user message, but the last message is AssistantMessage"
    )
    with pytest.raises(ShieldInputError) as tool:
        await pg.check([UserMessage(content="x")], touchpoint="tool_output")
    assert str(tool.value) == (
        "a tool_output check judges the tool's result, but the last message is UserMessage: "
        "pass the conversation up to and including the ToolResponseMessage"
    )
