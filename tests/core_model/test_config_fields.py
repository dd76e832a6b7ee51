"""Config fields that change the math are read in every spelling, or refused by name (issue 12, fault 1).

The case from the report: transformers 5.x writes `rope_parameters` (holding `rope_theta` and the llama3
scaling) instead of top-level `rope_theta` / `rope_scaling`; the loader fell back to theta 10000 and no
scaling, silently. Folders here are written by the installed transformers' own
`LlamaForCausalLM(config).save_pretrained(dir)`, and by hand in the spellings older releases used."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch

from llamasys.core_model import load_model
from llamasys.core_model.checkpoints import read_checkpoint
from llamasys.core_model.config import ModelArgs, RopeScaling
from llamasys.core_model.errors import CheckpointError
from llamasys.core_model.testing import hf_config, random_meta_state_dict, tiny_args, write_hf_checkpoint

LLAMA3 = {"rope_type": "llama3", "low_freq_factor": 1.0, "high_freq_factor": 4.0}


def _transformers_folder(tmp_path: Path, factor: float, original: int, **config) -> Path:
    """A folder written by transformers' own save_pretrained (random weights), plus the tiny tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM

    args = tiny_args()
    hand = write_hf_checkpoint(tmp_path / "hand", args)  # only for its tokenizer files
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=args.vocab_size,
        hidden_size=args.dim,
        intermediate_size=args.ffn_hidden_dim,
        num_hidden_layers=args.n_layers,
        num_attention_heads=args.n_heads,
        num_key_value_heads=args.n_kv_heads,
        rms_norm_eps=1e-5,
        rope_theta=500000.0,
        rope_scaling={**LLAMA3, "factor": factor, "original_max_position_embeddings": original},
        max_position_embeddings=512,
        initializer_range=0.2,  # weights large enough that a rope difference shows in the logits
        **config,
    )
    folder = tmp_path / "saved"
    LlamaForCausalLM(cfg).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(hand / name, folder / name)
    return folder


def _reference_logits(folder: Path, tokens: torch.Tensor) -> torch.Tensor:
    from transformers import LlamaForCausalLM

    with torch.no_grad():
        return LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()(tokens).logits


