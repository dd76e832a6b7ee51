"""The third-party baselines the engine benchmark compares against: transformers' LlamaForCausalLM on the same
weights, and llama.cpp (llama-cpp-python) on the same GGUF file."""

from __future__ import annotations

import time
from typing import Any

import torch

from llamasys.core_model.checkpoints.hf import meta_state_dict_to_hf

__all__ = ["TransformersRunner", "time_llama_cpp", "transformers_model"]


def transformers_model(checkpoint: Any, dtype: torch.dtype, device: str | torch.device = "cpu"):
    """transformers' LlamaForCausalLM holding the checkpoint's tensors (Meta layout converted back)."""
    import dataclasses

    from transformers import LlamaConfig, LlamaForCausalLM

    a = checkpoint.args
    rope_scaling = None
    if a.rope_scaling is not None:
        rope_scaling = {"rope_type": "llama3"} | dataclasses.asdict(a.rope_scaling)
    tied = checkpoint.state_dict["output.weight"] is checkpoint.state_dict["tok_embeddings.weight"]
    config = LlamaConfig(
        hidden_size=a.dim,
        intermediate_size=a.ffn_hidden_dim,
        num_hidden_layers=a.n_layers,
        num_attention_heads=a.n_heads,
        num_key_value_heads=a.n_kv_heads,
        vocab_size=a.vocab_size,
        rms_norm_eps=a.norm_eps,
        rope_theta=a.rope_theta,
        rope_scaling=rope_scaling,
        max_position_embeddings=a.max_position_embeddings,
        tie_word_embeddings=tied,
        head_dim=a.head_dim,
        bos_token_id=getattr(checkpoint.tokenizer, "bos_id", None),
        eos_token_id=None,
        pad_token_id=0,
    )
    hf = meta_state_dict_to_hf(checkpoint.state_dict, a, tied=tied)
    model = LlamaForCausalLM(config)
    missing, unexpected = model.load_state_dict(hf, strict=False)
    if unexpected or set(missing) - {"lm_head.weight"}:
        raise RuntimeError(
            f"transformers baseline: weights did not map (missing {missing}, unexpected {unexpected})"
        )
    return model.to(device=device, dtype=dtype).eval()


class _TokenClock:
    """A transformers streamer that only timestamps: `put` gets the prompt first, then each new token."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def put(self, value) -> None:
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


class TransformersRunner:
    """One timed run = one generate of `new_tokens`; the streamer's timestamps split prefill (up to
    the first new token) from decode (first to last new token)."""

    def __init__(self, model, prompt: list[int], new_tokens: int, batch: int = 1) -> None:
        device = next(model.parameters()).device
        self.model, self.n_prompt, self.new_tokens, self.batch = model, len(prompt), new_tokens, batch
        self.ids = torch.tensor([prompt] * batch, device=device)
        self.kw = dict(attention_mask=torch.ones_like(self.ids), do_sample=False, pad_token_id=0)
        self.tokens: list[int] = []
        self._generate(2, None)  # warm-up

    def _generate(self, n: int, streamer) -> torch.Tensor:
        with torch.inference_mode():
            return self.model.generate(
                self.ids, max_new_tokens=n, min_new_tokens=n, streamer=streamer, **self.kw
            )

    def run(self) -> tuple[float, float]:
        clock = _TokenClock()
        start = time.perf_counter()
        out = self._generate(self.new_tokens, clock)
        self.tokens = out[0, self.n_prompt :].tolist()
        first, last = clock.times[1], clock.times[-1]  # times[0] is the prompt
        return first - start, self.batch * (self.new_tokens - 1) / max(last - first, 1e-9)


def time_llama_cpp(
    gguf_path: str, prompt: list[int], new_tokens: int, threads: int, repeats: int
) -> dict[str, Any]:
    """llama.cpp (through llama-cpp-python) on the same GGUF file and prompt ids, greedy, batch 1: the
    generator is timestamped like the transformers streamer (prefill = up to the first token, decode =
    first to last); the context is reset before each run, so every run prefills the whole prompt."""
    try:
        import llama_cpp  # type: ignore[import-not-found]
    except ImportError:
        return {
            "skipped": "llama-cpp-python is not installed (pip install llama-cpp-python builds from source)"
        }
    llm = llama_cpp.Llama(
        model_path=gguf_path, n_threads=threads, n_ctx=len(prompt) + new_tokens + 8, verbose=False
    )

    def run(n: int) -> tuple[float, float, list[int]]:
        llm.reset()
        times, tokens = [], []
        start = time.perf_counter()
        for token in llm.generate(prompt, temp=0.0, top_k=1, reset=True):
            times.append(time.perf_counter())
            tokens.append(int(token))
            if len(tokens) == n:
                break
        return times[0] - start, (n - 1) / max(times[-1] - times[0], 1e-9), tokens

    run(4)  # warm-up
    runs = [run(new_tokens) for _ in range(repeats)]
    return {
        "version": getattr(llama_cpp, "__version__", None),
        "threads": threads,
        "prefill_tok_s": round(len(prompt) / min(r[0] for r in runs), 1),
        "decode_tok_s": round(max(r[1] for r in runs), 2),
        "decode_tok_s_runs": [round(r[1], 2) for r in runs],
        "tokens": runs[0][2],
    }
