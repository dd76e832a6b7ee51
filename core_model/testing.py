"""Tiny random-weight checkpoints in each real on-disk format, for tests, benchmarks and stand-ins.

They judge nothing: a model or shield built on one measures plumbing, numerics against a reference and
speed, never quality. Nothing here is used by the engine itself.

```python
from llamasys.core_model.testing import tiny_args, random_meta_state_dict
from llamasys.core_model.testing import write_meta_checkpoint, write_hf_checkpoint, write_gguf_checkpoint

args = tiny_args()                                     # 2 layers, dim 64, GQA 4/2, llama3 rope scaling
sd = random_meta_state_dict(args, seed=0)              # Meta names, Meta q/k layout, float32
meta_dir = write_meta_checkpoint(tmp_path / "meta", args, sd, shards=2)
hf_dir = write_hf_checkpoint(tmp_path / "hf", args, sd, sharded=True)
gguf = write_gguf_checkpoint(tmp_path / "m.gguf", args, sd, weight_type="F32")
# read_checkpoint(meta_dir/hf_dir/gguf).state_dict all equal sd, tensor for tensor
write_random_llama_guard(tmp_path / "lg")               # Llama Guard 3 shape: Meta folder, Llama 3 vocabulary
write_random_prompt_guard(tmp_path / "pg", num_labels=3)  # Prompt Guard shape: DeBERTa-v2 classifier folder
```

Tokenizer (the call made here): by default a TINY Llama-3-style vocabulary, `TINY_VOCAB_SIZE` = 544
ids: the 256 single bytes (rank = byte value), 32 BPE merges (`TINY_MERGES`), then Llama 3's 256
special tokens with Meta's names at 288..543 (`<|begin_of_text|>` = 288, `<|eot_id|>` = 297, ...).
Each format gets it in its own native form, and all three encode text to the same ids:
Meta -> `tokenizer.model` (tiktoken ranks, read by `Llama3Tokenizer`); Hugging Face -> `tokenizer.json`
(byte-level BPE with the Llama 3 split regex) + `tokenizer_config.json` + `generation_config.json`;
GGUF -> `tokenizer.ggml.*` (model "gpt2", pre "llama-bpe", merges, control token types).
With `tiny_args(vocab_size=128256)` the real Llama 3 tokenizer from llama-models is used instead:
Meta copies its `tokenizer.model`, HF puts it at `original/tokenizer.model` (as Meta's HF repos do;
no tokenizer.json), GGUF stores the full vocabulary with merges derived from the tiktoken ranks.

Meta folders write `params.json` with `multiple_of`/`ffn_dim_multiplier` that reproduce
`ffn_hidden_dim`, and a llamasys `rope_scaling` (plus `max_position_embeddings`) entry when the
model's scaling differs from what Meta's params.json implies. GGUF files store llama3 scaling as
llama.cpp does: a `rope_freqs.weight` tensor plus `llama.rope.scaling.original_context_length`.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import math
import shutil
import string
from pathlib import Path

import torch

from llamasys.core_model.config import ModelArgs, RopeScaling, expected_meta_shapes
from llamasys.core_model.tokenizers.llama3 import (
    LLAMA3_PAT_STR,
    default_tokenizer_model_path,
    llama3_special_token_names,
)

__all__ = [
    "TINY_MERGES",
    "TINY_VOCAB_SIZE",
    "LLAMA3_VOCAB_SIZE",
    "TINY_CHAT_TEMPLATE",
    "tiny_args",
    "random_meta_state_dict",
    "write_meta_checkpoint",
    "write_hf_checkpoint",
    "write_gguf_checkpoint",
    "write_tiny_tokenizer_model",
    "hf_config",
    "meta_params",
    "write_random_llama_guard",
    "write_random_prompt_guard",
    "transformers_rope_divisors",
]

TINY_MERGES = (
    "he", " t", " th", " the", "in", "er", "an", " a", "on", "re", "is", " s", "or", "en", "at", "ed",
    " w", "it", "ing", " o", "ll", "es", "ar", " c", "ou", " b", " f", "ay", " to", "\n\n", "  ", " i",
)  # fmt: skip
TINY_BASE_SIZE = 256 + len(TINY_MERGES)
TINY_VOCAB_SIZE = TINY_BASE_SIZE + 256
LLAMA3_VOCAB_SIZE = 128256
# A Llama 3 style template, so chat-template plumbing can be tested on tiny checkpoints.
TINY_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{{ message['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


def tiny_args(**overrides) -> ModelArgs:
    """A small Llama 3.1-like shape: GQA (4 query / 2 kv heads), llama3 rope scaling with an original
    context of 64 (so scaling matters at test lengths), untied output, the tiny vocabulary."""
    base = dict(
        dim=64,
        n_layers=2,
        n_heads=4,
        n_kv_heads=2,
        vocab_size=TINY_VOCAB_SIZE,
        ffn_hidden_dim=160,
        norm_eps=1e-5,
        rope_theta=500000.0,
        rope_scaling=RopeScaling(factor=8.0, original_max_position_embeddings=64),
        max_position_embeddings=512,
        tie_word_embeddings=False,
    )
    return ModelArgs(**(base | overrides))


# Shapes that exercise what differs between Llama variants, as `tiny_args` overrides.
SHAPE_CASES = {
    "gqa-llama3-scaling-tied": dict(tie_word_embeddings=True),
    "mha-untied-no-scaling": dict(n_kv_heads=4, rope_scaling=None, rope_theta=10000.0),
    "gqa-factor32-headdim-override": dict(
        n_heads=4,
        n_kv_heads=1,
        head_dim_override=24,
        rope_scaling=RopeScaling(factor=32.0, original_max_position_embeddings=32),
    ),
}


def random_meta_state_dict(args: ModelArgs, seed: int = 0, dtype: torch.dtype = torch.float32) -> dict:
    """Random weights with Meta names and layout; scaled so activations stay O(1). Tied models get
    `output.weight` as the very same tensor as `tok_embeddings.weight`."""
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}
    for name, shape in expected_meta_shapes(args).items():
        if name == "output.weight" and args.tie_word_embeddings:
            continue
        if len(shape) == 1:
            tensor = 1.0 + 0.1 * torch.randn(shape, generator=g)
        elif name == "tok_embeddings.weight":
            tensor = torch.randn(shape, generator=g)
        else:
            tensor = torch.randn(shape, generator=g) / math.sqrt(shape[-1])
        sd[name] = tensor.to(dtype)
    if args.tie_word_embeddings:
        sd["output.weight"] = sd["tok_embeddings.weight"]
    return sd


# tokenizers ----------------------------------------------------------------------------------------


def tiny_ranks() -> dict[bytes, int]:
    ranks = {bytes([b]): b for b in range(256)}
    for i, piece in enumerate(TINY_MERGES):
        ranks[piece.encode()] = 256 + i
    return ranks


def write_tiny_tokenizer_model(path: Path) -> Path:
    """The tiny vocabulary as a tiktoken `tokenizer.model` (`base64 rank` lines)."""
    lines = [f"{base64.b64encode(tok).decode()} {rank}" for tok, rank in tiny_ranks().items()]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def _llama3_ranks() -> dict[bytes, int]:
    ranks = {}
    for line in default_tokenizer_model_path().read_text(encoding="ascii").splitlines():
        if line:
            tok, rank = line.split()
            ranks[base64.b64decode(tok)] = int(rank)
    return ranks


def _bpe_split(ranks: dict[bytes, int], token: bytes, max_rank: int) -> list[bytes]:
    parts = [token[i : i + 1] for i in range(len(token))]
    while len(parts) > 2:
        best, at = None, -1
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and rank < max_rank and (best is None or rank < best):
                best, at = rank, i
        if best is None:
            break
        parts[at : at + 2] = [parts[at] + parts[at + 1]]
    return parts


def _merges_from_ranks(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """The BPE merge list equivalent to tiktoken ranks (tokens that no two lower pieces form are skipped)."""
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(token) > 1:
            parts = _bpe_split(ranks, token, rank)
            if len(parts) == 2:
                merges.append((parts[0], parts[1]))
    return merges


@functools.lru_cache(maxsize=2)
def _byte_level_vocab(real_llama3: bool) -> tuple[list[str], list[str], list[str]]:
    """(base tokens, merges "a b", special names) in byte-level spelling."""
    from llamasys.core_model.tokenizers.hf import byte_level_alphabet

    alphabet = byte_level_alphabet()

    def spell(b: bytes) -> str:
        return "".join(alphabet[x] for x in b)

    ranks = _llama3_ranks() if real_llama3 else tiny_ranks()
    by_rank = sorted(ranks.items(), key=lambda kv: kv[1])
    if [r for _, r in by_rank] != list(range(len(by_rank))):
        raise ValueError("tiktoken ranks must be 0..n-1")
    tokens = [spell(tok) for tok, _ in by_rank]
    merges = [f"{spell(a)} {spell(b)}" for a, b in _merges_from_ranks(ranks)]
    return tokens, merges, llama3_special_token_names()


def _tokenizer_json(real_llama3: bool) -> str:
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

    tokens, merges, specials = _byte_level_vocab(real_llama3)
    model = models.BPE(
        vocab={t: i for i, t in enumerate(tokens)},
        merges=[tuple(m.split(" ")) for m in merges],
        ignore_merges=True,
    )
    tok = Tokenizer(model)
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_PAT_STR), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok.to_str()


def _uses_real_llama3(args: ModelArgs) -> bool:
    if args.vocab_size == LLAMA3_VOCAB_SIZE:
        return True
    if args.vocab_size < TINY_VOCAB_SIZE:
        raise ValueError(
            f"vocab_size {args.vocab_size} is smaller than the tiny tokenizer's {TINY_VOCAB_SIZE} ids; use "
            f">= {TINY_VOCAB_SIZE} (extra rows are unused) or {LLAMA3_VOCAB_SIZE} for the real Llama 3 tokenizer"
        )
    return False


# Meta ----------------------------------------------------------------------------------------------


def _ffn_params(dim: int, hidden: int) -> dict:
    base = int(2 * 4 * dim / 3)
    for multiple_of in (1024, 512, 256, 128, 64, 32, 16, 8):
        if multiple_of * math.ceil(base / multiple_of) == hidden:
            return {"multiple_of": multiple_of, "ffn_dim_multiplier": None}
    return {"multiple_of": hidden, "ffn_dim_multiplier": hidden / base}


def meta_params(args: ModelArgs) -> dict:
    """params.json contents that `ModelArgs.from_meta_params` reads back to the same shape."""
    params = {
        "dim": args.dim,
        "n_layers": args.n_layers,
        "n_heads": args.n_heads,
        "n_kv_heads": args.n_kv_heads,
        "vocab_size": args.vocab_size,
        **_ffn_params(args.dim, args.ffn_hidden_dim),
        "norm_eps": args.norm_eps,
        "rope_theta": args.rope_theta,
        "use_scaled_rope": args.rope_scaling is not None,
    }
    if args.rope_scaling is not None:
        implied = RopeScaling(factor=32.0 if args.dim in (2048, 3072) else 8.0)
        if args.rope_scaling != implied:
            params["rope_scaling"] = {"rope_type": "llama3", **dataclasses.asdict(args.rope_scaling)}
    if args.max_position_embeddings != 131072:
        params["max_position_embeddings"] = args.max_position_embeddings
    if args.head_dim_override is not None:
        params["head_dim"] = args.head_dim_override
    if ModelArgs.from_meta_params(params).ffn_hidden_dim != args.ffn_hidden_dim:
        raise ValueError(f"cannot express ffn_hidden_dim {args.ffn_hidden_dim} in params.json")
    return params


def write_meta_checkpoint(
    directory: str | Path,
    args: ModelArgs,
    state_dict: dict | None = None,
    shards: int = 1,
    seed: int = 0,
    tokenizer: bool = True,
) -> Path:
    """A Meta folder: params.json, consolidated.{00..}.pth split like Meta's model-parallel shards
    (column-parallel on dim 0, wo/w2 on dim -1, norms replicated) and tokenizer.model."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sd = state_dict if state_dict is not None else random_meta_state_dict(args, seed)
    real = _uses_real_llama3(args)
    (directory / "params.json").write_text(json.dumps(meta_params(args), indent=2))
    if shards < 1 or args.n_kv_heads % shards or args.vocab_size % shards:
        raise ValueError(
            f"cannot split n_kv_heads={args.n_kv_heads}, vocab={args.vocab_size} into {shards} shards"
        )
    parts: list[dict[str, torch.Tensor]] = [{} for _ in range(shards)]
    for name, tensor in sd.items():
        if tensor.ndim < 2:
            chunks = [tensor.clone() for _ in range(shards)]
        elif name.endswith(("attention.wo.weight", "feed_forward.w2.weight")):
            chunks = [c.clone() for c in tensor.chunk(shards, dim=-1)]
        else:
            chunks = [c.clone() for c in tensor.chunk(shards, dim=0)]
        for part, chunk in zip(parts, chunks, strict=True):
            part[name] = chunk
    if shards == 1 and sd.get("output.weight") is sd.get("tok_embeddings.weight"):
        parts[0]["output.weight"] = parts[0]["tok_embeddings.weight"]
    for i, part in enumerate(parts):
        torch.save(part, directory / f"consolidated.{i:02d}.pth")
    if tokenizer:
        if real:
            shutil.copyfile(default_tokenizer_model_path(), directory / "tokenizer.model")
        else:
            write_tiny_tokenizer_model(directory / "tokenizer.model")
    return directory


