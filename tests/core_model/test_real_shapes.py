"""Every real Llama shape the system names, pinned, read through both config readers, and its RoPE
frequencies held to transformers' own llama3 computation.

Oracles that share no code with ours: Meta's `params.json` values come from Meta's own `llama_models`
package (`sku_list`), the Hugging Face side is a config that transformers' `LlamaConfig` builds and
`save_pretrained` writes, and RoPE tables come from transformers' `ROPE_INIT_FUNCTIONS["llama3"]` and
its default rotary embedding. The numbers in `SHAPES` are the published ones (anchors-engine §1.1). A
planted factor of 8 instead of 32 for Llama 3.2 3B, or swapped blend weights in the GGUF
`rope_freqs` divisors (4.2 off transformers), fail here (issue 18).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from support import import_or_require

from llamasys.core_model.config import ModelArgs, RopeScaling, llama3_frequency_divisors
from llamasys.core_model.model import precompute_freqs_cis

# sku -> (dim, layers, heads, kv heads, head_dim, FFN hidden, llama3 rope factor or None)
SHAPES = {
    "Llama3.1-8B": (4096, 32, 32, 8, 128, 14336, 8.0),
    "Llama3.1-70B": (8192, 80, 64, 8, 128, 28672, 8.0),
    "Llama3.1-405B": (16384, 126, 128, 8, 128, 53248, 8.0),
    "Llama3.2-1B": (2048, 16, 32, 8, 64, 8192, 32.0),
    "Llama3.2-3B": (3072, 28, 24, 8, 128, 8192, 32.0),
    "Llama-Guard-3-1B": (2048, 16, 32, 8, 64, 8192, 32.0),
    "Llama-Guard-3-8B": (4096, 32, 32, 8, 128, 14336, None),  # Meta: use_scaled_rope False
}
TIED = {"Llama3.2-1B", "Llama3.2-3B", "Llama-Guard-3-1B"}  # their HF configs tie the output to the embedding


def meta_params(sku: str) -> dict:
    """params.json as Meta's llama_models package describes the model (its `arch_args`)."""
    sku_list = import_or_require(
        "llama_models.sku_list", "pip install llama-models==0.3.0 (a runtime dependency)"
    )
    [model] = [m for m in sku_list.all_registered_models() if m.descriptor() == sku]
    return dict(model.arch_args)


def expected_scaling(factor: float | None) -> RopeScaling | None:
    if factor is None:
        return None
    return RopeScaling(
        factor=factor, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=8192
    )


def assert_shape(args: ModelArgs, sku: str) -> None:
    dim, layers, heads, kv, head_dim, hidden, factor = SHAPES[sku]
    got = (args.dim, args.n_layers, args.n_heads, args.n_kv_heads, args.head_dim, args.ffn_hidden_dim)
    assert got == (dim, layers, heads, kv, head_dim, hidden), sku
    assert args.rope_scaling == expected_scaling(factor), sku
    assert (args.vocab_size, args.rope_theta, args.norm_eps) == (128256, 500000.0, 1e-5), sku
    assert args.max_position_embeddings == 131072, sku


@pytest.mark.parametrize("sku", list(SHAPES))
def test_meta_params_of_every_real_model(sku: str) -> None:
    assert_shape(ModelArgs.from_meta_params(meta_params(sku)), sku)


def hf_folder(tmp_path: Path, sku: str) -> Path:
    """The model's Hugging Face config.json, written by transformers (its current spelling of rope)."""
    transformers = import_or_require("transformers", "pip install transformers (a runtime dependency)")
    dim, layers, heads, kv, head_dim, hidden, factor = SHAPES[sku]
    rope = {"rope_type": "default", "rope_theta": 500000.0}
    if factor is not None:
        rope = {
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": factor,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
        }
    config = transformers.LlamaConfig(
        vocab_size=128256,
        hidden_size=dim,
        intermediate_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        head_dim=head_dim,
        max_position_embeddings=131072,
        rms_norm_eps=1e-5,
        rope_parameters=rope,
        tie_word_embeddings=sku in TIED,
        bos_token_id=128000,
        eos_token_id=[128001, 128008, 128009],
    )
    config.save_pretrained(tmp_path / sku)
    return tmp_path / sku


@pytest.mark.parametrize("sku", list(SHAPES))
def test_hf_config_of_every_real_model(tmp_path: Path, sku: str) -> None:
    folder = hf_folder(tmp_path, sku)
    args = ModelArgs.from_hf_config(json.loads((folder / "config.json").read_text()))
    assert_shape(args, sku)
    assert args.tie_word_embeddings == (sku in TIED)


def transformers_inv_freq(folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(unscaled, scaled) inverse frequencies as transformers computes them from the saved config."""
    transformers = import_or_require("transformers", "pip install transformers (a runtime dependency)")
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    config = transformers.LlamaConfig.from_pretrained(folder)
    scaled, attention_factor = ROPE_INIT_FUNCTIONS["llama3"](config, "cpu")
    assert attention_factor == 1.0
    plain = transformers.LlamaConfig.from_pretrained(folder)
    plain.rope_parameters = {"rope_type": "default", "rope_theta": config.rope_parameters["rope_theta"]}
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    return LlamaRotaryEmbedding(plain).inv_freq, scaled


SCALED = [sku for sku, shape in SHAPES.items() if shape[-1] is not None]


@pytest.mark.parametrize("sku", SCALED)
def test_gguf_rope_freqs_divisors_equal_transformers(tmp_path: Path, sku: str) -> None:
    """GGUF's `rope_freqs.weight` holds base / scaled frequency per pair: ours against transformers'
    llama3 function, relative 1e-6 (float32 rounding is 4e-7 here)."""
    base, scaled = transformers_inv_freq(hf_folder(tmp_path, sku))
    args = ModelArgs.from_meta_params(meta_params(sku))
    ours = llama3_frequency_divisors(args.rope_scaling, args.head_dim, args.rope_theta)
    assert ours.dtype == torch.float32 and ours.shape == (args.head_dim // 2,)
    torch.testing.assert_close(ours.double(), (base / scaled).double(), rtol=1e-6, atol=0)
    # the table is not trivial: kept, blended and divided frequencies all occur
    assert ours.min() == 1.0 and ours.max() == args.rope_scaling.factor
    assert ((ours > 1.0) & (ours < args.rope_scaling.factor)).any()


@pytest.mark.parametrize("sku", SCALED)
def test_model_rope_angles_equal_transformers(tmp_path: Path, sku: str) -> None:
    """The model's own RoPE table (angle of position 1 = the scaled frequency), relative 1e-6."""
    _, scaled = transformers_inv_freq(hf_folder(tmp_path, sku))
    args = ModelArgs.from_meta_params(meta_params(sku))
    freqs_cis = precompute_freqs_cis(args.head_dim, 2, args.rope_theta, args.rope_scaling)
    torch.testing.assert_close(freqs_cis[1].angle().double(), scaled.double(), rtol=1e-6, atol=0)
