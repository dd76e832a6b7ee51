"""Sample apps, each a short example of the SDK and runnable alone:

    python -m llamasys.apps.samples.research_assistant     # or: llamasys app --sample research_assistant
    python -m llamasys.apps.samples.data_analyst
    python -m llamasys.apps.samples.document_qa
    python -m llamasys.apps.samples.moderation_console
    python -m llamasys.apps.samples.custom_tool_app

Each module has `build_agent(...)` (the interesting part), `build_app(...)` (the Gradio app around it) and
`main()`. The model comes from the settings (`llamasys.toml`, `LLAMASYS_MODEL`, `LLAMASYS_SERVER_URL`);
tests hand in a `ScriptedBackend` instead. `weather_plugin/` is a separate, pip-installable tool plugin.
"""

from __future__ import annotations

from typing import Any

__all__ = ["model_backend", "run_sample"]


def model_backend(settings: Any = None) -> Any:
    """The configured model as an agent back-end (in-process engine, or `server_url`)."""
    from llamasys.apps.agent_factory import build_backend
    from llamasys.apps.config import load_settings

    return build_backend(settings if settings is not None else load_settings())


def run_sample(demo: Any, settings: Any = None) -> None:
    """Serve a sample on the configured host/port (127.0.0.1:7860 by default) and print its URL."""
    from llamasys.apps.config import load_settings
    from llamasys.apps.gradio_app import launch

    settings = settings if settings is not None else load_settings()
    print(f"open http://{settings.app.host}:{settings.app.port} in your browser (Ctrl-C stops it)")
    launch(demo, host=settings.app.host, port=settings.app.port)