# Hugging Face --------------------------------------------------------------------------------------


def hf_config(args: ModelArgs, tie_embeddings: bool | None = None, torch_dtype: str = "float32") -> dict:
    """A LlamaForCausalLM config.json for `args` (ids of the tiny or the real Llama 3 vocabulary)."""
    tie = args.tie_word_embeddings if tie_embeddings is None else tie_embeddings
    base = TINY_BASE_SIZE if args.vocab_size != LLAMA3_VOCAB_SIZE else 128000
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": args.dim,
        "intermediate_size": args.ffn_hidden_dim,
        "num_hidden_layers": args.n_layers,
        "num_attention_heads": args.n_heads,
        "num_key_value_heads": args.n_kv_heads,
        "head_dim": args.head_dim,
        "vocab_size": args.vocab_size,
        "rms_norm_eps": args.norm_eps,
        "rope_theta": args.rope_theta,
        "max_position_embeddings": args.max_position_embeddings,
        "tie_word_embeddings": tie,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "bos_token_id": base,
        "eos_token_id": [base + 1, base + 8, base + 9],
        "torch_dtype": torch_dtype,
    }
    if args.rope_scaling is not None:
        config["rope_scaling"] = {"rope_type": "llama3", **dataclasses.asdict(args.rope_scaling)}
    return config


