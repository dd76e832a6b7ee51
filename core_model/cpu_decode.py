"""The CPU decode step as one call into C: the whole token, every layer, no Python in between.

    ```python
    step = CpuDecodeStep(model)                    # binds the model's weights and KV cache
    logits = step(tokens, positions)               # LongTensor [n] each -> float32 [n, vocab]
    ```

Why: at SmolLM2-135M size a bf16 decode step reads ~270 MB of weights (~4 ms at this machine's
bandwidth), but in eager PyTorch it also runs ~400 small operators, each a few microseconds of
dispatch, and PyTorch's bf16 matrix-vector product streams at about half the bandwidth. The step in
`cpu_decode.c` is the same decoder as `model.py` — RMSNorm, RoPE on adjacent pairs, grouped-query
attention over each row's own positions, SwiGLU — in one OpenMP region, with matrix-vector kernels
written for the CPU's vector units (see the C file's header). It is what `Engine` uses for decode
steps on the CPU when it can (`cpu_kernels=None`); prefill stays in PyTorch, whose GEMMs are fast for
many rows, and both write the same KV cache tensors.

What it supports: float32 and bfloat16 models, unquantized, `quantization="int8"` (its int8 layers
multiply int8 weights by activations quantized to int8 in blocks of 32 values with one scale each —
W8A8 like llama.cpp's Q8_0 dot products; the PyTorch int8 path is weight-only), and `"fp8"` /
`"fp8-all"` (weight-only, as PyTorch does off CUDA: each float8_e4m3fn weight is widened exactly to
bf16 in registers and multiplied with bf16 activations — in a float32 model too). float16 models,
FP8 layers in "emulate" mode, and devices other than the CPU use PyTorch; `unsupported_reason(model)`
says why.

Numerics (tests/core_model/test_cpu_decode.py): the residual stream stays in float32 (PyTorch's bf16
path rounds it to bf16 after every block), K/V are rounded to the model dtype when cached, and bf16
matmul inputs are rounded to bf16 like PyTorch's. In float32 the logits equal transformers' Llama
to ~1e-5.
"""

from __future__ import annotations

import ctypes
import logging
import os
import weakref

import torch

from llamasys.core_model.model import Linear, Transformer
from llamasys.core_model.native_library import NativeBuildError, load_native_library
from llamasys.core_model.quantize import Fp8Linear, Int8Linear

__all__ = ["CpuDecodeStep", "NativeBuildError", "unsupported_reason"]

log = logging.getLogger(__name__)

_F32, _BF16, _INT8, _FP8 = 0, 1, 2, 3
_ACT_DTYPES = {torch.float32: _F32, torch.bfloat16: _BF16}


class _Linear(ctypes.Structure):
    _fields_ = [
        ("w", ctypes.c_void_p),
        ("scale", ctypes.c_void_p),
        ("dtype", ctypes.c_int32),
        ("n", ctypes.c_int32),
        ("k", ctypes.c_int32),
    ]


_CONFIG_INTS = "dim n_layers n_heads n_kv_heads head_dim hidden vocab max_seq_len max_batch act_dtype"


class _Config(ctypes.Structure):
    _fields_ = [
        *((name, ctypes.c_int32) for name in _CONFIG_INTS.split()),
        ("norm_eps", ctypes.c_float),
        ("tok_embeddings", ctypes.c_void_p),
        ("rope", ctypes.c_void_p),
        ("final_norm", ctypes.c_void_p),
        ("output", _Linear),
    ]


class _Layer(ctypes.Structure):
    _fields_ = [
        ("attn_norm", ctypes.c_void_p),
        ("ffn_norm", ctypes.c_void_p),
        ("wqkv", _Linear),
        ("wo", _Linear),
        ("w13", _Linear),
        ("w2", _Linear),
        ("cache_k", ctypes.c_void_p),
        ("cache_v", ctypes.c_void_p),
    ]


