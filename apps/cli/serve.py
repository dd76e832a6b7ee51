"""`llamasys serve`: the OpenAI-compatible server (FastAPI + uvicorn).

    llamasys serve                                              # SmolLM2-135M on 127.0.0.1:8000
    llamasys serve --model llama3.1-8b-instruct --device cuda --quantization fp8 --port 8080
    llamasys serve --api-key "$KEY" --input-shields --output-shields
    llamasys serve --config ./llamasys.toml

Every option is a setting of `llamasys.toml` with the same name (`--port` is `serve.port`, `--model` is
`model`, ...); flags win over the environment (`LLAMASYS_SERVE_PORT`, ...), which wins over the file.
Clients use `http://HOST:PORT/v1` as their base URL and the served id (`GET /v1/models`) as the model.

`llamasys bench serve-http` measures the HTTP layer: the same concurrent load through the server with the
openai client and straight to the engine, in one run (`llamasys.apps.bench.serve_http`).
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from llamasys.apps.config import ConfigError, load_settings

from .app import app, bench_app


@app.command("serve")
def serve(
    model: str | None = typer.Option(
        None, "--model", "-m", help="Catalogue id, checkpoint folder or .gguf file."
    ),
    host: str | None = typer.Option(None, "--host", help="Interface to listen on (default: 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", help="[default: 8000]"),
    api_key: str | None = typer.Option(
        None, "--api-key", help="Require `Authorization: Bearer KEY` on /v1 (prefer LLAMASYS_SERVE_API_KEY)."
    ),
    model_name: str | None = typer.Option(
        None, "--model-name", help="The id clients send (default: --model)."
    ),
    device: str | None = typer.Option(None, "--device", help="cpu, cuda or auto."),
    dtype: str | None = typer.Option(None, "--dtype", help="bfloat16, float16 or float32."),
    quantization: str | None = typer.Option(None, "--quantization", help="none, int8, fp8 or fp8-all."),
    max_seq_len: int | None = typer.Option(None, "--max-seq-len", help="Context length to allocate."),
    max_batch_size: int | None = typer.Option(None, "--max-batch-size", help="Requests decoded together."),
    max_queue: int | None = typer.Option(
        None, "--max-queue", help="Waiting requests before 429 (default: 16)."
    ),
    input_shields: bool | None = typer.Option(
        None, "--input-shields/--no-input-shields", help="Run shields.input on each request's messages."
    ),
    output_shields: bool | None = typer.Option(
        None,
        "--output-shields/--no-output-shields",
        help="Run shields.output on each reply (buffers streams).",
    ),
    config: Path | None = typer.Option(None, "--config", help="A llamasys.toml (default: ./llamasys.toml)."),
) -> None:
    """Serve the model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/models, ...)."""
    overrides = {
        "model": model,
        "device": device,
        "dtype": dtype,
        "quantization": quantization,
        "max_seq_len": max_seq_len,
        "max_batch_size": max_batch_size,
        "serve.host": host,
        "serve.port": port,
        "serve.api_key": api_key,
        "serve.model_name": model_name,
        "serve.max_queue": max_queue,
        "serve.input_shields": input_shields,
        "serve.output_shields": output_shields,
    }
    try:
        settings = load_settings(config, overrides=overrides)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None

    from llamasys.apps.server import create_app
    from llamasys.core_model import load_model
    from llamasys.core_model.errors import ModelError

    typer.echo(f"loading {settings.model} ...", err=True)
    started = time.perf_counter()
    try:
        engine = load_model(settings.model, **settings.load_kwargs())
    except (ModelError, OSError, ValueError) as exc:
        typer.echo(f"error: cannot load {settings.model}: {exc}", err=True)
        raise typer.Exit(1) from None
    served = settings.serve.model_name or settings.model
    url = f"http://{settings.serve.host}:{settings.serve.port}/v1"
    typer.echo(f"ready in {time.perf_counter() - started:.1f} s: model {served!r} at {url}", err=True)

    import uvicorn

    uvicorn.run(
        create_app(settings, engine=engine),
        host=settings.serve.host,
        port=settings.serve.port,
        log_level="info",
    )


@bench_app.command("serve-http")
def bench_serve_http_command(
    model: str = typer.Option("smollm2-135m-instruct", "--model", help="Catalogue id, folder or .gguf."),
    quantization: str | None = typer.Option(None, "--quantization", help="int8, fp8 or fp8-all."),
    concurrency: str = typer.Option("1,4,8", "--concurrency", help="Concurrent streams, comma-separated."),
    max_tokens: int = typer.Option(64, "--max-tokens", min=1, help="Tokens per reply."),
    prompt_words: int = typer.Option(140, "--prompt-words", min=1, help="Prompt length, in words."),
    repeats: int = typer.Option(2, "--repeats", min=1, help="Runs per side; the best is kept."),
    as_json: bool = typer.Option(True, "--json/--no-json", help="Print the report as JSON."),
) -> None:
    """The same load through `llamasys serve` (openai client, SSE) and straight to the engine, in one run."""
    import json

    from llamasys.apps.bench.serve_http import bench_serve_http

    try:
        levels = tuple(int(n) for n in concurrency.split(",") if n.strip())
    except ValueError:
        typer.echo(f"error: --concurrency takes numbers separated by commas, not {concurrency!r}", err=True)
        raise typer.Exit(2) from None
    report = bench_serve_http(
        model,
        concurrency=levels,
        max_tokens=max_tokens,
        prompt_words=prompt_words,
        repeats=repeats,
        quantization=quantization,
    )
    typer.echo(json.dumps(report, indent=2 if not as_json else None))
