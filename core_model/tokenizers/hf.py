"""Tokenizers from a Hugging Face `tokenizer.json` (and, through `tokenizers.gguf`, a GGUF vocabulary).

```python
tok = HFTokenizer.from_folder("path/to/hf-model")        # tokenizer.json + tokenizer_config.json
tok = gguf_tokenizer(gguf_metadata)                      # tokenizers.gguf: a GGUF file's tokenizer.ggml.*
tok.encode("Hello <|im_end|>")                            # special text stays plain text
tok.encode("<|im_end|>", allow_special=True)              # -> [2]
```

Both are `HFTokenizer` (a `tokenizers.base.Tokenizer`) around a `tokenizers.Tokenizer`:

- Special (control) tokens are parsed out of text only with `allow_special=True`; otherwise the
  library's `encode_special_tokens` mode spells them as ordinary text. Added tokens that are not
  special (GGUF "user defined") always match whole, as llama.cpp does.
- `bos_id` is the BOS token only when the model adds one (`add_bos_token`, a post-processor that
  prepends it, or GGUF `tokenizer.ggml.add_bos_token`); otherwise None, so `encode(bos=True)` adds
  nothing (SmolLM2 has no BOS in its prompts).
- `stop_ids`: the EOS id, the ids of `generation_config.json`'s eos_token_id, and the end-of-turn
  tokens present in the vocabulary (`<|im_end|>`, `<|eot_id|>`, `<|eom_id|>`, `<|end_of_text|>`,
  `<|endoftext|>`, `</s>`).
- `decode_bytes` maps byte-level tokens back to their raw bytes (and `<0xNN>` byte-fallback pieces
  to their byte), so streaming can hold back an incomplete UTF-8 character.

"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer as _RustTokenizer

from llamasys.core_model.errors import TokenizerError
from llamasys.core_model.tokenizers.base import checked_ids

__all__ = ["HFTokenizer", "byte_level_alphabet", "END_OF_TURN_TOKENS"]

END_OF_TURN_TOKENS = (
    "<|im_end|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end_of_text|>",
    "<|endoftext|>",
    "</s>",
)
_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def byte_level_alphabet() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map used by byte-level BPE vocabularies."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


_CHAR_TO_BYTE = {ch: b for b, ch in byte_level_alphabet().items()}


def _token_content(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("content")
    return value if isinstance(value, str) else None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise TokenizerError(f"{path}: not valid JSON ({exc})") from None


def _uses_byte_level(spec: dict[str, Any]) -> bool:
    def has(node: Any) -> bool:
        if isinstance(node, dict):
            if node.get("type") == "ByteLevel":
                return True
            return any(has(v) for v in node.values())
        if isinstance(node, list):
            return any(has(v) for v in node)
        return False

    return has(spec.get("decoder")) or has(spec.get("pre_tokenizer"))


def _post_processor_adds(spec: dict[str, Any], token: str) -> bool:
    """Whether tokenizer.json's post-processor puts `token` in front of a single sequence."""

    def walk(node: Any) -> bool:
        if isinstance(node, dict):
            if node.get("type") == "TemplateProcessing":
                for item in node.get("single", []):
                    special = item.get("SpecialToken") if isinstance(item, dict) else None
                    if special and special.get("id") == token:
                        return True
                return False
            return any(walk(v) for v in node.get("processors", []))
        return False

    return walk(spec.get("post_processor"))


