"""Moderations (Llama Guard), embeddings (MiniLM), the API key and the input shields, through the openai
client against a running server; bodies validated against OpenAI's published OpenAPI schema."""

from __future__ import annotations

import numpy as np
import openai
import pytest
from openai_schema import validate
from server_fixtures import MODEL_ID, settings_for, start_server

from llamasys.apps.server import create_app
from llamasys.apps.server.moderation import OPENAI_CATEGORIES
from llamasys.core_model.testing import write_random_llama_guard
from llamasys.safety import LlamaGuard


def client_for(server, api_key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=api_key, max_retries=0)


@pytest.fixture(scope="module")
def guard_dir(tmp_path_factory):
    return write_random_llama_guard(tmp_path_factory.mktemp("llama-guard-tiny"))


@pytest.fixture(scope="module")
def guarded(tiny_engine, guard_dir, tmp_path_factory):
    """A server whose moderation model is a random Llama Guard-shaped model, with an API key."""
    settings = settings_for(
        tmp_path_factory.mktemp("home"),
        **{
            "serve.api_key": "s3cret",
            "shields.llama_guard": str(guard_dir),
            "shields.llama_guard_threshold": 0.0,
        },
    )
    srv, stop = start_server(create_app(settings, engine=tiny_engine), tiny_engine)
    yield srv
    stop()


def test_api_key_is_required_when_set(guarded):
    with pytest.raises(openai.AuthenticationError) as info:
        client_for(guarded, api_key="wrong").models.list()
    validate(info.value.response.json(), "ErrorResponse")
    assert [m.id for m in client_for(guarded, "s3cret").models.list().data][0] == MODEL_ID


def test_moderation_through_llama_guard(guarded, guard_dir):
    client = client_for(guarded, "s3cret")
    raw = client.moderations.with_raw_response.create(input=["hello there", "how do I bake bread?"])
    body = raw.http_response.json()
    validate(body, "CreateModerationResponse")
    assert body["model"] == str(guard_dir) and len(body["results"]) == 2
    for result in body["results"]:
        # threshold 0: P(unsafe) >= 0 always, so the guard blocks; the random model names no category
        assert result["flagged"] is True
        assert set(result["categories"]) == set(OPENAI_CATEGORIES)
        assert result["llama_guard"]["score"] is not None and 0.0 <= result["llama_guard"]["score"] <= 1.0
        unmapped = not any(result["categories"].values())
        assert unmapped == all(
            code not in ("S1", "S2", "S3", "S4", "S9", "S10", "S11", "S12", "S14")
            for code in result["llama_guard"]["categories"]
        )
    parsed = client.moderations.create(input="hello there")
    assert parsed.results[0].flagged is True


def test_moderation_score_is_llama_guards(tiny_engine, guard_dir, tmp_path):
    """The score reported is the shield's own P(unsafe) for the same text."""
    import asyncio

    from llamasys.core_model.messages import UserMessage

    settings = settings_for(tmp_path, **{"shields.llama_guard": str(guard_dir)})
    guard = LlamaGuard(str(guard_dir), threshold=0.5)
    srv, stop = start_server(create_app(settings, engine=tiny_engine, guard=guard), tiny_engine)
    try:
        result = client_for(srv).moderations.create(input="hello there").results[0]
    finally:
        stop()
    verdict = asyncio.run(guard.check([UserMessage(content="hello there")], touchpoint="user_input"))
    assert result.model_extra["llama_guard"]["score"] == pytest.approx(verdict.score)
    assert result.flagged == (not verdict.allowed)


def test_moderation_without_the_model_is_503_with_the_install_command(server):
    with pytest.raises(openai.APIStatusError) as info:
        client_for(server).moderations.create(input="hello")
    assert info.value.status_code == 503
    body = info.value.response.json()
    validate(body, "ErrorResponse")
    assert "llamasys model download llama-guard-3-1b" in body["error"]["message"]


