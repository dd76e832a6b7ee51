"""One `Agent` from the settings (`llamasys.toml`, `LLAMASYS_*`, flags), for `llamasys app`, `chat` and `run`.

    >>> from llamasys.apps.config import load_settings
    >>> agent = build_agent(load_settings(overrides={"temperature": 0.2}))

- model: `settings.server_url` set -> `OpenAIBackend(server_url, model=settings.model)`; else the model is
  loaded in-process (`load_model(settings.model, **settings.load_kwargs())`, shared by every agent built
  with the same arguments in this process).
- tools: `settings.tools.enabled` (`web_search`, `code_interpreter`, `wolfram_alpha`, `knowledge_search`:
  the last is each session's memory bank, filled by documents attached to a turn).
- shields: the settings' lists per touchpoint with `shields.on_violation` / `shields.on_unavailable`. A
  shield whose model is not installed is left out of the agent and reported by `missing_shields` (the app's
  banner) and in each turn's shield steps as "not installed" when the lists are the recommended ones; the
  code scanner needs no model and always runs where configured.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import BaseModel

__all__ = ["MissingShield", "build_agent", "build_backend", "build_shields", "build_tools", "missing_shields"]

_ENGINES: dict[tuple, Any] = {}
_ENGINES_LOCK = threading.Lock()

SHIELD_LABELS = {
    "llama_guard": "Llama Guard 3",
    "prompt_guard": "Prompt Guard",
    "code_shield": "code scanner",
}


class MissingShield(BaseModel):
    """A configured shield whose model is not on this machine: `command` installs it."""

    shield: str
    model: str
    command: str
    reason: str


def _model_installed(model_id: str) -> tuple[bool, str]:
    from llamasys.agentic.safe_defaults import model_installed

    return model_installed(model_id)


def missing_shields(settings: Any) -> list[MissingShield]:
    """Shields named in the settings (any touchpoint) whose model is not installed, with the command."""
    wanted = {
        name
        for tp in ("input", "tool_input", "tool_output", "output")
        for name in getattr(settings.shields, tp)
    }
    out = []
    for name in ("llama_guard", "prompt_guard"):
        if name not in wanted:
            continue
        model = getattr(settings.shields, name)
        installed, why = _model_installed(model)
        if not installed:
            out.append(
                MissingShield(
                    shield=name,
                    model=model,
                    command=f"llamasys model download {model}",
                    reason=why,
                )
            )
    return out


def engine_for(settings: Any) -> Any:
    """The in-process engine for `settings.model`, loaded once per process per (model, load options)."""
    from llamasys.core_model import load_model

    kwargs = settings.load_kwargs()
    key = (settings.model, tuple(sorted((k, str(v)) for k, v in kwargs.items())))
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = load_model(settings.model, **kwargs)
        return _ENGINES[key]


def build_backend(settings: Any) -> Any:
    """`OpenAIBackend` when `server_url` is set, else `EngineBackend` over the shared in-process engine."""
    if settings.server_url:
        from llamasys.agentic import OpenAIBackend

        key = settings.server_api_key.get_secret_value() if settings.server_api_key else None
        return OpenAIBackend(base_url=settings.server_url, model=settings.model, api_key=key)
    from llamasys.agentic import EngineBackend

    return EngineBackend(engine_for(settings))


def build_tools(settings: Any) -> list[Any]:
    """The enabled built-in tools (knowledge_search comes from the agent's memory, see `build_agent`)."""
    tools: list[Any] = []
    enabled = settings.tools.enabled
    if "web_search" in enabled:
        from llamasys.tools import WebSearchTool

        tools.append(WebSearchTool())
    if "wolfram_alpha" in enabled:
        from llamasys.tools import WolframAlphaTool

        tools.append(WolframAlphaTool())
    if "code_interpreter" in enabled:
        from llamasys.tools.code_interpreter import CodeInterpreter

        tools.append(CodeInterpreter())
    return tools


def _recommended(settings: Any) -> bool:
    from llamasys.apps.config import ShieldSettings

    default = ShieldSettings()
    names = ("input", "tool_input", "tool_output", "output", "on_violation", "llama_guard", "prompt_guard")
    return all(getattr(settings.shields, n) == getattr(default, n) for n in names)


def build_shields(settings: Any) -> dict[str, list[Any] | None]:
    """Agent keyword arguments for the shields. The recommended configuration is left to the agent (None:
    it reports missing models as "not installed" in each shield step); any other is built explicitly, and a
    shield whose model is missing is left out (the banner says so) unless `on_unavailable` is "block"."""
    if _recommended(settings) and settings.shields.on_unavailable == "block":
        return dict.fromkeys(("input_shields", "tool_input_shields", "tool_output_shields", "output_shields"))
    from llamasys.safety import CodeShield, LlamaGuard, PromptGuard

    policy = {
        "on_violation": settings.shields.on_violation,
        "on_unavailable": settings.shields.on_unavailable,
    }
    missing = {m.shield for m in missing_shields(settings)}
    cache: dict[str, Any] = {}

    def make(name: str) -> Any:
        if name not in cache:
            if name == "llama_guard":
                cache[name] = LlamaGuard(settings.shields.llama_guard, **policy)
            elif name == "prompt_guard":
                cache[name] = PromptGuard(settings.shields.prompt_guard, **policy)
            else:
                cache[name] = CodeShield(**policy)
        return cache[name]

    def chosen(names: list[str]) -> list[Any]:
        keep_missing = settings.shields.on_unavailable == "block"
        return [make(n) for n in names if keep_missing or n not in missing]

    return {
        "input_shields": chosen(settings.shields.input),
        "tool_input_shields": chosen(settings.shields.tool_input),
        "tool_output_shields": chosen(settings.shields.tool_output),
        "output_shields": chosen(settings.shields.output),
    }


def sampling_for(settings: Any, max_tokens: int = 512) -> Any:
    from llamasys.core_model.sampling import SamplingParams

    temperature = 0.0 if settings.temperature is None else settings.temperature
    return SamplingParams(
        temperature=temperature, top_p=0.9 if temperature > 0 else 1.0, max_tokens=max_tokens
    )


def build_agent(settings: Any, *, backend: Any = None, name: str = "llamasys-app", **overrides: Any) -> Any:
    """An `Agent` from the settings. `backend` replaces the model (e.g. a `ScriptedBackend` in tests);
    other keyword arguments go to `Agent` as they are (tools, instructions, shields...)."""
    from llamasys.agentic import Agent

    kwargs: dict[str, Any] = {
        "instructions": "You are a helpful assistant. Use the tools when they help: run Python with the "
        "code interpreter for any computation, and search the web for recent facts.",
        "tools": build_tools(settings),
        "sampling": sampling_for(settings),
        "store": settings.store_url,
        "name": name,
        **build_shields(settings),
    }
    if "knowledge_search" in settings.tools.enabled:
        from llamasys.tools.memory import MemoryStore

        kwargs["memory"] = MemoryStore(settings.store_url) if settings.store_url else MemoryStore()
    kwargs.update(overrides)
    return Agent(backend if backend is not None else build_backend(settings), **kwargs)
