"""The Llama 3.x decoder with a static, pre-allocated KV cache.

    ```python
    model = Transformer(args, max_batch_size=4, max_seq_len=2048, dtype=torch.bfloat16)
    model.load_meta_state_dict(state_dict)          # Meta names, Meta q/k layout
    logits = model(tokens, input_pos, row_start=0, kv_len=16)   # float32 [B, T, vocab]
    ```

Math (Meta's llama-models 0.3.0, `llama_models/llama3/model.py` and `args.py`): pre-norm residual blocks, RMSNorm computed in
float32, RoPE on adjacent pairs `(x[2i], x[2i+1])` as a complex multiply in float32 with the llama3
frequency scaling taken from `ModelArgs.rope_scaling`, grouped-query attention, SwiGLU, no biases.

Speed and capture-friendliness:
- q/k/v are one matmul (`wqkv`), gate/up are one matmul (`w13`); RoPE is applied to q and k at once.
- The KV cache is one buffer per layer, `[max_batch, n_kv_heads, max_seq_len, head_dim]`, written with
  tensor positions (`cache[row, :, pos] = k`), so a decode step has the same shapes at every position
  and several sequences of different lengths decode together (each row has its own position).
- Attention reads the first `kv_len` cache slots (a Python int: the exact length for prefill and for
  one decoding row on the CPU, a bucket for several rows, `max_seq_len` under a CUDA graph) and masks
  every key after the query's own position (no mask is needed when the window is exact).
- GQA never copies K/V: the query heads that share a KV head are folded into the query length.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from llamasys.core_model.config import ModelArgs, RopeScaling, expected_meta_shapes
from llamasys.core_model.errors import CheckpointError

__all__ = ["Transformer", "Linear", "precompute_freqs_cis", "apply_llama3_scaling"]


def apply_llama3_scaling(freqs: torch.Tensor, scaling: RopeScaling) -> torch.Tensor:
    """Llama 3.1 frequency scaling: keep high frequencies, divide low ones by `factor`, blend between."""
    low_wavelen = scaling.original_max_position_embeddings / scaling.low_freq_factor
    high_wavelen = scaling.original_max_position_embeddings / scaling.high_freq_factor
    wavelen = 2 * math.pi / freqs
    smooth = (scaling.original_max_position_embeddings / wavelen - scaling.low_freq_factor) / (
        scaling.high_freq_factor - scaling.low_freq_factor
    )
    blended = (1 - smooth) * freqs / scaling.factor + smooth * freqs
    out = torch.where(wavelen > low_wavelen, freqs / scaling.factor, blended)
    return torch.where(wavelen < high_wavelen, freqs, out)


def precompute_freqs_cis(
    head_dim: int, end: int, theta: float, scaling: RopeScaling | None = None
) -> torch.Tensor:
    """complex64 `[end, head_dim // 2]`: `exp(i * p * f_i)` for every position p < end."""
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 2)[: head_dim // 2].float() / head_dim))
    if scaling is not None:
        freqs = apply_llama3_scaling(freqs, scaling)
    angles = torch.outer(torch.arange(end, dtype=torch.float32), freqs)
    return torch.polar(torch.ones_like(angles), angles)


@functools.cache
def _cpu_has_bf16_gemm() -> bool:
    """Whether oneDNN runs bf16 GEMMs natively on this CPU (AVX-512 and later); on AVX2 it emulates them."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return True  # unknown: keep the bf16 GEMM


