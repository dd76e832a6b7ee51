"""Hugging Face Llama folders: `config.json` + `model.safetensors` (or a sharded
`model.safetensors.index.json`, or `pytorch_model.bin`) + `tokenizer.json`.

    ```python
    ckpt = read_hf_checkpoint(Path("Llama-3.2-1B-Instruct"))
    ```

Names map to Meta's (`model.layers.{i}.self_attn.q_proj.weight` -> `layers.{i}.attention.wq.weight`,
`mlp.gate_proj/up_proj/down_proj` -> `feed_forward.w1/w3/w2`, `input_layernorm` -> `attention_norm`,
`post_attention_layernorm` -> `ffn_norm`, `lm_head` -> `output`). Safetensors files are parsed here and
memory-mapped (private, lazily read), so the state dict costs no RAM until used; q/k rows are un-permuted with
`config.hf_to_meta_qk`. Without `lm_head.weight` (tied embeddings) `output.weight` is the embedding
tensor itself. Tokenizer: `tokenizer.json` (+ `tokenizer_config.json`), else a Llama 3
`tokenizer.model` in the folder or in `original/`. Chat template: `chat_template.jinja` or
`tokenizer_config.json`'s `chat_template`.
"""

from __future__ import annotations

import json
import logging
import math
import pickle
import re
import struct
import zipfile
from pathlib import Path
from typing import Any

import torch

from llamasys.core_model.checkpoints.checkpoint import Checkpoint, check_state_dict, check_tokenizer
from llamasys.core_model.config import ModelArgs, hf_to_meta_qk, meta_to_hf_qk
from llamasys.core_model.errors import CheckpointError, TokenizerError
from llamasys.core_model.tokenizers.base import Tokenizer
from llamasys.core_model.tokenizers.hf import HFTokenizer
from llamasys.core_model.tokenizers.llama3 import Llama3Tokenizer

__all__ = [
    "read_hf_checkpoint",
    "hf_name_to_meta",
    "meta_state_dict_to_hf",
    "read_chat_template",
    "SUPPORTED_ARCHITECTURES",
]

log = logging.getLogger(__name__)

SUPPORTED_ARCHITECTURES = ("LlamaForCausalLM",)
_LAYER = re.compile(r"^layers\.(\d+)\.(.+)$")
_LAYER_NAMES = {
    "self_attn.q_proj.weight": "attention.wq.weight",
    "self_attn.k_proj.weight": "attention.wk.weight",
    "self_attn.v_proj.weight": "attention.wv.weight",
    "self_attn.o_proj.weight": "attention.wo.weight",
    "mlp.gate_proj.weight": "feed_forward.w1.weight",
    "mlp.down_proj.weight": "feed_forward.w2.weight",
    "mlp.up_proj.weight": "feed_forward.w3.weight",
    "input_layernorm.weight": "attention_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
}
_TOP_NAMES = {"embed_tokens.weight": "tok_embeddings.weight", "norm.weight": "norm.weight"}
# Buffers some older exports saved; the model recomputes them.
_SKIP = re.compile(r"(^|\.)rotary_emb\.inv_freq$")


def hf_name_to_meta(name: str) -> str | None:
    """Meta's name for an HF tensor name (None for buffers to skip); unknown names pass through."""
    if _SKIP.search(name):
        return None
    if name == "lm_head.weight":
        return "output.weight"
    bare = name.removeprefix("model.")
    if bare in _TOP_NAMES:
        return _TOP_NAMES[bare]
    match = _LAYER.match(bare)
    if match and match.group(2) in _LAYER_NAMES:
        return f"layers.{match.group(1)}.{_LAYER_NAMES[match.group(2)]}"
    return name


