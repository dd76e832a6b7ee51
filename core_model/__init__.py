"""llamasys.core_model: the native Llama engine.

    >>> from llamasys.core_model import load_model, SamplingParams
    >>> engine = load_model("smollm2-135m-instruct", quantization="int8")
    >>> ids = engine.tokenizer.encode("Hello", bos=True, eos=False, allow_special=False)
    >>> engine.generate([ids], SamplingParams(max_tokens=32))[0].text

Modules: `model` (the decoder), `engine` (generation), `sampling`, `quantize` (fp8 / int8),
`cuda_graphs`, `config` (ModelArgs), `messages`, `errors`, `benchmark`, `gpu_check`.
"""

from .engine import Completion, Engine, StreamEvent, TokenLogprob, load_model
from .sampling import SamplingParams

__all__ = ["Completion", "Engine", "SamplingParams", "StreamEvent", "TokenLogprob", "load_model"]
