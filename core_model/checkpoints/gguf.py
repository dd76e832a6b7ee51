"""GGUF files (llama.cpp's format), architecture `llama`, dequantized to float32.

    ```python
    ckpt = read_gguf_checkpoint(Path("SmolLM2-135M-Instruct.Q4_1.gguf"))
    ```

Shape, rope base, norm epsilon, heads and context length come from the `llama.*` metadata; the
tokenizer from `tokenizer.ggml.*` (`tokenizers.gguf.gguf_tokenizer`), the chat template from
`tokenizer.chat_template`. Llama 3.1's frequency scaling, which GGUF stores as the
`rope_freqs.weight` tensor of per-frequency divisors, is matched back to `RopeScaling` parameters
(factor = the largest divisor, original context from `llama.rope.scaling.original_context_length`
or 8192, low/high frequency factors 1 and 4); divisors that fit no llama3 scaling are an error.

Names: `token_embd` -> `tok_embeddings`, `output_norm` -> `norm`, `output` -> `output`,
`blk.{i}.attn_{q,k,v,output}` -> `layers.{i}.attention.{wq,wk,wv,wo}`, `blk.{i}.ffn_{gate,down,up}` ->
`feed_forward.{w1,w2,w3}`, `blk.{i}.{attn_norm,ffn_norm}` -> `attention_norm`, `ffn_norm`. llama.cpp's
converter already stores q/k in Meta's interleaved-pair layout (it undoes Hugging Face's permutation),
so no permutation is applied here; the test suite checks this against transformers' GGUF loader.
Tensors are dequantized one at a time with `gguf.quants.dequantize` from the memory-mapped file.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import struct
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llamasys.core_model.checkpoints.checkpoint import Checkpoint, check_state_dict, check_tokenizer
from llamasys.core_model.config import ModelArgs, RopeScaling, llama3_frequency_divisors
from llamasys.core_model.errors import CheckpointError, TokenizerError
from llamasys.core_model.tokenizers.gguf import gguf_tokenizer
from llamasys.core_model.tokenizers.hf import HFTokenizer

__all__ = [
    "read_gguf_checkpoint",
    "gguf_name_to_meta",
    "open_gguf",
    "GGUFFile",
    "SUPPORTED_ARCHITECTURES",
]

log = logging.getLogger(__name__)

SUPPORTED_ARCHITECTURES = ("llama",)
_BLOCK = re.compile(r"^blk\.(\d+)\.(.+)$")
_BLOCK_NAMES = {
    "attn_q.weight": "attention.wq.weight",
    "attn_k.weight": "attention.wk.weight",
    "attn_v.weight": "attention.wv.weight",
    "attn_output.weight": "attention.wo.weight",
    "ffn_gate.weight": "feed_forward.w1.weight",
    "ffn_down.weight": "feed_forward.w2.weight",
    "ffn_up.weight": "feed_forward.w3.weight",
    "attn_norm.weight": "attention_norm.weight",
    "ffn_norm.weight": "ffn_norm.weight",
}
_TOP_NAMES = {
    "token_embd.weight": "tok_embeddings.weight",
    "output_norm.weight": "norm.weight",
    "output.weight": "output.weight",
}
_ROPE_FREQS = "rope_freqs.weight"


def gguf_name_to_meta(name: str) -> str:
    """Meta's name for a GGUF tensor name (unknown names pass through unchanged)."""
    if name in _TOP_NAMES:
        return _TOP_NAMES[name]
    match = _BLOCK.match(name)
    if match and match.group(2) in _BLOCK_NAMES:
        return f"layers.{match.group(1)}.{_BLOCK_NAMES[match.group(2)]}"
    return name


_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_NUMPY = {
    0: "<u1",
    1: "<i1",
    2: "<u2",
    3: "<i2",
    4: "<u4",
    5: "<i4",
    6: "<f4",
    7: "<?",
    10: "<u8",
    11: "<i8",
    12: "<f8",
}
_STRING, _ARRAY = 8, 9


@dataclasses.dataclass(frozen=True)
class GGUFTensorInfo:
    name: str
    shape: tuple[int, ...]
    """numpy / PyTorch order (rows first): the reverse of GGUF's ne[] order."""
    qtype: Any
    offset: int
    nbytes: int