def _library(portable: bool = False, defines: tuple[str, ...] = ()) -> ctypes.CDLL:
    lib = load_native_library("cpu_decode.c", portable=portable, defines=defines)
    if not getattr(lib, "_llamasys_typed", False):
        lib.ls_create.restype = ctypes.c_void_p
        lib.ls_create.argtypes = [ctypes.POINTER(_Config), ctypes.POINTER(_Layer), ctypes.c_int]
        lib.ls_destroy.argtypes = [ctypes.c_void_p]
        lib.ls_decode.restype = ctypes.c_int
        lib.ls_decode.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_int,
        ]
        lib.ls_features.restype = ctypes.c_int
        lib.ls_fp8_to_bf16.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        lib._llamasys_typed = True
    return lib


def kernel_features(portable: bool = False) -> list[str]:
    """The vector kernels the compiled step has here, e.g. ['avx512', 'avx512_bf16', 'avx512_vnni', 'fp8'],
    or ['avx2'] on a CPU with AVX2 and FMA but no AVX-512 (int8 and bf16 kernels)."""
    bits = _library(portable).ls_features()
    names = ((1, "avx512"), (2, "avx512_bf16"), (4, "avx512_vnni"), (8, "fp8"), (16, "avx2"))
    return [name for bit, name in names if bits & bit]


def fp8_to_bf16(weights: torch.Tensor, portable: bool = False) -> torch.Tensor:
    """The kernels' own float8_e4m3fn -> bfloat16 widening, for checking it against PyTorch's cast."""
    src = weights.contiguous().view(torch.uint8)
    out = torch.empty(src.shape, dtype=torch.bfloat16)
    _library(portable).ls_fp8_to_bf16(src.data_ptr(), out.data_ptr(), src.numel())
    return out


def _linear_kind(layer: torch.nn.Module) -> str | None:
    if isinstance(layer, Linear):
        return "dense"
    if isinstance(layer, Int8Linear):
        return "int8"
    if isinstance(layer, Fp8Linear) and layer.mode == "dequant":  # weight-only; "emulate" is W8A8
        return "fp8"
    return None


def unsupported_reason(model: Transformer) -> str | None:
    """None if `CpuDecodeStep` can run this model, else why not (in words)."""
    if model.device.type != "cpu":
        return f"the model is on {model.device.type}, the C step runs on the CPU"
    if model.dtype not in _ACT_DTYPES:
        return f"dtype {model.dtype} (the C step handles float32 and bfloat16)"
    for layer in model.layers:
        for lin in (layer.attention.wqkv, layer.attention.wo, layer.feed_forward.w13, layer.feed_forward.w2):
            if _linear_kind(lin) is None:
                mode = f" in mode {lin.mode}" if hasattr(lin, "mode") else ""
                return f"{type(lin).__name__} layers{mode} (it handles dense, int8 and weight-only fp8 ones)"
    if _linear_kind(model.output) is None:
        return f"a {type(model.output).__name__} output head"
    return None


