"""The grammar engine behind constraints: llguidance (chosen by measurement, see the README's "Structured
generation" section), a vocabulary description built from any of our tokenizers, a compile cache, one matcher
per row and the logit mask.

```python
from llamasys.core_model.structured import JsonSchemaConstraint, RowConstraint, mask_logits_

row = RowConstraint.start(JsonSchemaConstraint.of({"type": "integer"}), tokenizer)   # compiled once, cached
ok = mask_logits_(logits, [row, None])   # logits float [B, V] in place; ok[i] False: row i has no allowed token
row.accept(token_id)                     # after sampling; False if the token was not allowed
```

Vocabulary (`grammar_tokenizer`): token `i` is `tokenizer.decode_bytes([i])`; special tokens (`is_special`) are
marked special, so the grammar reaches them only by name (`<|python_tag|>` in a Lark grammar), never by
spelling their text; ids with no bytes are special too (unused slots). The tokenizer's `stop_ids` are the
grammar's end tokens: allowed exactly when the output is complete. Works for the tiktoken Llama 3 tokenizer,
`tokenizer.json` and GGUF vocabularies alike (they share the `Tokenizer` protocol). Built once per tokenizer
object (about 1 s for 49k tokens, a few seconds for 128k on a slow CPU).

Compile (`compile_constraint`): the constraint becomes an llguidance grammar, is validated against the
vocabulary (`ConstraintError` names an unsupported JSON Schema keyword, an unknown format or the grammar
error), and a pristine matcher is kept in an LRU cache keyed by (tokenizer, canonical constraint JSON); each row
deep-copies it, which is cheap. llguidance builds its lexer lazily, so a compile costs about a millisecond and
the first masks of a new grammar a little more.

Masks are computed on the CPU (llguidance writes a bitmask of `ceil(V/32)` int32 words per row), unpacked with
numpy and applied with one `masked_fill_` per row (`-inf`); ids beyond the tokenizer's vocabulary (padded
embedding rows) are always masked. On a GPU the bool mask is copied to the device once per step.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import llguidance
import numpy as np
import torch

from llamasys.core_model.structured.constraints import (
    Constraint,
    ConstraintError,
    GrammarConstraint,
    JsonObjectConstraint,
    JsonSchemaConstraint,
    RegexConstraint,
    constraint_key,
)

__all__ = [
    "CompiledConstraint",
    "RowConstraint",
    "compile_constraint",
    "grammar_source",
    "grammar_tokenizer",
    "mask_logits_",
]

log = logging.getLogger(__name__)

# JSON as models write it: `{"a": 1, "b": [1, 2]}`; no free whitespace (a model could pad forever).
JSON_OPTIONS = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
_CACHE_SIZE = 256


class _Wrapper:
    """What `llguidance.TokenizerWrapper` reads: token bytes, special ids, eos/bos, and an encoder (used to
    tokenize text the grammar forces, so forced text gets the model's own tokenization)."""

    def __init__(self, tokenizer: Any) -> None:
        vocab = int(tokenizer.vocab_size)
        tokens: list[bytes] = []
        special: list[int] = []
        for i in range(vocab):
            piece = tokenizer.decode_bytes([i])
            if tokenizer.is_special(i) or not piece:
                special.append(i)
                piece = piece or f"<[unused {i}]>".encode()
            tokens.append(piece)
        self.tokens = tokens
        self.special_token_ids = special
        stops = sorted(int(t) for t in tokenizer.stop_ids)
        self.eos_token_id = stops[0] if stops else int(tokenizer.eos_id)
        self.bos_token_id = tokenizer.bos_id
        self._tokenizer = tokenizer

    def __call__(self, text: str) -> list[int]:
        if not isinstance(text, str):  # llguidance probes with bytes: say we take str
            raise TypeError("text must be str")
        return self._tokenizer.encode(text, allow_special=False)


_TOKENIZERS: weakref.WeakKeyDictionary[Any, llguidance.LLTokenizer] = weakref.WeakKeyDictionary()
_TOKENIZERS_BY_ID: dict[int, tuple[Any, llguidance.LLTokenizer]] = {}
_LOCK = threading.Lock()


def grammar_tokenizer(tokenizer: Any) -> llguidance.LLTokenizer:
    """llguidance's description of `tokenizer`'s vocabulary (built once per tokenizer object, then cached)."""
    with _LOCK:
        try:
            cached = _TOKENIZERS.get(tokenizer)
        except TypeError:  # not weak-referenceable / hashable
            entry = _TOKENIZERS_BY_ID.get(id(tokenizer))
            cached = entry[1] if entry is not None and entry[0] is tokenizer else None
        if cached is not None:
            return cached
        stops = sorted(int(t) for t in tokenizer.stop_ids)
        built = llguidance.LLTokenizer(
            llguidance.TokenizerWrapper(_Wrapper(tokenizer)),
            n_vocab=int(tokenizer.vocab_size),
            eos_token=stops or None,
        )
        try:
            _TOKENIZERS[tokenizer] = built
        except TypeError:
            _TOKENIZERS_BY_ID[id(tokenizer)] = (tokenizer, built)
        return built


def grammar_source(constraint: Constraint) -> str:
    """The llguidance grammar (its JSON grammar list) for `constraint`."""
    import json

    if isinstance(constraint, JsonSchemaConstraint):
        schema = dict(constraint.schema_dict)
        guidance = {**JSON_OPTIONS, **schema.get("x-guidance", {})}
        return llguidance.LLMatcher.grammar_from_json_schema(json.dumps(schema), defaults=guidance)
    if isinstance(constraint, JsonObjectConstraint):
        return llguidance.LLMatcher.grammar_from_json_schema('{"type": "object"}', defaults=JSON_OPTIONS)
    if isinstance(constraint, RegexConstraint):
        return llguidance.LLMatcher.grammar_from_regex(constraint.pattern)
    if isinstance(constraint, GrammarConstraint):
        if constraint.syntax == "ebnf":
            try:
                return llguidance.grammar_from("ebnf", constraint.grammar)
            except ValueError as exc:
                raise ConstraintError(f"EBNF grammar: {exc}") from None
        return llguidance.LLMatcher.grammar_from_lark(constraint.grammar)
    raise ConstraintError(f"{type(constraint).__name__} is not a constraint")


def _what(constraint: Constraint) -> str:
    if isinstance(constraint, JsonSchemaConstraint):
        return f"JSON Schema {constraint.json_schema.name!r}"
    if isinstance(constraint, GrammarConstraint):
        return f"{constraint.syntax} grammar" + (
            f" ({constraint.description})" if constraint.description else ""
        )
    return constraint.type


class CompiledConstraint:
    """A validated grammar for one tokenizer: `start()` gives a fresh matcher for a row."""

    def __init__(self, constraint: Constraint, tokenizer: llguidance.LLTokenizer, grammar: str) -> None:
        self.constraint = constraint
        self.tokenizer = tokenizer
        self.grammar = grammar
        self._template = llguidance.LLMatcher(tokenizer, grammar, log_level=0)  # errors: get_error()
        if self._template.is_error():
            raise ConstraintError(f"{_what(constraint)} cannot be compiled: {self._template.get_error()}")
        for message in self._template.get_grammar_warnings():
            log.warning("%s: %s", _what(constraint), message)

    def start(self) -> llguidance.LLMatcher:
        return self._template.deep_copy()


_COMPILED: OrderedDict[tuple[int, str], CompiledConstraint] = OrderedDict()


def compile_constraint(constraint: Constraint, tokenizer: Any) -> CompiledConstraint:
    """Compile `constraint` for `tokenizer` (cached by tokenizer and canonical constraint).

    Raises `ConstraintError` naming what the engine cannot do: an unsupported JSON Schema keyword
    (`Unimplemented keys: ["not"]`), an unknown string format, a regex with look-around, a Lark syntax error.
    """
    lltok = grammar_tokenizer(tokenizer)
    key = (id(lltok), constraint_key(constraint))
    with _LOCK:
        hit = _COMPILED.get(key)
        if hit is not None and hit.tokenizer is lltok:
            _COMPILED.move_to_end(key)
            return hit
    try:
        grammar = grammar_source(constraint)
    except ValueError as exc:  # llguidance raises ValueError for JSON it cannot even read
        raise ConstraintError(f"{_what(constraint)} cannot be compiled: {exc}") from None
    compiled = CompiledConstraint(constraint, lltok, grammar)  # one build: errors come from the matcher
    with _LOCK:
        _COMPILED[key] = compiled
        while len(_COMPILED) > _CACHE_SIZE:
            _COMPILED.popitem(last=False)
    return compiled


class _Mask:
    """One computed mask of a row, in the form that is cheapest to apply: `allowed` ids when few tokens are
    allowed (gather them, fill the row with -inf, write them back), else the `blocked` bools `[V]`."""

    __slots__ = ("allowed", "blocked")

    def __init__(self, allowed: np.ndarray | None, blocked: np.ndarray | None) -> None:
        self.allowed, self.blocked = allowed, blocked

    def full(self, width: int) -> np.ndarray:
        """bool `[width]`: True where a token is not allowed (ids past the vocabulary always are)."""
        out = np.ones(width, dtype=bool)
        if self.allowed is not None:
            out[self.allowed[self.allowed < width]] = False
        else:
            assert self.blocked is not None
            n = min(width, self.blocked.shape[0])
            out[:n] = self.blocked[:n]
        return out

    def apply_(self, row: np.ndarray) -> None:
        """Set the blocked entries of one float logits row (numpy view, `[width]`) to -inf, in place."""
        if self.allowed is not None:
            keep = self.allowed[self.allowed < row.shape[0]]
            values = row[keep]
            row.fill(-np.inf)
            row[keep] = values
            return
        assert self.blocked is not None
        n = min(row.shape[0], self.blocked.shape[0])
        np.putmask(row[:n], self.blocked[:n], -np.inf)
        row[n:] = -np.inf


# Below this many allowed tokens a mask is applied as a gather/fill/scatter of the allowed ids; above it
# as one putmask over the row (inside JSON a handful of tokens are allowed; in free text nearly all).
_SPARSE_BELOW = 4096


class _Job:
    """One mask for the worker thread to compute into a row's bitmask buffer; `done` is held until it has."""

    __slots__ = ("done", "error", "matcher", "nbytes", "pointer", "words")

    def __init__(self, matcher: llguidance.LLMatcher, words: np.ndarray) -> None:
        self.matcher, self.pointer, self.nbytes = matcher, words.ctypes.data, words.nbytes
        self.words = words  # held: the buffer must outlive the job even if its row is dropped meanwhile
        self.error: BaseException | None = None
        self.done = threading.Lock()
        self.done.acquire()

    def run(self) -> None:  # in the worker: one call into llguidance, which releases the GIL while it works
        try:
            self.matcher.unsafe_compute_mask_ptr(self.pointer, self.nbytes)
        except BaseException as exc:  # re-raised in the row's thread by wait()
            self.error = exc
        finally:
            self.done.release()

    def wait(self) -> None:
        self.done.acquire()  # a plain lock: no Python-level condition for the two threads to convoy on
        self.done.release()
        if self.error is not None:
            raise self.error


_JOBS: queue.SimpleQueue[_Job] | None = None

# False: rows asked to prefetch compute each mask when asked instead (the engine's rows ask; `llamasys bench
# engine --constrained` times both ways in one run).
PREFETCH = True


def _submit(job: _Job) -> None:
    """Hand `job` to the one mask thread (started on first use; it runs as long as the process)."""
    global _JOBS
    with _LOCK:
        if _JOBS is None:
            _JOBS = queue.SimpleQueue()
            threading.Thread(target=_serve, args=(_JOBS,), name="llamasys-grammar-mask", daemon=True).start()
        jobs = _JOBS
    jobs.put(job)


def _serve(jobs: queue.SimpleQueue[_Job]) -> None:
    while True:
        jobs.get().run()


def _forget_worker() -> None:  # a forked child has no mask thread: it starts its own
    global _JOBS
    _JOBS = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_worker)


