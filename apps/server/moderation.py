"""POST /v1/moderations through Llama Guard 3: its verdict in OpenAI's moderation shape, plus the S-codes.

OpenAI's 13 categories (https://platform.openai.com/docs/api-reference/moderations/object) are filled from
the Llama Guard 3 categories (MLCommons hazard taxonomy, S1–S14) that overlap them:

| Llama Guard | OpenAI |
|---|---|
| S1 Violent Crimes | violence, illicit/violent |
| S2 Non-Violent Crimes | illicit |
| S3 Sex Crimes | sexual, illicit |
| S4 Child Exploitation | sexual, sexual/minors |
| S9 Indiscriminate Weapons | violence, illicit/violent |
| S10 Hate | hate |
| S11 Self-Harm | self-harm |
| S12 Sexual Content | sexual |
| S14 Code Interpreter Abuse | illicit |

S5 Defamation, S6 Specialized Advice, S7 Privacy, S8 Intellectual Property and S13 Elections have no
OpenAI counterpart: they flag the result and appear only in the extra `llama_guard` object. A mapped
category's score is Llama Guard's P("unsafe") when one of its codes was named, else 0. Every result also
carries `llama_guard`: `{"categories": [S-codes], "category_names": {code: name}, "score": P(unsafe)}`.

Llama Guard that is not installed (or cannot judge) is an HTTP 503 naming the command that installs it,
never a "not flagged" answer.
"""

from __future__ import annotations

import uuid
from typing import Any

from llamasys.core_model.messages import UserMessage

from .errors import APIError

__all__ = ["OPENAI_CATEGORIES", "S_CODE_TO_OPENAI", "moderate"]

OPENAI_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
S_CODE_TO_OPENAI: dict[str, tuple[str, ...]] = {
    "S1": ("violence", "illicit/violent"),
    "S2": ("illicit",),
    "S3": ("sexual", "illicit"),
    "S4": ("sexual", "sexual/minors"),
    "S9": ("violence", "illicit/violent"),
    "S10": ("hate",),
    "S11": ("self-harm",),
    "S12": ("sexual",),
    "S14": ("illicit",),
}


def _install_hint(source: str) -> str:
    if "/" in source or source.endswith((".gguf", ".pth")):
        return f"check that {source!r} is a Llama Guard 3 checkpoint folder"
    return f"install it with `llamasys model download {source}` (accept the license on the Hugging Face Hub and export HF_TOKEN first)"


def result_for(verdict: Any) -> dict[str, Any]:
    """One moderation result from a Llama Guard `ShieldVerdict` that judged."""
    codes = list(verdict.categories)
    flagged = not verdict.allowed or verdict.level.value == "warn"
    score = float(verdict.score) if verdict.score is not None else (1.0 if flagged else 0.0)
    hit = {c for code in codes for c in S_CODE_TO_OPENAI.get(code, ())}
    return {
        "flagged": flagged,
        "categories": {c: c in hit for c in OPENAI_CATEGORIES},
        "category_scores": {c: (score if c in hit else 0.0) for c in OPENAI_CATEGORIES},
        "category_applied_input_types": {c: ["text"] for c in OPENAI_CATEGORIES},
        "llama_guard": {
            "categories": codes,
            "category_names": dict(verdict.details.get("category_names", {})),
            "score": verdict.score,
        },
    }


async def moderate(guard: Any, texts: list[str], model_id: str) -> dict[str, Any]:
    """The `/v1/moderations` body for `texts`, judged one by one as user messages."""
    results = []
    for text in texts:
        verdict = await guard.check([UserMessage(content=text)], touchpoint="user_input")
        if verdict.unavailable:
            reason = verdict.details.get("reason", "the model could not judge")
            raise APIError(
                503,
                f"Llama Guard ({guard.source}) is not available: {reason}. {_install_hint(guard.source)}",
                code="moderation_model_unavailable",
            )
        results.append(result_for(verdict))
    return {"id": "modr-" + uuid.uuid4().hex, "model": model_id, "results": results}
