"""`llamasys serve`: an OpenAI-compatible HTTP server over the native engine, Llama Guard and MiniLM.

    >>> from llamasys.apps.config import load_settings
    >>> from llamasys.apps.server import create_app, run
    >>> run(load_settings(overrides={"serve.port": 8000}))     # blocks; what `llamasys serve` does

Modules: `app` (the FastAPI factory and routes), `chat` (chat completions, streaming, tool calls),
`moderation` (Llama Guard in OpenAI's moderation shape), `generation` (the adapter to the serving
engine), `schemas` (request bodies), `errors` (OpenAI's error shape).
"""

from __future__ import annotations

from typing import Any

from .app import EMBEDDING_MODEL_ID, create_app

__all__ = ["EMBEDDING_MODEL_ID", "create_app", "run"]


def run(settings: Any, **app_kwargs: Any) -> None:
    """Serve `create_app(settings, **app_kwargs)` with uvicorn on `settings.serve.host:port` (blocks)."""
    import uvicorn

    app = create_app(settings, **app_kwargs)
    uvicorn.run(app, host=settings.serve.host, port=settings.serve.port, log_level="info")