class RowConstraint:
    """One row's position in its grammar: masks its logits and follows the tokens it accepts.

    prefetch=True (what the engine uses): the next mask is computed in a background thread as soon as the
    previous token is accepted (and the first one as soon as the row starts), so it overlaps the model's
    step — llguidance releases the GIL while it computes, and so does the C decode step — and is ready, or
    nearly, when the logits exist. prefetch=False: each mask is computed when asked for. The masks are the
    same either way; only when they are computed differs. The matcher is only touched by one thread at a
    time: every method waits for a pending mask first. Why: right after a decode step has streamed the
    weights through the caches, a mask costs several times what it costs warm (3-4 ms against 0.6 ms per
    token for SmolLM2's tool-call grammar, measured on a loaded 2-core machine). The gain needs a free
    core: on a machine whose cores are all busy the thread only runs when the step is over.
    `grammar.PREFETCH = False` turns it off process-wide.
    """

    def __init__(self, compiled: CompiledConstraint, *, prefetch: bool = False) -> None:
        self.compiled = compiled
        self.matcher = compiled.start()
        self.vocab_size = compiled.tokenizer.vocab_size
        self._words = np.zeros((self.vocab_size + 31) // 32, dtype=np.int32)  # reused for every mask
        self.stop_ids = [int(t) for t in compiled.tokenizer.eos_tokens]
        self._stop_set = frozenset(self.stop_ids)
        self._stopped_mask = _Mask(np.array(sorted(self._stop_set), dtype=np.int64), None)
        self.failed: str | None = None
        self.prefetch = prefetch and PREFETCH
        self._pending: _Job | None = None
        if self.prefetch:
            self._prefetch()

    @classmethod
    def start(cls, constraint: Constraint, tokenizer: Any, *, prefetch: bool = False) -> RowConstraint:
        return cls(compile_constraint(constraint, tokenizer), prefetch=prefetch)

    def _prefetch(self) -> None:
        if self.failed is None and not self.matcher.is_stopped():  # else the mask needs no computing
            self._pending = _Job(self.matcher, self._words)
            _submit(self._pending)

    def _settle(self) -> bool:
        """Wait for the mask being computed in the background, if any; True if there was one."""
        pending, self._pending = self._pending, None
        if pending is None:
            return False
        pending.wait()
        return True

    def wait(self) -> None:
        """Block until the mask being computed in the background (if any) is ready, without taking it."""
        if self._pending is not None:
            self._pending.wait()

    def _compute(self) -> _Mask | None:
        """The mask for the next token, computed now (None: no token is allowed at all)."""
        if self.failed is not None:
            return None
        if self.matcher.is_stopped():  # complete and nothing can extend it: a stop token must follow
            return self._stopped_mask
        self.matcher.unsafe_compute_mask_ptr(self._words.ctypes.data, self._words.nbytes)
        return self._unpack()

    def _unpack(self) -> _Mask | None:
        bits = np.unpackbits(self._words.view(np.uint8), count=self.vocab_size, bitorder="little")
        allowed = np.flatnonzero(bits)
        if allowed.size == 0:
            return None
        if allowed.size < _SPARSE_BELOW:
            return _Mask(allowed, None)
        return _Mask(None, bits == 0)

    def next_mask(self) -> _Mask | None:
        """The mask for the next token (the prefetched one when there is one); None: no token is allowed."""
        if self._settle():
            return self._unpack()
        return self._compute()

    def blocked(self, width: int) -> np.ndarray | None:
        """bool `[width]`: True where a token is not allowed next; None when no token is allowed at all."""
        mask = self.next_mask()
        return None if mask is None else mask.full(width)

    def accept(self, token_id: int) -> bool:
        """Advance past `token_id`; False (and `failed` says why) when the grammar did not allow it."""
        self._settle()
        if self.failed is not None:
            return False
        token_id = int(token_id)
        if self.matcher.is_stopped():  # complete: only a stop token may follow
            if token_id in self._stop_set:
                return True
            self.failed = f"token {token_id} after the complete output (only stop tokens may follow)"
            return False
        if not self.matcher.consume_token(token_id):
            self.failed = self.matcher.get_error() or f"token {token_id} is not allowed here"
            return False
        if self.prefetch and token_id not in self._stop_set:  # a stop token ends the row: no next mask
            self._prefetch()
        return True

    @property
    def is_complete(self) -> bool:
        """Whether the output so far is a complete match (a stop token may end it)."""
        self._settle()
        return self.matcher.is_accepting()


def mask_logits_(logits: torch.Tensor, constraints: Sequence[RowConstraint | None]) -> list[bool]:
    """Set to -inf, in place, every logit a row's constraint does not allow next.

    logits: float `[B, V]` on any device; constraints: one per row (None: unconstrained). Returns one bool
    per row: False where the constraint allows no token at all (that row must end; its logits are left as
    they were). Masks are computed on the CPU (or were already, in the background: `RowConstraint`'s
    prefetch) and moved to the logits' device in one copy.
    """
    with torch.inference_mode():
        return _mask(logits, constraints)


def _mask(logits: torch.Tensor, constraints: Sequence[RowConstraint | None]) -> list[bool]:
    width = logits.shape[-1]
    rows: list[int] = []
    masks: list[_Mask] = []
    ok = [True] * len(constraints)
    for i, row in enumerate(constraints):
        if row is None:
            continue
        mask = row.next_mask()
        if mask is None:
            ok[i] = False
            continue
        rows.append(i)
        masks.append(mask)
    if not rows:
        return ok
    if logits.device.type == "cpu":
        # numpy, one thread: torch's masked_fill_ over a 49k-128k row goes through the intra-op thread
        # pool, whose wake-up costs milliseconds on a loaded machine (more than the mask itself).
        numpy_ok = logits.dtype in (torch.float32, torch.float64) and logits.is_contiguous()
        view = logits.numpy() if numpy_ok else None
        for i, mask in zip(rows, masks, strict=True):
            if view is not None:
                mask.apply_(view[i])
            else:
                logits[i].masked_fill_(torch.from_numpy(mask.full(width)), float("-inf"))
        return ok
    stacked = torch.from_numpy(np.stack([m.full(width) for m in masks])).to(logits.device, non_blocking=True)
    index = torch.tensor(rows, device=logits.device)
    logits[index] = logits[index].masked_fill(stacked, float("-inf"))
    return ok
