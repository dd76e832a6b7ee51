"""Meta's Llama 3 tokenizer: tiktoken BPE over `tokenizer.model` plus 256 special tokens.

    ```python
    tok = Llama3Tokenizer.default()          # the copy inside the llama-models package
    tok = Llama3Tokenizer("path/to/tokenizer.model")
    tok.encode("This is a test sentence.", bos=True, eos=True)
    # -> [128000, 2028, 374, 264, 1296, 11914, 13, 128001]
    tok.encode("<|eot_id|>")                       # plain text: never a forged special token
    # -> [27, 91, 68, 354, 851, 91, 29]
    tok.encode("<|eot_id|>", allow_special=True)
    # -> [128009]
    ```

`tokenizer.model` holds one `base64(token-bytes) rank` pair per line (128,000 ranks). The special
tokens follow at ids 128000..128255 with the names of llama-models 0.3.0 (`llama_models/llama3/tokenizer.py`).
Generation stops at `<|end_of_text|>`, `<|eom_id|>` and `<|eot_id|>`.
Long inputs are cut into pieces of at most 400,000 characters, and inside a piece before any run of
more than 25,000 consecutive whitespace or non-whitespace characters (tiktoken's regex engine can
overflow its stack on such runs).
"""

from __future__ import annotations

import base64
import functools
import importlib.metadata
import importlib.util
import logging
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import tiktoken

from llamasys.core_model.errors import TokenizerError
from llamasys.core_model.tokenizers.base import checked_ids

__all__ = ["Llama3Tokenizer", "LLAMA3_PAT_STR", "llama3_special_token_names", "default_tokenizer_model_path"]

log = logging.getLogger(__name__)

LLAMA3_PAT_STR = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
NUM_SPECIAL_TOKENS = 256
MAX_ENCODE_CHARS = 400_000
MAX_NO_WHITESPACE_CHARS = 25_000
_LONG_RUN = re.compile(rf"\s{{{MAX_NO_WHITESPACE_CHARS + 1}}}|\S{{{MAX_NO_WHITESPACE_CHARS + 1}}}")


def llama3_special_token_names() -> list[str]:
    """The 256 special tokens in id order (first one is 128000), named as in llama-models 0.3.0."""
    names = [
        "<|begin_of_text|>",
        "<|end_of_text|>",
        "<|reserved_special_token_0|>",
        "<|reserved_special_token_1|>",
        "<|finetune_right_pad_id|>",
        "<|step_id|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<|eom_id|>",
        "<|eot_id|>",
        "<|python_tag|>",
        "<|image|>",
    ]
    names += [f"<|reserved_special_token_{i}|>" for i in range(2, NUM_SPECIAL_TOKENS - len(names) + 2)]
    assert len(names) == NUM_SPECIAL_TOKENS
    return names


def default_tokenizer_model_path() -> Path:
    """`llama_models/llama3/tokenizer.model` from the installed llama-models package (not imported)."""
    rel = "llama_models/llama3/tokenizer.model"
    try:
        path = Path(str(importlib.metadata.distribution("llama-models").locate_file(rel)))
        if path.is_file():
            return path
    except importlib.metadata.PackageNotFoundError:
        pass
    spec = importlib.util.find_spec("llama_models")
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            path = Path(root) / "llama3" / "tokenizer.model"
            if path.is_file():
                return path
    raise TokenizerError(
        "no Llama 3 tokenizer.model found: put tokenizer.model in the checkpoint folder or "
        "`pip install llama-models==0.3.0` (it carries Meta's copy)"
    )


