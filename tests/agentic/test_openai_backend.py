"""OpenAIBackend against a real HTTP server on 127.0.0.1 that replays planned streamed completions."""

import json
import socket
import threading
import time

import pytest
import uvicorn
from agent_tools import get_weather
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from llamasys.agentic import BackendError, OpenAIBackend
from llamasys.core_model.messages import AssistantMessage, ToolCall
from llamasys.core_model.sampling_params import SamplingParams


def sse(*events):
    return [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"]


def delta(content=None, tool_calls=None, finish=None):
    d = {}
    if content is not None:
        d["content"] = content
    if tool_calls is not None:
        d["tool_calls"] = tool_calls
    return {
        "id": "x",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": d, "finish_reason": finish}],
    }


def usage(prompt, completion, cached=None):
    u = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    if cached is not None:
        u["prompt_tokens_details"] = {"cached_tokens": cached}
    return {"id": "x", "object": "chat.completion.chunk", "choices": [], "usage": u}


class ReplayServer:
    """Serves /v1/chat/completions from a list of plans: an int is an HTTP error status, a list of
    strings is an SSE body. Records every request body."""

    def __init__(self, plans):
        self.plans = list(plans)
        self.requests = []
        app = Starlette(routes=[Route("/v1/chat/completions", self.complete, methods=["POST"])])
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    async def complete(self, request: Request):
        self.requests.append(await request.json())
        plan = self.plans.pop(0)
        if isinstance(plan, int):
            return JSONResponse(
                {"error": {"message": "overloaded"}}, status_code=plan, headers={"Retry-After": "0"}
            )

        async def body():
            for piece in plan:
                yield piece

        return StreamingResponse(body(), media_type="text/event-stream")

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/v1"


def test_agent_over_openai_backend_with_native_tool_calls_retries_and_usage(make_agent):
    call_delta = [
        {
            "index": 0,
            "id": "call_abc123def",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        }
    ]
    plans = [
        503,  # retried
        sse(
            delta(tool_calls=call_delta),
            delta(tool_calls=[{"index": 0, "function": {"arguments": '{"city": '}}]),
            delta(tool_calls=[{"index": 0, "function": {"arguments": '"Paris"}'}}]),
            delta(finish="tool_calls"),
            usage(50, 12),
        ),
        sse(delta(content="It is "), delta(content="sunny."), delta(finish="stop"), usage(80, 4, cached=50)),
    ]
    with ReplayServer(plans) as server:
        backend = OpenAIBackend(base_url=server.url, model="test-model", api_key="k", backoff_s=0.01)
        agent = make_agent(
            backend,
            instructions="Be brief.",
            tools=[get_weather],
            sampling=SamplingParams(max_tokens=64, seed=3),
        )
        result = agent.run("Weather in Paris?")
    assert result.status == "completed" and result.output == "It is sunny."
    tool_step = result.steps[1]
    assert tool_step.tool_calls == [
        ToolCall(call_id="call_abc123def", tool_name="get_weather", arguments={"city": "Paris"})
    ]
    assert tool_step.tool_responses[0].content == "Sunny, 21 C in Paris"
    assert [s.usage.model_dump() for s in result.steps if s.step_type == "inference"] == [
        {"prompt_tokens": 50, "completion_tokens": 12, "prefix_tokens_reused": None},
        {"prompt_tokens": 80, "completion_tokens": 4, "prefix_tokens_reused": 50},
    ]
    assert len(server.requests) == 3 and server.requests[0] == server.requests[1]
    first, _, second = server.requests
    assert first["model"] == "test-model" and first["stream"] is True
    assert first["stream_options"] == {"include_usage": True}
    assert first["tools"][0]["function"]["name"] == "get_weather" and first["tool_choice"] == "auto"
    assert (first["max_tokens"], first["seed"], first["temperature"]) == (64, 3, 0.0)
    assert second["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_abc123def",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_abc123def", "content": "Sunny, 21 C in Paris"},
    ]


async def test_text_fallback_calls_and_bad_arguments():
    plans = [
        sse(
            delta(content='<tool_call>{"name": "get_weather", "arguments": {"city": "Rome"}}</tool_call>'),
            delta(finish="stop"),
        ),
        sse(
            delta(
                tool_calls=[
                    {"index": 0, "id": "c9", "function": {"name": "get_weather", "arguments": '{"city": '}}
                ]
            ),
            delta(finish="length"),
        ),
    ]
    with ReplayServer(plans) as server:
        backend = OpenAIBackend(base_url=server.url, model="m")
        tools = [get_weather.definition]
        first = [c async for c in backend.stream([], tools, SamplingParams())][-1].message
        second = [c async for c in backend.stream([], tools, SamplingParams())][-1].message
        await backend.aclose()
    assert [(c.tool_name, c.arguments) for c in first.tool_calls] == [("get_weather", {"city": "Rome"})]
    assert second.tool_calls == [] and "not a valid JSON object" in second.parse_errors[0]
    assert isinstance(second, AssistantMessage)


async def test_errors_mid_stream_and_after_retries_are_backend_errors():
    plans = [
        [
            f"data: {json.dumps(delta(content='partial'))}\n\n",
            'data: {"error": {"message": "engine died"}}\n\n',
        ],
        500,
        500,
    ]
    with ReplayServer(plans) as server:
        backend = OpenAIBackend(base_url=server.url, model="m", max_retries=1, backoff_s=0.01)
        with pytest.raises(BackendError, match="engine died"):
            _ = [c async for c in backend.stream([], [], None)]
        with pytest.raises(BackendError, match="HTTP 500") as info:
            _ = [c async for c in backend.stream([], [], None)]
        assert info.value.retriable and info.value.status_code == 500
        await backend.aclose()
    closed = OpenAIBackend(base_url="http://127.0.0.1:9/v1", model="m", max_retries=0, connect_timeout=2)
    with pytest.raises(BackendError, match="ConnectError"):
        _ = [c async for c in closed.stream([], [], None)]
    with pytest.raises(BackendError, match="must start with http"):
        OpenAIBackend(base_url="127.0.0.1:8000", model="m")
