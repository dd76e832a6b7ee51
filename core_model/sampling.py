"""Sampling parameters and token sampling that never waits for the device.

    ```python
    params = SamplingParams(temperature=0.6, top_p=0.9, seed=7, max_tokens=128, stop=["\\n\\n"])
    gen = make_generator(params, device)
    next_ids = sample(logits, params, gen)      # LongTensor [B], still on the device
    ```

Greedy is `temperature == 0` (argmax). Otherwise logits are divided by the temperature, cut to the
`top_k` best and then to the smallest set whose probability reaches `top_p`, and one token is drawn
with the exponential trick (`argmax(p / q)`, `q ~ Exp(1)`), which samples the categorical exactly
without `multinomial`'s host synchronisation. A `seed` makes the draw reproducible.
"""

from __future__ import annotations

import random

import torch

from llamasys.core_model.sampling_params import SamplingParams

__all__ = ["SamplingParams", "filtered_probs", "make_generator", "sample", "token_logprobs"]


def make_generator(params: SamplingParams, device: torch.device | str) -> torch.Generator | None:
    """A generator for `sample`, seeded by `params.seed` (or from the OS when there is none)."""
    if params.greedy:
        return None
    seed = params.seed if params.seed is not None else random.SystemRandom().randrange(2**63)
    return torch.Generator(device=device).manual_seed(seed)


def filtered_probs(logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    """The distribution a sampled token is drawn from: float32 `[B, V]` after temperature, top-k, top-p."""
    logits = logits.float() / params.temperature
    vocab = logits.shape[-1]
    if 0 < params.top_k < vocab:
        kth = torch.topk(logits, params.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if params.top_p < 1.0:
        sorted_p, order = torch.sort(probs, dim=-1, descending=True)
        # Drop a token when the tokens ranked above it already reach top_p (the best one always stays).
        drop = (sorted_p.cumsum(dim=-1) - sorted_p) >= params.top_p
        sorted_p = sorted_p.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_p)
        probs = probs / probs.sum(dim=-1, keepdim=True)
    return probs


def sample(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator | None) -> torch.Tensor:
    """float32 logits `[B, V]` -> token ids `[B]` on the same device, without a host sync."""
    if params.greedy:
        return logits.argmax(dim=-1)
    probs = filtered_probs(logits, params)
    q = torch.empty_like(probs).exponential_(1.0, generator=generator)
    return (probs / q).argmax(dim=-1)


def token_logprobs(
    logits: torch.Tensor, tokens: torch.Tensor, top: int
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Log-probabilities under the model's own distribution (temperature 1, unfiltered):
    chosen `[B]`, and when `top` > 0 the `top` best `[B, top]` values and ids."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    chosen = logp.gather(-1, tokens[:, None]).squeeze(-1)
    if top <= 0:
        return chosen, None, None
    best = torch.topk(logp, top, dim=-1)
    return chosen, best.values, best.indices