def meta_state_dict_to_hf(
    state_dict: dict[str, torch.Tensor], args: ModelArgs, *, tied: bool | None = None
) -> dict[str, torch.Tensor]:
    """The inverse of loading: Meta names and q/k layout -> Hugging Face `LlamaForCausalLM` names, with
    q/k rows permuted for half-split RoPE. `lm_head.weight` is left out when the model is tied (default:
    `args.tie_word_embeddings`). Tensors are shared, not copied, except the permuted q/k."""
    tied = args.tie_word_embeddings if tied is None else tied
    meta_to_hf = {meta: hf for hf, meta in _LAYER_NAMES.items()}
    hf: dict[str, torch.Tensor] = {}
    for name, tensor in state_dict.items():
        if name == "output.weight":
            if not tied:
                hf["lm_head.weight"] = tensor
            continue
        top = {meta: hf_name for hf_name, meta in _TOP_NAMES.items()}.get(name)
        if top is not None:
            hf[f"model.{top}"] = tensor
            continue
        match = _LAYER.match(name)
        if not match or match.group(2) not in meta_to_hf:
            raise CheckpointError(
                f"{name}: not a Llama weight name, cannot convert it to Hugging Face's layout"
            )
        rest = match.group(2)
        if rest == "attention.wq.weight":
            tensor = meta_to_hf_qk(tensor, args.n_heads)
        elif rest == "attention.wk.weight":
            tensor = meta_to_hf_qk(tensor, args.n_kv_heads)
        hf[f"model.layers.{match.group(1)}.{meta_to_hf[rest]}"] = tensor
    return hf


