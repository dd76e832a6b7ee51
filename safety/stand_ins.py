"""Random-weight stand-ins shaped like the shields' models, for tests and benchmarks on machines that
do not have the real weights. They judge nothing: a shield built on one measures plumbing and speed.

    >>> write_random_llama_guard(Path("/tmp/lg-tiny"))            # Meta layout, Llama 3 tokenizer
    >>> guard = LlamaGuard("/tmp/lg-tiny", categories=CATEGORIES_1B)
    >>> write_random_prompt_guard(Path("/tmp/pg-tiny"), num_labels=3)   # DeBERTa-v2 classifier folder
    >>> pg = PromptGuard("/tmp/pg-tiny")

The Llama Guard stand-in is a Meta checkpoint folder (`params.json` + `consolidated.00.pth`) with the
full Llama 3 vocabulary (128,256 ids), so the real tokenizer and prompt framing are exercised; its
`tokenizer.model` is the llama-models copy the loader falls back to. The Prompt Guard stand-in is a
tiny `DebertaV2ForSequenceClassification` with a small Unigram vocabulary, saved with
`save_pretrained` so it loads through `AutoModelForSequenceClassification` / `AutoTokenizer` exactly
like the real folders.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

__all__ = ["random_llama_guard_state_dict", "write_random_llama_guard", "write_random_prompt_guard"]

LLAMA3_VOCAB = 128256


def _params(dim: int, n_layers: int, n_heads: int, n_kv_heads: int) -> dict[str, Any]:
    return {
        "dim": dim,
        "n_layers": n_layers,
        "n_heads": n_heads,
        "n_kv_heads": n_kv_heads,
        "vocab_size": LLAMA3_VOCAB,
        "multiple_of": 32,
        "norm_eps": 1e-5,
        "rope_theta": 500000.0,
        "use_scaled_rope": False,
    }


def random_llama_guard_state_dict(params: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """Random Meta-named weights for `params` (a params.json dict), scaled to keep activations sane."""
    import torch

    from llamasys.core_model.checkpoint import expected_meta_shapes
    from llamasys.core_model.config import ModelArgs

    args = ModelArgs.from_meta_params(params)
    g = torch.Generator().manual_seed(seed)
    state: dict[str, Any] = {}
    for name, shape in expected_meta_shapes(args).items():
        if name.endswith("norm.weight"):
            state[name] = torch.ones(shape)
        else:
            state[name] = torch.randn(*shape, generator=g) / shape[-1] ** 0.5
    return state


def write_random_llama_guard(
    folder: Path,
    *,
    dim: int = 64,
    n_layers: int = 2,
    n_heads: int = 4,
    n_kv_heads: int = 2,
    seed: int = 0,
    state_dict: dict[str, Any] | None = None,
) -> Path:
    """A Llama-3-vocabulary Meta checkpoint with random weights (or `state_dict`) in `folder`."""
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    params = _params(dim, n_layers, n_heads, n_kv_heads)
    (folder / "params.json").write_text(json.dumps(params, indent=2), encoding="utf-8")
    state = state_dict if state_dict is not None else random_llama_guard_state_dict(params, seed)
    torch.save({k: v.contiguous() for k, v in state.items()}, folder / "consolidated.00.pth")
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
    import torch
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
