"""Tool calls through the server: the model's own syntax decoded by the chat format and answered as OpenAI
`tool_calls` (one or several, streamed and not), read back by the openai client and LangChain's ChatOpenAI;
back-pressure (429) from the engine's queue. Replies are scripted (see conftest.ScriptedEngine)."""

from __future__ import annotations

import json
import threading
import time

import jsonschema
import openai
import pytest
from openai_schema import validate
from server_fixtures import MODEL_ID

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current time in a zone.",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
    },
}
ASK = [{"role": "user", "content": "Weather and time in Paris?"}]
ONE_CALL = '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}<|eom_id|>'
TWO_CALLS = '[get_weather(city="Paris"), get_time(zone="CET")]<|eot_id|>'


def client_for(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)


def test_one_tool_call_not_streamed(scripted):
    scripted.engine.reply_with(ONE_CALL)
    raw = client_for(scripted).chat.completions.with_raw_response.create(
        model=MODEL_ID, messages=ASK, tools=[WEATHER, TIME], tool_choice="auto", max_tokens=64
    )
    body = raw.http_response.json()
    validate(body, "CreateChatCompletionResponse")
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["type"] == "function" and call["id"]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}


def test_several_calls_streamed_with_index_and_name_once(scripted):
    scripted.engine.reply_with(TWO_CALLS)
    client = client_for(scripted)
    seen: dict[int, list] = {}
    with client.chat.completions.stream(
        model=MODEL_ID, messages=ASK, tools=[WEATHER, TIME], tool_choice="required", max_tokens=64
    ) as stream:
        for event in stream:
            if event.type != "chunk":
                continue
            chunk = event.chunk.to_dict()
            validate(chunk, "CreateChatCompletionStreamResponse")
            for call in chunk["choices"][0]["delta"].get("tool_calls") or []:
                seen.setdefault(call["index"], []).append(call)
        final = stream.get_final_completion()
    assert sorted(seen) == [0, 1]
    for deltas in seen.values():
        assert sum(1 for d in deltas if d.get("function", {}).get("name")) == 1
        assert deltas[0]["id"] and deltas[0]["type"] == "function"
    message = final.choices[0].message
    assert final.choices[0].finish_reason == "tool_calls"
    assert [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"zone": "CET"}),
    ]


def test_tool_results_go_back_into_the_prompt(scripted):
    engine = scripted.engine
    engine.reply_with("It is sunny in Paris.<|eot_id|>")
    messages = [
        *ASK,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"},
    ]
    reply = client_for(scripted).chat.completions.create(model=MODEL_ID, messages=messages, tools=[WEATHER])
    assert reply.choices[0].message.content == "It is sunny in Paris."
    assert reply.choices[0].finish_reason == "stop"
    prompt = engine.tokenizer.decode(engine.prompts[-1])
    assert "sunny, 21 C" in prompt and "get_weather" in prompt
    with pytest.raises(openai.BadRequestError, match="answers no tool call"):
        client_for(scripted).chat.completions.create(model=MODEL_ID, messages=[*ASK, messages[-1]])


def test_named_tool_choice_must_be_offered(scripted):
    with pytest.raises(openai.BadRequestError, match="not among the tools"):
        client_for(scripted).chat.completions.create(
            model=MODEL_ID,
            messages=ASK,
            tools=[WEATHER],
            tool_choice={"type": "function", "function": {"name": "get_time"}},
        )


def test_langchain_chat_openai_bind_tools(scripted):
    from langchain_openai import ChatOpenAI

    scripted.engine.reply_with(ONE_CALL, TWO_CALLS)
    llm = ChatOpenAI(
        model=MODEL_ID, base_url=scripted.base_url, api_key="unused", max_retries=0, temperature=0
    )
    bound = llm.bind_tools([WEATHER, TIME])
    message = bound.invoke("Weather in Paris?")
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("get_weather", {"city": "Paris"})]
    streamed = None
    for part in bound.stream("Weather and time?"):
        streamed = part if streamed is None else streamed + part
    assert [(c["name"], c["args"]) for c in streamed.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"zone": "CET"}),
    ]


def test_full_queue_answers_429(scripted):
    engine = scripted.engine
    client = client_for(scripted)
    engine.gate.clear()  # scripted replies hold before their first token
    engine.reply_with("one<|eot_id|>", "two<|eot_id|>")
    results: list = []

    def ask() -> None:
        results.append(client.chat.completions.create(model=MODEL_ID, messages=ASK, max_tokens=8))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while scripted.health()["requests"].get("running", 0) < 2:
            assert time.monotonic() < deadline, "the two requests never started"
            time.sleep(0.02)
        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(model=MODEL_ID, messages=ASK, max_tokens=8)
        validate(info.value.response.json(), "ErrorResponse")
        assert info.value.response.headers.get("retry-after") == "1"
    finally:
        engine.gate.set()
        for t in threads:
            t.join(timeout=30)
    assert sorted(r.choices[0].message.content for r in results) == ["one", "two"]