def _load_ranks(path: Path) -> dict[bytes, int]:
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise TokenizerError(f"{path}: tokenizer.model not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenizerError(f"{path}: cannot read as a tiktoken BPE file ({exc})") from None
    ranks: dict[bytes, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
        except ValueError:
            raise TokenizerError(
                f"{path}:{lineno}: expected 'base64-token rank', got {line[:60]!r}: "
                "this is not a Llama 3 tiktoken tokenizer.model (Llama 2's sentencepiece files are not supported)"
            ) from None
    if not ranks:
        raise TokenizerError(f"{path}: tokenizer.model is empty")
    return ranks


def _split_long_runs(text: str, max_run: int) -> Iterator[str]:
    """Cut `text` so that no piece holds more than `max_run` consecutive (non-)whitespace characters."""
    if not _LONG_RUN.search(text):
        yield text
        return
    start, run, run_is_space = 0, 0, None
    for i, ch in enumerate(text):
        is_space = ch.isspace()
        run = run + 1 if is_space == run_is_space else 1
        run_is_space = is_space
        if run > max_run:
            yield text[start:i]
            start, run = i, 1
    yield text[start:]


class Llama3Tokenizer:
    """Llama 3 / 3.1 / 3.2 tokenizer. Implements `tokenizers.base.Tokenizer`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        ranks = _load_ranks(self.path)
        num_base = len(ranks)
        names = llama3_special_token_names()
        self.special_tokens: dict[str, int] = {name: num_base + i for i, name in enumerate(names)}
        self._special_ids = frozenset(self.special_tokens.values())
        self._names = {i: name for name, i in self.special_tokens.items()}
        try:
            self._enc = tiktoken.Encoding(
                name=self.path.name,
                pat_str=LLAMA3_PAT_STR,
                mergeable_ranks=ranks,
                special_tokens=self.special_tokens,
            )
        except ValueError as exc:
            raise TokenizerError(f"{self.path}: not a valid tiktoken BPE vocabulary ({exc})") from None
        self.vocab_size: int = num_base + NUM_SPECIAL_TOKENS
        self.bos_id: int | None = self.special_tokens["<|begin_of_text|>"]
        self.eos_id: int = self.special_tokens["<|end_of_text|>"]
        self.eot_id: int = self.special_tokens["<|eot_id|>"]
        self.eom_id: int = self.special_tokens["<|eom_id|>"]
        self.pad_id: int = self.special_tokens["<|finetune_right_pad_id|>"]
        self.python_tag_id: int = self.special_tokens["<|python_tag|>"]
        self.stop_ids: frozenset[int] = frozenset({self.eos_id, self.eom_id, self.eot_id})
        log.debug("loaded Llama 3 tokenizer %s (%d tokens)", self.path, self.vocab_size)

    @classmethod
    def default(cls) -> Llama3Tokenizer:
        """The tokenizer.model shipped inside the llama-models package (loaded once, then shared)."""
        return _default_instance(str(default_tokenizer_model_path()))

    def __repr__(self) -> str:
        return f"Llama3Tokenizer({str(self.path)!r}, vocab_size={self.vocab_size})"

    def encode(
        self, text: str, *, bos: bool = False, eos: bool = False, allow_special: bool = False
    ) -> list[int]:
        if not isinstance(text, str):
            raise TypeError(f"encode expects str, got {type(text).__name__}")
        allowed: str | set[str] = "all" if allow_special else set()
        ids: list[int] = [self.bos_id] if bos and self.bos_id is not None else []
        for start in range(0, len(text), MAX_ENCODE_CHARS):
            for piece in _split_long_runs(text[start : start + MAX_ENCODE_CHARS], MAX_NO_WHITESPACE_CHARS):
                ids.extend(self._enc.encode(piece, allowed_special=allowed, disallowed_special=()))
        if eos:
            ids.append(self.eos_id)
        return ids

    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        return self._enc.decode_bytes(checked_ids(ids, self.vocab_size))

    def decode(self, ids: Sequence[int]) -> str:
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def special_id(self, token: str) -> int:
        try:
            return self.special_tokens[token]
        except KeyError:
            raise TokenizerError(f"{token!r} is not a Llama 3 special token") from None

    def is_special(self, token_id: int) -> bool:
        return token_id in self._special_ids

    def token_name(self, token_id: int) -> str:
        """The special token's name, or the piece's text (bytes decoded with replacement)."""
        return self._names.get(token_id) or self.decode([token_id])


@functools.lru_cache(maxsize=2)
def _default_instance(path: str) -> Llama3Tokenizer:
    return Llama3Tokenizer(path)
