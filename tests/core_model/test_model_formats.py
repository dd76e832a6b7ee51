"""The engine on real on-disk checkpoints: Meta, Hugging Face and GGUF copies of the same weights give
the same logits, and those equal transformers' own LlamaForCausalLM loaded from the HF folder."""

from __future__ import annotations

import pytest
import torch

from llamasys.core_model import SamplingParams, load_model
from llamasys.core_model.testing import (
    random_meta_state_dict,
    tiny_args,
    write_gguf_checkpoint,
    write_hf_checkpoint,
    write_meta_checkpoint,
)

CASES = {
    "gqa-llama3-untied": {},
    "tied": {"tie_word_embeddings": True},
}


@pytest.mark.parametrize("case", CASES)
def test_meta_hf_gguf_and_transformers_agree(tmp_path, case):
    from transformers import LlamaForCausalLM

    args = tiny_args(**CASES[case])
    sd = random_meta_state_dict(args, seed=3)
    paths = {
        "meta": write_meta_checkpoint(tmp_path / "meta", args, sd, shards=2),
        "hf": write_hf_checkpoint(tmp_path / "hf", args, sd),
        "gguf": write_gguf_checkpoint(tmp_path / "m.gguf", args, sd, weight_type="F32"),
    }
    tokens = torch.randint(0, 288, (2, 48), generator=torch.Generator().manual_seed(0))
    logits = {}
    for fmt, path in paths.items():
        engine = load_model(str(path), dtype=torch.float32, max_seq_len=64, max_batch_size=2)
        assert engine.args.tie_word_embeddings == args.tie_word_embeddings or fmt == "meta"
        logits[fmt] = engine.forward(tokens)
    with torch.no_grad():
        ref = LlamaForCausalLM.from_pretrained(paths["hf"], dtype=torch.float32).eval()(tokens).logits
    for fmt, out in logits.items():
        assert (out - ref).abs().max().item() <= 1e-4, fmt
    torch.testing.assert_close(logits["meta"], logits["hf"], atol=1e-5, rtol=0)


def test_generate_through_a_real_tokenizer(tmp_path):
    path = write_hf_checkpoint(tmp_path / "hf", tiny_args(), random_meta_state_dict(tiny_args(), seed=4))
    engine = load_model(str(path), dtype=torch.float32, max_seq_len=64, max_batch_size=2)
    ids = engine.tokenizer.encode("hello world", bos=True, eos=False, allow_special=False)
    [c] = engine.generate([ids], SamplingParams(max_tokens=10, stop_token_ids=()))
    events = list(engine.stream(ids, SamplingParams(max_tokens=10, stop_token_ids=())))
    assert "".join(e.text for e in events) == c.text
    assert c.text == engine.tokenizer.decode([t for t in c.tokens if t not in engine.stop_ids])
