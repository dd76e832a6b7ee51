"""One configuration for every llamasys app: `llamasys.toml`, environment variables and command-line flags.

    >>> from llamasys.apps.config import load_settings
    >>> settings = load_settings()                         # ./llamasys.toml (if any) + environment
    >>> settings = load_settings(overrides={"model": "llama3.2-1b-instruct", "serve.port": 9000})
    >>> settings.model, settings.serve.port, settings.tools.enabled, settings.shields.input
    >>> settings.source("serve.port")                      # "flag" | "env" | "file" | "default"

Every setting has ONE dotted name, and that name spells it everywhere:

- in the file: top-level keys, or the key inside its table (`serve.port` is `port` under `[serve]`);
- in the environment: `LLAMASYS_` + the name upper-cased with `.` as `_` (`LLAMASYS_SERVE_PORT`,
  `LLAMASYS_MODEL`, `LLAMASYS_SHIELDS_INPUT`). Lists are comma-separated (`LLAMASYS_TOOLS_ENABLED=web_search,
  code_interpreter`; an empty value is the empty list). The exceptions are the third-party API keys, which keep
  the names their services document: `tools.brave_search_api_key` is `BRAVE_SEARCH_API_KEY`,
  `tools.tavily_api_key` is `TAVILY_API_KEY`, `tools.wolfram_alpha_api_key` is `WOLFRAM_ALPHA_API_KEY`;
- on the command line: `--` + the last part of the name with `_` as `-` (`--port`, `--model`, `--api-key`,
  `--server-url`), on the commands that use it.

Precedence: flags > environment > file > defaults. The file is the `path` given (`--config`), else
`$LLAMASYS_CONFIG`, else `./llamasys.toml`, else `$LLAMASYS_HOME/llamasys.toml` (`~/.cache/llamasys`); none
is needed. An unknown key, a value of the wrong type or a file that is not TOML raises `ConfigError` naming
the file, the key and what is accepted.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

__all__ = [
    "AppSettings",
    "ConfigError",
    "ENV_PREFIX",
    "SECRET_ENV",
    "ServeSettings",
    "Settings",
    "ShieldSettings",
    "ToolSettings",
    "config_path",
    "env_name",
    "load_settings",
]

ENV_PREFIX = "LLAMASYS_"
# Third-party keys keep the environment names their tools already read (tools/web_search.py, wolfram).
SECRET_ENV = {
    "tools.brave_search_api_key": "BRAVE_SEARCH_API_KEY",
    "tools.tavily_api_key": "TAVILY_API_KEY",
    "tools.wolfram_alpha_api_key": "WOLFRAM_ALPHA_API_KEY",
}
FILE_NAME = "llamasys.toml"

ToolName = Literal["web_search", "wolfram_alpha", "code_interpreter", "knowledge_search"]
ShieldName = Literal["llama_guard", "prompt_guard", "code_shield"]
Policy = Literal["block", "warn"]


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names where it came from and what to write."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _split_lists(cls, v: Any, info: Any) -> Any:
        # Lists arrive from the environment and from flags as "a,b,c".
        field = cls.model_fields[info.field_name]
        if isinstance(v, str) and getattr(field.annotation, "__origin__", None) is list:
            return [part.strip() for part in v.split(",") if part.strip()]
        return v


class ToolSettings(_Section):
    """`[tools]`: which built-in tools an agent gets, and their keys."""

    enabled: list[ToolName] = Field(
        default_factory=lambda: ["web_search", "code_interpreter", "knowledge_search"],
        description="built-in tools offered to the model",
    )
    brave_search_api_key: SecretStr | None = Field(None, description="web_search through Brave")
    tavily_api_key: SecretStr | None = Field(None, description="web_search through Tavily")
    wolfram_alpha_api_key: SecretStr | None = Field(None, description="the wolfram_alpha tool")


class ShieldSettings(_Section):
    """`[shields]`: which shields run at each touchpoint, their models, and the policy."""

    input: list[ShieldName] = Field(
        default_factory=lambda: ["llama_guard", "prompt_guard"], description="on the user's message"
    )
    tool_input: list[ShieldName] = Field(
        default_factory=lambda: ["code_shield"], description="on code and arguments before a tool runs"
    )
    tool_output: list[ShieldName] = Field(
        default_factory=lambda: ["prompt_guard"], description="on every tool result (injection)"
    )
    output: list[ShieldName] = Field(default_factory=lambda: ["llama_guard"], description="on the answer")
    on_violation: Policy = Field("block", description="block: refuse; warn: let it through, flagged")
    on_unavailable: Policy = Field(
        "block", description="a shield whose model is missing: block (fail closed) or warn (flagged)"
    )
    llama_guard: str = Field("llama-guard-3-1b", description="catalogue id or checkpoint path")
    llama_guard_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="None: Llama Guard's text decides; t: unsafe when P(unsafe) >= t"
    )
    prompt_guard: str = Field("prompt-guard-86m", description="catalogue id or checkpoint path")


class ServeSettings(_Section):
    """`[serve]`: the OpenAI-compatible server (`llamasys serve`)."""

    host: str = Field("127.0.0.1", description="interface to listen on")
    port: int = Field(8000, ge=1, le=65535)
    api_key: SecretStr | None = Field(
        None, description="when set, clients must send Authorization: Bearer KEY"
    )
    model_name: str | None = Field(None, description="the id /v1/models lists (default: the model setting)")
    input_shields: bool = Field(False, description="run shields.input on every request's last user message")
    output_shields: bool = Field(False, description="run shields.output on every reply")
    max_queue: int = Field(16, ge=1, description="requests waiting beyond this are refused with 429")
    constrain_tools: bool = Field(
        True, description="tool calls valid by construction (structured generation) for tool_choice"
    )


class AppSettings(_Section):
    """`[app]`: the Gradio app (`llamasys app`)."""

    host: str = Field("127.0.0.1")
    port: int = Field(7860, ge=1, le=65535)


class Settings(_Section):
    """Everything an app needs. Top-level names are the model and where state lives."""

    model: str = Field(
        "smollm2-135m-tools",
        description="catalogue id, checkpoint folder or .gguf file (default: SmolLM2-135M + the shipped tool-use adapter)",
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: cuda when available")
    dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    quantization: Literal["none", "int8", "fp8", "fp8-all"] = Field(
        "none", description="weight quantization (int8 is fastest on the CPU)"
    )
    max_seq_len: int = Field(4096, ge=16, description="context length to allocate, tokens")
    max_batch_size: int = Field(4, ge=1, description="rows decoded together")
    temperature: float | None = Field(None, ge=0.0, description="None: the catalogue's recommendation")
    server_url: str | None = Field(
        None, description="an OpenAI-compatible server to use instead of loading model (…/v1)"
    )
    server_api_key: SecretStr | None = Field(None, description="bearer key for server_url")
    store_url: str | None = Field(
        None, description="SQLAlchemy URL of the agent/memory store (default: a SQLite file in LLAMASYS_HOME)"
    )
    tools: ToolSettings = Field(default_factory=ToolSettings)
    shields: ShieldSettings = Field(default_factory=ShieldSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    app: AppSettings = Field(default_factory=AppSettings)

    # filled by load_settings: dotted name -> "flag" | "env" | "file"
    sources_: dict[str, str] = Field(default_factory=dict, exclude=True, repr=False)
    path_: Path | None = Field(None, exclude=True, repr=False)

    def source(self, name: str) -> str:
        """Where setting `name` (dotted) came from: "flag", "env", "file" or "default"."""
        _check_name(name)
        return self.sources_.get(name, "default")

    def get(self, name: str) -> Any:
        """The value of a dotted setting name (`settings.get("serve.port")`)."""
        _check_name(name)
        value: Any = self
        for part in name.split("."):
            value = getattr(value, part)
        return value

    @property
    def quantization_arg(self) -> str | None:
        """`quantization` as `load_model` takes it (None for "none")."""
        return None if self.quantization == "none" else self.quantization

    def resolved_device(self) -> str:
        """ "cpu" or "cuda": `device`, with "auto" resolved (imports torch)."""
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def load_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `llamasys.core_model.load_model(settings.model, **kwargs)` (imports torch)."""
        import torch

        return {
            "device": self.resolved_device(),
            "dtype": getattr(torch, self.dtype),
            "quantization": self.quantization_arg,
            "max_seq_len": self.max_seq_len,
            "max_batch_size": self.max_batch_size,
        }

    def environment(self) -> dict[str, str]:
        """Third-party keys that are set, under the environment names the tools read (for a child process)."""
        out = {}
        for name, env in SECRET_ENV.items():
            value = self.get(name)
            if value is not None:
                out[env] = value.get_secret_value()
        return out


