"""Weight quantization of the decoder's linear layers: FP8 (Meta's recipe) and int8.

    ```python
    quantize_model(model, "fp8")       # FFN w1/w3/w2 of blocks 1..n-2, like Meta's fp8_mixed
    quantize_model(model, "fp8-all")   # every linear layer, the output head included
    quantize_model(model, "int8")      # every linear layer; the fast CPU path
    ```

FP8 (Meta's recipe: llama-models 0.3.0 `llama3/quantization/loader.py` and `quantize_impls.py`): weights are `float8_e4m3fn` `[N, K]` with one float32 scale
per output row (`row_amax / 448`), clamped to ±448 before the cast because the cast does not saturate
(values past 448 would become NaN). On CUDA with compute capability >= 8.9 the matmul is W8A8: each
activation row (token) gets a dynamic scale from its absolute maximum, capped at 1200 (`amax =
clamp(max|x|, 1e-12, 1200)`, `xq = clamp(x * 448/amax, ±448)`), and `torch._scaled_mm` multiplies
with row-wise scales into bf16. Elsewhere the weight is dequantized into the activation dtype for the
matmul (PyTorch's CPU float8 cast is slow: where the engine's C decode step is loaded it widens FP8 to
bf16 in registers for decode, and its widening routine replaces the cast for prefill). `Fp8Linear(..., mode="emulate")` runs the W8A8 math
in float32 on any device; the tests use it to check the activation-scale semantics without a GPU.

Int8: symmetric per-row scales (`row_amax / 127`), round-to-nearest. On the CPU the matmul of a few
rows (decode) is `torch.ops.aten._weight_int8pack_mm` (int8 weights read directly); a prompt's many
rows dequantize the weight once and use the dense GEMM, which is faster there; other devices always
dequantize.
"""

from __future__ import annotations

import logging
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from llamasys.core_model.model import Linear, Transformer, _cpu_has_bf16_gemm

__all__ = [
    "QUANTIZATIONS",
    "Fp8Linear",
    "Int8Linear",
    "fp8_quantize_rows",
    "fp8_quantize_activations",
    "int8_quantize_rows",
    "quantize_model",
    "supports_scaled_mm",
]

log = logging.getLogger(__name__)

QUANTIZATIONS = ("fp8", "fp8-all", "int8")
FP8_MAX = 448.0
FP8_ACTIVATION_SCALE_UB = 1200.0
_EPS = 1e-12
_INT8_PACKED_MAX_ROWS = 16  # above this many rows an int8 layer dequantizes and uses the dense GEMM


def supports_scaled_mm(device: torch.device) -> bool:
    """True on a CUDA device with compute capability >= 8.9 (Ada, Hopper and later)."""
    if device.type != "cuda" or not torch.cuda.is_available():
        return False
    return torch.cuda.get_device_capability(device) >= (8, 9) and hasattr(torch, "_scaled_mm")


