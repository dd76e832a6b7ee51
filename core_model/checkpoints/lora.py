"""LoRA adapters in PEFT's format, merged into a checkpoint's weights at load time.

    >>> checkpoint = read_checkpoint("smollm2-135m-instruct", dtype=torch.float32)
    >>> merge_adapter(checkpoint, "path/to/adapter")     # folder with adapter_config.json + adapter_model.safetensors
    >>> engine = Engine.from_checkpoint(checkpoint)       # or load_model(..., adapter="path/to/adapter")

Format (Hugging Face PEFT, `save_pretrained`): `adapter_config.json` with `r`, `lora_alpha`,
`use_rslora`, `target_modules`, and `adapter_model.safetensors` with, per adapted linear layer of a
Llama model, `base_model.model.model.layers.{i}.{self_attn,mlp}.{name}.lora_A.weight` ([r, in]) and
`...lora_B.weight` ([out, r]). The merged weight is W + scale * B @ A with scale = lora_alpha / r
(lora_alpha / sqrt(r) when `use_rslora`). The adapter is in Hugging Face's q/k row layout (half-split
RoPE); our weights are in Meta's, so the q and k deltas are permuted like the weights themselves
(`config.hf_to_meta_qk`). The sum is computed in float32 and stored back in the weight's dtype.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import torch

from llamasys.core_model.checkpoints.hf import hf_name_to_meta
from llamasys.core_model.config import hf_to_meta_qk
from llamasys.core_model.errors import CheckpointError

__all__ = ["LoraAdapter", "merge_adapter", "read_adapter"]

_KEY = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<part>[AB])(?:\.default)?\.weight$")


class LoraAdapter:
    """A read adapter: per target weight (Meta name), the pair (A [r, in], B [out, r]) and the scale."""

    def __init__(
        self, path: Path, config: dict[str, Any], pairs: dict[str, tuple[torch.Tensor, torch.Tensor]]
    ):
        self.path = path
        self.config = config
        self.pairs = pairs
        rank = int(config["r"])
        alpha = float(config.get("lora_alpha", rank))
        self.scale = alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank

    def delta(self, name: str) -> torch.Tensor:
        """scale * B @ A in float32, Hugging Face row layout."""
        a, b = self.pairs[name]
        return (b.float() @ a.float()) * self.scale

    def __repr__(self) -> str:
        return f"LoraAdapter({self.path}, r={self.config['r']}, {len(self.pairs)} weights)"


def read_adapter(path: str | Path) -> LoraAdapter:
    """Read a PEFT adapter folder (or its `adapter_model.safetensors` file).

    Raises CheckpointError with what to do when a file is missing, a tensor belongs to no Llama linear
    layer, or a lora_A has no lora_B."""
    from safetensors.torch import load_file

    path = Path(path).expanduser()
    folder = path.parent if path.is_file() else path
    weights = folder / "adapter_model.safetensors"
    config_file = folder / "adapter_config.json"
    if not weights.exists() or not config_file.exists():
        raise CheckpointError(
            f"{folder}: not a LoRA adapter (expected adapter_config.json and adapter_model.safetensors, "
            "as PEFT's save_pretrained writes them)"
        )
    config = json.loads(config_file.read_text(encoding="utf-8"))
    if "r" not in config:
        raise CheckpointError(f"{config_file}: no 'r' (rank): is this a LoRA adapter?")
    if config.get("use_dora"):
        raise CheckpointError(f"{config_file}: DoRA adapters are not supported; train a plain LoRA adapter")
    halves: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in load_file(str(weights)).items():
        match = _KEY.match(key)
        if not match:
            raise CheckpointError(f"{weights}: tensor {key!r} is not a LoRA A/B weight of a linear layer")
        module = match.group("module")
        meta = hf_name_to_meta(f"{module}.weight")
        if meta is None or not meta.startswith("layers.") or meta == f"{module}.weight":
            raise CheckpointError(
                f"{weights}: {module!r} is not a Llama linear layer this engine can merge into"
            )
        halves.setdefault(meta, {})[match.group("part")] = tensor
    pairs: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for meta, parts in halves.items():
        if set(parts) != {"A", "B"}:
            raise CheckpointError(f"{weights}: {meta} has lora_{''.join(parts)} but not both A and B")
        a, b = parts["A"], parts["B"]
        if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[1]:
            raise CheckpointError(
                f"{weights}: {meta} has A {tuple(a.shape)} and B {tuple(b.shape)}, which do not chain"
            )
        pairs[meta] = (a, b)
    if not pairs:
        raise CheckpointError(f"{weights}: the adapter holds no LoRA weights")
    return LoraAdapter(folder, config, pairs)


def merge_adapter(checkpoint: Any, adapter: str | Path | LoraAdapter) -> Any:
    """Add the adapter's deltas to `checkpoint.state_dict` (a `Checkpoint`, Meta names and layout); returns
    the checkpoint. Each merged weight becomes a new tensor (a tied embedding/output pair stays tied: LoRA
    never touches it). Raises CheckpointError when a target weight is missing or its shape differs."""
    if not isinstance(adapter, LoraAdapter):
        adapter = read_adapter(adapter)
    state = checkpoint.state_dict
    args = checkpoint.args
    for name in sorted(adapter.pairs):
        if name not in state:
            raise CheckpointError(
                f"{adapter.path}: the adapter adapts {name}, which this model does not have"
            )
        weight = state[name]
        delta = adapter.delta(name)
        if name.endswith("attention.wq.weight"):
            delta = hf_to_meta_qk(delta, args.n_heads)
        elif name.endswith("attention.wk.weight"):
            delta = hf_to_meta_qk(delta, args.n_kv_heads)
        if tuple(delta.shape) != tuple(weight.shape):
            raise CheckpointError(
                f"{adapter.path}: {name} delta has shape {tuple(delta.shape)}, the model's weight "
                f"{tuple(weight.shape)}: the adapter was trained on another model"
            )
        state[name] = (weight.float() + delta).to(weight.dtype)
    metadata = getattr(checkpoint, "metadata", None)
    if isinstance(metadata, dict):
        metadata["adapter"] = str(adapter.path)
    return checkpoint
