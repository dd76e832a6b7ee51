"""Fixtures for the server tests: a tiny random-weight model, and `llamasys serve`'s app running under
uvicorn on 127.0.0.1 (a free port, in a thread), reached by real clients.

`ScriptedEngine` is the one test double: the real tiny engine (its tokenizer, chat format, context checks)
whose *replies* can be scripted as text in the model's own syntax (a tool call, several calls), because a
random-weight model never writes one by chance. Unscripted requests run on the real model.
"""

from __future__ import annotations

import collections
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
import uvicorn

from llamasys.apps.config import load_settings
from llamasys.apps.server import create_app
from llamasys.core_model import load_model
from llamasys.core_model.engine import Completion, TokenEvent
from llamasys.core_model.messages import StopReason
from llamasys.core_model.testing import random_meta_state_dict, tiny_args, write_meta_checkpoint

MODEL_ID = "tiny-llama"


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT
    app: Any
    engine: Any

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def health(self) -> dict:
        return httpx.get(self.url + "/health", timeout=10).json()


def start_server(app: Any, engine: Any):
    """Run `app` with uvicorn in a daemon thread on a port the OS picked; returns (Server, stop)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()

    return Server(f"http://127.0.0.1:{port}", app, engine), stop


def settings_for(tmp: Path, **overrides: Any):
    """Settings from no file and a clean environment, plus `overrides` (dotted names)."""
    return load_settings(
        env={"LLAMASYS_HOME": str(tmp)}, overrides={"serve.model_name": MODEL_ID, **overrides}
    )


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    args = tiny_args()
    folder = tmp_path_factory.mktemp("tiny-llama")
    return write_meta_checkpoint(folder, args, random_meta_state_dict(args, seed=0))


@pytest.fixture(scope="session")
def tiny_engine(tiny_checkpoint):
    return load_model(str(tiny_checkpoint), dtype=torch.float32, max_seq_len=2048, max_batch_size=2)


class ScriptedEngine:
    """The tiny engine, replying with scripted completions (text in the model's syntax) when any are queued."""

    def __init__(self, engine: Any) -> None:
        self.inner = engine
        self.chat_format = engine.chat_format
        self.tokenizer = engine.tokenizer
        self.max_seq_len = engine.max_seq_len
        self.script: collections.deque[list[int]] = collections.deque()
        self.gate = threading.Event()  # cleared: scripted replies wait before their first token
        self.gate.set()
        self.prompts: list[list[int]] = []

    def reply_with(self, *texts: str) -> None:
        for text in texts:
            self.script.append(self.tokenizer.encode(text, allow_special=True))

    def _check_prompt(self, prompt, sampling):
        return self.inner._check_prompt(prompt, sampling)

    def stream(self, prompt, sampling):
        self.prompts.append(list(prompt))
        if not self.script:
            yield from self.inner.stream(prompt, sampling)
            return
        tokens = self.script.popleft()
        self.gate.wait(timeout=60)
        stop_ids = self.chat_format.stop_token_ids
        out: list[int] = []
        reason = StopReason.out_of_tokens
        for token in tokens[: sampling.max_tokens]:
            out.append(token)
            yield TokenEvent(token_id=token, text="", logprob=-0.5 if sampling.logprobs else None)
            if token in stop_ids:
                eom = token == self.tokenizer.special_id("<|eom_id|>")
                reason = StopReason.end_of_message if eom else StopReason.end_of_turn
                break
        text = self.tokenizer.decode([t for t in out if t not in stop_ids])
        completion = Completion(tokens=out, text=text, stop_reason=reason, prompt_tokens=len(prompt))
        yield TokenEvent(stop_reason=reason, completion=completion)


@pytest.fixture(scope="session")
def minilm():
    """One all-MiniLM-L6-v2 for the session (loaded on first use: several seconds)."""
    from llamasys.tools.memory.embedding import MiniLMEmbedder

    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def server(tiny_engine, minilm, tmp_path_factory):
    """The real tiny model behind the app (the serving engine when this build has it), MiniLM embeddings."""
    app = create_app(settings_for(tmp_path_factory.mktemp("home")), engine=tiny_engine, embedder=minilm)
    srv, stop = start_server(app, tiny_engine)
    yield srv
    stop()


@pytest.fixture(scope="module")
def scripted(tiny_engine, tmp_path_factory):
    engine = ScriptedEngine(tiny_engine)
    app = create_app(settings_for(tmp_path_factory.mktemp("home"), **{"serve.max_queue": 1}), engine=engine)
    srv, stop = start_server(app, engine)
    yield srv
    engine.gate.set()
    stop()