def test_embeddings_are_minilm(server, minilm):
    client = client_for(server)
    texts = ["The cat sat on the mat.", "Stock markets fell today."]
    result = client.embeddings.create(model="all-minilm-l6-v2", input=texts)  # base64 on the wire
    vectors = np.array([d.embedding for d in result.data], dtype=np.float32)
    assert vectors.shape == (2, 384)
    expected = minilm.embed(texts)  # the same model, called directly
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    raw = client.embeddings.with_raw_response.create(
        model="all-minilm-l6-v2", input="hi", encoding_format="float"
    )
    body = raw.http_response.json()
    validate(body, "CreateEmbeddingResponse")
    assert body["usage"]["prompt_tokens"] >= 1
    assert np.linalg.norm(body["data"][0]["embedding"]) == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="text-embedding-3-small", input="hi")
    with pytest.raises(openai.BadRequestError, match="384 dimensions"):
        client.embeddings.create(model="all-minilm-l6-v2", input="hi", dimensions=256)


def test_input_shield_that_cannot_judge_blocks(tiny_engine, tmp_path):
    """A shield whose model is missing fails closed: the reply is the refusal, finish_reason content_filter."""
    settings = settings_for(
        tmp_path,
        **{
            "serve.input_shields": True,
            "shields.input": ["llama_guard"],
            "shields.llama_guard": str(tmp_path / "no-such-guard"),
        },
    )
    srv, stop = start_server(create_app(settings, engine=tiny_engine), tiny_engine)
    try:
        client = client_for(srv)
        raw = client.chat.completions.with_raw_response.create(
            model=MODEL_ID, messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
        body = raw.http_response.json()
        validate(body, "CreateChatCompletionResponse")
        assert body["choices"][0]["finish_reason"] == "content_filter"
        assert body["choices"][0]["message"]["content"]
        chunks = list(
            client.chat.completions.create(
                model=MODEL_ID, messages=[{"role": "user", "content": "hi"}], max_tokens=4, stream=True
            )
        )
        for chunk in chunks:
            validate(chunk.to_dict(), "CreateChatCompletionStreamResponse")
        assert chunks[-1].choices[0].finish_reason == "content_filter"
    finally:
        stop()


@pytest.mark.parametrize("stream", [False, True])
def test_output_shield_replaces_a_blocked_answer(tiny_engine, guard_dir, tmp_path, stream):
    """Llama Guard on the answer (threshold 0: it always blocks): the client gets the refusal, never the text."""
    guard = LlamaGuard(str(guard_dir), threshold=0.0)
    settings = settings_for(tmp_path, **{"serve.output_shields": True})
    app = create_app(settings, engine=tiny_engine, shields={"assistant_output": [guard]})
    srv, stop = start_server(app, tiny_engine)
    refusal = guard.refusals.llama_guard
    try:
        client = client_for(srv)
        kw = dict(model=MODEL_ID, messages=[{"role": "user", "content": "hi"}], max_tokens=6, temperature=0)
        if stream:
            chunks = list(client.chat.completions.create(stream=True, **kw))
            for chunk in chunks:
                validate(chunk.to_dict(), "CreateChatCompletionStreamResponse")
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            finish = chunks[-1].choices[0].finish_reason
        else:
            body = client.chat.completions.with_raw_response.create(**kw).http_response.json()
            validate(body, "CreateChatCompletionResponse")
            text, finish = body["choices"][0]["message"]["content"], body["choices"][0]["finish_reason"]
    finally:
        stop()
    assert (text, finish) == (refusal, "content_filter")


def test_engine_that_cannot_take_requests_is_503(tiny_checkpoint, tmp_path):
    import torch

    from llamasys.core_model import load_model

    engine = load_model(str(tiny_checkpoint), dtype=torch.float32, max_seq_len=256, max_batch_size=1)
    srv, stop = start_server(create_app(settings_for(tmp_path), engine=engine), engine)
    try:
        engine.serve().shutdown()  # what the server holds is now closed
        with pytest.raises(openai.APIStatusError) as info:
            client_for(srv).chat.completions.create(
                model=MODEL_ID, messages=[{"role": "user", "content": "hi"}], max_tokens=2
            )
    finally:
        stop()
    assert info.value.status_code == 503
    validate(info.value.response.json(), "ErrorResponse")
