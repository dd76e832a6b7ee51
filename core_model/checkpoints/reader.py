"""Read a checkpoint in any supported format into Meta-named, Meta-layout tensors.

```python
ckpt = read_checkpoint("smollm2-135m-instruct")       # catalogue id
ckpt = read_checkpoint("~/models/Llama3.1-8B-Instruct") # Meta folder: params.json + consolidated.*.pth
ckpt = read_checkpoint("~/models/Llama-3.2-1B-Instruct") # HF folder: config.json + *.safetensors
ckpt = read_checkpoint("model.Q4_1.gguf")               # GGUF file, architecture "llama"
ckpt.args, ckpt.state_dict["layers.0.attention.wq.weight"], ckpt.tokenizer, ckpt.chat_template
```

The dispatcher: `detect_format` picks the reader (`checkpoints.meta.read_meta_checkpoint`,
`checkpoints.hf.read_hf_checkpoint`, `checkpoints.gguf.read_gguf_checkpoint`); each returns a
`checkpoints.checkpoint.Checkpoint`. Problems raise `CheckpointError` naming the file.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from llamasys.core_model.checkpoints.checkpoint import Checkpoint, CheckpointFormat, cast_state_dict
from llamasys.core_model.errors import CheckpointError, TokenizerError
from llamasys.core_model.tokenizers.base import Tokenizer

__all__ = ["read_checkpoint", "read_tokenizer", "detect_format"]

log = logging.getLogger(__name__)


def detect_format(path: Path) -> CheckpointFormat:
    """Which reader a path needs: a .gguf file, a folder with params.json (Meta) or config.json (HF)."""
    if path.is_file():
        with path.open("rb") as fh:
            magic = fh.read(4)
        if magic == b"GGUF":
            return "gguf"
        raise CheckpointError(
            f"{path}: not a GGUF file (it starts with {magic!r}, not b'GGUF'); a checkpoint is a .gguf file "
            "or a folder with params.json (Meta) or config.json (Hugging Face)"
        )
    if path.is_dir():
        if (path / "params.json").is_file():
            return "meta"
        if (path / "config.json").is_file():
            return "hf"
        if (path / "original" / "params.json").is_file():
            return "meta"
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return "gguf"
        raise CheckpointError(
            f"{path}: checkpoint folder has no params.json or config.json: expected a Meta or Hugging Face "
            "Llama checkpoint (or pass a .gguf file)"
        )
    raise CheckpointError(f"{path}: no such file or folder")


def _looks_like_catalog_id(source: str) -> bool:
    return (
        "/" not in source
        and "\\" not in source
        and not source.endswith(".gguf")
        and not source.startswith(".")
    )


def _locate(source: str | Path) -> tuple[Path, CheckpointFormat]:
    path = Path(source).expanduser()
    if isinstance(source, str) and not path.exists() and _looks_like_catalog_id(source):
        from llamasys.core_model.checkpoints.catalog import resolve

        path = resolve(source)
    if path.is_dir() and not (path / "params.json").is_file() and not (path / "config.json").is_file():
        if (path / "original" / "params.json").is_file():
            path = path / "original"
        elif len(ggufs := sorted(path.glob("*.gguf"))) == 1:
            path = ggufs[0]
    return path, detect_format(path)


def read_tokenizer(source: str | Path) -> tuple[Tokenizer, str | None]:
    """Only the tokenizer and chat template of a checkpoint (no weights are read)."""
    path, fmt = _locate(source)
    try:
        if fmt == "meta":
            from llamasys.core_model.tokenizers.llama3 import Llama3Tokenizer

            model = path / "tokenizer.model"
            return (Llama3Tokenizer(model) if model.is_file() else Llama3Tokenizer.default()), None
        if fmt == "hf":
            from llamasys.core_model.checkpoints.hf import _read_tokenizer, read_chat_template

            return _read_tokenizer(path), read_chat_template(path)
        from llamasys.core_model.checkpoints.gguf import open_gguf
        from llamasys.core_model.tokenizers.gguf import gguf_tokenizer

        meta = open_gguf(path).metadata
        template = meta.get("tokenizer.chat_template")
        return gguf_tokenizer(meta, name=str(path)), template if isinstance(template, str) else None
    except TokenizerError as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def read_checkpoint(source: str | Path, *, dtype: torch.dtype | None = None) -> Checkpoint:
    """Load a catalogue id, a Meta folder, a Hugging Face folder or a .gguf file.

    `dtype`: cast the weights while reading (GGUF tensors are then dequantized straight to it, one at
    a time, so a quantized file never exists in memory as float32 all at once). Default: as stored
    (Meta, HF) or float32 (GGUF)."""
    path, fmt = _locate(source)
    log.info("reading %s checkpoint %s", fmt, path)
    if fmt == "meta":
        from llamasys.core_model.checkpoints.meta import read_meta_checkpoint

        checkpoint = read_meta_checkpoint(path)
    elif fmt == "hf":
        from llamasys.core_model.checkpoints.hf import read_hf_checkpoint

        checkpoint = read_hf_checkpoint(path)
    else:
        from llamasys.core_model.checkpoints.gguf import read_gguf_checkpoint

        return read_gguf_checkpoint(path, dtype=dtype)
    if dtype is not None:
        cast_state_dict(checkpoint.state_dict, dtype)
    return checkpoint
