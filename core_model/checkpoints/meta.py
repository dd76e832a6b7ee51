"""Meta's checkpoint folders: `params.json` + `consolidated.NN.pth` (+ `tokenizer.model`).

    ```python
    ckpt = read_meta_checkpoint(Path("Llama3.1-8B-Instruct"))
    ```

Shards are memory-mapped (`torch.load(mmap=True, weights_only=True)`). Model-parallel shards are
merged as Meta's reshard does (llama-models' checkpoint loading: each tensor concatenated along its parallel dimension): column-parallel weights (wq, wk, wv, w1, w3,
output, tok_embeddings) concatenated on dim 0, row-parallel ones (wo, w2) on the last dim, norms
taken from the first shard. A single shard stays memory-mapped, so loading costs no extra RAM.
The tokenizer is the folder's `tokenizer.model`, else Meta's copy inside llama-models.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import pickle
import zipfile
from pathlib import Path

import torch

from llamasys.core_model.checkpoints.checkpoint import Checkpoint, check_state_dict, check_tokenizer
from llamasys.core_model.config import ModelArgs
from llamasys.core_model.errors import CheckpointError
from llamasys.core_model.tokenizers.llama3 import Llama3Tokenizer

__all__ = ["read_meta_checkpoint", "merge_meta_shards", "read_params"]

log = logging.getLogger(__name__)

_ROW_PARALLEL = ("attention.wo.weight", "feed_forward.w2.weight")


def read_params(folder: Path) -> ModelArgs:
    path = folder / "params.json"
    try:
        params = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{folder}: no params.json: expected a Meta Llama checkpoint folder") from None
    except ValueError as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
    try:
        return ModelArgs.from_meta_params(params)
    except KeyError as exc:
        raise CheckpointError(f"{path}: missing the key {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def _load_shard(path: Path) -> dict[str, torch.Tensor]:
    try:
        data = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: cannot read this .pth file ({first}); it is corrupt or incomplete: download it again"
        ) from None
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError(f"{path}: expected a dict of tensors (a Meta consolidated.*.pth)")
    return data


def merge_meta_shards(shards: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Merge model-parallel shards into one state dict (column-parallel dim 0, row-parallel dim -1)."""
    if len(shards) == 1:
        return shards[0]
    merged: dict[str, torch.Tensor] = {}
    for key in list(shards[0]):
        parts = [shard.pop(key) for shard in shards]
        if parts[0].ndim < 2:
            merged[key] = parts[0]
        elif key.endswith(_ROW_PARALLEL):
            merged[key] = torch.cat(parts, dim=-1)
        else:
            merged[key] = torch.cat(parts, dim=0)
    return merged


def _refuse_prequantized(folder: Path) -> None:
    """Meta also ships FP8 (fp8_scales_*.pt) and int4 QLoRA / SpinQuant SKUs; their tensors are not
    plain weights, so loading them as such would be silently wrong."""
    if any(folder.glob("fp8_scales_*.pt")):
        raise CheckpointError(
            f"{folder}: this is one of Meta's FP8 checkpoints (fp8_scales_*.pt), which this engine does not read: "
            "use the bf16 checkpoint and load it with quantization='fp8'"
        )
    params = json.loads((folder / "params.json").read_text(encoding="utf-8"))
    if params.get("quantization_args") or params.get("lora_args"):
        raise CheckpointError(
            f"{folder}: params.json describes a quantized (QLoRA / SpinQuant int4) checkpoint, which this "
            "engine does not read: use the bf16 checkpoint"
        )


def _same_storage(a: torch.Tensor, b: torch.Tensor) -> bool:
    return (
        a.shape == b.shape
        and a.stride() == b.stride()
        and a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
        and a.storage_offset() == b.storage_offset()
    )


def _equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)


def read_meta_checkpoint(folder: Path) -> Checkpoint:
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such checkpoint folder")
    args = read_params(folder)
    _refuse_prequantized(folder)
    shard_paths = sorted(folder.glob("consolidated.*.pth"))
    if not shard_paths:
        raise CheckpointError(
            f"{folder}: has params.json but no consolidated.*.pth weight files: the download is incomplete"
        )
    shards = [_load_shard(p) for p in shard_paths]
    keys = set(shards[0])
    for p, shard in zip(shard_paths[1:], shards[1:], strict=True):
        if set(shard) != keys:
            raise CheckpointError(f"{p}: holds other weights than {shard_paths[0].name}: shards do not match")
    state_dict = merge_meta_shards(shards)
    del shards
    emb, out = state_dict.get("tok_embeddings.weight"), state_dict.get("output.weight")
    # Llama 3.2 1B/3B are tied: Meta's files still carry output.weight, equal to the embedding. One
    # tensor then serves both (less memory, and the engine sees the tie).
    if emb is not None and out is not None and (_same_storage(emb, out) or _equal(emb, out)):
        state_dict["output.weight"] = emb
        args = dataclasses.replace(args, tie_word_embeddings=True)
    check_state_dict(args, state_dict, folder)
    tok_path = folder / "tokenizer.model"
    if tok_path.is_file():
        tokenizer = Llama3Tokenizer(tok_path)
    else:
        log.info("%s has no tokenizer.model: using the Llama 3 tokenizer from llama-models", folder)
        tokenizer = Llama3Tokenizer.default()
    check_tokenizer(args, tokenizer, folder)
    return Checkpoint(
        args=args,
        state_dict=state_dict,
        tokenizer=tokenizer,
        chat_template=None,
        path=folder,
        format="meta",
        metadata={"shards": len(shard_paths)},
    )