# Meta name -> transformers LlamaForCausalLM name, per layer and at the top (the names in transformers'
# modeling_llama.py and its convert_llama_weights_to_hf.py), written out here rather than taken from the
# loader's own tables, so a wrong table in the loader cannot agree with itself
_HF_LAYER_NAMES = {
    "attention.wq.weight": "self_attn.q_proj.weight",
    "attention.wk.weight": "self_attn.k_proj.weight",
    "attention.wv.weight": "self_attn.v_proj.weight",
    "attention.wo.weight": "self_attn.o_proj.weight",
    "feed_forward.w1.weight": "mlp.gate_proj.weight",
    "feed_forward.w2.weight": "mlp.down_proj.weight",
    "feed_forward.w3.weight": "mlp.up_proj.weight",
    "attention_norm.weight": "input_layernorm.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
}
_HF_TOP_NAMES = {
    "tok_embeddings.weight": "model.embed_tokens.weight",
    "norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}


def _rotate_half_rows(weight: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Meta's interleaved q/k rows (pairs 2i, 2i+1 rotate together) -> HF's rotate-half order (i and
    i + head_dim/2 rotate together), per head: `permute` in transformers' convert_llama_weights_to_hf.py.
    weight: [n_heads * head_dim, dim] -> same shape, rows reordered."""
    rows, cols = weight.shape
    head_dim = rows // n_heads
    return weight.view(n_heads, head_dim // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


def _transformers_llama(args: ModelArgs, tie: bool, dtype: torch.dtype) -> tuple:
    """transformers' own `LlamaConfig` and an (untrained) `LlamaForCausalLM` for `args`."""
    from transformers import LlamaConfig, LlamaForCausalLM

    base = TINY_BASE_SIZE if args.vocab_size != LLAMA3_VOCAB_SIZE else 128000
    rope_scaling = None
    if args.rope_scaling is not None:
        rope_scaling = {"rope_type": "llama3", **dataclasses.asdict(args.rope_scaling)}
    config = LlamaConfig(
        vocab_size=args.vocab_size,
        hidden_size=args.dim,
        intermediate_size=args.ffn_hidden_dim,
        num_hidden_layers=args.n_layers,
        num_attention_heads=args.n_heads,
        num_key_value_heads=args.n_kv_heads,
        head_dim=args.head_dim,
        rms_norm_eps=args.norm_eps,
        rope_theta=args.rope_theta,
        rope_scaling=rope_scaling,
        max_position_embeddings=args.max_position_embeddings,
        tie_word_embeddings=tie,
        hidden_act="silu",
        attention_bias=False,
        mlp_bias=False,
        bos_token_id=base,
        eos_token_id=[base + 1, base + 8, base + 9],
    )
    return config, LlamaForCausalLM(config).to(dtype)


def write_hf_checkpoint(
    directory: str | Path,
    args: ModelArgs,
    state_dict: dict | None = None,
    sharded: bool = False,
    tie_embeddings: bool | None = None,
    seed: int = 0,
    chat_template: str | None = TINY_CHAT_TEMPLATE,
) -> Path:
    """An HF folder written by transformers itself: `LlamaConfig(...)` and
    `LlamaForCausalLM(config).save_pretrained(directory)` after loading `state_dict` (Meta names and
    layout, default `random_meta_state_dict(args, seed)`) into it, so config.json and the safetensors
    are whatever the installed transformers writes (5.x: `dtype` and `rope_parameters`; 4.x:
    `torch_dtype`, `rope_theta` and `rope_scaling`). The weights keep the state dict's dtype; q/k rows are
    in HF's rotate-half order; a tied model has no `lm_head.weight`. `sharded=True` saves two
    files (`model-0000{1,2}-of-00002.safetensors` + `model.safetensors.index.json`). Then the tokenizer
    files (see the module docstring). Raises ValueError if the state dict does not fit transformers'
    model (a wrong name or shape)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tie = args.tie_word_embeddings if tie_embeddings is None else tie_embeddings
    sd = state_dict if state_dict is not None else random_meta_state_dict(args, seed)
    dtype = next(iter(sd.values())).dtype
    _, model = _transformers_llama(args, tie, dtype)
    hf: dict[str, torch.Tensor] = {}
    for name, tensor in sd.items():
        if name in _HF_TOP_NAMES:
            if not (tie and name == "output.weight"):
                hf[_HF_TOP_NAMES[name]] = tensor
            continue
        _, layer, rest = name.split(".", 2)
        if rest == "attention.wq.weight":
            tensor = _rotate_half_rows(tensor, args.n_heads)
        elif rest == "attention.wk.weight":
            tensor = _rotate_half_rows(tensor, args.n_kv_heads)
        hf[f"model.layers.{layer}.{_HF_LAYER_NAMES[rest]}"] = tensor
    missing, unexpected = model.load_state_dict(hf, strict=False)
    if unexpected or set(missing) - ({"lm_head.weight"} if tie else set()):
        raise ValueError(
            f"state dict does not fit LlamaForCausalLM: missing {missing}, unexpected {unexpected}"
        )
    if sharded:  # greedy split: more than half the bytes (and < all) in the first file, the rest in a second
        sizes = [t.numel() * t.element_size() for t in model.state_dict().values()]
        model.save_pretrained(directory, max_shard_size=sum(sizes) // 2 + max(sizes))
        if not (directory / "model-00002-of-00002.safetensors").exists():
            raise ValueError(f"{directory}: the weights do not split into two shards (one tensor dominates)")
    else:
        model.save_pretrained(directory, max_shard_size=2**62)
    _write_hf_tokenizer(directory, args, chat_template)
    return directory


def _write_hf_tokenizer(directory: Path, args: ModelArgs, chat_template: str | None) -> None:
    real = _uses_real_llama3(args)
    base = 128000 if real else TINY_BASE_SIZE
    generation = {"bos_token_id": base, "eos_token_id": [base + 1, base + 8, base + 9]}
    (directory / "generation_config.json").write_text(json.dumps(generation, indent=2))
    if real:
        (directory / "original").mkdir(exist_ok=True)
        shutil.copyfile(default_tokenizer_model_path(), directory / "original" / "tokenizer.model")
        return
    (directory / "tokenizer.json").write_text(_tokenizer_json(False), encoding="utf-8")
    config = {
        "bos_token": "<|begin_of_text|>",
        "eos_token": "<|end_of_text|>",
        "add_bos_token": True,
        "model_max_length": args.max_position_embeddings,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    if chat_template is not None:
        config["chat_template"] = chat_template
    (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


# GGUF ----------------------------------------------------------------------------------------------


def write_gguf_checkpoint(
    path: str | Path,
    args: ModelArgs,
    state_dict: dict | None = None,
    seed: int = 0,
    weight_type: str = "F32",
    chat_template: str | None = TINY_CHAT_TEMPLATE,
) -> Path:
    """A GGUF file, architecture llama: metadata as llama.cpp writes it, Meta-layout q/k, no
    output.weight when tied, `rope_freqs.weight` for llama3 scaling, the tokenizer as a gpt2 vocabulary.
    `weight_type` applies to 2-D weights: "F32", "F16", "Q8_0", "Q4_0" or "Q4_1" (norms stay F32)."""
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFWriter, TokenType
    from gguf.quants import quantize

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = state_dict if state_dict is not None else random_meta_state_dict(args, seed)
    real = _uses_real_llama3(args)
    qtype = GGMLQuantizationType[weight_type]
    writer = GGUFWriter(str(path), "llama")
    writer.add_name("llamasys tiny test model")
    writer.add_context_length(args.max_position_embeddings)
    writer.add_embedding_length(args.dim)
    writer.add_block_count(args.n_layers)
    writer.add_feed_forward_length(args.ffn_hidden_dim)
    writer.add_head_count(args.n_heads)
    writer.add_head_count_kv(args.n_kv_heads)
    writer.add_rope_freq_base(args.rope_theta)
    writer.add_layer_norm_rms_eps(args.norm_eps)
    writer.add_rope_dimension_count(args.head_dim)
    writer.add_vocab_size(args.vocab_size)
    if args.head_dim != args.dim // args.n_heads:
        writer.add_key_length(args.head_dim)
        writer.add_value_length(args.head_dim)
    if args.rope_scaling is not None:
        writer.add_rope_scaling_orig_ctx_len(args.rope_scaling.original_max_position_embeddings)

    tokens, merges, specials = _byte_level_vocab(real)
    n_special = args.vocab_size - len(tokens) if real else 256
    all_tokens = tokens + specials[:n_special]
    all_tokens += [f"[PAD{i}]" for i in range(len(all_tokens), args.vocab_size)]
    types = [TokenType.NORMAL] * len(tokens) + [TokenType.CONTROL] * (len(all_tokens) - len(tokens))
    base = len(tokens)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("llama-bpe")
    writer.add_token_list(all_tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(base)
    writer.add_eos_token_id(base + 1)
    writer.add_eot_token_id(base + 9)
    writer.add_eom_token_id(base + 8)
    writer.add_add_bos_token(True)
    if chat_template is not None:
        writer.add_chat_template(chat_template)

    gguf_names = {
        "tok_embeddings.weight": "token_embd.weight",
        "norm.weight": "output_norm.weight",
        "output.weight": "output.weight",
    }
    block_names = {
        "attention.wq.weight": "attn_q.weight",
        "attention.wk.weight": "attn_k.weight",
        "attention.wv.weight": "attn_v.weight",
        "attention.wo.weight": "attn_output.weight",
        "feed_forward.w1.weight": "ffn_gate.weight",
        "feed_forward.w2.weight": "ffn_down.weight",
        "feed_forward.w3.weight": "ffn_up.weight",
        "attention_norm.weight": "attn_norm.weight",
        "ffn_norm.weight": "ffn_norm.weight",
    }
    tied = args.tie_word_embeddings or sd.get("output.weight") is sd.get("tok_embeddings.weight")
    if args.rope_scaling is not None:
        divisors = transformers_rope_divisors(args)
        writer.add_tensor("rope_freqs.weight", divisors.numpy().astype(np.float32))
    for name, tensor in sd.items():
        if name == "output.weight" and tied:
            continue
        if name in gguf_names:
            gguf_name = gguf_names[name]
        else:
            _, i, *rest = name.split(".")
            gguf_name = f"blk.{i}.{block_names['.'.join(rest)]}"
        array = tensor.detach().float().numpy()
        if array.ndim == 1 or qtype == GGMLQuantizationType.F32:
            writer.add_tensor(gguf_name, np.ascontiguousarray(array, dtype=np.float32))
        elif qtype == GGMLQuantizationType.F16:
            writer.add_tensor(gguf_name, array.astype(np.float16))
        else:
            writer.add_tensor(gguf_name, quantize(array, qtype), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def transformers_rope_divisors(args: ModelArgs) -> torch.Tensor:
    """float32 `[head_dim // 2]`: what llama.cpp stores as `rope_freqs.weight` for llama3 scaling (the
    base frequency over the scaled one, per pair), computed by transformers' own llama3 RoPE function
    (`transformers.modeling_rope_utils.ROPE_INIT_FUNCTIONS["llama3"]`) and its default rotary
    embedding, not by the engine's code, so that the loader's check of this tensor is checked too."""
    from transformers import LlamaConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    if args.rope_scaling is None:
        raise ValueError("the model has no llama3 rope scaling: GGUF then has no rope_freqs tensor")
    shape = dict(hidden_size=args.dim, num_attention_heads=args.n_heads, head_dim=args.head_dim)
    rope = {"rope_type": "llama3", "rope_theta": args.rope_theta, **dataclasses.asdict(args.rope_scaling)}
    scaled, _ = ROPE_INIT_FUNCTIONS["llama3"](LlamaConfig(**shape, rope_parameters=rope), "cpu")
    plain = LlamaConfig(**shape, rope_parameters={"rope_type": "default", "rope_theta": args.rope_theta})
    base = LlamaRotaryEmbedding(plain).inv_freq
    return (base.double() / scaled.double()).float()


# shield-shaped stand-ins ---------------------------------------------------------------------------


def write_random_llama_guard(
    folder: Path,
    *,
    dim: int = 64,
    n_layers: int = 2,
    n_heads: int = 4,
    n_kv_heads: int = 2,
    seed: int = 0,
    state_dict: dict[str, torch.Tensor] | None = None,
) -> Path:
    """A Llama Guard 3-shaped stand-in: a Meta checkpoint folder (`params.json` + `consolidated.00.pth`) with
    the full Llama 3 vocabulary (128,256 ids), random weights (or `state_dict`), rope theta 500000 without
    scaling, and no `tokenizer.model` (the loader falls back to the llama-models copy), so the real
    tokenizer and Llama Guard's prompt framing are exercised."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    params = {
        "dim": dim,
        "n_layers": n_layers,
        "n_heads": n_heads,
        "n_kv_heads": n_kv_heads,
        "vocab_size": LLAMA3_VOCAB_SIZE,
        "multiple_of": 32,
        "norm_eps": 1e-5,
        "rope_theta": 500000.0,
        "use_scaled_rope": False,
    }
    (folder / "params.json").write_text(json.dumps(params, indent=2), encoding="utf-8")
    if state_dict is None:
        state_dict = random_meta_state_dict(ModelArgs.from_meta_params(params), seed)
    torch.save({k: v.contiguous() for k, v in state_dict.items()}, folder / "consolidated.00.pth")
    return folder


_WORDS = [
    "ignore",
    "previous",
    "instructions",
    "all",
    "the",
    "a",
    "you",
    "are",
    "now",
    "do",
    "anything",
    "tell",
    "me",
    "your",
    "system",
    "prompt",
    "hello",
    "world",
    "what",
    "is",
    "weather",
    "today",
    "sunny",
    "please",
    "write",
    "poem",
    "about",
    "cats",
    "password",
    "reset",
    "go",
    "to",
]


def write_random_prompt_guard(
    folder: Path, *, num_labels: int = 3, max_len: int = 512, seed: int = 0
) -> Path:
    """A tiny DeBERTa-v2 sequence classifier + tokenizer with Prompt Guard's label names (v1: 3, v2: 2)."""
    from transformers import DebertaV2Config, DebertaV2ForSequenceClassification, DebertaV2Tokenizer

    if num_labels not in (2, 3):
        raise ValueError("Prompt Guard has 3 labels (v1) or 2 (v2)")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = [(t, 0.0) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")] + [("▁", -2.0)]
    chars = string.ascii_letters + string.digits + string.punctuation
    vocab += [(c, -6.0) for c in chars] + [("▁" + c, -6.5) for c in chars]
    vocab += [("▁" + w, -3.0) for w in _WORDS] + [(w, -3.5) for w in _WORDS]
    tokenizer = DebertaV2Tokenizer(vocab=vocab, model_max_length=max_len)
    tokenizer.save_pretrained(str(folder))
    labels = ["BENIGN", "INJECTION", "JAILBREAK"] if num_labels == 3 else ["BENIGN", "MALICIOUS"]
    config = DebertaV2Config(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_len,
        pad_token_id=0,
        num_labels=num_labels,
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = DebertaV2ForSequenceClassification(config)
    model.save_pretrained(str(folder))
    return folder
