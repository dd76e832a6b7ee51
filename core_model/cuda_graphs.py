"""CUDA-graph capture of the one-token decode step, one graph per batch-size bucket.

    ```python
    graphs = DecodeGraphs(model, buckets=batch_buckets(4))   # captures 1, 2, 4 at once
    logits = graphs.step(tokens, positions)   # LongTensor [n] each -> float32 [n, vocab] (a copy)
    ```

Rules followed (PyTorch's notes "CUDA Graphs", docs/source/notes/cuda.rst, and gpt-fast's `generate.py`): static input
buffers (tokens, positions) copied into before each replay; the step itself has fixed shapes
(attention over the whole `max_seq_len` cache, positions masking the rest, tensor-indexed cache
writes) and no host synchronisation; two warm-up runs on a side stream before capture; each bucket
has its own memory pool; outputs are cloned before the next replay can overwrite them. A batch of n
rows replays the smallest bucket >= n (`bucket(n)`). Padding rows n..bucket-1 replay with the token and
position they were last given, so they write one key/value into their cache row at that old position:
a caller whose other cache rows hold anything (the serving scheduler: cached prefixes, prompts being
prefilled) passes a whole bucket, each idle row at a position it does not hold (`serving.py` does).

Capture writes into the KV cache at the last position of each row, which is harmless: a position is
always written by the step that reaches it before any query can attend to it. Capture happens when
the engine is built, before any prompt is in the cache.
"""

from __future__ import annotations

import logging
import time

import torch

from llamasys.core_model.model import Transformer

__all__ = ["DecodeGraphs", "batch_buckets"]

log = logging.getLogger(__name__)


def batch_buckets(max_batch_size: int) -> list[int]:
    """1, 2, 4, ... up to and including max_batch_size."""
    out, b = [], 1
    while b < max_batch_size:
        out.append(b)
        b *= 2
    return [*out, max_batch_size]


class _Graph:
    def __init__(self, model: Transformer, batch: int, warmup: int = 2) -> None:
        dev = model.device
        self.batch = batch
        self.tokens = torch.zeros(batch, 1, dtype=torch.long, device=dev)
        self.positions = torch.full((batch, 1), model.max_seq_len - 1, dtype=torch.long, device=dev)

        def step() -> torch.Tensor:
            return model(self.tokens, self.positions, row_start=0, kv_len=model.max_seq_len, last_only=True)

        side = torch.cuda.Stream(device=dev)
        side.wait_stream(torch.cuda.current_stream(dev))
        with torch.cuda.stream(side), torch.inference_mode():
            for _ in range(warmup):
                step()
        torch.cuda.current_stream(dev).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(self.graph):
            self.logits = step()

    def replay(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        n = tokens.shape[0]
        self.tokens[:n, 0].copy_(tokens)
        self.positions[:n, 0].copy_(positions)
        self.graph.replay()
        return self.logits[:n].clone()


class DecodeGraphs:
    """One captured decode step per batch-size bucket; `step` replays the smallest that fits."""

    def __init__(self, model: Transformer, buckets: list[int] | None = None) -> None:
        if model.device.type != "cuda":
            raise ValueError("CUDA graphs need the model on a CUDA device")
        self.model = model
        self.buckets = sorted(buckets or batch_buckets(model.max_batch_size))
        if self.buckets[-1] > model.max_batch_size:
            raise ValueError("a batch bucket is larger than the model's max_batch_size")
        start = time.perf_counter()
        self.graphs = {b: _Graph(model, b) for b in self.buckets}
        torch.cuda.synchronize(model.device)
        self.capture_s = time.perf_counter() - start
        log.info("captured decode graphs for batch sizes %s in %.2f s", self.buckets, self.capture_s)

    def bucket(self, n: int) -> int:
        """The batch size a step over n rows replays (the smallest captured bucket >= n); raises
        ValueError when n exceeds the largest."""
        for b in self.buckets:
            if b >= n:
                return b
        raise ValueError(f"batch of {n} rows is larger than the largest captured bucket {self.buckets[-1]}")

    def step(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Replay the bucket for rows 0..n-1 (tokens, positions `[n]`) -> float32 logits `[n, vocab]`."""
        return self.graphs[self.bucket(tokens.shape[0])].replay(tokens, positions)
