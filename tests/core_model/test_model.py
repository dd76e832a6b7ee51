"""The decoder against Hugging Face transformers' LlamaForCausalLM on the same (tiny, random) weights,
and the static KV cache against full forwards."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from tiny_engine import make_engine

from llamasys.apps.bench.baselines import transformers_model
from llamasys.core_model.errors import CheckpointError, SequenceTooLongError
from llamasys.core_model.model import Transformer
from llamasys.core_model.testing import SHAPE_CASES, random_meta_state_dict, tiny_args


@pytest.mark.parametrize("case", SHAPE_CASES)
def test_logits_match_transformers(case):
    args = tiny_args(**SHAPE_CASES[case])
    sd = random_meta_state_dict(args, seed=1)
    engine = make_engine(args, sd)
    tokens = torch.randint(0, args.vocab_size, (2, 40), generator=torch.Generator().manual_seed(3))
    ours = engine.forward(tokens)
    with torch.no_grad():
        hf = transformers_model(SimpleNamespace(args=args, state_dict=sd, tokenizer=None), torch.float32)
        ref = hf(tokens).logits.float()
    assert ours.dtype == torch.float32 and ours.shape == (2, 40, args.vocab_size)
    diff = (ours - ref).abs().max().item()
    assert diff <= 1e-4, f"max abs diff {diff}"


@pytest.mark.parametrize("case", SHAPE_CASES)
def test_logits_match_a_model_transformers_built_and_saved(case, tmp_path):
    """An oracle that shares nothing with our code: transformers' own LlamaConfig and random init, its
    save_pretrained writes the folder, and its from_pretrained model gives the reference logits; our
    reader (q/k layout, tying, head size, rope) loads the same folder. float32, held to 1e-4."""
    import shutil

    from transformers import LlamaConfig, LlamaForCausalLM

    from llamasys.core_model import load_model
    from llamasys.core_model.testing import write_hf_checkpoint

    spec = tiny_args(**SHAPE_CASES[case])  # the shape only: nothing parsed or converted by us
    rope = {"rope_type": "default", "rope_theta": spec.rope_theta}
    if spec.rope_scaling is not None:
        rope = {
            "rope_type": "llama3",
            "rope_theta": spec.rope_theta,
            "factor": spec.rope_scaling.factor,
            "low_freq_factor": spec.rope_scaling.low_freq_factor,
            "high_freq_factor": spec.rope_scaling.high_freq_factor,
            "original_max_position_embeddings": spec.rope_scaling.original_max_position_embeddings,
        }
    torch.manual_seed(11)
    config = LlamaConfig(
        vocab_size=spec.vocab_size,
        hidden_size=spec.dim,
        intermediate_size=spec.ffn_hidden_dim,
        num_hidden_layers=spec.n_layers,
        num_attention_heads=spec.n_heads,
        num_key_value_heads=spec.n_kv_heads,
        head_dim=spec.head_dim_override or spec.dim // spec.n_heads,
        rms_norm_eps=spec.norm_eps,
        rope_parameters=rope,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=spec.tie_word_embeddings,
        initializer_range=0.2,  # weights large enough that a rope or layout slip shows in the logits
    )
    folder = tmp_path / "saved"
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer_files = write_hf_checkpoint(tmp_path / "tokenizer_only", tiny_args(n_layers=1))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(tokenizer_files / name, folder / name)
    tokens = torch.randint(0, 288, (2, 96), generator=torch.Generator().manual_seed(12))
    with torch.no_grad():
        ref = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()(tokens).logits
    engine = load_model(str(folder), dtype=torch.float32, max_seq_len=128, max_batch_size=2)
    ours = engine.forward(tokens)
    assert ref.abs().max().item() > 1.0  # logits of a size at which 1e-4 means something
    diff = (ours - ref).abs().max().item()
    assert diff <= 1e-4, f"max abs diff {diff}"


def test_cached_decode_equals_full_forward():
    args = tiny_args()
    engine = make_engine(args, random_meta_state_dict(args, seed=2))
    tokens = torch.randint(0, args.vocab_size, (2, 20), generator=torch.Generator().manual_seed(4))
    full = engine.forward(tokens)
    engine.model.reset_cache()
    parts = [engine.forward(tokens[:, :9], start_pos=0)]  # causal prefill, no mask
    parts.append(engine.forward(tokens[:, 9:13], start_pos=9))  # a chunk after a prefix: position mask
    parts += [engine.forward(tokens[:, t : t + 1], start_pos=t) for t in range(13, 20)]  # decode steps
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=1e-5)


def test_rows_at_different_positions_decode_together():
    """One batched decode step with per-row positions equals each row's own full forward."""
    args = tiny_args()
    sd = random_meta_state_dict(args, seed=5)
    model = make_engine(args, sd).model
    g = torch.Generator().manual_seed(6)
    a, b = torch.randint(0, 300, (1, 9), generator=g), torch.randint(0, 300, (1, 17), generator=g)
    with torch.inference_mode():
        model(a[:, :-1], torch.arange(8)[None], row_start=0, kv_len=8)
        model(b[:, :-1], torch.arange(16)[None], row_start=1, kv_len=16)
        step = model(
            torch.tensor([[a[0, -1]], [b[0, -1]]]), torch.tensor([[8], [16]]), kv_len=64, last_only=True
        )
        ref_a = model(a, torch.arange(9)[None], kv_len=9)[0, -1]
        ref_b = model(b, torch.arange(17)[None], kv_len=17)[0, -1]
    torch.testing.assert_close(step[0], ref_a, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(step[1], ref_b, atol=1e-5, rtol=1e-5)


def test_wrong_shapes_and_missing_weights_are_clear_errors():
    args = tiny_args()
    sd = random_meta_state_dict(args)
    bad = dict(sd) | {"layers.0.attention.wk.weight": torch.zeros(3, 3)}
    with pytest.raises(CheckpointError, match=r"layers\.0\.attention\.wk\.weight has shape"):
        make_engine(args, bad)
    del bad["norm.weight"]
    with pytest.raises(CheckpointError, match="missing 1 weights"):
        make_engine(args, bad)


def test_forward_beyond_max_seq_len_raises():
    args = tiny_args()
    engine = make_engine(args, random_meta_state_dict(args), max_seq_len=16)
    with pytest.raises(SequenceTooLongError, match="max_seq_len 16"):
        engine.forward(list(range(10)), start_pos=8)


def test_tied_output_head_is_one_tensor():
    args = tiny_args(tie_word_embeddings=True)
    engine = make_engine(args, random_meta_state_dict(args))
    assert engine.model.output.weight is engine.model.tok_embeddings.weight
    emb_bytes = args.vocab_size * args.dim * 4
    assert engine.decode_bytes_per_token == engine.weight_bytes
    untied = make_engine(tiny_args(), random_meta_state_dict(tiny_args()))
    assert untied.weight_bytes - untied.decode_bytes_per_token == emb_bytes - args.dim * 4


def test_bf16_model_runs_and_tracks_float32():
    args = tiny_args()
    sd = random_meta_state_dict(args, seed=7)
    tokens = torch.randint(0, args.vocab_size, (1, 24), generator=torch.Generator().manual_seed(8))
    ref = make_engine(args, sd).forward(tokens)
    bf16 = make_engine(args, sd, dtype=torch.bfloat16).forward(tokens)
    assert bf16.dtype == torch.float32
    assert (bf16 - ref).abs().max().item() < 0.1 * ref.abs().max().item()


def test_model_rejects_bad_sizes():
    with pytest.raises(ValueError):
        Transformer(tiny_args(), max_batch_size=0)
