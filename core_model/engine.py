"""The inference engine: a loaded model, its tokenizer, and generation.

    ```python
    from llamasys.core_model import load_model, SamplingParams
    engine = load_model("smollm2-135m-instruct", quantization="int8")   # or a folder / .gguf
    ids = engine.tokenizer.encode("The capital of France is", bos=True, eos=False, allow_special=False)
    [c] = engine.generate([ids], SamplingParams(max_tokens=16))
    c.text, c.stop_reason, c.tokens_per_s
    for event in engine.stream(ids, SamplingParams(temperature=0.7, seed=1)):
        print(event.text, end="")
    ```

How a call runs: `generate` and `stream` submit their prompts to the engine's serving core
(`engine.serve()`, `serving.py`): a scheduler thread admits each prompt into a free row ("slot") of the
static KV cache, prefills it (reusing the longest prefix some slot already holds), then decodes every
active row together, one token per step, each at its own position (sequences of different lengths, and
requests from different callers, share a batch). A row that finishes frees its slot for the next
request at once. On CUDA the decode step replays a captured CUDA graph (`cuda_graphs.py`); on the CPU it is one
call into C (`cpu_decode.py`: the whole token in compiled code, for float32/bf16 models, unquantized,
int8 or FP8), or, where that is not available, PyTorch eager over exactly the keys of a lone row (no mask) or
over a cache window rounded up to 256 positions with a position mask when several rows decode together.
One host synchronisation per step reads the sampled ids, which decide stopping and feed the text
decoder.

Stopping: the tokenizer's stop ids plus `SamplingParams.stop_token_ids`; `<|eom_id|>` gives
`StopReason.end_of_message`, every other stop token (`<|eot_id|>`, `<|im_end|>`, and also
`<|end_of_text|>`) `end_of_turn`; running out of `max_tokens` gives `out_of_tokens`. The stop token is
kept in `Completion.tokens` (it was generated) but never appears in `Completion.text`. A stop string
ends the row too (`end_of_turn`, `Completion.stop_string` says which); the text is cut where it starts.

Any number of threads and event loops may call `generate`, `stream` or `serve().submit` at once; one
scheduler thread runs the model (`Engine._lock` guards it), so their requests batch together.
"""

from __future__ import annotations

import codecs
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from pydantic import BaseModel, Field

from llamasys.core_model.config import ModelArgs
from llamasys.core_model.cuda_graphs import DecodeGraphs
from llamasys.core_model.errors import ModelError, SequenceTooLongError
from llamasys.core_model.messages import StopReason
from llamasys.core_model.model import Linear, Transformer
from llamasys.core_model.quantize import QUANTIZATIONS, Fp8Linear, quantize_model
from llamasys.core_model.sampling import SamplingParams, sample, token_logprobs

__all__ = ["Completion", "Engine", "TokenEvent", "TokenLogprob", "load_model"]

log = logging.getLogger(__name__)


class TokenLogprob(BaseModel):
    token_id: int
    logprob: float
    top: list[tuple[int, float]] | None = Field(None, description="the N most likely (id, logprob)")


class Completion(BaseModel):
    """One generated continuation. `tokens` excludes the prompt and includes the stop token if any."""

    tokens: list[int]
    text: str
    stop_reason: StopReason
    stop_token_id: int | None = None
    stop_string: str | None = None
    logprobs: list[TokenLogprob] | None = None
    prompt_tokens: int
    reused_tokens: int = Field(
        0, description="prompt tokens whose keys/values came from the cache (prefix reuse), not prefilled"
    )
    prefill_s: float = 0.0
    decode_s: float = 0.0
    tokens_per_s: float = Field(
        0.0, description="decode speed of this row: tokens after the first / decode_s"
    )