TOKENS = torch.randint(0, 288, (1, 96), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize(("factor", "original"), [(8.0, 64), (32.0, 32)])
def test_a_folder_saved_by_transformers_matches_transformers(tmp_path, factor, original):
    folder = _transformers_folder(tmp_path, factor, original)
    saved = json.loads((folder / "config.json").read_text())
    engine = load_model(str(folder), dtype=torch.float32, max_seq_len=128, max_batch_size=1)
    assert engine.args.rope_theta == 500000.0
    assert engine.args.rope_scaling == RopeScaling(factor=factor, original_max_position_embeddings=original)
    ref = _reference_logits(folder, TOKENS)
    ours = engine.forward(TOKENS)
    assert (ours - ref).abs().max().item() <= 1e-4, saved.get("rope_parameters")
    # The comparison can fail: the same weights with the factor left out are far off.
    unscaled = ModelArgs.from_hf_config({**saved, "rope_parameters": {"rope_theta": 500000.0}})
    assert unscaled.rope_scaling is None


def test_the_reported_case_rope_parameters_only():
    config = hf_config(tiny_args())
    del config["rope_theta"], config["rope_scaling"]
    config["rope_parameters"] = {
        **LLAMA3, "rope_theta": 500000.0, "factor": 8.0, "original_max_position_embeddings": 8192
    }  # fmt: skip
    args = ModelArgs.from_hf_config(config)
    assert (args.rope_theta, args.rope_scaling) == (500000.0, RopeScaling(factor=8.0))


def _config(**changes) -> dict:
    config = hf_config(tiny_args())
    for key, value in changes.items():
        if value is _DROP:
            config.pop(key, None)
        else:
            config[key] = value
    return config


_DROP = object()
SCALING = {**LLAMA3, "factor": 32.0, "original_max_position_embeddings": 8192}


@pytest.mark.parametrize(
    ("changes", "theta", "factor"),
    [
        ({"rope_scaling": _DROP, "rope_theta": _DROP, "rope_parameters": {**SCALING, "rope_theta": 5e5}}, 5e5, 32),
        ({"rope_scaling": SCALING, "rope_theta": 5e5}, 5e5, 32),  # 4.4x: top-level theta, rope_type
        ({"rope_scaling": {**{k: v for k, v in SCALING.items() if k != "rope_type"}, "type": "llama3"}}, 5e5, 32),
        ({"rope_scaling": {**SCALING, "rope_theta": 5e5}, "rope_theta": _DROP}, 5e5, 32),
        ({"rope_scaling": _DROP, "rope_parameters": {"rope_type": "default", "rope_theta": 1e4}, "rope_theta": _DROP},
         1e4, None),
        ({"rope_scaling": {"rope_type": "default"}, "rope_theta": 2e5}, 2e5, None),
        ({"rope_scaling": None, "rope_parameters": None, "rope_theta": 5e5}, 5e5, None),
        ({"rope_scaling": SCALING, "rope_parameters": {**SCALING, "rope_theta": 5e5}, "rope_theta": 5e5}, 5e5, 32),
    ],
)  # fmt: skip
def test_every_spelling_of_the_rope(changes, theta, factor):
    args = ModelArgs.from_hf_config(_config(**changes))
    assert args.rope_theta == theta
    assert (args.rope_scaling.factor if args.rope_scaling else None) == factor


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"rope_scaling": {"rope_type": "linear", "factor": 2.0}}, "rope_type is 'linear'"),
        ({"rope_scaling": {"type": "dynamic", "factor": 2.0}}, "rope_type is 'dynamic'"),
        ({"rope_scaling": _DROP, "rope_theta": _DROP, "rope_parameters": {"rope_type": "yarn", "rope_theta": 1e4}},
         "rope_parameters.rope_type is 'yarn'"),
        ({"rope_scaling": {"rope_type": "longrope"}}, "longrope"),
        ({"rope_scaling": {"rope_type": "llama3", "factor": 8.0}}, "lacks low_freq_factor"),
        ({"rope_parameters": {"rope_theta": 1e4}}, "rope base is given twice"),
        ({"rope_scaling": SCALING, "rope_parameters": {"rope_type": "default"}}, "rope scaling types disagree"),
        ({"partial_rotary_factor": 0.5}, "partial_rotary_factor"),
        ({"rope_scaling": {**SCALING, "partial_rotary_factor": 0.25}}, "partial_rotary_factor"),
        ({"hidden_act": "gelu"}, "hidden_act is 'gelu'"),
        ({"attention_bias": True}, "attention_bias is true"),
        ({"mlp_bias": True}, "mlp_bias is true"),
        ({"quantization_config": {"quant_method": "gptq"}}, "quantization_config \\(gptq\\)"),
        ({"sliding_window": 4096}, "sliding_window is 4096"),
        ({"final_logit_softcapping": 30.0}, "final_logit_softcapping"),
        ({"logits_scaling": 8.0}, "logits_scaling"),
        ({"rope_scaling": {"full_attention": SCALING, "sliding_attention": {"rope_type": "default"}}},
         "per layer type"),
    ],
)  # fmt: skip
def test_fields_whose_math_is_not_implemented_are_refused_by_name(tmp_path, changes, named):
    with pytest.raises(ValueError, match=named):
        ModelArgs.from_hf_config(_config(**changes))
    folder = write_hf_checkpoint(tmp_path / "hf", tiny_args())
    (folder / "config.json").write_text(json.dumps(_config(**changes)))
    with pytest.raises(CheckpointError, match=named):
        read_checkpoint(folder)


@pytest.mark.parametrize(
    ("changes", "value"),
    [({"hidden_act": "swish"}, None), ({"attention_bias": False, "mlp_bias": False}, None)],
)
def test_fields_with_the_llama_value_are_read(changes, value):
    assert ModelArgs.from_hf_config(_config(**changes)).rope_theta == 500000.0


