"""Checkpoints: the `Checkpoint` type, one reader per format, the model catalogue and downloads.

```python
from llamasys.core_model.checkpoints import read_checkpoint
ckpt = read_checkpoint("smollm2-135m-instruct")   # a catalogue id, a Meta or HF folder, or a .gguf file
ckpt.args, ckpt.tokenizer, ckpt.chat_template, ckpt.state_dict["norm.weight"]
```

Modules: `checkpoint` (the type and its checks), `reader` (the dispatcher: `read_checkpoint`,
`read_tokenizer`, `detect_format`), `meta`, `hf`, `gguf` (one reader per format), `catalog` (every model the
system knows, `LLAMASYS_HOME`), `download` (fetch and verify). Readers import torch; `catalog` does not, and
the names below load on first use so that importing the catalogue stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llamasys.core_model.checkpoints.catalog import CatalogEntry, get_entry, llamasys_home, resolve
    from llamasys.core_model.checkpoints.checkpoint import Checkpoint
    from llamasys.core_model.checkpoints.reader import detect_format, read_checkpoint, read_tokenizer

_LAZY = {
    "Checkpoint": ".checkpoint",
    "read_checkpoint": ".reader",
    "read_tokenizer": ".reader",
    "detect_format": ".reader",
    "CatalogEntry": ".catalog",
    "get_entry": ".catalog",
    "llamasys_home": ".catalog",
    "resolve": ".catalog",
}

__all__ = [
    "CatalogEntry",
    "Checkpoint",
    "detect_format",
    "get_entry",
    "llamasys_home",
    "read_checkpoint",
    "read_tokenizer",
    "resolve",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
