"""`ModelArgs`: the shape of a Llama 3.x decoder, read from Meta's params.json, a Hugging Face
config.json or GGUF metadata, plus the q/k row permutation that separates the two weight layouts.

The engine computes in Meta's layout: RoPE rotates adjacent pairs `(x[2i], x[2i+1])` and weights use
Meta's names (`layers.{i}.attention.wq.weight`, ...). Hugging Face checkpoints permute the rows of wq
and wk per head so that RoPE can rotate halves instead; `hf_to_meta_qk` undoes that permutation.
Facts: Meta's llama-models 0.3.0 (`llama_models/llama3/args.py`, `model.py`; `sku_list.py` for shapes).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import torch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RopeScaling:
    """Llama 3.1 "llama3" frequency scaling. factor is 8 for 3.1 / 3.3, 32 for 3.2 1B/3B."""

    factor: float = 8.0
    low_freq_factor: float = 1.0
    high_freq_factor: float = 4.0
    original_max_position_embeddings: int = 8192


@dataclass(frozen=True)
class ModelArgs:
    dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int
    ffn_hidden_dim: int
    norm_eps: float = 1e-5
    rope_theta: float = 500000.0
    rope_scaling: RopeScaling | None = None
    max_position_embeddings: int = 131072
    tie_word_embeddings: bool = False
    head_dim_override: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads})")
        if self.head_dim_override is None and self.dim % self.n_heads:
            raise ValueError(f"dim ({self.dim}) must be a multiple of n_heads ({self.n_heads})")

    @property
    def head_dim(self) -> int:
        return self.head_dim_override or self.dim // self.n_heads

    @staticmethod
    def meta_ffn_hidden_dim(dim: int, multiple_of: int, ffn_dim_multiplier: float | None) -> int:
        """Meta's FeedForward sizing: int(2*4*dim/3), times the multiplier, rounded up to multiple_of."""
        hidden = int(2 * 4 * dim / 3)
        if ffn_dim_multiplier is not None:
            hidden = int(ffn_dim_multiplier * hidden)
        return multiple_of * math.ceil(hidden / multiple_of)

    @classmethod
    def from_meta_params(cls, params: dict[str, Any]) -> ModelArgs:
        """From Meta's params.json. It carries no rope factor: Llama 3.2 1B/3B (dim 2048 / 3072,
        use_scaled_rope) get 32, every other scaled model 8 (llama-models 0.3.0 `llama3/model.py`, `apply_scaling`)."""
        dim = int(params["dim"])
        n_heads = int(params["n_heads"])
        _check_meta_math(params)
        scaling = None
        if isinstance(params.get("rope_scaling"), dict):
            # llamasys extension for models whose scaling Meta's params.json cannot express (tiny test
            # models); written in Hugging Face's shape. Meta's own loader ignores unknown keys.
            scaling = _llama3_scaling(params["rope_scaling"])
        elif params.get("use_scaled_rope"):
            factor = float(params.get("rope_scaling_factor") or (32.0 if dim in (2048, 3072) else 8.0))
            scaling = RopeScaling(
                factor=factor, high_freq_factor=float(params.get("rope_high_freq_factor", 4.0))
            )
        vocab_size = int(params["vocab_size"])
        if vocab_size <= 0:
            raise ValueError(f"params.json vocab_size is {vocab_size}: expected a Llama 3 checkpoint")
        return cls(
            dim=dim,
            n_layers=int(params["n_layers"]),
            n_heads=n_heads,
            n_kv_heads=int(params.get("n_kv_heads") or n_heads),
            vocab_size=vocab_size,
            ffn_hidden_dim=cls.meta_ffn_hidden_dim(
                dim, int(params.get("multiple_of", 256)), params.get("ffn_dim_multiplier")
            ),
            norm_eps=float(params.get("norm_eps", 1e-5)),
            rope_theta=float(params.get("rope_theta", 500000.0)),
            rope_scaling=scaling,
            max_position_embeddings=int(params.get("max_position_embeddings", 131072)),
            # llamasys extension (tiny test models): a head size other than dim // n_heads.
            head_dim_override=int(params["head_dim"])
            if params.get("head_dim") not in (None, dim // n_heads)
            else None,
        )

    @classmethod
    def from_hf_config(cls, config: dict[str, Any]) -> ModelArgs:
        """From a Hugging Face LlamaForCausalLM config.json, as transformers 4.x or 5.x writes it.

        Every field that changes the computation is read in each spelling transformers has used, or
        refused with a ValueError naming it: the rope base (`rope_theta`, or inside transformers 5.x's
        `rope_parameters` / 4.x's `rope_scaling`), the rope scaling (`rope_parameters` / `rope_scaling`,
        `rope_type` or `type`; "llama3" and "default" run, any other type is refused), `partial_rotary_factor`,
        `hidden_act`, `attention_bias`, `mlp_bias`, `rms_norm_eps`, `head_dim`, `tie_word_embeddings`,
        `quantization_config`, and fields of other architectures that have no Llama meaning. A field
        that is absent takes transformers' `LlamaConfig` default (what transformers computes on the same
        folder); the rope base and norm epsilon, whose defaults rarely fit a Llama 3, are named in a warning."""
        n_heads = int(config["num_attention_heads"])
        _check_hf_math(config)
        rope_theta, scaling = _hf_rope(config)
        dim = int(config["hidden_size"])
        head_dim = config.get("head_dim")
        if "rms_norm_eps" not in config:
            log.warning("config.json has no rms_norm_eps: using transformers' LlamaConfig default 1e-6")
        return cls(
            dim=dim,
            n_layers=int(config["num_hidden_layers"]),
            n_heads=n_heads,
            n_kv_heads=int(config.get("num_key_value_heads") or n_heads),
            vocab_size=int(config["vocab_size"]),
            ffn_hidden_dim=int(config["intermediate_size"]),
            norm_eps=float(config.get("rms_norm_eps", 1e-6)),
            rope_theta=rope_theta,
            rope_scaling=scaling,
            max_position_embeddings=int(config.get("max_position_embeddings", 131072)),
            tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
            head_dim_override=int(head_dim) if head_dim and int(head_dim) != dim // n_heads else None,
        )

    @classmethod
    def from_gguf_metadata(
        cls, meta: dict[str, Any], *, rope_scaling: RopeScaling | None = None
    ) -> ModelArgs:
        """From a GGUF file's `llama.*` metadata (values already decoded to Python scalars).

        GGUF has no key for Llama 3.1's frequency scaling: llama.cpp stores it as a `rope_freqs.weight`
        tensor, which the GGUF reader turns into `rope_scaling` (see `RopeScaling.frequency_divisors`).
        """
        arch = meta.get("general.architecture", "llama")

        def get(key: str, default: Any = None) -> Any:
            value = meta.get(f"{arch}.{key}", default)
            if value is None:
                raise KeyError(f"{arch}.{key}")
            return value

        dim = int(get("embedding_length"))
        n_heads = int(get("attention.head_count"))
        key_length = meta.get(f"{arch}.attention.key_length")
        rope_dims = meta.get(f"{arch}.rope.dimension_count")
        head_dim = int(key_length or rope_dims or 0)
        _check_gguf_math(meta, arch, key_length, rope_dims)
        vocab = meta.get(f"{arch}.vocab_size") or len(meta.get("tokenizer.ggml.tokens") or ())
        if not vocab:
            raise KeyError(f"{arch}.vocab_size")
        return cls(
            dim=dim,
            n_layers=int(get("block_count")),
            n_heads=n_heads,
            n_kv_heads=int(meta.get(f"{arch}.attention.head_count_kv") or n_heads),
            vocab_size=int(vocab),
            ffn_hidden_dim=int(get("feed_forward_length")),
            # GGUF stores float32: 1e-5 reads back as 9.9999997e-06; keep float32's 7 significant digits.
            norm_eps=float(f"{float(get('attention.layer_norm_rms_epsilon', 1e-5)):.7g}"),
            rope_theta=float(get("rope.freq_base", 10000.0)),
            rope_scaling=rope_scaling,
            max_position_embeddings=int(get("context_length", 131072)),
            head_dim_override=head_dim if head_dim and head_dim != dim // n_heads else None,
        )


# params.json keys of Meta models this engine does not run (Llama 4 MoE / chunked attention, vision):
# refused by name rather than ignored as Meta's own loader would.
_FOREIGN_META_KEYS = (
    "moe_args",
    "num_experts",
    "use_qk_norm",
    "attention_chunk_size",
    "nope_layer_interval",
    "vision_model",
    "vision_chunk_size",
)  # quantization_args / lora_args: refused by the Meta reader, which names Meta's quantized SKUs


def _check_meta_math(params: dict[str, Any]) -> None:
    for key in _FOREIGN_META_KEYS:
        value = params.get(key)
        if value in (None, False, 0, -1, {}):
            continue
        raise ValueError(
            f"{key} is {value!r}: this engine runs Llama 3.x text decoders with unquantized weights; "
            "a checkpoint with this field would compute wrong outputs"
        )


def _check_gguf_math(meta: dict[str, Any], arch: str, key_length: Any, rope_dims: Any) -> None:
    """Refuse GGUF metadata whose computation this engine does not implement; warn on assumed defaults."""
    if key_length and rope_dims and int(rope_dims) != int(key_length):
        raise ValueError(
            f"{arch}.rope.dimension_count is {rope_dims} but heads have {key_length} dimensions: partial "
            "rotary embeddings are not implemented (Llama rotates the whole head)"
        )
    value_length = meta.get(f"{arch}.attention.value_length")
    if key_length and value_length and int(value_length) != int(key_length):
        raise ValueError(
            f"{arch}.attention.value_length ({value_length}) differs from key_length ({key_length}): not a Llama"
        )
    if int(meta.get(f"{arch}.expert_count") or 0) > 0:
        raise ValueError(
            f"{arch}.expert_count is {meta[f'{arch}.expert_count']}: mixture-of-experts models are not run"
        )
    linear = meta.get(f"{arch}.rope.scale_linear")  # the key older llama.cpp conversions wrote
    if linear not in (None, 1, 1.0):
        raise ValueError(f"{arch}.rope.scale_linear is {linear}: linear rope scaling is not implemented")
    for key, default in (("rope.freq_base", "10000"), ("attention.layer_norm_rms_epsilon", "1e-5")):
        if f"{arch}.{key}" not in meta:
            log.warning("GGUF metadata has no %s.%s: using llama.cpp's default %s", arch, key, default)


# Fields of other architectures' configs that change the math and mean nothing to a Llama decoder,
# with the value that leaves the Llama computation unchanged.
_FOREIGN_HF_FIELDS: dict[str, Any] = {
    "sliding_window": None,
    "attn_logit_softcapping": None,
    "final_logit_softcapping": None,
    "logits_scaling": 1.0,
    "embedding_multiplier": 1.0,
    "residual_multiplier": 1.0,
    "attention_multiplier": None,
    "query_pre_attn_scalar": None,
    "use_qk_norm": False,
    "qk_layernorm": False,
    "use_sliding_window": False,
    "moe_layer_freq": None,
    "num_local_experts": None,
    "num_experts": None,
}


def _check_hf_math(config: dict[str, Any]) -> None:
    """Refuse config.json fields whose computation this engine does not implement, naming the field."""
    act = config.get("hidden_act", config.get("hidden_activation", "silu"))
    if act not in ("silu", "swish"):
        raise ValueError(
            f"hidden_act is {act!r}: this engine's Llama MLP is SwiGLU (silu); a checkpoint trained with "
            "another activation would compute wrong outputs"
        )
    for name in ("attention_bias", "mlp_bias"):
        if config.get(name):
            raise ValueError(
                f"{name} is true: the checkpoint has bias vectors this engine's Llama layers do not add "
                "(Llama 3 has none); use transformers for this model"
            )
    for name, neutral in _FOREIGN_HF_FIELDS.items():
        value = config.get(name)
        if value is None or value == neutral or (neutral in (None, False) and not value):
            continue
        raise ValueError(
            f"{name} is {value!r}: a field of another architecture that changes the computation; this "
            "engine runs Llama decoders only"
        )
    quantization = config.get("quantization_config")
    if quantization:
        method = quantization.get("quant_method", "?") if isinstance(quantization, dict) else quantization
        raise ValueError(
            f"quantization_config ({method}): the weights are pre-quantized, which this engine does not read; "
            "use the unquantized checkpoint (the engine quantizes on load: quantization='int8' or 'fp8')"
        )


def _hf_rope(config: dict[str, Any]) -> tuple[float, RopeScaling | None]:
    """The rope base and llama3 scaling of a config.json: top-level `rope_theta` / `rope_scaling` (4.x),
    `rope_parameters` (5.x, which also holds `rope_theta`), `rope_type` or the older `type`."""
    sources: dict[str, dict[str, Any]] = {}
    for key in ("rope_parameters", "rope_scaling"):
        value = config.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise ValueError(
                f"{key} is {value!r}: expected a JSON object such as {{'rope_type': 'llama3', ...}}"
            )
        if value and all(isinstance(v, dict) for v in value.values()):
            raise ValueError(
                f"{key} gives rope parameters per layer type ({sorted(value)}): Llama uses one set for every layer"
            )
        sources[key] = value
    thetas = {k: float(v["rope_theta"]) for k, v in sources.items() if v.get("rope_theta") is not None}
    if config.get("rope_theta") is not None:
        thetas["rope_theta"] = float(config["rope_theta"])
    if len(set(thetas.values())) > 1:
        raise ValueError(f"the rope base is given twice with different values: {thetas}; keep one")
    if thetas:
        theta = next(iter(thetas.values()))
    else:
        theta = 10000.0
        log.warning(
            "config.json has no rope_theta (top level or in rope_parameters): using transformers' default "
            "10000; Llama 3 models use 500000, so check the checkpoint if its output is wrong"
        )
    kinds = {}
    for key, value in sources.items():
        kind = value.get("rope_type", value.get("type"))
        if kind is not None:
            kinds[key] = kind
    if len(set(kinds.values())) > 1:
        raise ValueError(f"rope scaling types disagree: {kinds}; keep one")
    key, kind = next(iter(kinds.items()), (next(iter(sources), "rope_parameters"), "default"))
    partial = sources.get(key, {}).get("partial_rotary_factor", config.get("partial_rotary_factor", 1.0))
    if partial is not None and float(partial) != 1.0:
        raise ValueError(
            f"partial_rotary_factor is {partial}: this engine rotates the whole head (Llama); refused"
        )
    if kind == "default":
        return theta, None
    if kind != "llama3":
        raise ValueError(
            f"{key}.rope_type is {kind!r}: this engine implements Llama 3.1's 'llama3' frequency scaling "
            "(and none); a model trained with another scaling would compute wrong outputs"
        )
    params = {k: v for source in sources.values() for k, v in source.items()}
    missing = [
        name
        for name in ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings")
        if params.get(name) is None
    ]
    if missing:
        raise ValueError(f"{key} of rope_type 'llama3' lacks {', '.join(missing)}: all four are required")
    return theta, _llama3_scaling(params)


def _llama3_scaling(rs: dict[str, Any]) -> RopeScaling:
    return RopeScaling(
        factor=float(rs["factor"]),
        low_freq_factor=float(rs.get("low_freq_factor", 1.0)),
        high_freq_factor=float(rs.get("high_freq_factor", 4.0)),
        original_max_position_embeddings=int(rs.get("original_max_position_embeddings", 8192)),
    )


def llama3_frequency_divisors(scaling: RopeScaling, head_dim: int, rope_theta: float) -> torch.Tensor:
    """Per-frequency divisors d_i with f'_i = f_i / d_i under llama3 scaling (llama-models 0.3.0 `llama3/model.py`, `apply_scaling`):
    1 for wavelengths under L/high, `factor` above L/low, interpolated in between. This is what
    llama.cpp stores as GGUF's `rope_freqs.weight` (float32, head_dim/2 values)."""
    freqs = 1.0 / (rope_theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    wavelen = 2 * math.pi / freqs
    length = scaling.original_max_position_embeddings
    low_wavelen = length / scaling.low_freq_factor
    high_wavelen = length / scaling.high_freq_factor
    smooth = (length / wavelen - scaling.low_freq_factor) / (
        scaling.high_freq_factor - scaling.low_freq_factor
    )
    mid = 1.0 / ((1 - smooth) / scaling.factor + smooth)
    divisors = torch.where(wavelen < high_wavelen, torch.ones_like(freqs), mid)
    divisors = torch.where(wavelen > low_wavelen, torch.full_like(freqs, scaling.factor), divisors)
    return divisors.to(torch.float32)


def hf_to_meta_qk(weight: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Undo Hugging Face's per-head q/k row permutation (half-split RoPE -> Meta's adjacent pairs)."""
    out_dim, in_dim = weight.shape
    head_dim = out_dim // n_heads
    return weight.view(n_heads, 2, head_dim // 2, in_dim).transpose(1, 2).reshape(out_dim, in_dim)


def meta_to_hf_qk(weight: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Apply Hugging Face's q/k row permutation to a Meta-layout weight (the inverse of `hf_to_meta_qk`)."""
    out_dim, in_dim = weight.shape
    head_dim = out_dim // n_heads
    return weight.view(n_heads, head_dim // 2, 2, in_dim).transpose(1, 2).reshape(out_dim, in_dim)


def expected_meta_shapes(args: ModelArgs) -> dict[str, tuple[int, ...]]:
    """Every Meta-named tensor of a model with these args, and its shape."""
    q, kv = args.n_heads * args.head_dim, args.n_kv_heads * args.head_dim
    shapes: dict[str, tuple[int, ...]] = {
        "tok_embeddings.weight": (args.vocab_size, args.dim),
        "norm.weight": (args.dim,),
        "output.weight": (args.vocab_size, args.dim),
    }
    for i in range(args.n_layers):
        p = f"layers.{i}."
        shapes |= {
            p + "attention.wq.weight": (q, args.dim),
            p + "attention.wk.weight": (kv, args.dim),
            p + "attention.wv.weight": (kv, args.dim),
            p + "attention.wo.weight": (args.dim, q),
            p + "feed_forward.w1.weight": (args.ffn_hidden_dim, args.dim),
            p + "feed_forward.w2.weight": (args.dim, args.ffn_hidden_dim),
            p + "feed_forward.w3.weight": (args.ffn_hidden_dim, args.dim),
            p + "attention_norm.weight": (args.dim,),
            p + "ffn_norm.weight": (args.dim,),
        }
    return shapes
