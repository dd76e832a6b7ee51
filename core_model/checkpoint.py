"""Read a checkpoint in any supported format into Meta-named, Meta-layout tensors.

    >>> ckpt = read_checkpoint("smollm2-135m-instruct")       # catalogue id
    >>> ckpt = read_checkpoint("~/models/Llama3.1-8B-Instruct") # Meta folder: params.json + consolidated.*.pth
    >>> ckpt = read_checkpoint("~/models/Llama-3.2-1B-Instruct") # HF folder: config.json + *.safetensors
    >>> ckpt = read_checkpoint("model.Q4_1.gguf")               # GGUF file, architecture "llama"
    >>> ckpt.args, ckpt.state_dict["layers.0.attention.wq.weight"], ckpt.tokenizer, ckpt.chat_template

Whatever the format, `Checkpoint.state_dict` uses Meta's names (`tok_embeddings.weight`,
`layers.{i}.attention.{wq,wk,wv,wo}.weight`, `layers.{i}.feed_forward.{w1,w2,w3}.weight`,
`layers.{i}.{attention_norm,ffn_norm}.weight`, `norm.weight`, `output.weight`) and Meta's q/k row
layout (RoPE on adjacent pairs). `output.weight` is always present; for tied models it is the very
same tensor object as `tok_embeddings.weight`. Tensors keep their stored dtype (Meta, HF); GGUF
tensors are dequantized to float32. Every tensor is checked against `ModelArgs` before returning.

Readers: `checkpoint_meta.read_meta_checkpoint`, `checkpoint_hf.read_hf_checkpoint`,
`checkpoint_gguf.read_gguf_checkpoint`. Problems raise `CheckpointError` naming the file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from .config import ModelArgs
from .errors import CheckpointError
from .tokenizer import Tokenizer

__all__ = [
    "Checkpoint",
    "read_checkpoint",
    "read_tokenizer",
    "expected_meta_shapes",
    "check_state_dict",
    "cast_state_dict",
    "detect_format",
]

log = logging.getLogger(__name__)

CheckpointFormat = Literal["meta", "hf", "gguf"]
# Keys some Meta checkpoints carry that the model recomputes: dropped with a debug message.
IGNORED_KEYS = frozenset({"rope.freqs"})


@dataclass
class Checkpoint:
    """A loaded checkpoint: shape, Meta-layout weights, tokenizer and chat template."""

    args: ModelArgs
    state_dict: dict[str, torch.Tensor]
    tokenizer: Tokenizer
    chat_template: str | None
    path: Path
    format: CheckpointFormat
    metadata: dict[str, object] = field(default_factory=dict)
    """Format-specific facts worth logging (GGUF quantization types, shard count, ...)."""

    @property
    def tied(self) -> bool:
        """Whether the output head is the embedding (one tensor)."""
        return self.state_dict["output.weight"] is self.state_dict["tok_embeddings.weight"]

    def num_parameters(self) -> int:
        seen: set[int] = set()
        total = 0
        for tensor in self.state_dict.values():
            if id(tensor) not in seen:
                seen.add(id(tensor))
                total += tensor.numel()
        return total


def expected_meta_shapes(args: ModelArgs) -> dict[str, tuple[int, ...]]:
    """Every Meta-named tensor of a model with these args, and its shape."""
    q, kv = args.n_heads * args.head_dim, args.n_kv_heads * args.head_dim
    shapes: dict[str, tuple[int, ...]] = {
        "tok_embeddings.weight": (args.vocab_size, args.dim),
        "norm.weight": (args.dim,),
        "output.weight": (args.vocab_size, args.dim),
    }
    for i in range(args.n_layers):
        p = f"layers.{i}."
        shapes |= {
            p + "attention.wq.weight": (q, args.dim),
            p + "attention.wk.weight": (kv, args.dim),
            p + "attention.wv.weight": (kv, args.dim),
            p + "attention.wo.weight": (args.dim, q),
            p + "feed_forward.w1.weight": (args.ffn_hidden_dim, args.dim),
            p + "feed_forward.w2.weight": (args.dim, args.ffn_hidden_dim),
            p + "feed_forward.w3.weight": (args.ffn_hidden_dim, args.dim),
            p + "attention_norm.weight": (args.dim,),
            p + "ffn_norm.weight": (args.dim,),
        }
    return shapes


def check_state_dict(args: ModelArgs, state_dict: dict[str, torch.Tensor], source: Path | str) -> None:
    """Raise CheckpointError unless `state_dict` holds exactly the tensors `args` calls for."""
    for key in IGNORED_KEYS & state_dict.keys():
        log.debug("%s: ignoring %s (recomputed by the model)", source, key)
        del state_dict[key]
    expected = expected_meta_shapes(args)
    missing = [k for k in expected if k not in state_dict]
    if missing:
        raise CheckpointError(
            f"{source}: {len(missing)} weights missing (first: {', '.join(missing[:3])}); the config describes "
            f"a {args.n_layers}-layer model with dim {args.dim}: the weight files are incomplete or belong "
            "to another model"
        )
    unexpected = sorted(set(state_dict) - set(expected))
    if unexpected:
        raise CheckpointError(
            f"{source}: {len(unexpected)} unexpected weights (first: {', '.join(unexpected[:3])}); the config "
            f"describes a {args.n_layers}-layer Llama with dim {args.dim}: config and weights do not match"
        )
    for name, shape in expected.items():
        tensor = state_dict[name]
        if tuple(tensor.shape) != shape:
            raise CheckpointError(
                f"{source}: weight {name} has shape {tuple(tensor.shape)} but the config calls for {shape}: "
                "config and weights do not belong together"
            )
        if tensor.dtype not in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
            raise CheckpointError(
                f"{source}: weight {name} has dtype {tensor.dtype}, expected float32, float16 or bfloat16 "
                "(pre-quantized checkpoints are not read; the engine quantizes on load)"
            )


def check_tokenizer(args: ModelArgs, tokenizer: Tokenizer, source: Path | str) -> None:
    if tokenizer.vocab_size > args.vocab_size:
        raise CheckpointError(
            f"{source}: the tokenizer has {tokenizer.vocab_size} tokens but the model only {args.vocab_size}: "
            "the tokenizer belongs to another model"
        )


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


def cast_state_dict(state_dict: dict[str, torch.Tensor], dtype: torch.dtype) -> None:
    """Cast every floating tensor to `dtype` in place, one at a time, keeping shared tensors shared."""
    done: dict[int, torch.Tensor] = {}
    for name, tensor in state_dict.items():
        if id(tensor) in done:
            state_dict[name] = done[id(tensor)]
        elif tensor.dtype != dtype:
            done[id(tensor)] = state_dict[name] = tensor.to(dtype)


def _locate(source: str | Path) -> tuple[Path, CheckpointFormat]:
    path = Path(source).expanduser()
    if isinstance(source, str) and not path.exists() and _looks_like_catalog_id(source):
        from .catalog import resolve

        path = resolve(source)
    if path.is_dir() and not (path / "params.json").is_file() and not (path / "config.json").is_file():
        if (path / "original" / "params.json").is_file():
            path = path / "original"
        elif len(ggufs := sorted(path.glob("*.gguf"))) == 1:
            path = ggufs[0]
    return path, detect_format(path)


def read_tokenizer(source: str | Path) -> tuple[Tokenizer, str | None]:
    """Only the tokenizer and chat template of a checkpoint (no weights are read)."""
    from .errors import TokenizerError

    path, fmt = _locate(source)
    try:
        if fmt == "meta":
            from .tokenizer_llama3 import Llama3Tokenizer

            model = path / "tokenizer.model"
            return (Llama3Tokenizer(model) if model.is_file() else Llama3Tokenizer.default()), None
        if fmt == "hf":
            from .checkpoint_hf import _read_tokenizer, read_chat_template

            return _read_tokenizer(path), read_chat_template(path)
        from .checkpoint_gguf import open_gguf
        from .tokenizer_hf import HFTokenizer

        meta = open_gguf(path).metadata
        template = meta.get("tokenizer.chat_template")
        return HFTokenizer.from_gguf(meta, name=str(path)), template if isinstance(template, str) else None
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
        from .checkpoint_meta import read_meta_checkpoint

        checkpoint = read_meta_checkpoint(path)
    elif fmt == "hf":
        from .checkpoint_hf import read_hf_checkpoint

        checkpoint = read_hf_checkpoint(path)
    else:
        from .checkpoint_gguf import read_gguf_checkpoint

        return read_gguf_checkpoint(path, dtype=dtype)
    if dtype is not None:
        cast_state_dict(checkpoint.state_dict, dtype)
    return checkpoint