class Linear(nn.Module):
    """A bias-free linear layer holding a plain weight `[out, in]`; quantize.py swaps it out.

    forward: x `[..., in]` -> `[..., out]` in x's dtype. A bf16 call of two or more rows on a CPU without
    native bf16 GEMMs (AVX2; see `_cpu_has_bf16_gemm`) runs the GEMM in float32 on a per-call float32 copy
    of the weight (memory stays flat) and rounds the result to bf16 once: oneDNN emulates bf16 there,
    measured on a Zen 3 at one thread for a [512, 576] x [576, 1536] layer at 359 ms in bf16 against 16 ms
    this way. One row (decode), CUDA, and CPUs with native bf16 GEMMs keep the plain bf16 GEMM.
    """

    def __init__(self, in_features: int, out_features: int, *, dtype: torch.dtype, device=None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(
            torch.empty(out_features, in_features, dtype=dtype, device=device), requires_grad=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            x.dtype == torch.bfloat16
            and x.device.type == "cpu"
            and x.numel() >= 2 * x.shape[-1]
            and not _cpu_has_bf16_gemm()
        ):
            return F.linear(x.float(), self.weight.float()).to(torch.bfloat16)
        return F.linear(x, self.weight)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float, *, dtype: torch.dtype, device=None) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim, dtype=dtype, device=device), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalises in float32 and scales by the weight before rounding to the model dtype (Meta rounds
        # once more in between; identical in float32, within bf16 rounding).
        if x.device.type == "cpu":
            # PyTorch's CPU rms_norm is a chain of ~8 small ops (~10 us for one token), layer_norm is one
            # fused kernel (~2 us). Over [x, -x] the mean is zero, so layer_norm's variance is mean(x^2)
            # and the first half of its output is RMSNorm(x): ~4% of a batch-1 decode step.
            d, w = x.shape[-1], self.weight
            return F.layer_norm(torch.cat((x, -x), -1), (2 * d,), torch.cat((w, w)), None, self.eps)[..., :d]
        return F.rms_norm(x, self.weight.shape, self.weight, self.eps)


class Attention(nn.Module):
    def __init__(self, args: ModelArgs, max_batch_size: int, max_seq_len: int, *, dtype, device) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = args.n_heads, args.n_kv_heads, args.head_dim
        self.n_rep = self.n_heads // self.n_kv_heads
        self.q_size = self.n_heads * self.head_dim
        self.kv_size = self.n_kv_heads * self.head_dim
        self.wqkv = Linear(args.dim, self.q_size + 2 * self.kv_size, dtype=dtype, device=device)
        self.wo = Linear(self.q_size, args.dim, dtype=dtype, device=device)
        shape = (max_batch_size, self.n_kv_heads, max_seq_len, self.head_dim)
        self.register_buffer("cache_k", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("cache_v", torch.zeros(shape, dtype=dtype, device=device), persistent=False)

    def forward(
        self,
        x: torch.Tensor,
        freqs: torch.Tensor,
        input_pos: torch.Tensor,
        batch_index: torch.Tensor,
        mask: torch.Tensor | None,
        row_start: int,
        kv_len: int,
    ) -> torch.Tensor:
        bsz, seqlen, _ = x.shape
        qkv = self.wqkv(x)
        # RoPE on q and k together (adjacent pairs, complex multiply in float32, like Meta).
        qk = qkv[..., : self.q_size + self.kv_size].float().reshape(bsz, seqlen, -1, self.head_dim // 2, 2)
        qk = torch.view_as_real(torch.view_as_complex(qk) * freqs).flatten(3).type_as(x)
        q, k = qk.split([self.n_heads, self.n_kv_heads], dim=2)
        v = qkv[..., self.q_size + self.kv_size :].view(bsz, seqlen, self.n_kv_heads, self.head_dim)

        rows = slice(row_start, row_start + bsz)
        cache_k, cache_v = self.cache_k[rows], self.cache_v[rows]
        if mask is None:  # exact window: the positions are kv_len-T .. kv_len-1, a plain slice copy
            cache_k[:, :, kv_len - seqlen : kv_len] = k.transpose(1, 2)
            cache_v[:, :, kv_len - seqlen : kv_len] = v.transpose(1, 2)
        else:  # tensor-indexed writes: [B, T] row/position pairs -> values [B, T, n_kv, head_dim]
            cache_k[batch_index, :, input_pos] = k
            cache_v[batch_index, :, input_pos] = v
        keys, values = cache_k[:, :, :kv_len], cache_v[:, :, :kv_len]

        if mask is None and seqlen > 1:  # a whole prompt from position 0: plain causal attention
            out = F.scaled_dot_product_attention(
                q.transpose(1, 2), keys, values, is_causal=True, enable_gqa=True
            )
            return self.wo(out.transpose(1, 2).reshape(bsz, seqlen, self.q_size))
        # Fold the n_rep query heads of each KV head into the query length: [B, n_kv, n_rep*T, D].
        q = q.view(bsz, seqlen, self.n_kv_heads, self.n_rep, self.head_dim).permute(0, 2, 3, 1, 4)
        q = q.reshape(bsz, self.n_kv_heads, self.n_rep * seqlen, self.head_dim)
        out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)  # no mask: sees every key
        out = out.view(bsz, self.n_kv_heads, self.n_rep, seqlen, self.head_dim).permute(0, 3, 1, 2, 4)
        return self.wo(out.reshape(bsz, seqlen, self.q_size))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, *, dtype, device) -> None:
        super().__init__()
        self.hidden = hidden
        self.w13 = Linear(dim, 2 * hidden, dtype=dtype, device=device)  # [w1 (gate); w3 (up)]
        self.w2 = Linear(hidden, dim, dtype=dtype, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.w13(x).split(self.hidden, dim=-1)
        return self.w2(F.silu(gate) * up)


class TransformerBlock(nn.Module):
    def __init__(
        self, layer_id: int, args: ModelArgs, max_batch_size: int, max_seq_len: int, *, dtype, device
    ):
        super().__init__()
        self.layer_id = layer_id
        self.attention = Attention(args, max_batch_size, max_seq_len, dtype=dtype, device=device)
        self.feed_forward = FeedForward(args.dim, args.ffn_hidden_dim, dtype=dtype, device=device)
        self.attention_norm = RMSNorm(args.dim, args.norm_eps, dtype=dtype, device=device)
        self.ffn_norm = RMSNorm(args.dim, args.norm_eps, dtype=dtype, device=device)

    def forward(self, x, freqs, input_pos, batch_index, mask, row_start: int, kv_len: int):
        h = x + self.attention(self.attention_norm(x), freqs, input_pos, batch_index, mask, row_start, kv_len)
        return h + self.feed_forward(self.ffn_norm(h))


class Transformer(nn.Module):
    """A Llama 3.x decoder. Weights start empty: call `load_meta_state_dict` (or fill them yourself)."""

    def __init__(
        self,
        args: ModelArgs,
        *,
        max_batch_size: int = 4,
        max_seq_len: int = 4096,
        dtype: torch.dtype = torch.bfloat16,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__()
        if max_batch_size < 1 or max_seq_len < 2:
            raise ValueError("max_batch_size must be >= 1 and max_seq_len >= 2")
        self.args, self.dtype = args, dtype
        self.max_batch_size, self.max_seq_len = max_batch_size, max_seq_len
        self.tok_embeddings = nn.Embedding(args.vocab_size, args.dim, dtype=dtype, device=device)
        self.tok_embeddings.weight.requires_grad_(False)
        self.layers = nn.ModuleList(
            TransformerBlock(i, args, max_batch_size, max_seq_len, dtype=dtype, device=device)
            for i in range(args.n_layers)
        )
        self.norm = RMSNorm(args.dim, args.norm_eps, dtype=dtype, device=device)
        self.output = Linear(args.dim, args.vocab_size, dtype=dtype, device=device)
        freqs = precompute_freqs_cis(args.head_dim, max_seq_len, args.rope_theta, args.rope_scaling)
        self.register_buffer("freqs_cis", freqs.to(device), persistent=False)
        self.register_buffer("key_pos", torch.arange(max_seq_len, device=device), persistent=False)
        self.register_buffer("batch_arange", torch.arange(max_batch_size, device=device), persistent=False)

    @property
    def device(self) -> torch.device:
        return self.tok_embeddings.weight.device

    def forward(
        self,
        tokens: torch.Tensor,
        input_pos: torch.Tensor,
        *,
        row_start: int = 0,
        kv_len: int | None = None,
        last_only: bool = False,
        exact: bool = False,
    ) -> torch.Tensor:
        """tokens, input_pos: LongTensor `[B, T]` (each row its own positions), written to cache rows
        `row_start .. row_start+B-1`. Attends over the first `kv_len` cache slots (default: all).
        Returns float32 logits `[B, T, vocab]`, or `[B, vocab]` for the last position when `last_only`.

        `exact=True` promises that every row's T positions are `kv_len-T .. kv_len-1` and that either
        T == 1 or T == kv_len; attention then needs no mask (the CPU's fast paths: one decoding row, or
        a whole prompt). Graph-captured steps leave it False: positions then come only from tensors."""
        bsz, seqlen = tokens.shape
        kv_len = self.max_seq_len if kv_len is None else kv_len
        h = self.tok_embeddings(tokens)
        freqs = self.freqs_cis[input_pos].unsqueeze(2)  # [B, T, 1, D/2], broadcast over heads
        batch_index = self.batch_arange[:bsz, None].expand(bsz, seqlen)
        # [B, 1, n_rep*T, L]: query t of every folded head sees keys at positions <= its own.
        n_rep = self.args.n_heads // self.args.n_kv_heads
        if exact and seqlen not in (1, kv_len):
            raise ValueError("exact=True needs seqlen 1 or seqlen == kv_len")
        mask = None if exact else self.key_pos[:kv_len] <= input_pos[:, None, :, None]
        if mask is not None and n_rep > 1:
            mask = mask.expand(bsz, n_rep, seqlen, kv_len).reshape(bsz, 1, n_rep * seqlen, kv_len)
        for layer in self.layers:
            h = layer(h, freqs, input_pos, batch_index, mask, row_start, kv_len)
        if last_only:
            h = h[:, -1]
        return self.output(self.norm(h)).float()

    # -- weights ---------------------------------------------------------------------------------

    @torch.no_grad()
    def load_meta_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Copy Meta-named, Meta-layout weights in, fusing wq/wk/wv and w1/w3. Ties the output head to
        the embedding (one tensor) when the checkpoint's two are the same tensor or equal."""
        expected = expected_meta_shapes(self.args)
        missing = sorted(set(expected) - set(state_dict))
        if missing:
            raise CheckpointError(
                f"checkpoint is missing {len(missing)} weights (first: {missing[:3]}): it does not match "
                f"a {self.args.n_layers}-layer Llama with dim {self.args.dim}; check the model files"
            )
        for name, shape in expected.items():
            if tuple(state_dict[name].shape) != shape:
                raise CheckpointError(
                    f"weight {name} has shape {tuple(state_dict[name].shape)}, expected {shape} from the "
                    "model config: the config and the weights do not belong together"
                )

        def put(dst: torch.Tensor, *names: str) -> None:
            row = 0
            for n in names:
                src = state_dict[n]
                dst[row : row + src.shape[0]].copy_(src)
                row += src.shape[0]

        put(self.tok_embeddings.weight, "tok_embeddings.weight")
        put(self.norm.weight, "norm.weight")
        emb, out = state_dict["tok_embeddings.weight"], state_dict["output.weight"]
        if self.args.tie_word_embeddings or emb is out or torch.equal(emb, out):
            self.output.weight = self.tok_embeddings.weight
        else:
            put(self.output.weight, "output.weight")
        for i, layer in enumerate(self.layers):
            p = f"layers.{i}."
            put(layer.attention.wqkv.weight, *(p + f"attention.{w}.weight" for w in ("wq", "wk", "wv")))
            put(layer.attention.wo.weight, p + "attention.wo.weight")
            put(layer.feed_forward.w13.weight, p + "feed_forward.w1.weight", p + "feed_forward.w3.weight")
            put(layer.feed_forward.w2.weight, p + "feed_forward.w2.weight")
            put(layer.attention_norm.weight, p + "attention_norm.weight")
            put(layer.ffn_norm.weight, p + "ffn_norm.weight")

    @torch.no_grad()
    def init_random(self, seed: int = 0, *, peak: float = 0.0) -> None:
        """Random weights directly on the model's device (benchmarks and GPU checks, no checkpoint).
        `peak` > 0 makes the output head a scaled permutation of the embedding, so greedy decoding has a
        clear winner (comparisons of numerically different paths then test more than argmax ties)."""
        g = torch.Generator(device=self.device).manual_seed(seed)
        for name, p in self.named_parameters():
            if p.dim() == 1:
                p.fill_(1.0)
            elif name == "tok_embeddings.weight":
                p.copy_(
                    torch.randn(p.shape, generator=g, device=self.device, dtype=torch.float32).to(p.dtype)
                )
            else:
                std = 1.0 / math.sqrt(p.shape[1])
                p.normal_(0.0, std, generator=g)
        if peak > 0:
            perm = torch.randperm(self.args.vocab_size, generator=g, device=self.device)
            emb = self.tok_embeddings.weight
            self.output.weight = nn.Parameter(
                emb[perm] * (peak / math.sqrt(self.args.dim)), requires_grad=False
            )

    def reset_cache(self) -> None:
        for layer in self.layers:
            layer.attention.cache_k.zero_()
            layer.attention.cache_v.zero_()
