"""POST /v1/chat/completions on a tiny random-weight model, through the official openai client; every body and
chunk is validated against OpenAI's published OpenAPI schema."""

from __future__ import annotations

import json
import time

import httpx
import jsonschema
import openai
import pytest
from openai_schema import validate
from server_fixtures import MODEL_ID

from llamasys.core_model.messages import UserMessage

QUESTION = [{"role": "user", "content": "Say something about the weather."}]


def client_for(server, **kw) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=kw.pop("api_key", "unused"), max_retries=0, **kw)


def create_raw(client: openai.OpenAI, **kw) -> dict:
    raw = client.chat.completions.with_raw_response.create(model=MODEL_ID, **kw)
    body = raw.http_response.json()
    validate(body, "CreateChatCompletionResponse")
    return body


def test_models_list_the_served_id(server):
    client = client_for(server)
    raw = client.models.with_raw_response.list()
    body = raw.http_response.json()
    validate(body, "ListModelsResponse")
    ids = [m["id"] for m in body["data"]]
    assert ids[0] == MODEL_ID and "all-minilm-l6-v2" in ids
    validate(client.models.with_raw_response.retrieve(MODEL_ID).http_response.json(), "Model")
    model = client.models.retrieve(MODEL_ID)
    assert model.id == MODEL_ID and model.owned_by == "llamasys"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_greedy_completion_and_usage(server):
    client = client_for(server)
    body = create_raw(client, messages=QUESTION, temperature=0, max_tokens=12)
    [choice] = body["choices"]
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] in ("stop", "length")
    usage = body["usage"]
    assert 1 <= usage["completion_tokens"] <= 12
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    again = create_raw(client, messages=QUESTION, temperature=0, max_tokens=12)
    assert again["choices"][0]["message"]["content"] == choice["message"]["content"]
    # the model's own encoding of the same conversation
    prompt = server.engine.chat_format.encode_dialog_prompt([UserMessage(content=QUESTION[0]["content"])])
    assert usage["prompt_tokens"] == len(prompt)


def test_seed_makes_sampling_reproducible(server):
    client = client_for(server)
    kw = dict(messages=QUESTION, temperature=1.0, top_p=1.0, max_tokens=16, seed=1234)
    a = client.chat.completions.create(model=MODEL_ID, **kw)
    b = client.chat.completions.create(model=MODEL_ID, **kw)
    assert a.choices[0].message.content == b.choices[0].message.content


def test_stream_accumulates_to_the_same_message(server):
    client = client_for(server)
    whole = create_raw(client, messages=QUESTION, temperature=0, max_tokens=24)
    chunks = []
    with client.chat.completions.stream(
        model=MODEL_ID,
        messages=QUESTION,
        temperature=0,
        max_tokens=24,
        stream_options={"include_usage": True},
    ) as stream:
        for event in stream:
            if event.type == "chunk":
                chunk = event.chunk.to_dict()
                validate(chunk, "CreateChatCompletionStreamResponse")
                chunks.append(chunk)
        # the helper's accumulated message (get_final_completion() refuses finish_reason 'length')
        final = stream.current_completion_snapshot
    message = whole["choices"][0]["message"]
    assert final.choices[0].message.content == message["content"]
    assert final.choices[0].finish_reason == whole["choices"][0]["finish_reason"]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert len({c["id"] for c in chunks}) == 1
    # include_usage: every chunk says usage null, the last has no choices and the usage
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == whole["usage"]
    finishes = [c["choices"][0]["finish_reason"] for c in chunks[:-1]]
    assert finishes[-1] is not None and all(f is None for f in finishes[:-1])


