"""The `Checkpoint` type every reader returns, and the checks it must pass.

Whatever the format, `Checkpoint.state_dict` uses Meta's names (`tok_embeddings.weight`,
`layers.{i}.attention.{wq,wk,wv,wo}.weight`, `layers.{i}.feed_forward.{w1,w2,w3}.weight`,
`layers.{i}.{attention_norm,ffn_norm}.weight`, `norm.weight`, `output.weight`) and Meta's q/k row
layout (RoPE on adjacent pairs). `output.weight` is always present; for tied models it is the very
same tensor object as `tok_embeddings.weight`. Tensors keep their stored dtype (Meta, HF); GGUF
tensors are dequantized to float32. Every tensor is checked against `ModelArgs` before returning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from llamasys.core_model.config import ModelArgs, expected_meta_shapes
from llamasys.core_model.errors import CheckpointError
from llamasys.core_model.tokenizers.base import Tokenizer

__all__ = ["Checkpoint", "CheckpointFormat", "check_state_dict", "check_tokenizer", "cast_state_dict"]

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


def cast_state_dict(state_dict: dict[str, torch.Tensor], dtype: torch.dtype) -> None:
    """Cast every floating tensor to `dtype` in place, one at a time, keeping shared tensors shared."""
    done: dict[int, torch.Tensor] = {}
    for name, tensor in state_dict.items():
        if id(tensor) in done:
            state_dict[name] = done[id(tensor)]
        elif tensor.dtype != dtype:
            done[id(tensor)] = state_dict[name] = tensor.to(dtype)
