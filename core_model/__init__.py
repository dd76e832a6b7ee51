"""llamasys.core_model: the native Llama engine.

```python
from llamasys.core_model import SamplingParams, load_model

engine = load_model("smollm2-135m-instruct", quantization="int8")
ids = engine.tokenizer.encode("Hello", bos=True, eos=False, allow_special=False)
engine.generate([ids], SamplingParams(max_tokens=32))[0].text
```

Sub-packages: `chat` (chat formats, tool-call codec, streaming parser), `checkpoints` (the Checkpoint type,
one reader per format, catalogue, downloads), `tokenizers`. The engine files sit flat beside them: `model`
(the decoder), `engine` (generation), `serving` (the serving engine: `engine.serve()`), `sampling` / `sampling_params`, `quantize` (fp8 / int8), `cuda_graphs`,
`cpu_decode` (+ `native_library`, the C decode step and its build), `config` (ModelArgs), `messages` (plain
types shared by every package), `errors`, `testing` (tiny random-weight checkpoints), `gpu_check`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llamasys.core_model.engine import Completion, Engine, TokenEvent, TokenLogprob, load_model
    from llamasys.core_model.sampling_params import SamplingParams

# The engine (and torch) load on first use, so `llamasys.core_model.messages` stays a light import for
# the tools package, the server and the CLI.
_LAZY = {
    "Completion": ".engine",
    "Engine": ".engine",
    "TokenEvent": ".engine",
    "TokenLogprob": ".engine",
    "load_model": ".engine",
    "SamplingParams": ".sampling_params",
}

__all__ = ["Completion", "Engine", "SamplingParams", "TokenEvent", "TokenLogprob", "load_model"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