def fp8_quantize_rows(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`[N, K]` weight -> (`float8_e4m3fn [N, K]`, float32 scales `[N]`) with `w ≈ wq * scale[:, None]`."""
    amax = w.abs().amax(dim=1).float().clamp(min=_EPS)
    wq = (w.float() * (FP8_MAX / amax)[:, None]).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)
    return wq, amax / FP8_MAX


def fp8_quantize_activations(
    x: torch.Tensor, scale_ub: float = FP8_ACTIVATION_SCALE_UB
) -> tuple[torch.Tensor, torch.Tensor]:
    """Dynamic per-token scales: `[M, K]` -> (`float8_e4m3fn [M, K]`, float32 `[M, 1]`).
    The row maximum used for the scale is capped at `scale_ub`; larger values saturate at ±448."""
    amax = x.abs().amax(dim=-1, keepdim=True).float().clamp(_EPS, scale_ub)
    xq = (x.float() * (FP8_MAX / amax)).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)
    return xq, amax / FP8_MAX


def int8_quantize_rows(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`[N, K]` weight -> (int8 `[N, K]`, float32 scales `[N]`) with `w ≈ wq * scale[:, None]`."""
    scale = w.abs().amax(dim=1).float().clamp(min=_EPS) / 127.0
    wq = torch.round(w.float() / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return wq, scale


Fp8Mode = Literal["auto", "scaled_mm", "dequant", "emulate"]


class Fp8Linear(nn.Module):
    """Row-scaled float8_e4m3fn weight. `mode`: "scaled_mm" (W8A8 on CUDA CC >= 8.9), "dequant"
    (weight-only, any device), "emulate" (W8A8 math in float32, any device), "auto" picks the first
    of scaled_mm / dequant that the device supports."""

    def __init__(
        self, weight: torch.Tensor, mode: Fp8Mode = "auto", scale_ub: float = FP8_ACTIVATION_SCALE_UB
    ):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        wq, scale = fp8_quantize_rows(weight)
        self.register_buffer("weight", wq)
        self.register_buffer("scale", scale)
        self.scale_ub = scale_ub
        if mode == "auto":
            ok = (
                supports_scaled_mm(weight.device)
                and self.in_features % 16 == 0
                and self.out_features % 16 == 0
            )
            mode = "scaled_mm" if ok else "dequant"
        self.mode = mode
        # A faster float8 -> bf16 widening than PyTorch's CPU cast, set by the engine when its C decode
        # step is loaded (cpu_decode.fp8_to_bf16); used by "dequant" for bf16 activations.
        self.widen_to_bf16 = None
        if mode == "scaled_mm":
            self.register_buffer("scale_row", scale.view(1, -1).contiguous(), persistent=False)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, mode={self.mode}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "dequant":
            if self.widen_to_bf16 is not None and x.dtype == torch.bfloat16:
                w = self.widen_to_bf16(self.weight)
            else:
                w = self.weight.to(x.dtype)
            return F.linear(x, w) * self.scale.to(x.dtype)
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        xq, x_scale = fp8_quantize_activations(x2, self.scale_ub)
        if self.mode == "scaled_mm":
            y = torch._scaled_mm(
                xq,
                self.weight.t(),
                scale_a=x_scale,
                scale_b=self.scale_row,
                out_dtype=torch.bfloat16,
                use_fast_accum=True,
            ).to(x.dtype)
        else:  # emulate: (xq @ wq^T) * x_scale * w_scale, in float32
            y = ((xq.float() @ self.weight.float().t()) * x_scale * self.scale[None, :]).to(x.dtype)
        return y.view(*shape[:-1], self.out_features)


class Int8Linear(nn.Module):
    """int8 weight with per-row scales; `_weight_int8pack_mm` on the CPU, dequantize elsewhere."""

    def __init__(self, weight: torch.Tensor, compute_dtype: torch.dtype):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        wq, scale = int8_quantize_rows(weight)
        self.register_buffer("weight", wq.contiguous())
        self.register_buffer("scale", scale.to(compute_dtype))
        # The unrounded scales, for kernels that take float32 ones (cpu_decode.c).
        self.register_buffer("scale_f32", scale, persistent=False)
        # torch 2.13's bf16 `_weight_int8pack_mm` returns NaN or garbage (or crashes) for several rows
        # when in_features is not a multiple of 16; such layers dequantize instead.
        self.packed = (
            weight.device.type == "cpu"
            and hasattr(torch.ops.aten, "_weight_int8pack_mm")
            and self.in_features % 16 == 0
        )

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, packed={self.packed}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed and x.numel() // x.shape[-1] <= _INT8_PACKED_MAX_ROWS:
            shape = x.shape
            scale = self.scale if self.scale.dtype == x.dtype else self.scale.to(x.dtype)
            y = torch.ops.aten._weight_int8pack_mm(x.reshape(-1, shape[-1]), self.weight, scale)
            return y.view(*shape[:-1], self.out_features)
        # Many rows (a prompt): dequantizing once and running the dense GEMM beats the packed kernel.
        if x.dtype == torch.bfloat16 and x.device.type == "cpu" and not _cpu_has_bf16_gemm():
            # Without native bf16 GEMMs (AVX2) float32 is several times faster; measured on a Zen 3 for a
            # [64, 576] x [576, 1536] layer: 15.5 ms in bf16, 4.8 ms dequantizing to float32 and back.
            return F.linear(x.float(), self.weight.float() * self.scale_f32[:, None]).to(x.dtype)
        return F.linear(x, self.weight.to(x.dtype) * self.scale.to(x.dtype)[:, None])


def _targets(model: Transformer, quantization: str) -> list[tuple[nn.Module, str]]:
    n = len(model.layers)
    targets: list[tuple[nn.Module, str]] = []
    for i, layer in enumerate(model.layers):
        if quantization == "fp8":  # Meta: FFN of every block but the first and the last
            if 0 < i < n - 1:
                targets += [(layer.feed_forward, "w13"), (layer.feed_forward, "w2")]
        else:
            targets += [(layer.attention, "wqkv"), (layer.attention, "wo")]
            targets += [(layer.feed_forward, "w13"), (layer.feed_forward, "w2")]
    if quantization != "fp8":
        targets.append((model, "output"))
    return targets


@torch.no_grad()
def quantize_model(model: Transformer, quantization: str, *, fp8_mode: Fp8Mode = "auto") -> Transformer:
    """Replace linear layers in place; see the module docstring for which and how."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantization!r}: expected one of {', '.join(QUANTIZATIONS)}")
    count = 0
    for parent, name in _targets(model, quantization):
        linear = getattr(parent, name)
        if not isinstance(linear, Linear):
            continue
        w = linear.weight.detach()
        new = Int8Linear(w, model.dtype) if quantization == "int8" else Fp8Linear(w, fp8_mode)
        setattr(parent, name, new)  # a tied output head gets its own quantized copy
        count += 1
    log.info("quantized %d linear layers to %s", count, quantization)
    return model