class GGUFFile:
    """A GGUF v2/v3 file: `metadata` (arrays of numbers as numpy arrays, of strings as lists) and
    `tensors`, whose bytes `tensor_data` reads from a memory map. Parsing is done here rather than
    with `gguf.GGUFReader`, which builds numpy views per array element (seconds for a vocabulary)."""

    def __init__(self, path: Path) -> None:
        from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

        self.path = Path(path)
        try:
            # copy-on-write: F32 tensors can be handed out as writable views without copying them
            self._map = np.memmap(self.path, dtype=np.uint8, mode="c")
        except FileNotFoundError:
            raise CheckpointError(f"{path}: no such GGUF file") from None
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{path}: cannot open ({exc})") from None
        self._buf = memoryview(self._map)
        self._pos = 0
        try:
            magic = bytes(self._buf[:4])
            if magic != b"GGUF":
                raise CheckpointError(f"{path}: not a GGUF file (starts with {magic!r})")
            self._pos = 4
            version = self._unpack("<I")
            if version not in (2, 3):
                raise CheckpointError(f"{path}: GGUF version {version} is not supported (expected 2 or 3)")
            n_tensors, n_kv = self._unpack("<Q"), self._unpack("<Q")
            self.metadata: dict[str, Any] = {}
            for _ in range(n_kv):
                key = self._string()
                self.metadata[key] = self._value(self._unpack("<I"))
            infos = []
            for _ in range(n_tensors):
                name = self._string()
                n_dims = self._unpack("<I")
                dims = struct.unpack_from(f"<{n_dims}Q", self._buf, self._pos)
                self._pos += 8 * n_dims
                raw_type, offset = self._unpack("<I"), self._unpack("<Q")
                infos.append((name, dims, raw_type, offset))
        except (struct.error, IndexError, UnicodeDecodeError, ValueError) as exc:
            raise CheckpointError(
                f"{path}: the GGUF header is truncated or corrupt ({exc}): download the file again"
            ) from None
        alignment = int(self.metadata.get("general.alignment", 32))
        data_start = -(-self._pos // alignment) * alignment
        self.tensors: list[GGUFTensorInfo] = []
        for name, dims, raw_type, offset in infos:
            try:
                qtype = GGMLQuantizationType(raw_type)
            except ValueError:
                raise CheckpointError(f"{path}: tensor {name} has unknown GGML type {raw_type}") from None
            block, type_size = GGML_QUANT_SIZES[qtype]
            count = math.prod(dims)
            shape = tuple(int(d) for d in reversed(dims))
            info = GGUFTensorInfo(name, shape, qtype, data_start + offset, count // block * type_size)
            if info.offset + info.nbytes > len(self._map):
                raise CheckpointError(
                    f"{path}: tensor {name} ends at byte {info.offset + info.nbytes} but the file has "
                    f"{len(self._map)} bytes: the file is truncated, download it again"
                )
            self.tensors.append(info)

    def _unpack(self, fmt: str) -> Any:
        (value,) = struct.unpack_from(fmt, self._buf, self._pos)
        self._pos += struct.calcsize(fmt)
        return value

    def _string(self) -> str:
        length = self._unpack("<Q")
        if self._pos + length > len(self._buf):
            raise ValueError("string runs past the end of the file")
        text = bytes(self._buf[self._pos : self._pos + length]).decode("utf-8")
        self._pos += length
        return text

    def _value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self._unpack(_SCALARS[kind])
        if kind == _STRING:
            return self._string()
        if kind == _ARRAY:
            item, count = self._unpack("<I"), self._unpack("<Q")
            if item in _NUMPY:
                dtype = np.dtype(_NUMPY[item])
                array = np.frombuffer(self._buf, dtype=dtype, count=count, offset=self._pos)
                self._pos += dtype.itemsize * count
                return array
            return [self._value(item) for _ in range(count)]
        raise ValueError(f"unknown GGUF value type {kind}")

    def tensor_data(self, info: GGUFTensorInfo) -> np.ndarray:
        """The tensor's stored bytes: typed for F32/F16/F64, raw uint8 rows for quantized types."""
        from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

        raw = self._map[info.offset : info.offset + info.nbytes]
        typed = {
            GGMLQuantizationType.F32: np.float32,
            GGMLQuantizationType.F16: np.float16,
            GGMLQuantizationType.F64: np.float64,
            GGMLQuantizationType.BF16: np.uint16,
        }.get(info.qtype)
        if typed is not None:
            return raw.view(typed).reshape(info.shape)
        block, type_size = GGML_QUANT_SIZES[info.qtype]
        return raw.reshape(*info.shape[:-1], info.shape[-1] // block * type_size)


def open_gguf(path: Path) -> GGUFFile:
    """Parse a GGUF file's header (memory-mapped), or raise CheckpointError naming the problem."""
    return GGUFFile(path)


def _to_float32(gguf: GGUFFile, info: GGUFTensorInfo) -> torch.Tensor:
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize

    qtype = info.qtype
    if qtype in (
        GGMLQuantizationType.I8,
        GGMLQuantizationType.I16,
        GGMLQuantizationType.I32,
        GGMLQuantizationType.I64,
    ):
        raise CheckpointError(
            f"{gguf.path}: tensor {info.name} has integer type {qtype.name}, expected float or quantized weights"
        )
    data = gguf.tensor_data(info)
    try:
        if qtype == GGMLQuantizationType.BF16:
            array = (data.astype(np.uint32) << 16).view(np.float32)
        elif qtype == GGMLQuantizationType.F32:
            return torch.from_numpy(data)  # a view of the (copy-on-write) map: no copy
        elif qtype in (GGMLQuantizationType.F64, GGMLQuantizationType.F16):
            array = data.astype(np.float32)
        else:
            array = dequantize(data, qtype)
    except NotImplementedError:
        raise CheckpointError(
            f"{gguf.path}: tensor {info.name} uses quantization type {qtype.name}, which the gguf package "
            "cannot dequantize: convert the file to a supported type (F32, F16, BF16, Q4_0/1, Q5_0/1, Q8_0, "
            "Q2_K..Q6_K)"
        ) from None
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32).reshape(info.shape))


def _scaling_from_rope_freqs(
    divisors: torch.Tensor, meta: dict[str, Any], args: ModelArgs, path: Path
) -> RopeScaling:
    factor = float(divisors.max())
    original = int(meta.get("llama.rope.scaling.original_context_length") or 8192)
    scaling = RopeScaling(factor=round(factor, 4), original_max_position_embeddings=original)
    expected = llama3_frequency_divisors(scaling, args.head_dim, args.rope_theta)
    if expected.shape != divisors.shape or not torch.allclose(
        expected, divisors.float(), rtol=1e-4, atol=1e-4
    ):
        raise CheckpointError(
            f"{path}: rope_freqs.weight does not match Llama 3.1 rope scaling (factor {factor:g}, original "
            f"context {original}, low/high frequency factors 1/4): this frequency scaling is not supported"
        )
    return scaling


def read_gguf_tokenizer(path: str | Path) -> HFTokenizer:
    """Only the tokenizer of a GGUF file (its `tokenizer.ggml.*` metadata; no tensor is read).

    Raises TokenizerError when the file is not a readable GGUF file or its vocabulary is unsupported."""
    try:
        meta = open_gguf(Path(path)).metadata
    except CheckpointError as exc:
        raise TokenizerError(str(exc)) from None
    return gguf_tokenizer(meta, name=str(path))


def read_gguf_checkpoint(path: Path, dtype: torch.dtype | None = None) -> Checkpoint:
    """Read a llama GGUF file; tensors dequantized to float32, or to `dtype` one by one."""
    path = Path(path)
    gguf = open_gguf(path)
    meta = gguf.metadata
    arch = meta.get("general.architecture")
    if arch not in SUPPORTED_ARCHITECTURES:
        raise CheckpointError(
            f"{path}: GGUF architecture {arch!r} is not supported: this engine runs architecture 'llama' only"
        )
    scaling_type = meta.get("llama.rope.scaling.type")
    if scaling_type not in (None, "none"):
        raise CheckpointError(
            f"{path}: rope scaling type {scaling_type!r} is not supported (only Llama 3.1's rope_freqs scaling)"
        )
    tensors = {t.name: t for t in gguf.tensors}
    try:
        args = ModelArgs.from_gguf_metadata(meta)
    except KeyError as exc:
        raise CheckpointError(f"{path}: GGUF metadata lacks {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    tied = "output.weight" not in tensors
    scaling = None
    if _ROPE_FREQS in tensors:
        scaling = _scaling_from_rope_freqs(_to_float32(gguf, tensors[_ROPE_FREQS]), meta, args, path)
    args = dataclasses.replace(args, rope_scaling=scaling, tie_word_embeddings=tied)

    state_dict: dict[str, torch.Tensor] = {}
    qtypes: Counter[str] = Counter()
    for name, info in tensors.items():
        if name == _ROPE_FREQS:
            continue
        qtypes[info.qtype.name] += 1
        tensor = _to_float32(gguf, info)
        state_dict[gguf_name_to_meta(name)] = tensor if dtype is None else tensor.to(dtype)
    if tied and "tok_embeddings.weight" in state_dict:
        state_dict["output.weight"] = state_dict["tok_embeddings.weight"]
    check_state_dict(args, state_dict, path)
    try:
        tokenizer = gguf_tokenizer(meta, name=str(path))
    except TokenizerError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    check_tokenizer(args, tokenizer, path)
    template = meta.get("tokenizer.chat_template")
    return Checkpoint(
        args=args,
        state_dict=state_dict,
        tokenizer=tokenizer,
        chat_template=template if isinstance(template, str) else None,
        path=path,
        format="gguf",
        metadata={"quantization": dict(qtypes), "name": meta.get("general.name")},
    )
