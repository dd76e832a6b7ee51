"""`SamplingParams`: how to pick tokens and when to stop. Plain data (pydantic), importable without torch, so a
client of a remote server can build one.

```python
from llamasys.core_model.sampling_params import SamplingParams
params = SamplingParams(temperature=0.6, top_p=0.9, seed=7, max_tokens=128, stop=["\\n\\n"])
```

The sampling itself (torch) lives in `llamasys.core_model.sampling`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llamasys.core_model.structured.constraints import Constraint

__all__ = ["SamplingParams"]


class SamplingParams(BaseModel):
    """How to pick tokens and when to stop."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float = Field(0.0, ge=0.0, le=100.0, description="0 is greedy")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int = Field(0, ge=0, description="0 keeps every token")
    seed: int | None = Field(None, description="makes sampling reproducible")
    max_tokens: int = Field(256, ge=1, description="generation budget, prompt not counted")
    stop_token_ids: tuple[int, ...] = Field((), description="added to the tokenizer's stop tokens")
    stop: tuple[str, ...] = Field((), description="stop strings, trimmed from the text")
    logprobs: bool | int = Field(False, description="True: log-prob of each token; N: and the N best")
    constraint: Constraint | None = Field(
        None,
        description="what the output must match (JSON Schema, JSON object, regex, grammar): "
        "llamasys.core_model.structured; tool calls: chat_format.reply_constraint(tools, tool_choice)",
    )

    @field_validator("stop", mode="before")
    @classmethod
    def _one_stop_string(cls, v):
        return (v,) if isinstance(v, str) else v

    @field_validator("stop")
    @classmethod
    def _no_empty_stop(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(s == "" for s in v):
            raise ValueError("stop strings must not be empty")
        return v

    @field_validator("logprobs")
    @classmethod
    def _logprobs_range(cls, v: bool | int) -> bool | int:
        if not isinstance(v, bool) and not 0 <= v <= 20:
            raise ValueError("logprobs must be a bool or a number of alternatives between 0 and 20")
        return v

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    @property
    def top_logprobs(self) -> int:
        return 0 if isinstance(self.logprobs, bool) else self.logprobs

    @property
    def wants_logprobs(self) -> bool:
        return bool(self.logprobs)
