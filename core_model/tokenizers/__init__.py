"""Tokenizers: one protocol, three native forms.

```python
from llamasys.core_model.tokenizers import Llama3Tokenizer
tok = Llama3Tokenizer.default()           # Meta's tokenizer.model as the llama-models package ships it
tok.encode("Hello", bos=True, eos=False, allow_special=False)
```

Modules: `base` (the `Tokenizer` protocol), `llama3` (Llama 3's tiktoken BPE), `hf` (a Hugging Face
`tokenizer.json`), `gguf` (the vocabulary inside a GGUF file, built from its parsed metadata).
"""

from __future__ import annotations

from llamasys.core_model.tokenizers.base import Tokenizer
from llamasys.core_model.tokenizers.gguf import gguf_tokenizer
from llamasys.core_model.tokenizers.hf import HFTokenizer
from llamasys.core_model.tokenizers.llama3 import Llama3Tokenizer

__all__ = ["HFTokenizer", "Llama3Tokenizer", "Tokenizer", "gguf_tokenizer"]
