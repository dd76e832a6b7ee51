"""The tokenizer held in a GGUF file's `tokenizer.ggml.*` metadata, as an `HFTokenizer`.

```python
from llamasys.core_model.checkpoints.gguf import open_gguf
tok = gguf_tokenizer(open_gguf(path).metadata, name=str(path))
```

This module takes parsed metadata, never a file: `checkpoints.gguf` opens files. Source of the keys and
token types: the GGUF specification (github.com/ggml-org/ggml, docs/gguf.md) and llama.cpp's vocabulary code.

Vocabularies: `tokenizer.ggml.model` "gpt2" (byte-level BPE with merges; the pre-tokenizer split follows
`tokenizer.ggml.pre`: "smollm" splits digits one by one, "llama-bpe" uses Llama 3's regex, others GPT-2's,
with a warning; without the key, a Llama 3 vocabulary is recognised by its special tokens, anything else
is split the GPT-2 way with a loud warning saying so)
and "llama" (SentencePiece BPE with scores and byte fallback; merges are derived from the scores the way
llama.cpp ranks them).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from tokenizers import AddedToken, Regex, decoders, models, normalizers, pre_tokenizers
from tokenizers import Tokenizer as _RustTokenizer

from llamasys.core_model.errors import TokenizerError
from llamasys.core_model.tokenizers.hf import HFTokenizer

__all__ = ["gguf_tokenizer"]

log = logging.getLogger(__name__)

# GGUF token types (llama.cpp): 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte.
_GGUF_CONTROL, _GGUF_USER_DEFINED, _GGUF_BYTE = 3, 4, 6
_GPT2_SPLIT = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def gguf_tokenizer(meta: dict[str, Any], name: str = "GGUF metadata") -> HFTokenizer:
    """The tokenizer described by a GGUF file's parsed metadata (`tokenizer.ggml.*` keys).

    Raises TokenizerError when the vocabulary, its model kind or the EOS id is missing or unsupported."""
    kind = meta.get("tokenizer.ggml.model")
    tokens = meta.get("tokenizer.ggml.tokens")
    if not tokens:
        raise TokenizerError(f"{name}: the GGUF file has no tokenizer.ggml.tokens vocabulary")
    raw_types = meta.get("tokenizer.ggml.token_type")
    types = [1] * len(tokens) if raw_types is None else [int(t) for t in raw_types]
    if kind == "gpt2":
        rust = _gguf_byte_level_bpe(tokens, meta.get("tokenizer.ggml.merges") or [], meta, types)
    elif kind == "llama":
        scores = meta.get("tokenizer.ggml.scores")
        rust = _gguf_sentencepiece_bpe(tokens, [] if scores is None else list(scores), types, meta)
    else:
        raise TokenizerError(
            f"{name}: GGUF tokenizer model {kind!r} is not supported: expected 'gpt2' (byte-level BPE) "
            "or 'llama' (SentencePiece)"
        )
    eos_id = meta.get("tokenizer.ggml.eos_token_id")
    if eos_id is None:
        raise TokenizerError(f"{name}: the GGUF file has no tokenizer.ggml.eos_token_id")
    bos_id = meta.get("tokenizer.ggml.bos_token_id")
    add_bos = bool(meta.get("tokenizer.ggml.add_bos_token", kind == "llama"))
    extra = [meta[k] for k in ("tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id") if k in meta]
    return HFTokenizer(
        rust,
        eos_token=int(eos_id),
        bos_token=int(bos_id) if add_bos and bos_id is not None else None,
        extra_stop_ids=extra,
        vocab_size=len(tokens),
        source=name,
    )


# GGUF vocabularies ------------------------------------------------------------------------------


def _add_gguf_added_tokens(rust: _RustTokenizer, tokens: Sequence[str], types: Sequence[int]) -> None:
    control = [
        AddedToken(t, special=True, normalized=False)
        for t, kind in zip(tokens, types, strict=False)
        if kind == _GGUF_CONTROL
    ]
    user = [
        AddedToken(t, special=False, normalized=False)
        for t, kind in zip(tokens, types, strict=False)
        if kind == _GGUF_USER_DEFINED
    ]
    if control:
        rust.add_special_tokens(control)
    if user:
        rust.add_tokens(user)


def _pre_for_known_vocabulary(tokens: Sequence[str]) -> str:
    """The pre-tokenizer of a byte-level vocabulary whose GGUF lacks `tokenizer.ggml.pre` (files converted
    before llama.cpp wrote the key): Llama 3's when the vocabulary is Llama 3's (its special tokens at
    128000/128001 after 128000 byte-level tokens), else GPT-2's split, with a loud warning saying so."""
    if (
        len(tokens) >= 128256
        and tokens[128000] == "<|begin_of_text|>"
        and tokens[128001] == "<|end_of_text|>"
    ):
        log.info("GGUF has no tokenizer.ggml.pre; the vocabulary is Llama 3's: using Llama 3's pre-tokenizer")
        return "llama-bpe"
    log.warning(
        "GGUF has no tokenizer.ggml.pre and its vocabulary (%d tokens) is not one recognised here: "
        "ASSUMING GPT-2's pre-tokenizer split, so numbers, contractions and spaces may be split into "
        "other ids than the model was trained on; reconvert the model with a current llama.cpp "
        "(convert_hf_to_gguf.py writes the key), or load its Hugging Face folder instead",
        len(tokens),
    )
    return "default"


