"""`llamasys eval tools --base-url`: BFCL items asked of an OpenAI-compatible server (ours, over real HTTP
with the official client), its `tool_calls` scored, a reply cut by `max_tokens` reported as truncated."""

from __future__ import annotations

import pytest
from server_fixtures import MODEL_ID
from support import require_in_ci

from llamasys.apps.eval.bfcl import (
    BfclError,
    OpenAIToolModel,
    _messages,
    load_items,
    score_item,
    to_tool_definition,
)

CALL = '<|python_tag|>{"name": "calculate_triangle_area", "parameters": {"base": 10, "height": 5}}<|eom_id|>'


@pytest.fixture(scope="module")
def simple():
    try:
        (item,) = [i for i in load_items(["simple_python"], limit=3) if i.id == "simple_python_0"]
    except BfclError as exc:
        require_in_ci(str(exc))
    return item


def dialog(item):
    return _messages(item, "Use the tools."), [to_tool_definition(f) for f in item.functions]


def test_a_served_tool_call_is_scored_like_bfcl(scripted, simple):
    scripted.engine.reply_with(CALL)
    model = OpenAIToolModel(base_url=scripted.base_url, model=MODEL_ID, max_new_tokens=256)
    (reply,) = model.complete([dialog(simple)])
    result = score_item(simple, reply)
    assert result.valid and result.called and result.schema_valid_calls == 1
    assert not result.truncated


def test_a_reply_cut_by_max_tokens_is_truncated_and_not_a_call(scripted, simple):
    scripted.engine.reply_with(CALL)
    model = OpenAIToolModel(base_url=scripted.base_url, model=MODEL_ID, max_new_tokens=6)
    (reply,) = model.complete([dialog(simple)])
    result = score_item(simple, reply)
    assert result.truncated and not result.called and not result.valid