class CpuDecodeStep:
    """One decode step of `model` in C. Holds references to every tensor whose address it passed."""

    def __init__(
        self,
        model: Transformer,
        *,
        portable: bool = False,
        max_threads: int | None = None,
        defines: tuple[str, ...] = (),
    ) -> None:
        reason = unsupported_reason(model)
        if reason is not None:
            raise ValueError(f"the C decode step does not support {reason}")
        self.model = model
        self._lib = _library(portable, defines)
        self.portable = portable
        self._keep: list[torch.Tensor] = []  # every tensor whose address the C side holds
        a = model.args
        act = _ACT_DTYPES[model.dtype]
        rope = torch.view_as_real(model.freqs_cis).contiguous()  # [S, D/2, 2] float32 (cos, sin)
        config = _Config(
            dim=a.dim,
            n_layers=a.n_layers,
            n_heads=a.n_heads,
            n_kv_heads=a.n_kv_heads,
            head_dim=a.head_dim,
            hidden=a.ffn_hidden_dim,
            vocab=a.vocab_size,
            max_seq_len=model.max_seq_len,
            max_batch=model.max_batch_size,
            act_dtype=act,
            norm_eps=a.norm_eps,
            tok_embeddings=self._ptr(model.tok_embeddings.weight),
            rope=self._ptr(rope, copy=True),
            final_norm=self._ptr(model.norm.weight.float(), copy=True),
            output=self._linear(model.output),
        )
        layers = (_Layer * a.n_layers)()
        for i, block in enumerate(model.layers):
            attn, ffn = block.attention, block.feed_forward
            layers[i] = _Layer(
                attn_norm=self._ptr(block.attention_norm.weight.float(), copy=True),
                ffn_norm=self._ptr(block.ffn_norm.weight.float(), copy=True),
                wqkv=self._linear(attn.wqkv),
                wo=self._linear(attn.wo),
                w13=self._linear(ffn.w13),
                w2=self._linear(ffn.w2),
                cache_k=self._ptr(attn.cache_k),
                cache_v=self._ptr(attn.cache_v),
            )
        self.max_threads = max_threads or max(torch.get_num_threads(), os.cpu_count() or 1)
        handle = self._lib.ls_create(ctypes.byref(config), layers, self.max_threads)
        if not handle:
            raise ValueError("the C decode step rejected the model's shapes (or is out of memory)")
        self._handle = handle
        self._finalizer = weakref.finalize(self, self._lib.ls_destroy, handle)

    def _ptr(self, t: torch.Tensor, copy: bool = False) -> int:
        """The address of `t`, kept alive. Shared tensors (weights, the KV cache) must be contiguous:
        a silent copy would decode against stale weights or write a cache nobody reads."""
        if not t.is_contiguous():
            if not copy:
                raise ValueError(f"the C decode step needs contiguous tensors, got strides {t.stride()}")
            t = t.contiguous()
        self._keep.append(t)
        return t.data_ptr()

    def _linear(self, layer: torch.nn.Module) -> _Linear:
        n, k = layer.out_features, layer.in_features
        kind = _linear_kind(layer)
        if kind in ("int8", "fp8"):
            scale = layer.scale_f32 if kind == "int8" else layer.scale
            dtype = _INT8 if kind == "int8" else _FP8
            scale_ptr = self._ptr(scale.float(), copy=True)
            return _Linear(w=self._ptr(layer.weight), scale=scale_ptr, dtype=dtype, n=n, k=k)
        w = layer.weight
        return _Linear(w=self._ptr(w), scale=None, dtype=_ACT_DTYPES[w.dtype], n=n, k=k)

    def __call__(
        self, tokens: torch.Tensor, positions: torch.Tensor, rows: torch.Tensor | None = None
    ) -> torch.Tensor:
        """tokens, positions: LongTensor `[n]` -> float32 logits `[n, vocab]`. Entry i feeds tokens[i] at
        positions[i] into KV-cache row `rows[i]` (LongTensor `[n]`, distinct rows; default: row i), so a
        serving batch decodes its busy cache rows without the idle ones between them. Raises ValueError
        for a bad count, token id, position or row."""
        n = tokens.shape[0]
        tokens = tokens.contiguous() if tokens.dtype == torch.long else tokens.long().contiguous()
        positions = positions.contiguous() if positions.dtype == torch.long else positions.long().contiguous()
        if positions.shape != (n,) or (rows is not None and rows.shape != (n,)):
            raise ValueError(f"C decode step: tokens, positions and rows must all have shape [{n}]")
        if rows is not None:
            rows = rows.contiguous() if rows.dtype == torch.long else rows.long().contiguous()
        logits = torch.empty(n, self.model.args.vocab_size, dtype=torch.float32)
        status = self._lib.ls_decode(
            self._handle,
            n,
            tokens.data_ptr(),
            positions.data_ptr(),
            None if rows is None else rows.data_ptr(),
            logits.data_ptr(),
            torch.get_num_threads(),
        )
        if status != 0:
            problem = {
                1: f"{n} rows (1..{self.model.max_batch_size} allowed)",
                2: "a token id outside the vocabulary",
                3: f"a position outside 0..{self.model.max_seq_len - 1}",
                4: f"cache rows that repeat or fall outside 0..{self.model.max_batch_size - 1}",
            }[status]
            raise ValueError(f"C decode step: {problem}")
        return logits
