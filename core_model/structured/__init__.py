"""Structured generation: constrain a row's output to a JSON Schema, a regex or a grammar, so tool calls and
JSON replies are valid by construction.

```python
from llamasys.core_model.sampling_params import SamplingParams
from llamasys.core_model.structured import JsonSchemaConstraint

params = SamplingParams(max_tokens=64, constraint=JsonSchemaConstraint.of({"type": "object"}))
```

`constraints` (the types, no torch) is light; `grammar` (llguidance, the per-row matcher and the logit mask,
torch) loads on first use of its names. Tool calls: `llamasys.core_model.chat.constraints.reply_constraint`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from llamasys.core_model.structured.constraints import (
    Constraint,
    ConstraintError,
    GrammarConstraint,
    JsonObjectConstraint,
    JsonSchemaConstraint,
    JsonSchemaSpec,
    RegexConstraint,
    constraint_from_response_format,
    constraint_key,
)

if TYPE_CHECKING:
    from llamasys.core_model.structured.grammar import (
        CompiledConstraint,
        RowConstraint,
        compile_constraint,
        grammar_tokenizer,
        mask_logits_,
    )

_LAZY = {"CompiledConstraint", "RowConstraint", "compile_constraint", "grammar_tokenizer", "mask_logits_"}

__all__ = [
    "CompiledConstraint",
    "Constraint",
    "ConstraintError",
    "GrammarConstraint",
    "JsonObjectConstraint",
    "JsonSchemaConstraint",
    "JsonSchemaSpec",
    "RegexConstraint",
    "RowConstraint",
    "compile_constraint",
    "constraint_from_response_format",
    "constraint_key",
    "grammar_tokenizer",
    "mask_logits_",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module("llamasys.core_model.structured.grammar"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
