"""The recommended shields, and how an agent reports the ones whose model is not installed.

An `Agent` given no shields for a touchpoint (the argument left as None) gets these there:

    user_input         Llama Guard 3 1B (`llama-guard-3-1b`) + Prompt Guard (`prompt-guard-86m`, jailbreak)
    tool_input         the code scanner (`CodeShield`, no model needed)
    tool_output        Prompt Guard (injection mode: tool results are third-party text)
    assistant_output   Llama Guard 3 1B

A recommended shield whose model is not on this machine is reported — one logged warning per shield per
process, and a `shield_call` step listing it under `not_installed` at each touchpoint it would have
guarded — and skipped, so the offline default still works. Shields passed explicitly fail closed when
their model is missing (their verdict is "unavailable" and blocks), and so do the recommended ones
with `require_shields=True`. Never a silent pass.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from llamasys.safety.code_shield import CodeShield
from llamasys.safety.shield import Shield
from llamasys.safety.verdict import Touchpoint

from .turn import ShieldSet

__all__ = ["LLAMA_GUARD_MODEL", "PROMPT_GUARD_MODEL", "build_shield_set", "model_installed"]

log = logging.getLogger(__name__)

LLAMA_GUARD_MODEL = "llama-guard-3-1b"
PROMPT_GUARD_MODEL = "prompt-guard-86m"
_warned: set[str] = set()


def model_installed(model_id: str) -> tuple[bool, str]:
    """Whether a catalogue model is on this machine, and if not, what to run to get it."""
    try:
        from llamasys.core_model.checkpoints.catalog import resolve
    except ImportError as exc:  # pragma: no cover - an installation without the catalogue
        return False, f"the model catalogue cannot be imported ({exc})"
    try:
        resolve(model_id)
    except Exception as exc:
        return False, str(exc)
    return True, ""


def _recommended(touchpoint: Touchpoint, require: bool) -> tuple[list[Shield], list[str]]:
    wanted: list[tuple[str, str]] = []
    shields: list[Shield] = []
    if touchpoint in (Touchpoint.user_input, Touchpoint.assistant_output):
        wanted.append(("llama_guard", LLAMA_GUARD_MODEL))
    if touchpoint in (Touchpoint.user_input, Touchpoint.tool_output):
        wanted.append(("prompt_guard", PROMPT_GUARD_MODEL))
    if touchpoint == Touchpoint.tool_input:
        shields.append(CodeShield())
    missing: list[str] = []
    for kind, model_id in wanted:
        installed, why = model_installed(model_id)
        if not installed and not require:
            label = f"{kind} ({model_id})"
            missing.append(label)
            if label not in _warned:
                _warned.add(label)
                log.warning(
                    "recommended shield %s is not installed, so it is skipped: %s. Pass require_shields=True "
                    "to refuse instead, or input_shields=[] / output_shields=[] / tool_output_shields=[] "
                    "(or default_shields=False) to run without it knowingly",
                    label,
                    why,
                )
            continue
        if kind == "llama_guard":
            from llamasys.safety.llama_guard import LlamaGuard

            shields.append(LlamaGuard(model_id))
        else:
            from llamasys.safety.prompt_guard import PromptGuard

            shields.append(PromptGuard(model_id))
    return shields, missing


def build_shield_set(
    given: dict[Touchpoint, Sequence[Shield] | None], *, default_shields: bool, require_shields: bool
) -> ShieldSet:
    """Shields per touchpoint: the given ones, else (when `default_shields`) the recommended ones."""
    result = ShieldSet()
    for touchpoint, shields in given.items():
        if shields is not None:
            for shield in shields:
                if not isinstance(shield, Shield):
                    raise TypeError(
                        f"{touchpoint.value} shields must be llamasys.safety Shields, not {shield!r}"
                    )
            result.shields[touchpoint] = list(shields)
        elif default_shields:
            chosen, missing = _recommended(touchpoint, require_shields)
            result.shields[touchpoint] = chosen
            if missing:
                result.not_installed[touchpoint] = missing
    return result
