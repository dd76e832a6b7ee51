"""bf16 prompt rows on a CPU without native bf16 GEMMs (AVX2, where oneDNN emulates them) run the
plain linear layers in float32 and round once to bf16; one row (decode) and CPUs with native bf16
GEMMs keep the bf16 GEMM. The flag is faked both ways so that every CPU runs both branches."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from tiny_engine import make_engine

from llamasys.core_model import model as model_module
from llamasys.core_model.model import Linear
from llamasys.core_model.sampling import SamplingParams
from llamasys.core_model.testing import random_meta_state_dict, tiny_args


def _layer(seed: int = 0) -> Linear:
    layer = Linear(64, 48, dtype=torch.bfloat16)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(48, 64, generator=torch.Generator().manual_seed(seed)))
    return layer


def _spy_linear(monkeypatch) -> list[torch.dtype]:
    """Record the dtype of every F.linear input the model's layers pass."""
    seen: list[torch.dtype] = []
    real = F.linear

    def spy(x, w, *rest):
        seen.append(x.dtype)
        assert w.dtype == x.dtype
        return real(x, w, *rest)

    monkeypatch.setattr(model_module.F, "linear", spy)
    return seen


def test_prompt_rows_without_native_bf16_gemm_run_in_float32(monkeypatch):
    monkeypatch.setattr(model_module, "_cpu_has_bf16_gemm", lambda: False)
    layer = _layer()
    x = torch.randn(2, 5, 64, generator=torch.Generator().manual_seed(1)).bfloat16()
    seen = _spy_linear(monkeypatch)
    out = layer(x)
    assert seen == [torch.float32]
    assert out.dtype == torch.bfloat16 and out.shape == (2, 5, 48)
    ref = (x.float() @ layer.weight.float().t()).to(torch.bfloat16)
    assert torch.equal(out, ref)


def test_native_bf16_gemm_single_rows_and_float32_models_keep_their_dtype(monkeypatch):
    layer = _layer()
    prompt = torch.randn(1, 7, 64, generator=torch.Generator().manual_seed(2)).bfloat16()
    seen = _spy_linear(monkeypatch)
    monkeypatch.setattr(model_module, "_cpu_has_bf16_gemm", lambda: True)
    assert layer(prompt).dtype == torch.bfloat16  # AVX-512/AMX: the bf16 GEMM
    monkeypatch.setattr(model_module, "_cpu_has_bf16_gemm", lambda: False)
    assert layer(prompt[:, :1]).dtype == torch.bfloat16  # one row (decode): unchanged
    assert layer(prompt[0, 0]).dtype == torch.bfloat16  # a bare vector is one row too
    f32 = Linear(64, 48, dtype=torch.float32)
    f32.weight.data.copy_(layer.weight.float())
    assert f32(prompt.float()).dtype == torch.float32
    assert seen == [torch.bfloat16, torch.bfloat16, torch.bfloat16, torch.float32]


def test_the_int8_layers_share_the_one_flag():
    from llamasys.core_model import quantize

    assert quantize._cpu_has_bf16_gemm is model_module._cpu_has_bf16_gemm


@pytest.mark.parametrize("native_bf16", [True, False])
def test_bf16_prefill_tracks_float32_and_greedy_tokens_hold(monkeypatch, native_bf16):
    """Both branches stay within 0.03 of the largest float32 logit on random weights (measured ~0.01
    both ways; test_model.py allows bf16 0.1), and a bf16 greedy continuation keeps at least 6 of the
    float32 model's 8 tokens (measured: all 8)."""
    monkeypatch.setattr(model_module, "_cpu_has_bf16_gemm", lambda: native_bf16)
    args = tiny_args()
    sd = random_meta_state_dict(args, seed=7)
    tokens = torch.randint(0, args.vocab_size, (2, 24), generator=torch.Generator().manual_seed(8))
    ref = make_engine(args, sd).forward(tokens)
    bf16 = make_engine(args, sd, dtype=torch.bfloat16)
    logits = bf16.forward(tokens)
    assert logits.dtype == torch.float32 and logits.shape == ref.shape
    assert (logits - ref).abs().max().item() < 0.03 * ref.abs().max().item()
    # greedy continuation of a prompt (float32-GEMM prefill on the faked AVX2 CPU, then decode)
    prompt = tokens[0, :12].tolist()
    params = SamplingParams(max_tokens=8, stop_token_ids=())
    f32 = make_engine(args, sd)
    f32.tokenizer = bf16.tokenizer = SimpleNamespace(decode_bytes=lambda ids: b"t" * len(ids))
    [ours] = bf16.generate([prompt], params)
    [theirs] = f32.generate([prompt], params)
    agree = sum(a == b for a, b in zip(ours.tokens, theirs.tokens, strict=True)) / len(theirs.tokens)
    assert len(ours.tokens) == 8 and agree >= 0.75, (ours.tokens, theirs.tokens)
