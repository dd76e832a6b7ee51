"""`llamasys model chat`: talk to the bare model in the terminal (no agent, no tools), answers streamed.
(`llamasys chat` is the agent: apps/cli/agent_commands.py.)

    llamasys model chat                                   # SmolLM2-135M-Instruct, embedded, CPU
    llamasys model chat --model llama3.2-1b-instruct --system "Answer in French." --temperature 0.6
    printf 'What is 2+2?\\n' | llamasys model chat --max-tokens 16     # piped: one answer per input line

Each input line is a user message; the model's answer streams to stdout. `/reset` forgets the
conversation (the system prompt stays), `/exit` (or end of input) quits. When the conversation no longer
fits the model's context, the oldest exchanges are dropped. Loading messages go to stderr.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from typing import TextIO

import typer

from llamasys.core_model.errors import ModelError
from llamasys.core_model.messages import AssistantMessage, Message, StopReason, SystemMessage, UserMessage

from .app import model_app

log = logging.getLogger(__name__)

HELP = "Commands: /reset forgets the conversation, /exit quits."


def _lines(stream: TextIO, interactive: bool) -> Iterator[str]:
    while True:
        if interactive:
            sys.stderr.write("\n> ")
            sys.stderr.flush()
        line = stream.readline()
        if not line:
            return
        yield line.rstrip("\r\n")


def _fit(engine, fmt, history: list[Message], max_tokens: int) -> list[int] | None:
    """Prompt ids for `history`, dropping the oldest exchanges until prompt + budget fits the context."""
    while True:
        ids = fmt.encode_dialog_prompt(history)
        if len(ids) + max_tokens <= engine.max_seq_len:
            return ids
        first = 1 if history and isinstance(history[0], SystemMessage) else 0
        later_user = [i for i, m in enumerate(history) if isinstance(m, UserMessage) and i > first]
        if not later_user:
            return None
        del history[first : later_user[0]]


def _answer(engine, fmt, ids: list[int], sampling, out: TextIO) -> AssistantMessage:
    parser = fmt.stream_parser()
    stop_reason = None
    for event in engine.stream(ids, sampling):
        if event.token_id is None:
            stop_reason = event.stop_reason
            break
        for delta in parser.feed(event.token_id):
            if delta.type == "text":
                out.write(delta.text)
                out.flush()
    for delta in parser.flush():
        if delta.type == "text":
            out.write(delta.text)
        elif delta.type == "tool_call":
            call = delta.tool_call
            out.write(f"[the model asked for tool {call.tool_name}({call.arguments}); chat runs no tools]")
    out.write("\n")
    out.flush()
    if stop_reason == StopReason.out_of_tokens:
        typer.echo(
            f"(answer cut at --max-tokens {sampling.max_tokens}: raise it for longer answers)", err=True
        )
    return parser.finish(stop_reason) if stop_reason is not None else parser.finish()


@model_app.command("chat")
def chat(
    model: str = typer.Option(
        "smollm2-135m-instruct", "--model", "-m", help="Catalogue id, checkpoint folder or .gguf file."
    ),
    system: str | None = typer.Option(None, "--system", "-s", help="System prompt."),
    temperature: float | None = typer.Option(
        None,
        "--temperature",
        "-t",
        min=0.0,
        help="0 picks the likeliest token [default: the catalogue's for the model, else 0.6].",
    ),
    top_p: float | None = typer.Option(
        None, "--top-p", min=0.0, max=1.0, help="[default: the catalogue's for the model, else 0.9]"
    ),
    max_tokens: int = typer.Option(512, "--max-tokens", min=1, help="Longest answer, in tokens."),
    seed: int | None = typer.Option(None, "--seed", help="Makes sampling reproducible."),
    device: str = typer.Option("auto", "--device", help="cpu, cuda, or auto (cuda when available)."),
    max_seq_len: int = typer.Option(4096, "--max-seq-len", min=16, help="Context length to allocate."),
    quantization: str | None = typer.Option(
        None, "--quantization", help="int8 (the fastest on a CPU), fp8 or fp8-all; default: none."
    ),
    dtype: str = typer.Option(
        "bfloat16", "--dtype", help="bfloat16 (half the memory traffic) or float32 (the reference numerics)."
    ),
) -> None:
    """Chat with a model in the terminal (reads stdin, so it also works piped)."""
    import torch

    if dtype not in ("bfloat16", "float32"):
        typer.echo(f"error: unknown --dtype {dtype!r}: use --dtype bfloat16 or --dtype float32", err=True)
        raise typer.Exit(2)

    from llamasys.core_model import SamplingParams, load_model

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    interactive = sys.stdin.isatty()
    typer.echo(f"loading {model} on {device} ...", err=True)
    started = time.perf_counter()
    try:
        engine = load_model(
            model,
            device=device,
            dtype=getattr(torch, dtype),
            max_seq_len=max_seq_len,
            max_batch_size=1,
            quantization=quantization,
        )
        fmt = engine.chat_format
    except (ModelError, OSError, ValueError, RuntimeError) as exc:
        hint = "; to run on the CPU instead, pass --device cpu" if device == "cuda" else ""
        typer.echo(f"error: cannot load {model}: {exc}{hint}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"ready in {time.perf_counter() - started:.1f} s. {HELP}", err=True)
    temperature, top_p = _recommended_sampling(model, temperature, top_p)
    sampling = SamplingParams(
        temperature=temperature,
        top_p=top_p if temperature > 0 else 1.0,
        max_tokens=min(max_tokens, engine.max_seq_len - 1),
        seed=seed,
        stop_token_ids=tuple(sorted(fmt.stop_token_ids)),
    )
    base: list[Message] = [SystemMessage(content=system)] if system else []
    try:
        _loop(engine, fmt, sampling, base, interactive)
    except KeyboardInterrupt:
        typer.echo("", err=True)


def _recommended_sampling(model: str, temperature: float | None, top_p: float | None) -> tuple[float, float]:
    """What the user gave, else the catalogue entry's recommendation, else Meta's 0.6 / 0.9."""
    from llamasys.core_model.checkpoints.catalog import CATALOG

    entry = CATALOG.get(model)
    if temperature is None:
        temperature = entry.temperature if entry else 0.6
    if top_p is None:
        top_p = entry.top_p if entry else 0.9
    return temperature, top_p


def _loop(engine, fmt, sampling, base: list[Message], interactive: bool) -> None:
    history: list[Message] = list(base)
    for line in _lines(sys.stdin, interactive):
        command = line.strip()
        if not command:
            continue
        if command in ("/exit", "/quit"):
            break
        if command == "/reset":
            history = list(base)
            typer.echo("(conversation reset)", err=True)
            continue
        if command.startswith("/") and command.split()[0] in ("/help", "/?"):
            typer.echo(HELP, err=True)
            continue
        history.append(UserMessage(content=line))
        ids = _fit(engine, fmt, history, sampling.max_tokens)
        if ids is None:
            history.pop()
            typer.echo(
                f"error: that message does not fit the {engine.max_seq_len}-token context with a "
                f"{sampling.max_tokens}-token answer: shorten it, lower --max-tokens or raise --max-seq-len",
                err=True,
            )
            continue
        try:
            history.append(_answer(engine, fmt, ids, sampling, sys.stdout))
        except KeyboardInterrupt:  # Ctrl-C stops this answer, not the chat
            history.pop()
            typer.echo("\n(answer interrupted)", err=True)