def _gguf_byte_level_bpe(
    tokens: Sequence[str], merges: Sequence[str], meta: dict[str, Any], types: Sequence[int]
) -> _RustTokenizer:
    vocab = {t: i for i, t in enumerate(tokens)}
    pairs = []
    for merge in merges:
        left, _, right = merge.partition(" ")
        pairs.append((left, right))
    pre = meta.get("tokenizer.ggml.pre")
    if pre is None:
        pre = _pre_for_known_vocabulary(tokens)
    model = models.BPE(vocab=vocab, merges=pairs, ignore_merges=pre in ("llama-bpe", "llama3", "llama-v3"))
    rust = _RustTokenizer(model)
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    if pre in ("llama-bpe", "llama3", "llama-v3", "smaug-bpe", "dbrx"):
        split = _LLAMA3_SPLIT
        steps = [pre_tokenizers.Split(Regex(split), behavior="isolated"), byte_level]
    elif pre == "smollm":
        steps = [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.Split(Regex(_GPT2_SPLIT), behavior="isolated"),
            byte_level,
        ]
    else:
        if pre not in ("gpt-2", "default"):
            log.warning(
                "GGUF pre-tokenizer %r is not known here: ASSUMING GPT-2's pre-tokenizer split, so ids may "
                "differ from the model's own tokenizer; load its Hugging Face folder instead if they must match",
                pre,
            )
        steps = [pre_tokenizers.Split(Regex(_GPT2_SPLIT), behavior="isolated"), byte_level]
    rust.pre_tokenizer = pre_tokenizers.Sequence(steps)
    rust.decoder = decoders.ByteLevel()
    _add_gguf_added_tokens(rust, tokens, types)
    return rust


def _spm_merges(
    tokens: Sequence[str], scores: Sequence[float], types: Sequence[int]
) -> list[tuple[str, str]]:
    """BPE merges implied by a SentencePiece vocabulary: a piece is mergeable from any split into two
    pieces of the vocabulary, ranked by the merged piece's score (higher first), as llama.cpp does."""
    ids = {t: i for i, t in enumerate(tokens) if types[i] in (1, _GGUF_USER_DEFINED)}
    ranked: list[tuple[float, int, int, tuple[str, str]]] = []
    for piece, i in ids.items():
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in ids and right in ids:
                ranked.append((-float(scores[i]), ids[left], ids[right], (left, right)))
    ranked.sort()
    return [pair for *_, pair in ranked]


def _gguf_sentencepiece_bpe(
    tokens: Sequence[str], scores: Sequence[float], types: Sequence[int], meta: dict[str, Any]
) -> _RustTokenizer:
    if len(scores) != len(tokens):
        raise TokenizerError("GGUF SentencePiece vocabulary needs tokenizer.ggml.scores for every token")
    vocab = {t: i for i, t in enumerate(tokens)}
    unk_id = meta.get("tokenizer.ggml.unknown_token_id", 0)
    model = models.BPE(
        vocab=vocab,
        merges=_spm_merges(tokens, scores, types),
        unk_token=tokens[int(unk_id)],
        fuse_unk=True,
        byte_fallback=True,
    )
    rust = _RustTokenizer(model)
    steps = [normalizers.Replace(" ", "\u2581")]
    if meta.get("tokenizer.ggml.add_space_prefix", True):
        steps.insert(0, normalizers.Prepend("\u2581"))
    rust.normalizer = normalizers.Sequence(steps)
    rust.pre_tokenizer = None
    decode_steps = [decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()]
    if meta.get("tokenizer.ggml.add_space_prefix", True):
        decode_steps.append(decoders.Strip(" ", 1, 0))
    rust.decoder = decoders.Sequence(decode_steps)
    _add_gguf_added_tokens(rust, tokens, types)
    return rust