def test_logprobs_with_alternatives(server):
    client = client_for(server)
    body = create_raw(client, messages=QUESTION, temperature=0, max_tokens=6, logprobs=True, top_logprobs=3)
    choice = body["choices"][0]
    entries = choice["logprobs"]["content"]
    assert len(entries) == body["usage"]["completion_tokens"] - (choice["finish_reason"] == "stop")
    for entry in entries:
        assert len(entry["top_logprobs"]) == 3
        assert entry["logprob"] <= 0.0
        # greedy: the chosen token is the likeliest
        assert entry["logprob"] == pytest.approx(entry["top_logprobs"][0]["logprob"], abs=1e-5)
        assert bytes(entry["bytes"]).decode("utf-8", errors="replace") == entry["token"]
    # streamed, the same entries arrive (with alternatives in one chunk before the last)
    streamed = []
    for chunk in client.chat.completions.create(
        model=MODEL_ID,
        messages=QUESTION,
        temperature=0,
        max_tokens=6,
        logprobs=True,
        top_logprobs=3,
        stream=True,
    ):
        validate(chunk.to_dict(), "CreateChatCompletionStreamResponse")
        if chunk.choices and chunk.choices[0].logprobs:
            streamed += [e.to_dict() for e in chunk.choices[0].logprobs.content]
    assert streamed == entries
    # without alternatives they come with the text chunks
    plain = []
    for chunk in client.chat.completions.create(
        model=MODEL_ID, messages=QUESTION, temperature=0, max_tokens=6, logprobs=True, stream=True
    ):
        validate(chunk.to_dict(), "CreateChatCompletionStreamResponse")
        if chunk.choices and chunk.choices[0].logprobs:
            plain += [(e.token, round(e.logprob, 4)) for e in chunk.choices[0].logprobs.content]
    assert plain == [(e["token"], round(e["logprob"], 4)) for e in entries]


def test_stop_string_cuts_the_text(server):
    client = client_for(server)
    text = client.chat.completions.create(model=MODEL_ID, messages=QUESTION, temperature=0, max_tokens=40)
    content = text.choices[0].message.content
    stop = next((content[i : i + 2] for i in range(3, len(content) - 2) if content[i : i + 2].strip()), None)
    if stop is None:
        pytest.fail(f"the tiny model's greedy text {content!r} is too short to pick a stop string from")
    body = create_raw(client, messages=QUESTION, temperature=0, max_tokens=40, stop=[stop])
    assert body["choices"][0]["message"]["content"] == content[: content.index(stop)]
    assert body["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("kw", "status", "param"),
    [
        ({"temperature": 5}, 400, "temperature"),
        ({"n": 2}, 400, "n"),
        ({"tool_choice": "required"}, 400, "tool_choice"),
        ({"messages": []}, 400, "messages"),
        ({"model": "gpt-4o"}, 404, "model"),
        ({"max_tokens": 100_000}, 413, "messages"),
        ({"messages": [{"role": "user", "content": "word " * 2500}]}, 413, "messages"),
        ({"top_logprobs": 2}, 400, "top_logprobs"),
    ],
)
def test_bad_requests_get_openai_errors(server, kw, status, param):
    client = client_for(server)
    args = {"model": MODEL_ID, "messages": QUESTION, "max_tokens": 4} | kw
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(**args)
    assert info.value.status_code == status
    body = info.value.response.json()
    validate(body, "ErrorResponse")
    assert body["error"]["param"] == param
    assert body["error"]["message"]


SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}, "level": {"type": "string", "enum": ["low", "high"]}},
    "required": ["ok", "level"],
    "additionalProperties": False,
}


def test_response_format_json_schema_constrains_the_reply(server):
    client = client_for(server)
    fmt = {"type": "json_schema", "json_schema": {"name": "verdict", "schema": SCHEMA, "strict": True}}
    for seed in (1, 2, 3):
        body = create_raw(
            client, messages=QUESTION, temperature=1.0, seed=seed, max_tokens=64, response_format=fmt
        )
        choice = body["choices"][0]
        assert choice["finish_reason"] == "stop", choice
        jsonschema.validate(json.loads(choice["message"]["content"]), SCHEMA)
    body = create_raw(
        client, messages=QUESTION, temperature=0, max_tokens=200, response_format={"type": "json_object"}
    )
    if body["choices"][0]["finish_reason"] == "stop":
        assert isinstance(json.loads(body["choices"][0]["message"]["content"]), dict)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model=MODEL_ID,
            messages=QUESTION,
            max_tokens=8,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": {"type": "nonsense"}},
            },
        )


def test_client_disconnect_cancels_the_request(server):
    client = client_for(server)
    before = server.health()["requests"]
    stream = client.chat.completions.create(
        model=MODEL_ID, messages=QUESTION, temperature=1.0, seed=3, max_tokens=1500, stream=True
    )
    for i, chunk in enumerate(stream):
        validate(chunk.to_dict(), "CreateChatCompletionStreamResponse")
        if i == 2:
            break
    stream.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = server.health()["requests"]
        if now["cancelled"] > before["cancelled"] and now["running"] == 0:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the server did not cancel the abandoned stream: {now}")
    # and the engine serves the next request
    assert client.chat.completions.create(model=MODEL_ID, messages=QUESTION, max_tokens=2).choices


def test_health_needs_no_key(server):
    body = httpx.get(server.url + "/health").json()
    assert body["status"] == "ok" and body["model"] == MODEL_ID