class TokenEvent(BaseModel):
    """One streamed token (`token_id`, `text` = the new text it completes, maybe empty), or the final
    event (`token_id` None) that carries what was held back, the stop reason and the whole completion."""

    token_id: int | None = None
    text: str = ""
    logprob: float | None = None
    stop_reason: StopReason | None = None
    completion: Completion | None = None


class _Text:
    """Incremental detokenisation: bytes are joined before UTF-8 decoding, so a character split over
    several tokens is never broken; stop strings are found as the text grows and cut off."""

    def __init__(self, tokenizer: Any, stops: Sequence[str]) -> None:
        self.tokenizer = tokenizer
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.stops = tuple(stops)
        self.longest_stop = max((len(s) for s in self.stops), default=0)
        self.text = ""
        self.emitted = 0

    def add(self, token_id: int) -> str | None:
        """Append a token; return the stop string it completed (the text is then cut before it)."""
        before = len(self.text)
        self.text += self.decoder.decode(self.tokenizer.decode_bytes([token_id]))
        if not self.stops or len(self.text) == before:
            return None
        start = max(0, before - self.longest_stop + 1)
        hits = [(i, s) for s in self.stops if (i := self.text.find(s, start)) >= 0]
        if not hits:
            return None
        index, stop = min(hits)
        self.text = self.text[:index]
        return stop

    def finish(self) -> None:
        self.text += self.decoder.decode(b"", final=True)

    def take(self, final: bool = False) -> str:
        """Text not yet handed out, holding back a tail that may still grow into a stop string."""
        end = len(self.text)
        if not final and self.longest_stop:
            pending = self.text[self.emitted :]
            for k in range(min(self.longest_stop - 1, len(pending)), 0, -1):
                if any(s.startswith(pending[-k:]) for s in self.stops):
                    end -= k
                    break
        out = self.text[self.emitted : end]
        self.emitted = max(self.emitted, end)
        return out


@dataclass
class _Row:
    prompt: list[int]
    text: _Text
    tokens: list[int] = field(default_factory=list)
    logprobs: list[TokenLogprob] | None = None
    done: bool = False
    stop_reason: StopReason = StopReason.out_of_tokens
    stop_token_id: int | None = None
    stop_string: str | None = None
    constraint: Any = None  # structured.RowConstraint: masks this row's logits, follows its tokens


@dataclass
class _Timing:
    """When a request's prefill and decode ran (seconds), for its Completion."""

    prefill_s: float = 0.0
    decode_s: float = 0.0