def test_absent_fields_take_transformers_defaults_and_say_so(tmp_path, caplog):
    """Same math as transformers on the same folder: rope_theta 10000, rms_norm_eps 1e-6, with a warning."""
    args = tiny_args(rope_scaling=None, norm_eps=1e-6, rope_theta=10000.0)
    folder = write_hf_checkpoint(tmp_path / "hf", args, random_meta_state_dict(args, seed=5))
    config = json.loads((folder / "config.json").read_text())
    # rope_parameters: where transformers 5.x writes rope_theta (4.x: top-level rope_theta)
    for key in ("rope_theta", "rms_norm_eps", "rope_scaling", "rope_parameters", "head_dim", "hidden_act"):
        config.pop(key, None)
    (folder / "config.json").write_text(json.dumps(config))
    with caplog.at_level(logging.WARNING):
        engine = load_model(str(folder), dtype=torch.float32, max_seq_len=128, max_batch_size=1)
    assert "no rope_theta" in caplog.text and "no rms_norm_eps" in caplog.text
    assert (engine.args.rope_theta, engine.args.norm_eps) == (10000.0, 1e-6)
    ref = _reference_logits(folder, TOKENS)
    assert (engine.forward(TOKENS) - ref).abs().max().item() <= 1e-4


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"moe_args": {"num_experts": 16}}, "moe_args"),
        ({"use_qk_norm": True}, "use_qk_norm"),
        ({"attention_chunk_size": 8192}, "attention_chunk_size"),
        ({"vision_chunk_size": 560}, "vision_chunk_size"),
    ],
)
def test_meta_params_of_models_not_run_are_refused(params, named):
    base = {"dim": 2048, "n_layers": 2, "n_heads": 32, "n_kv_heads": 8, "vocab_size": 128256}
    with pytest.raises(ValueError, match=named):
        ModelArgs.from_meta_params({**base, **params})


def test_meta_params_rope():
    base = {"dim": 2048, "n_layers": 2, "n_heads": 32, "n_kv_heads": 8, "vocab_size": 128256}
    assert ModelArgs.from_meta_params(base).rope_theta == 500000.0  # Meta's default
    assert ModelArgs.from_meta_params(base).rope_scaling is None
    assert ModelArgs.from_meta_params({**base, "use_scaled_rope": True}).rope_scaling.factor == 32.0
    eight = ModelArgs.from_meta_params({**base, "dim": 4096, "use_scaled_rope": True})
    assert eight.rope_scaling.factor == 8.0
    given = ModelArgs.from_meta_params({**base, "use_scaled_rope": True, "rope_scaling_factor": 16.0})
    assert given.rope_scaling.factor == 16.0


GGUF = {
    "general.architecture": "llama",
    "llama.embedding_length": 64,
    "llama.attention.head_count": 4,
    "llama.attention.head_count_kv": 2,
    "llama.block_count": 2,
    "llama.feed_forward_length": 160,
    "llama.vocab_size": 288,
    "llama.rope.freq_base": 500000.0,
    "llama.attention.layer_norm_rms_epsilon": 1e-5,
}


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"llama.attention.key_length": 16, "llama.rope.dimension_count": 8}, "rope.dimension_count"),
        ({"llama.attention.key_length": 16, "llama.attention.value_length": 32}, "value_length"),
        ({"llama.expert_count": 8}, "expert_count"),
        ({"llama.rope.scale_linear": 2.0}, "scale_linear"),
    ],
)
def test_gguf_metadata_not_run_is_refused(changes, named):
    with pytest.raises(ValueError, match=named):
        ModelArgs.from_gguf_metadata({**GGUF, **changes})


def test_gguf_defaults_are_named(caplog):
    meta = {
        k: v
        for k, v in GGUF.items()
        if k not in ("llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon")
    }
    with caplog.at_level(logging.WARNING):
        args = ModelArgs.from_gguf_metadata(meta)
    assert (args.rope_theta, args.norm_eps) == (10000.0, 1e-5)
    assert "rope.freq_base" in caplog.text and "layer_norm_rms_epsilon" in caplog.text
