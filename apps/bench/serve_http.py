"""The HTTP mode of the serving benchmark: the same load through `llamasys serve` with the openai client, next
to the same load submitted straight to the engine, in one run — what the HTTP layer (FastAPI, JSON, SSE, the
chat-format parsing, the client) costs.

```python
from llamasys.apps.bench.serve_http import bench_serve_http
report = bench_serve_http("smollm2-135m-instruct", concurrency=(1, 4), max_tokens=64)
report["results"][0]["http"]["aggregate_tok_s"], report["results"][0]["direct"]["aggregate_tok_s"]
```

For each concurrency N, N greedy chat requests of the same length start together (each run's prompts are
distinct after the chat template's header, so prefix reuse helps neither side more than the other; one
warm-up request per side first): `direct` submits the prompt ids to the server's
own `Generator` (the serving engine when the build has it) and iterates the token events; `http` sends the
same messages to a uvicorn server on 127.0.0.1 (same process, its own thread) with `AsyncOpenAI` streaming
and `stream_options.include_usage`. Reported per side: aggregate tokens/s (all streams' tokens / wall time),
time to first token and inter-token (direct) / inter-chunk (http) latency, p50 and p95 in ms; and
`http_vs_direct` = http aggregate / direct aggregate. Each side runs `repeats` times, alternating, and the
best aggregate run is kept (the machine's load moves between runs).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["bench_serve_http"]


def _messages(tag: str, i: int, prompt_words: int) -> list[dict[str, str]]:
    filler = " ".join(["the weather report for the coast says"] * max(1, prompt_words // 7))
    return [{"role": "user", "content": f"Request {tag}-{i}. {filler}. Summarise it in one sentence."}]


def _summary(samples: list[dict[str, Any]], wall: float) -> dict[str, Any]:
    from .timing import percentiles

    tokens = sum(s["tokens"] for s in samples)
    gaps = [g for s in samples for g in s["gaps"]]
    return {
        "streams": len(samples),
        "tokens": tokens,
        "wall_s": round(wall, 4),
        "aggregate_tok_s": round(tokens / wall, 2) if wall > 0 else 0.0,
        "ttft": percentiles([s["ttft"] for s in samples]),
        "inter_token": percentiles(gaps) if gaps else None,
    }


async def _direct_once(generator: Any, prompt: list[int], sampling: Any) -> dict[str, Any]:
    start = time.perf_counter()
    request = generator.submit(prompt, sampling)
    times: list[float] = []
    async for event in request:
        if event.token_id is not None:
            times.append(time.perf_counter())
    return {
        "tokens": len(times),
        "ttft": (times[0] - start) if times else 0.0,
        "gaps": [b - a for a, b in zip(times, times[1:], strict=False)],
    }


async def _http_once(client: Any, model: str, messages: list, max_tokens: int) -> dict[str, Any]:
    start = time.perf_counter()
    times: list[float] = []
    tokens = 0
    stream = await client.chat.completions.create(
        model=model,
        messages=messages,
        temperature=0,
        max_tokens=max_tokens,
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            times.append(time.perf_counter())
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    return {
        "tokens": tokens,
        "ttft": (times[0] - start) if times else 0.0,
        "gaps": [b - a for a, b in zip(times, times[1:], strict=False)],
    }


def _start_server(app: Any) -> tuple[str, Any]:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the benchmark's uvicorn server did not start")
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()

    return f"http://127.0.0.1:{port}/v1", stop


def bench_serve_http(
    model: str = "smollm2-135m-instruct",
    *,
    concurrency: Sequence[int] = (1, 4, 8),
    prompt_words: int = 140,
    max_tokens: int = 64,
    repeats: int = 2,
    quantization: str | None = None,
    engine: Any = None,
) -> dict[str, Any]:
    """Run the comparison (see the module docstring) and return the JSON-ready report.

    engine: an already loaded Engine (else `model` is loaded on the CPU, bfloat16, `quantization`, with
    max(concurrency) batch rows)."""
    from openai import AsyncOpenAI

    from llamasys.apps.config import load_settings
    from llamasys.apps.server import create_app
    from llamasys.core_model.messages import UserMessage

    rows = max(concurrency)
    settings = load_settings(
        overrides={
            "model": model,
            "device": "cpu",
            "quantization": quantization or "none",
            "max_batch_size": rows,
            "max_seq_len": 1024,
            "serve.max_queue": max(16, rows),
        }
    )
    if engine is None:
        from llamasys.core_model import load_model

        engine = load_model(model, **settings.load_kwargs())
    app = create_app(settings, engine=engine)
    base_url, stop = _start_server(app)
    chat = app.state.llamasys["chat"]
    served = settings.serve.model_name or settings.model
    results = []
    prompts: list[list[int]] = []

    async def side_run(side: str, client: Any, tag: str, n: int, sampling: Any) -> dict[str, Any]:
        messages = [_messages(tag, i, prompt_words) for i in range(n)]
        prompts[:] = [
            engine.chat_format.encode_dialog_prompt([UserMessage(content=m[0]["content"])]) for m in messages
        ]
        start = time.perf_counter()
        if side == "direct":
            jobs = [_direct_once(chat.generator, p, sampling) for p in prompts]
        else:
            jobs = [_http_once(client, served, m, max_tokens) for m in messages]
        samples = await asyncio.gather(*jobs)
        return _summary(list(samples), time.perf_counter() - start)

    async def main() -> None:
        from llamasys.core_model import SamplingParams

        client = AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0, timeout=600)
        stop_ids = tuple(sorted(engine.chat_format.stop_token_ids))
        sampling = SamplingParams(temperature=0.0, max_tokens=max_tokens, stop_token_ids=stop_ids)
        try:
            # warm-up (kernel build, first prefill, the HTTP client's connection), not reported
            await side_run("direct", client, "warm", 1, sampling)
            await side_run("http", client, "warm", 1, sampling)
            for n in concurrency:
                best: dict[str, dict[str, Any]] = {}
                for r in range(repeats):
                    # every run has its own prompts (no prefix reuse between runs), sides alternate
                    for side in ("direct", "http") if r % 2 == 0 else ("http", "direct"):
                        summary = await side_run(side, client, f"{side}{n}.{r}", n, sampling)
                        if side not in best or summary["aggregate_tok_s"] > best[side]["aggregate_tok_s"]:
                            best[side] = summary
                direct = best["direct"]["aggregate_tok_s"]
                ratio = round(best["http"]["aggregate_tok_s"] / direct, 3) if direct else None
                results.append({"concurrency": n, **best, "http_vs_direct": ratio})
        finally:
            await client.close()

    try:
        asyncio.run(main())
    finally:
        stop()
    return {
        "benchmark": "serve_http",
        "model": model,
        "quantization": quantization,
        "batched": chat.generator.batched,
        "prompt_tokens": len(prompts[0]),
        "max_tokens": max_tokens,
        "repeats": repeats,
        "results": results,
    }