class HFTokenizer:
    """A `tokenizers.Tokenizer` behind the project's `Tokenizer` protocol."""

    def __init__(
        self,
        tokenizer: _RustTokenizer,
        *,
        eos_token: str | int,
        bos_token: str | int | None = None,
        extra_stop_ids: Iterable[int] = (),
        vocab_size: int | None = None,
        source: str = "tokenizer",
    ) -> None:
        self.source = source
        self._plain = tokenizer
        self._plain.encode_special_tokens = True
        self._special = _RustTokenizer.from_str(tokenizer.to_str())
        self._special.encode_special_tokens = False
        added = self._plain.get_added_tokens_decoder()
        self._special_ids = frozenset(i for i, tok in added.items() if tok.special)
        self._special_names = {tok.content: i for i, tok in added.items() if tok.special}
        self.vocab_size: int = max(vocab_size or 0, self._plain.get_vocab_size(with_added_tokens=True))
        self.eos_id: int = self._resolve(eos_token, "eos")
        self.bos_id: int | None = None if bos_token is None else self._resolve(bos_token, "bos")
        stops = {self.eos_id, *(int(i) for i in extra_stop_ids)}
        vocab = self._plain.get_vocab(with_added_tokens=True)
        stops.update(vocab[t] for t in END_OF_TURN_TOKENS if t in vocab)
        self.stop_ids: frozenset[int] = frozenset(stops)
        self._piece_bytes = self._build_piece_bytes()

    # construction ------------------------------------------------------------------------------

    def _resolve(self, token: str | int, what: str) -> int:
        if isinstance(token, int):
            return token
        token_id = self._plain.token_to_id(token)
        if token_id is None:
            raise TokenizerError(f"{self.source}: the {what} token {token!r} is not in the vocabulary")
        return token_id

    def _build_piece_bytes(self) -> list[bytes]:
        spec = json.loads(self._plain.to_str())
        byte_level = _uses_byte_level(spec)
        pieces: list[bytes] = [b""] * self.vocab_size
        added = {i: t.content for i, t in self._plain.get_added_tokens_decoder().items()}
        for token, i in self._plain.get_vocab(with_added_tokens=True).items():
            if i >= self.vocab_size:
                continue
            if i in added:
                pieces[i] = added[i].encode("utf-8")
            elif byte_level and all(ch in _CHAR_TO_BYTE for ch in token):
                pieces[i] = bytes(_CHAR_TO_BYTE[ch] for ch in token)
            elif match := _BYTE_PIECE.fullmatch(token):
                pieces[i] = bytes([int(match.group(1), 16)])
            else:
                pieces[i] = token.replace("\u2581", " ").encode("utf-8")
        return pieces

    @classmethod
    def from_file(cls, path: str | Path, config: dict[str, Any] | None = None, **kwargs: Any) -> HFTokenizer:
        """From a tokenizer.json plus the matching tokenizer_config.json contents (`config`)."""
        path = Path(path)
        if not path.is_file():
            raise TokenizerError(f"{path}: tokenizer.json not found")
        try:
            rust = _RustTokenizer.from_file(str(path))
        except Exception as exc:  # the Rust library raises plain Exception
            raise TokenizerError(f"{path}: cannot load tokenizer.json ({exc})") from None
        config = config or {}
        spec = json.loads(rust.to_str())
        eos = _token_content(config.get("eos_token"))
        bos = _token_content(config.get("bos_token"))
        if eos is None:
            for candidate in END_OF_TURN_TOKENS:
                if rust.token_to_id(candidate) is not None:
                    eos = candidate
                    break
        if eos is None:
            raise TokenizerError(
                f"{path}: no eos_token in tokenizer_config.json and no known end token in the vocabulary"
            )
        add_bos = config.get("add_bos_token")
        if add_bos is None:
            add_bos = bool(bos) and _post_processor_adds(spec, bos)
        return cls(rust, eos_token=eos, bos_token=bos if add_bos else None, source=str(path), **kwargs)

    @classmethod
    def from_folder(cls, folder: str | Path, vocab_size: int | None = None) -> HFTokenizer:
        """tokenizer.json + tokenizer_config.json (+ generation_config.json's eos ids) of an HF folder."""
        folder = Path(folder)
        config = _read_json(folder / "tokenizer_config.json")
        generation = _read_json(folder / "generation_config.json")
        eos_ids = generation.get("eos_token_id", [])
        eos_ids = [eos_ids] if isinstance(eos_ids, int) else list(eos_ids or [])
        return cls.from_file(folder / "tokenizer.json", config, extra_stop_ids=eos_ids, vocab_size=vocab_size)

    # the protocol ------------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"HFTokenizer({self.source!r}, vocab_size={self.vocab_size})"

    def encode(
        self, text: str, *, bos: bool = False, eos: bool = False, allow_special: bool = False
    ) -> list[int]:
        if not isinstance(text, str):
            raise TypeError(f"encode expects str, got {type(text).__name__}")
        rust = self._special if allow_special else self._plain
        ids = rust.encode(text, add_special_tokens=False).ids if text else []
        if bos and self.bos_id is not None:
            ids = [self.bos_id, *ids]
        if eos:
            ids.append(self.eos_id)
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        return self._plain.decode(checked_ids(ids, self.vocab_size), skip_special_tokens=False)

    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        return b"".join(self._piece_bytes[i] for i in checked_ids(ids, self.vocab_size))

    def special_id(self, token: str) -> int:
        try:
            return self._special_names[token]
        except KeyError:
            raise TokenizerError(f"{token!r} is not a special token of {self.source}") from None

    def is_special(self, token_id: int) -> bool:
        return token_id in self._special_ids

    @property
    def special_tokens(self) -> dict[str, int]:
        return dict(self._special_names)