def _names(model: type[BaseModel], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, field in model.model_fields.items():
        if key.endswith("_"):
            continue
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, _Section):
            out.update(_names(ann, prefix + key + "."))
        else:
            out[prefix + key] = field
    return out


NAMES: dict[str, Any] = _names(Settings)  # every dotted setting name -> its pydantic field


def _check_name(name: str) -> None:
    if name not in NAMES:
        raise ConfigError(f"unknown setting {name!r}: the settings are {sorted(NAMES)}")


def env_name(name: str) -> str:
    """The environment variable of a dotted setting name (`serve.port` -> `LLAMASYS_SERVE_PORT`)."""
    _check_name(name)
    return SECRET_ENV.get(name) or ENV_PREFIX + name.replace(".", "_").upper()


def config_path(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    """The configuration file that applies: `path`, `$LLAMASYS_CONFIG`, ./llamasys.toml, then
    `$LLAMASYS_HOME/llamasys.toml`; None when there is none. A path given explicitly must exist."""
    env = os.environ if env is None else env
    explicit = path or env.get("LLAMASYS_CONFIG")
    if explicit:
        p = Path(explicit).expanduser()
        if not p.is_file():
            origin = "--config" if path else "LLAMASYS_CONFIG"
            raise ConfigError(
                f"{origin} names {str(p)!r}, which is not a file: create it or drop the setting"
            )
        return p
    home = Path(env.get("LLAMASYS_HOME") or "~/.cache/llamasys").expanduser()
    for candidate in (Path.cwd() / FILE_NAME, home / FILE_NAME):
        if candidate.is_file():
            return candidate
    return None


def _flatten(data: Mapping[str, Any], where: str, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = prefix + str(key)
        if isinstance(value, Mapping) and name not in NAMES:
            out.update(_flatten(value, where, name + "."))
        elif name in NAMES:
            out[name] = value
        else:
            raise ConfigError(f"{where}: unknown setting {name!r}: the settings are {sorted(NAMES)}")
    return out


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in flat.items():
        node = out
        *parents, last = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def load_settings(
    path: str | Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from the file, the environment and `overrides` (flags), in increasing precedence.

    overrides: dotted names (or nested dicts) to values; a None value means "not given" and is ignored,
    so a CLI can pass every flag as it is. env: defaults to `os.environ`.
    Raises `ConfigError` for an unknown name, a missing explicit file, TOML that does not parse, or a value
    that does not validate (the message names its source and the accepted values).
    """
    env = os.environ if env is None else env
    layers: list[tuple[str, dict[str, Any]]] = []
    file = config_path(path, env)
    if file is not None:
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from None
        layers.append(("file", _flatten(data, str(file))))
    layers.append(("env", {name: env[env_name(name)] for name in NAMES if env_name(name) in env}))
    given = {k: v for k, v in _flatten(overrides or {}, "overrides").items() if v is not None}
    layers.append(("flag", given))

    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for origin, values in layers:
        for name, value in values.items():
            merged[name], sources[name] = value, origin
    try:
        settings = Settings.model_validate(_nest(merged))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"] if not isinstance(p, int))
            origin = sources.get(name, "default")
            where = {"file": str(file), "env": env_name(name) if name in NAMES else name, "flag": "flag"}.get(
                origin, origin
            )
            problems.append(f"{name} (from {where}): {err['msg']}")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None
    settings.sources_ = sources
    settings.path_ = file
    return settings