def _read_config(folder: Path) -> tuple[dict[str, Any], ModelArgs]:
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{folder}: no config.json: expected a Hugging Face model folder") from None
    except ValueError as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
    archs = config.get("architectures") or []
    model_type = config.get("model_type", "llama")
    if model_type != "llama" or (archs and not set(archs) & set(SUPPORTED_ARCHITECTURES)):
        raise CheckpointError(
            f"{path}: model_type {model_type!r} / architectures {archs} is not supported: this engine runs "
            "Llama decoders (LlamaForCausalLM)"
        )
    try:
        return config, ModelArgs.from_hf_config(config)
    except KeyError as exc:
        raise CheckpointError(f"{path}: missing the key {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def _weight_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (ValueError, KeyError) as exc:
            raise CheckpointError(f"{index}: not a safetensors index ({exc})") from None
        files = [folder / name for name in dict.fromkeys(weight_map.values())]
        for f in files:
            if not f.is_file():
                raise CheckpointError(f"{f}: listed in {index.name} but missing: the download is incomplete")
        return files
    single = folder / "model.safetensors"
    if single.is_file():
        return [single]
    loose = sorted(folder.glob("*.safetensors"))
    if loose:
        return loose
    bins = sorted(folder.glob("pytorch_model*.bin"))
    if bins:
        return bins
    raise CheckpointError(
        f"{folder}: has config.json but no model.safetensors, model.safetensors.index.json or "
        "pytorch_model.bin: the weights are missing"
    )


_SAFETENSORS_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def _read_safetensors(path: Path, out: dict[str, torch.Tensor]) -> None:
    """Tensors of a .safetensors file as views of one private memory map: nothing is read until used,
    and the pages stay reclaimable file cache (no second copy of the weights in RAM)."""

    def corrupt(why: str) -> CheckpointError:
        return CheckpointError(
            f"{path}: cannot read this safetensors file ({why}); it is truncated or corrupt: download it again"
        )

    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise corrupt(f"only {size} bytes")
        (header_len,) = struct.unpack("<Q", head)
        if header_len > size - 8:
            raise corrupt(f"the header claims {header_len} bytes but the file has {size}")
        try:
            header = json.loads(fh.read(header_len))
        except ValueError as exc:
            raise corrupt(f"bad header: {exc}") from None
    base = 8 + header_len
    storage = torch.UntypedStorage.from_file(str(path), shared=False, nbytes=size) if size > base else None
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = _SAFETENSORS_DTYPES[info["dtype"]]
            shape = [int(n) for n in info["shape"]]
            begin, end = (int(n) for n in info["data_offsets"])
        except (KeyError, TypeError, ValueError) as exc:
            raise corrupt(f"bad header entry for {name}: {exc}") from None
        itemsize = torch.empty(0, dtype=dtype).element_size()
        if end - begin != math.prod(shape) * itemsize:
            raise corrupt(
                f"{name} holds {end - begin} bytes, not the {shape} x {info['dtype']} its header says"
            )
        if base + end > size:
            raise corrupt(f"{name} ends at byte {base + end} but the file has {size} bytes")
        if (base + begin) % itemsize or storage is None:
            with path.open("rb") as fh:  # unaligned (never written by the safetensors library): copy
                fh.seek(base + begin)
                buffer = bytearray(fh.read(end - begin))
            out[name] = torch.frombuffer(buffer, dtype=torch.uint8).view(dtype).reshape(shape)
            continue
        tensor = torch.empty(0, dtype=dtype)
        out[name] = tensor.set_(storage, (base + begin) // itemsize, shape, _contiguous_strides(shape))


def _contiguous_strides(shape: list[int]) -> list[int]:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return strides[::-1]


def _read_bin(path: Path, out: dict[str, torch.Tensor]) -> None:
    try:
        data = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot read this .bin file ({exc}); download it again") from None
    out.update(data)


def read_chat_template(folder: Path) -> str | None:
    """`chat_template.jinja`, else tokenizer_config.json's `chat_template` (the "default" one if a list)."""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    config_path = folder / "tokenizer_config.json"
    if not config_path.is_file():
        return None
    try:
        template = json.loads(config_path.read_text(encoding="utf-8")).get("chat_template")
    except ValueError as exc:
        raise CheckpointError(f"{config_path}: not valid JSON ({exc})") from None
    if isinstance(template, list):
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default") or next(iter(named.values()), None)
    return template if isinstance(template, str) else None


def _read_tokenizer(folder: Path) -> Tokenizer:
    try:
        if (folder / "tokenizer.json").is_file():
            return HFTokenizer.from_folder(folder, vocab_size=None)
        for candidate in (folder / "tokenizer.model", folder / "original" / "tokenizer.model"):
            if candidate.is_file():
                return Llama3Tokenizer(candidate)
    except TokenizerError as exc:
        raise CheckpointError(f"{folder}: {exc}") from None
    raise CheckpointError(
        f"{folder}: no tokenizer.json, tokenizer.model or original/tokenizer.model: the tokenizer files are "
        "missing from this Hugging Face folder"
    )


def read_hf_checkpoint(folder: Path) -> Checkpoint:
    folder = Path(folder)
    config, args = _read_config(folder)
    raw: dict[str, torch.Tensor] = {}
    files = _weight_files(folder)
    for path in files:
        (_read_bin if path.suffix == ".bin" else _read_safetensors)(path, raw)
    state_dict: dict[str, torch.Tensor] = {}
    for name in list(raw):
        tensor = raw.pop(name)
        meta_name = hf_name_to_meta(name)
        if meta_name is None:
            continue
        if meta_name.endswith("attention.wq.weight"):
            tensor = _unpermute(tensor, args.n_heads, folder, name)
        elif meta_name.endswith("attention.wk.weight"):
            tensor = _unpermute(tensor, args.n_kv_heads, folder, name)
        state_dict[meta_name] = tensor
    if "output.weight" not in state_dict and "tok_embeddings.weight" in state_dict:
        if not args.tie_word_embeddings:
            raise CheckpointError(
                f"{folder}: no lm_head.weight and config.json does not set tie_word_embeddings: the output "
                "head is missing"
            )
        state_dict["output.weight"] = state_dict["tok_embeddings.weight"]
    check_state_dict(args, state_dict, folder)
    tokenizer = _read_tokenizer(folder)
    check_tokenizer(args, tokenizer, folder)
    return Checkpoint(
        args=args,
        state_dict=state_dict,
        tokenizer=tokenizer,
        chat_template=read_chat_template(folder),
        path=folder,
        format="hf",
        # transformers 5.x writes `dtype`, 4.x `torch_dtype`
        metadata={
            "files": [p.name for p in files],
            "torch_dtype": config.get("dtype", config.get("torch_dtype")),
        },
    )


def _unpermute(tensor: torch.Tensor, n_heads: int, folder: Path, name: str) -> torch.Tensor:
    if tensor.ndim != 2 or tensor.shape[0] % n_heads or (tensor.shape[0] // n_heads) % 2:
        raise CheckpointError(
            f"{folder}: weight {name} has shape {tuple(tensor.shape)}, which does not split into {n_heads} "
            "heads: config and weights do not belong together"
        )
    return hf_to_meta_qk(tensor, n_heads).contiguous()