def test_agent_turn_through_openai_backend(scripted, tmp_path):
    """Our own agent on our own server: OpenAIBackend streams the call, the tool runs, the answer comes back."""
    from llamasys.agentic import Agent, OpenAIBackend
    from llamasys.tools import tool

    calls = []

    @tool
    def get_weather(city: str) -> str:
        """Current weather in a city.

        Args:
            city: The city.
        """
        calls.append(city)
        return "sunny, 21 C"

    scripted.engine.reply_with(ONE_CALL, "It is sunny in Paris.<|eot_id|>")
    agent = Agent(
        OpenAIBackend(base_url=scripted.base_url, model=MODEL_ID, max_retries=0),
        tools=[get_weather],
        default_shields=False,
        store=f"sqlite:///{tmp_path / 'agents.db'}",
    )
    result = agent.run("Weather in Paris?")
    assert result.status == "completed", result
    assert calls == ["Paris"]
    assert result.output == "It is sunny in Paris."
    assert "sunny, 21 C" in scripted.engine.tokenizer.decode(scripted.engine.prompts[-1])


ENUM_CITY = {
    "type": "object",
    "properties": {"city": {"type": "string", "enum": ["Paris", "Rome"]}},
    "required": ["city"],
    "additionalProperties": False,
}
ENUM_ZONE = {
    "type": "object",
    "properties": {
        "zone": {"type": "string", "enum": ["CET", "UTC"]},
        "hours": {"type": "integer", "minimum": 0, "maximum": 23},
    },
    "required": ["zone", "hours"],
    "additionalProperties": False,
}


@pytest.mark.parametrize("stream", [False, True])
def test_required_tool_choice_gives_valid_calls_on_the_real_model(server, stream):
    """Structured generation: a random-weight model under tool_choice="required" / a named tool writes calls
    of offered tools whose arguments validate against their schemas."""
    client = client_for(server)
    # closed argument values, so a random model's strings cannot run past the budget
    tools = [
        {"type": "function", "function": {**WEATHER["function"], "parameters": ENUM_CITY}},
        {"type": "function", "function": {**TIME["function"], "parameters": ENUM_ZONE}},
    ]
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
    for seed, choice in ((1, "required"), (2, {"type": "function", "function": {"name": "get_time"}})):
        kw = dict(
            model=MODEL_ID,
            messages=ASK,
            tools=tools,
            tool_choice=choice,
            temperature=1.0,
            seed=seed,
            max_tokens=160,
        )
        if stream:
            with client.chat.completions.stream(**kw) as s:
                for event in s:
                    if event.type == "chunk":
                        validate(event.chunk.to_dict(), "CreateChatCompletionStreamResponse")
                completion = s.current_completion_snapshot
            message, finish = completion.choices[0].message, completion.choices[0].finish_reason
            calls = [(c.function.name, c.function.arguments) for c in message.tool_calls or []]
        else:
            raw = client.chat.completions.with_raw_response.create(**kw)
            body = raw.http_response.json()
            validate(body, "CreateChatCompletionResponse")
            finish = body["choices"][0]["finish_reason"]
            calls = [
                (c["function"]["name"], c["function"]["arguments"])
                for c in body["choices"][0]["message"]["tool_calls"] or []
            ]
        assert finish == "tool_calls" and calls, (finish, calls)
        for name, arguments in calls:
            assert name in schemas if choice == "required" else name == "get_time"
            jsonschema.validate(json.loads(arguments), schemas[name])


def test_tool_choice_none_writes_no_call_on_the_real_model(server):
    client = client_for(server)
    for seed in (1, 2):
        reply = client.chat.completions.create(
            model=MODEL_ID,
            messages=ASK,
            tools=[WEATHER, TIME],
            tool_choice="none",
            temperature=1.0,
            seed=seed,
            max_tokens=24,
        )
        assert not reply.choices[0].message.tool_calls
        assert reply.choices[0].finish_reason in ("stop", "length")


def test_client_gone_before_a_non_streamed_reply_cancels_it(scripted):
    engine = scripted.engine
    engine.gate.clear()  # the scripted reply holds before its first token
    engine.reply_with("never read<|eot_id|>")
    before = scripted.health()["requests"]["cancelled"]
    client = openai.OpenAI(base_url=scripted.base_url, api_key="unused", max_retries=0, timeout=1.0)
    try:
        with pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(model=MODEL_ID, messages=ASK, max_tokens=8)
        deadline = time.monotonic() + 30
        while scripted.health()["requests"]["cancelled"] == before:
            assert time.monotonic() < deadline, "the server never noticed the client had gone"
            time.sleep(0.05)
    finally:
        engine.gate.set()
    reply = client_for(scripted).chat.completions.create(model=MODEL_ID, messages=ASK, max_tokens=2)
    assert reply.choices
