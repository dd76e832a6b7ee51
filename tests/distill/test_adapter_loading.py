"""Base + LoRA adapter merged at load equals the checkpoint PEFT merges itself (tiny random model)."""

from __future__ import annotations

import json

import pytest
import torch

from llamasys.apps.bench.baselines import transformers_model
from llamasys.core_model.checkpoints import read_checkpoint
from llamasys.core_model.checkpoints.lora import merge_adapter, read_adapter
from llamasys.core_model.engine import Engine
from llamasys.core_model.errors import CheckpointError
from llamasys.core_model.testing import random_meta_state_dict, tiny_args, write_hf_checkpoint

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@pytest.fixture(scope="module")
def base_and_adapter(tmp_path_factory):
    from peft import LoraConfig, get_peft_model

    tmp = tmp_path_factory.mktemp("lora")
    args = tiny_args(tie_word_embeddings=True)
    base = write_hf_checkpoint(tmp / "base", args, random_meta_state_dict(args, seed=3))
    model = transformers_model(read_checkpoint(base), dtype=torch.float32)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS))
    generator = torch.Generator().manual_seed(0)
    for name, parameter in peft_model.named_parameters():
        if "lora_" in name:  # PEFT starts B at zero: make the adapter do something
            parameter.data = torch.randn(parameter.shape, generator=generator) * 0.2
    peft_model.save_pretrained(tmp / "adapter")
    merged = peft_model.merge_and_unload()
    merged_sd = {k: v.detach().clone() for k, v in merged.state_dict().items() if k != "lm_head.weight"}
    folder = tmp / "merged"
    folder.mkdir()
    from safetensors.torch import save_file

    save_file(merged_sd, str(folder / "model.safetensors"), metadata={"format": "pt"})
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        if (base / name).exists():
            (folder / name).write_bytes((base / name).read_bytes())
    return base, tmp / "adapter", folder, merged


def _logits(checkpoint, tokens):
    engine = Engine.from_checkpoint(
        checkpoint, dtype=torch.float32, max_seq_len=64, max_batch_size=1, cpu_kernels=False
    )
    with torch.no_grad():
        return engine.forward(tokens).float()


def test_merge_at_load_equals_merged_checkpoint(base_and_adapter):
    base, adapter, merged_folder, merged_model = base_and_adapter
    tokens = [5, 17, 99, 260, 3, 41, 7, 300]
    with_adapter = _logits(merge_adapter(read_checkpoint(base), adapter), tokens)
    merged = _logits(read_checkpoint(merged_folder), tokens)
    plain = _logits(read_checkpoint(base), tokens)
    assert torch.allclose(with_adapter, merged, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(plain, merged, atol=1e-2)  # the adapter changes the model
    # and transformers' own merged model agrees (our engine vs its Llama on the same weights)
    with torch.no_grad():
        reference = merged_model(torch.tensor([tokens])).logits[0, -1]
    assert torch.allclose(with_adapter.reshape(-1, reference.shape[-1])[-1], reference, atol=1e-3, rtol=1e-3)


def test_load_model_takes_an_adapter(base_and_adapter):
    from llamasys.core_model import load_model

    base, adapter, merged_folder, _ = base_and_adapter
    tokens = [1, 2, 3, 4]
    engine = load_model(
        str(base), adapter=str(adapter), dtype=torch.float32, max_seq_len=32, cpu_kernels=False
    )
    with torch.no_grad():
        got = engine.forward(tokens).float()
    assert torch.allclose(got, _logits(read_checkpoint(merged_folder), tokens), atol=1e-4, rtol=1e-4)


def test_bad_adapters_are_refused_with_a_reason(base_and_adapter, tmp_path):
    base, adapter, _, _ = base_and_adapter
    with pytest.raises(CheckpointError, match="not a LoRA adapter"):
        read_adapter(tmp_path)
    other = tiny_args(dim=32, n_heads=2, n_kv_heads=1, ffn_hidden_dim=64)
    small = write_hf_checkpoint(tmp_path / "small", other, random_meta_state_dict(other))
    with pytest.raises(CheckpointError, match="trained on another model"):
        merge_adapter(read_checkpoint(small), adapter)
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert read_adapter(adapter).scale == config["lora_alpha"] / config["r"]
