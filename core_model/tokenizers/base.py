"""The tokenizer protocol every model's tokenizer implements.

    ```python
    from llamasys.core_model.tokenizers.llama3 import Llama3Tokenizer
    tok = Llama3Tokenizer.default()
    tok.encode("This is a test sentence.", bos=True, eos=True)
    # -> [128000, 2028, 374, 264, 1296, 11914, 13, 128001]
    ```

Three implementations:

- `tokenizers.llama3.Llama3Tokenizer`: Meta's tiktoken BPE (`tokenizer.model`) with its 256 special tokens.
- `tokenizers.hf.HFTokenizer`: a Hugging Face `tokenizer.json`.
- `tokenizers.gguf.gguf_tokenizer`: an `HFTokenizer` built from a GGUF file's `tokenizer.ggml.*` metadata.

Safety rule shared by all: text that merely *looks* like a special token (`"<|eot_id|>"` typed by a
user or returned by a tool) is encoded as ordinary text unless the caller passes `allow_special=True`,
so a prompt can never forge a header or end a turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from llamasys.core_model.errors import TokenizerError

__all__ = ["Tokenizer", "checked_ids"]


@runtime_checkable
class Tokenizer(Protocol):
    """What the engine, the chat format and the shields need from a tokenizer."""

    vocab_size: int
    bos_id: int | None
    eos_id: int
    stop_ids: frozenset[int]
    """Ids that end generation (Llama 3: end_of_text, eom, eot; SmolLM2: eos and `<|im_end|>`)."""

    def encode(
        self, text: str, *, bos: bool = False, eos: bool = False, allow_special: bool = False
    ) -> list[int]:
        """Token ids of `text`. Special-token text is plain text unless `allow_special`."""
        ...

    def decode(self, ids: Sequence[int]) -> str:
        """Text of `ids` (special tokens as their literal text; invalid UTF-8 replaced)."""
        ...

    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        """Raw bytes of `ids`, for incremental decoding of multi-byte characters while streaming."""
        ...

    def special_id(self, token: str) -> int:
        """Id of a special token such as `"<|eot_id|>"`; raises TokenizerError naming it if unknown."""
        ...

    def is_special(self, token_id: int) -> bool:
        """Whether `token_id` is a special (control) token."""
        ...


def checked_ids(ids: Sequence[int], vocab_size: int) -> list[int]:
    """`ids` as plain ints, or a TokenizerError naming the first id outside the vocabulary."""
    out = [int(i) for i in ids]
    for i in out:
        if not 0 <= i < vocab_size:
            raise TokenizerError(f"token id {i} is outside the vocabulary (0..{vocab_size - 1})")
    return out
