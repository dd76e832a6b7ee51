"""SamplingParams validation, top-k / top-p filtering, seeded reproducibility, exactness of the draw."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from llamasys.core_model.sampling import (
    SamplingParams,
    filtered_probs,
    make_generator,
    sample,
    token_logprobs,
)


def test_defaults_and_validation():
    p = SamplingParams()
    assert p.greedy and p.max_tokens == 256 and not p.wants_logprobs
    assert SamplingParams(stop="###").stop == ("###",)
    assert SamplingParams(logprobs=5).top_logprobs == 5 and SamplingParams(logprobs=True).wants_logprobs
    for bad in [
        dict(temperature=-1),
        dict(top_p=0),
        dict(top_p=1.5),
        dict(top_k=-1),
        dict(max_tokens=0),
        dict(stop=[""]),
        dict(logprobs=50),
        dict(nonsense=1),
    ]:
        with pytest.raises(ValidationError):
            SamplingParams(**bad)


def test_greedy_is_argmax():
    logits = torch.tensor([[0.1, 3.0, -1.0], [5.0, 4.9, 0.0]])
    assert sample(logits, SamplingParams(), None).tolist() == [1, 0]


def test_top_k_keeps_the_k_best_renormalised():
    logits = torch.tensor([[1.0, 4.0, 2.0, 3.0, 0.0]])
    probs = filtered_probs(logits, SamplingParams(temperature=1.0, top_k=2))
    expected = torch.softmax(torch.tensor([4.0, 3.0]), -1)
    torch.testing.assert_close(probs[0, [1, 3]], expected)
    assert probs[0, [0, 2, 4]].sum() == 0


def test_top_p_keeps_the_smallest_set_reaching_p():
    p = torch.tensor([[0.5, 0.05, 0.3, 0.15]])
    logits = p.log()
    kept = filtered_probs(logits, SamplingParams(temperature=1.0, top_p=0.8))  # 0.5 + 0.3 reaches 0.8
    torch.testing.assert_close(kept, torch.tensor([[0.625, 0.0, 0.375, 0.0]]))
    kept = filtered_probs(logits, SamplingParams(temperature=1.0, top_p=0.81))  # needs 0.15 too
    torch.testing.assert_close(kept, torch.tensor([[0.5, 0.0, 0.3, 0.15]]) / 0.95)
    only_best = filtered_probs(logits, SamplingParams(temperature=1.0, top_p=0.1))
    torch.testing.assert_close(only_best, torch.tensor([[1.0, 0.0, 0.0, 0.0]]))


def test_temperature_sharpens():
    logits = torch.tensor([[1.0, 2.0]])
    cold = filtered_probs(logits, SamplingParams(temperature=0.5))
    torch.testing.assert_close(cold, torch.softmax(logits / 0.5, -1))


def test_seeded_sampling_is_reproducible_and_seed_dependent():
    logits = torch.randn(4, 1000)
    params = SamplingParams(temperature=1.0, seed=123)
    a = [sample(logits, params, g).tolist() for g in [make_generator(params, "cpu")] for _ in range(5)]
    b = [sample(logits, params, g).tolist() for g in [make_generator(params, "cpu")] for _ in range(5)]
    other = SamplingParams(temperature=1.0, seed=124)
    c = [sample(logits, other, g).tolist() for g in [make_generator(other, "cpu")] for _ in range(5)]
    assert a == b and a != c


def test_draws_follow_the_filtered_distribution():
    """Exponential-race sampling is exact: frequencies over 20k draws match the probabilities."""
    logits = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0, -3.0]]).expand(20000, 6)
    params = SamplingParams(temperature=0.8, top_k=4, seed=0)
    counts = torch.bincount(sample(logits, params, make_generator(params, "cpu")), minlength=6).float()
    probs = filtered_probs(logits[:1], params)[0]
    assert counts[4:].sum() == 0  # outside the top-k: never drawn
    for c, p in zip(counts[:4].tolist(), probs[:4].tolist(), strict=True):
        assert abs(c / 20000 - p) < 4 * math.sqrt(p * (1 - p) / 20000)


def test_token_logprobs():
    logits = torch.tensor([[0.0, 1.0, 2.0]])
    chosen, vals, ids = token_logprobs(logits, torch.tensor([0]), top=2)
    logp = torch.log_softmax(logits, -1)
    assert chosen.item() == pytest.approx(logp[0, 0].item())
    assert ids.tolist() == [[2, 1]] and vals[0].tolist() == pytest.approx(logp[0, [2, 1]].tolist())
