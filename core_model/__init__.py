"""llamasys.core_model: the native Llama engine.

    >>> from llamasys.core_model import load_model, SamplingParams
    >>> engine = load_model("smollm2-135m-instruct", quantization="int8")
    >>> ids = engine.tokenizer.encode("Hello", bos=True, eos=False, allow_special=False)
    >>> engine.generate([ids], SamplingParams(max_tokens=32))[0].text

Modules: `model` (the decoder), `engine` (generation), `sampling`, `quantize` (fp8 / int8),
`cuda_graphs`, `config` (ModelArgs), `messages`, `errors`, `benchmark`, `gpu_check`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Completion, Engine, StreamEvent, TokenLogprob, load_model
    from .sampling import SamplingParams

# The engine (and torch) load on first use, so `llamasys.core_model.messages` stays a light import for
# the tools package, the server and the CLI.
_LAZY = {
    "Completion": ".engine",
    "Engine": ".engine",
    "StreamEvent": ".engine",
    "TokenLogprob": ".engine",
    "load_model": ".engine",
    "SamplingParams": ".sampling",
}

__all__ = ["Completion", "Engine", "SamplingParams", "StreamEvent", "TokenLogprob", "load_model"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