class Engine:
    """A model ready to generate. Build it with `load_model` or `Engine.from_checkpoint`."""

    def __init__(
        self,
        model: Transformer,
        tokenizer: Any,
        *,
        chat_template: str | None = None,
        source: str | None = None,
        quantization: str | None = None,
        cuda_graphs: bool | None = None,
        compile: bool = False,
        cpu_kernels: bool | None = None,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.chat_template = chat_template
        self.source = source
        self.quantization = quantization
        self.device = model.device
        self._lock = threading.RLock()  # held by whoever runs the model (the serving thread, forward)
        self._server = None
        self._chat_format = None
        stop_ids = set(getattr(tokenizer, "stop_ids", ()) or ())
        self._eom_ids = set()
        special_id = getattr(tokenizer, "special_id", None)
        if special_id is not None:
            try:
                eom = special_id("<|eom_id|>")
            except Exception:  # the vocabulary has no such token: nothing to map
                eom = None
            if eom is not None:
                self._eom_ids.add(int(eom))
        self.stop_ids = frozenset(stop_ids)
        use_graphs = self.device.type == "cuda" if cuda_graphs is None else cuda_graphs
        if use_graphs and self.device.type != "cuda":
            raise ValueError("cuda_graphs=True needs device='cuda'; leave it None to decide from the device")
        self.graphs: DecodeGraphs | None = DecodeGraphs(model) if use_graphs else None
        self._decode_fn = self._eager_step
        self._gemv_fast_path = (
            self.device.type == "cpu"
            and model.dtype in (torch.bfloat16, torch.float16)
            and hasattr(torch._C, "_set_mkldnn_enabled")
            and os.environ.get("LLAMASYS_ONEDNN_GEMV") != "1"
        )
        self.compiled = compile
        if compile:
            self._decode_fn = torch.compile(self._eager_step, dynamic=False)
        self.cpu_step = self._make_cpu_step(cpu_kernels)

    def _make_cpu_step(self, wanted: bool | None):
        """The C decode step (`cpu_decode.py`) when it applies: None = use it where it can run (unless
        LLAMASYS_CPU_KERNELS=0), True = insist (errors say why not), False = PyTorch eager."""
        if wanted is None and os.environ.get("LLAMASYS_CPU_KERNELS") == "0":
            wanted = False
        if wanted is False:
            return None
        from llamasys.core_model.cpu_decode import (
            CpuDecodeStep,
            NativeBuildError,
            fp8_to_bf16,
            unsupported_reason,
        )

        if self.graphs is not None:
            reason = "CUDA graphs run the decode step"
        elif self.compiled:
            reason = "compile=True asks for torch.compile instead"
        else:
            reason = unsupported_reason(self.model)
        if reason is not None:
            if wanted:
                raise ValueError(f"cpu_kernels=True, but the C decode step cannot run here: {reason}")
            log.debug("decode in PyTorch: %s", reason)
            return None
        try:
            step = CpuDecodeStep(self.model)
        except NativeBuildError as exc:
            if wanted:
                raise
            log.warning("decoding in PyTorch (slower): the C decode step is unavailable: %s", exc)
            return None
        for module in self.model.modules():  # prefill through FP8 layers: the library's fast widening
            if isinstance(module, Fp8Linear):
                module.widen_to_bf16 = fp8_to_bf16
        return step

    # -- construction ------------------------------------------------------------------------------

    @classmethod
    def from_checkpoint(
        cls,
        checkpoint: Any,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.bfloat16,
        quantization: str | None = None,
        max_seq_len: int = 4096,
        max_batch_size: int = 4,
        cuda_graphs: bool | None = None,
        compile: bool = False,
        cpu_kernels: bool | None = None,
    ) -> Engine:
        """Build an engine from a `checkpoints.Checkpoint` (args, Meta-layout state dict, tokenizer)."""
        if quantization is not None and quantization not in QUANTIZATIONS:
            raise ValueError(
                f"unknown quantization {quantization!r}: expected one of {', '.join(QUANTIZATIONS)}"
            )
        device = torch.device(device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ModelError(
                "device='cuda' was asked for but this torch build sees no CUDA GPU: use device='cpu'"
            )
        args: ModelArgs = checkpoint.args
        if max_seq_len > args.max_position_embeddings:
            log.warning(
                "max_seq_len %d exceeds the model's %d trained positions",
                max_seq_len,
                args.max_position_embeddings,
            )
        start = time.perf_counter()
        model = Transformer(
            args, max_batch_size=max_batch_size, max_seq_len=max_seq_len, dtype=dtype, device=device
        )
        model.load_meta_state_dict(checkpoint.state_dict)
        if quantization:
            quantize_model(model, quantization)
        log.info("built %s in %.2f s", getattr(checkpoint, "path", "model"), time.perf_counter() - start)
        path = getattr(checkpoint, "path", None)
        return cls(
            model,
            checkpoint.tokenizer,
            chat_template=getattr(checkpoint, "chat_template", None),
            source=str(path) if path is not None else None,
            quantization=quantization,
            cuda_graphs=cuda_graphs,
            compile=compile,
            cpu_kernels=cpu_kernels,
        )

    # -- properties --------------------------------------------------------------------------------

    @property
    def args(self) -> ModelArgs:
        return self.model.args

    @property
    def max_seq_len(self) -> int:
        return self.model.max_seq_len

    @property
    def max_batch_size(self) -> int:
        return self.model.max_batch_size

    @property
    def chat_format(self):
        """The chat format for this model (Llama 3 headers, or the checkpoint's own template)."""
        if self._chat_format is None:
            from llamasys.core_model.chat.format import make_chat_format

            self._chat_format = make_chat_format(self.tokenizer, self.chat_template)
        return self._chat_format

    def _unique_tensors(self) -> list[tuple[str, torch.Tensor]]:
        seen: set[int] = set()
        out = []
        for name, t in self.model.state_dict(keep_vars=True).items():
            if t.data_ptr() in seen:
                continue
            seen.add(t.data_ptr())
            out.append((name, t))
        return out

    @property
    def weight_bytes(self) -> int:
        """Bytes of every weight the engine holds (quantized ones at their stored size; no KV cache)."""
        return sum(t.numel() * t.element_size() for _, t in self._unique_tensors())

    @property
    def decode_bytes_per_token(self) -> int:
        """Weight bytes one decode step must read: everything but the embedding table, of which one row
        is read (unless the output head is that same table)."""
        emb = self.model.tok_embeddings.weight
        total = self.weight_bytes
        if isinstance(self.model.output, Linear) and self.model.output.weight is emb:
            return total
        return total - emb.numel() * emb.element_size() + emb.shape[1] * emb.element_size()

    @property
    def kv_cache_bytes(self) -> int:
        return sum(b.numel() * b.element_size() for n, b in self.model.named_buffers() if "cache_" in n)

    # -- forward -----------------------------------------------------------------------------------

    @torch.inference_mode()
    def forward(self, tokens: torch.Tensor | Sequence[int], start_pos: int = 0) -> torch.Tensor:
        """float32 logits `[B, T, vocab]` for every position of `tokens` (`[B, T]` or a list of ids, read
        as one row), placed at positions `start_pos..`; writes cache rows 0..B-1 like Meta's reference."""
        t = torch.as_tensor(tokens, dtype=torch.long, device=self.device)
        if t.dim() == 1:
            t = t[None]
        if t.dim() != 2 or t.shape[1] == 0:
            raise ValueError("tokens must be a non-empty list of ids or a [batch, seq] tensor")
        bsz, seqlen = t.shape
        if bsz > self.max_batch_size:
            raise ValueError(f"batch of {bsz} rows exceeds max_batch_size {self.max_batch_size}")
        if start_pos < 0 or start_pos + seqlen > self.max_seq_len:
            raise SequenceTooLongError(
                f"positions {start_pos}..{start_pos + seqlen - 1} do not fit max_seq_len {self.max_seq_len}: "
                "use fewer tokens or load the model with a larger max_seq_len"
            )
        pos = torch.arange(start_pos, start_pos + seqlen, device=self.device).expand(bsz, seqlen)
        with self._lock:
            if self._server is not None:  # the rows written here no longer hold what the slots cached
                self._server.forget_cache(bsz)
            exact = start_pos == 0 or seqlen == 1  # causal from 0, or one query per row: no mask needed
            return self.model(t, pos, row_start=0, kv_len=start_pos + seqlen, exact=exact)

    # -- generation --------------------------------------------------------------------------------

    def serve(
        self,
        *,
        max_queue: int | None = None,
        prefill_chunk: int | None = None,
        min_copy_tokens: int | None = None,
        idle_exit_s: float | None = None,
        threads: int | None = None,
    ):
        """The engine's serving front (`serving.AsyncEngine`, one per engine, made on first use): submit
        requests from any thread or event loop; they batch together. Options given here (waiting queue
        bound, prefill chunk in tokens, shortest prefix worth copying between slots, idle seconds before
        the scheduler thread exits, CPU threads: 0 adapts them to contention) update it; the defaults
        are in `AsyncEngine`."""
        from .serving import AsyncEngine

        options = {
            "max_queue": max_queue,
            "prefill_chunk": prefill_chunk,
            "min_copy_tokens": min_copy_tokens,
            "idle_exit_s": idle_exit_s,
            "threads": threads,
        }
        options = {k: v for k, v in options.items() if v is not None}
        with self._lock:
            if self._server is None or self._server.closed:
                self._server = AsyncEngine(self, **options)
            else:
                self._server.configure(**options)
            return self._server

    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        sampling: SamplingParams | None = None,
        *,
        constraints: Sequence[Any] | None = None,
    ) -> list[Completion]:
        """Complete every prompt (token ids); up to max_batch_size of them decode together (with any
        other requests in flight). Raises before generating if any prompt is invalid or too long.
        `constraints`: one structured constraint (or None) per prompt, instead of `sampling.constraint`."""
        sampling = sampling or SamplingParams()
        prompts = [self._check_prompt(p, sampling) for p in prompts]
        if constraints is not None and len(constraints) != len(prompts):
            raise ValueError(
                f"{len(constraints)} constraints for {len(prompts)} prompts: give one per prompt"
            )
        per_row = [
            sampling if constraints is None else sampling.model_copy(update={"constraint": c})
            for c in (constraints if constraints is not None else [None] * len(prompts))
        ]
        server = self.serve()
        requests = []
        try:
            for prompt, params in zip(prompts, per_row, strict=True):
                # wait=True: a long list waits for room in the queue instead of failing
                requests.append(server.submit(prompt, params, wait=True))
            return [r.result() for r in requests]
        finally:
            for r in requests:
                r.cancel()  # only matters when interrupted: a finished request ignores it

    def stream(self, prompt: Sequence[int], sampling: SamplingParams | None = None) -> Iterator[TokenEvent]:
        """Yield one event per generated token as it comes, then a final event with the completion.
        Closing the iterator early (or dropping it) cancels the request."""
        request = self.serve().submit(prompt, sampling or SamplingParams(), wait=True)
        with request:
            yield from request

    def _check_prompt(self, prompt: Sequence[int], sampling: SamplingParams) -> list[int]:
        ids = [int(i) for i in prompt]
        if not ids:
            raise ValueError("a prompt must hold at least one token (start it with the BOS token)")
        vocab = self.args.vocab_size
        bad = [i for i in ids if not 0 <= i < vocab]
        if bad:
            raise ValueError(f"token id {bad[0]} is outside the vocabulary (0..{vocab - 1})")
        if len(ids) + sampling.max_tokens > self.max_seq_len:
            raise SequenceTooLongError(
                f"prompt of {len(ids)} tokens + max_tokens {sampling.max_tokens} = {len(ids) + sampling.max_tokens} "
                f"exceeds max_seq_len {self.max_seq_len}: shorten the prompt, lower max_tokens, or load the "
                "model with a larger max_seq_len"
            )
        return ids

    def _new_row(self, prompt: list[int], sampling: SamplingParams) -> _Row:
        row = _Row(prompt=prompt, text=_Text(self.tokenizer, sampling.stop))
        if sampling.wants_logprobs:
            row.logprobs = []
        if sampling.constraint is not None:
            if self.tokenizer is None:
                raise ValueError("a constraint needs the engine's tokenizer, and this engine has none")
            from .structured.grammar import RowConstraint

            # prefetch: each next mask is computed in the background while the model runs its step
            row.constraint = RowConstraint.start(sampling.constraint, self.tokenizer, prefetch=True)
        return row

    def _constrain(self, rows: Sequence[_Row], logits: torch.Tensor) -> None:
        """Mask row i's logits `logits[i]` by its constraint, in place, before sampling (every decode path
        comes through here: C step, eager, CUDA graphs, prefill). A row whose constraint allows no token
        ends with `StopReason.constraint_dead_end`; skip rows that are `done` afterwards."""
        if all(r.constraint is None or r.done for r in rows):
            return
        from .structured.grammar import mask_logits_

        ok = mask_logits_(logits, [None if r.done else r.constraint for r in rows])
        for row, fine in zip(rows, ok, strict=True):
            if not fine:
                row.done, row.stop_reason = True, StopReason.constraint_dead_end
                row.text.finish()

    def _completion(self, row: _Row, timing: _Timing, reused_tokens: int = 0) -> Completion:
        n_decoded = max(len(row.tokens) - 1, 0)
        return Completion(
            tokens=row.tokens,
            text=row.text.text,
            stop_reason=row.stop_reason,
            stop_token_id=row.stop_token_id,
            stop_string=row.stop_string,
            logprobs=row.logprobs,
            prompt_tokens=len(row.prompt),
            reused_tokens=reused_tokens,
            prefill_s=timing.prefill_s,
            decode_s=timing.decode_s,
            tokens_per_s=n_decoded / timing.decode_s if timing.decode_s > 0 else 0.0,
        )

    def _accept(self, row: _Row, token_id: int, stop_ids: frozenset[int], budget: int) -> None:
        if row.constraint is not None and not row.constraint.accept(token_id):
            log.warning(
                "token %d broke the row's constraint (%s): row ended", token_id, row.constraint.failed
            )
            row.done, row.stop_reason = True, StopReason.constraint_dead_end
            row.text.finish()
            return
        row.tokens.append(token_id)
        if token_id in stop_ids:
            row.done, row.stop_token_id = True, token_id
            row.stop_reason = (
                StopReason.end_of_message if token_id in self._eom_ids else StopReason.end_of_turn
            )
            row.text.finish()
            return
        stop = row.text.add(token_id)
        if stop is not None:
            row.done, row.stop_string, row.stop_reason = True, stop, StopReason.end_of_turn
        elif len(row.tokens) >= budget:
            row.done, row.stop_reason = True, StopReason.out_of_tokens
            row.text.finish()

    def _pick(
        self,
        row: _Row,
        logits: torch.Tensor,
        sampling: SamplingParams,
        generator: torch.Generator | None,
        greedy_id: int | None = None,
    ) -> tuple[int, float | None]:
        """Choose one row's next token from its float32 logits `[1, vocab]` and record its logprob when
        the row asks for them; returns (token id, logprob or None). The per-row hook of the serving
        scheduler: anything that depends on the row (its sampling, its generator, a constraint on its
        tokens) happens here, then `_accept` appends the token. `greedy_id`: the row's argmax, when the
        caller already computed it for the whole batch."""
        if sampling.greedy and greedy_id is not None:
            token, ids = greedy_id, None
        else:
            ids = sample(logits, sampling, generator)
            token = int(ids.item())
        if row.logprobs is None:
            return token, None
        ids = torch.tensor([token], device=logits.device) if ids is None else ids
        chosen, top_values, top_ids = token_logprobs(logits, ids, sampling.top_logprobs)
        logprob = float(chosen.item())
        alts = None
        if top_values is not None:
            alts = list(zip(top_ids[0].tolist(), top_values[0].tolist(), strict=True))
        row.logprobs.append(TokenLogprob(token_id=token, logprob=logprob, top=alts))
        return token, logprob

    def _token_event(self, row: _Row, token: int, logprob: float | None) -> TokenEvent:
        """The event for a token `_accept` just took (its new text, held back near a stop string)."""
        return TokenEvent(token_id=token, text=row.text.take(final=row.done), logprob=logprob)

    def _final_event(self, row: _Row, prefill_s: float, decode_s: float, reused_tokens: int) -> TokenEvent:
        """The last event of a finished row: the text held back, the stop reason, the completion."""
        completion = self._completion(row, _Timing(prefill_s, decode_s), reused_tokens)
        return TokenEvent(text=row.text.take(final=True), stop_reason=row.stop_reason, completion=completion)

    @torch.inference_mode()
    def _decode(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        kv_len: int,
        exact: bool = False,
        rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One decode step for rows 0..n-1: tokens, positions `[n]` -> float32 logits `[n, vocab]`.
        `exact`: one row whose position is kv_len - 1 (eager only; graphs always mask). `rows`: the
        cache rows of the n entries (LongTensor `[n]`, distinct), only on the C step (`cpu_step`)."""
        if rows is not None and self.cpu_step is None:
            raise ValueError("decoding into chosen cache rows needs the C decode step (engine.cpu_step)")
        if self.graphs is not None:
            return self.graphs.step(tokens, positions)
        if self.cpu_step is not None:
            return self.cpu_step(tokens, positions, rows)
        if self._gemv_fast_path and tokens.shape[0] == 1:
            # One row on the CPU in bf16/fp16: every matmul is a matrix-vector product, and PyTorch's own
            # reduced-precision GEMV kernel streams weights several times faster than oneDNN's GEMM at
            # M=1 (`llamasys bench engine` shows it). oneDNN stays on for prefill and batched decode.
            with _mkldnn_disabled():
                return self._decode_fn(tokens, positions, kv_len, exact)
        return self._decode_fn(tokens, positions, kv_len, exact)

    def _eager_step(
        self, tokens: torch.Tensor, positions: torch.Tensor, kv_len: int, exact: bool
    ) -> torch.Tensor:
        return self.model(
            tokens[:, None], positions[:, None], row_start=0, kv_len=kv_len, last_only=True, exact=exact
        )


@contextmanager
def _mkldnn_disabled() -> Iterator[None]:
    """Route CPU matmuls away from oneDNN for the duration (a process-wide switch, restored after)."""
    was = torch._C._get_mkldnn_enabled()
    torch._C._set_mkldnn_enabled(False)
    try:
        yield
    finally:
        torch._C._set_mkldnn_enabled(was)


def load_model(
    source: str | Any,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.bfloat16,
    quantization: str | None = None,
    max_seq_len: int = 4096,
    max_batch_size: int = 4,
    cuda_graphs: bool | None = None,
    compile: bool = False,
    cpu_kernels: bool | None = None,
    adapter: str | Any | None = None,
) -> Engine:
    """Load a catalogue id, a Meta or Hugging Face checkpoint folder, or a .gguf file into an Engine.

    adapter: a LoRA adapter folder (PEFT format) merged into the weights at load
    (`checkpoints.lora.merge_adapter`); a catalogue entry with an adapter brings its own.

    quantization: None, "fp8" (Meta's recipe), "fp8-all" or "int8" (fastest on the CPU).
    cuda_graphs: None = on when device is CUDA. cpu_kernels: None = decode on the CPU through the C
    step (`cpu_decode.py`) when it supports the model and a C compiler is there, True = require it,
    False = PyTorch eager. compile: torch.compile the PyTorch decode step instead (off by default:
    measure with `llamasys bench engine --compile` on your machine first)."""
    from llamasys.core_model.checkpoints import read_checkpoint
    from llamasys.core_model.checkpoints.catalog import catalog_adapter
    from llamasys.core_model.checkpoints.lora import merge_adapter

    # Unquantized, dequantize/cast each tensor straight to `dtype` (an 8B GGUF would otherwise pass
    # through 32 GB of float32); quantizers read the weights at the precision they are stored in.
    adapter = adapter or catalog_adapter(source)
    exact = quantization is not None or adapter is not None  # merge (and quantize) from stored precision
    checkpoint = read_checkpoint(source, dtype=None if exact else dtype)
    if adapter is not None:
        merge_adapter(checkpoint, adapter)
    return Engine.from_checkpoint(
        checkpoint,
        device=device,
        dtype=dtype,
        quantization=quantization,
        max_seq_len=max_seq_len,
        max_batch_size=max_batch_size,
        cuda_graphs=cuda_graphs,
        compile=compile,
        cpu_kernels=cpu_kernels,
    )
