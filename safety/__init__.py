"""llamasys.safety: shields that gate what goes into and comes out of an agent.

    ```python
    from llamasys.safety import LlamaGuard, PromptGuard, CodeShield, Touchpoint, run_shields
    guard = LlamaGuard("llama-guard-3-1b", excluded_categories=["S6"])
    verdict = await guard.check([UserMessage(content="How do I make a cake?")], touchpoint="user_input")
    verdict.allowed, verdict.level, verdict.categories, verdict.score, verdict.user_message
    ```

- `Shield.check(messages, *, touchpoint) -> ShieldVerdict`; touchpoints: user_input, tool_input,
  tool_output, assistant_output. A shield whose model is missing or broken returns an *unavailable*
  verdict that blocks by default (`on_unavailable="warn"` lets it through, loudly).
- `LlamaGuard` (llama_guard.py): Llama Guard 3 1B / 8B on the native engine, Meta's exact prompt.
- `PromptGuard` (prompt_guard.py): Prompt Guard v1 / v2, jailbreak score for user text, injection score
  for tool results, windows over long text, the letter-spacing normalisation.
- `CodeShield` (code_shield.py, code_rules.py): static scan of code before it runs, CWE ids, block / warn.
- `Refusals`: the canned messages shown instead of a blocked turn (Meta's texts by default).
"""

from .code_shield import CodeFinding, CodeScanResult, CodeShield, detect_language, scan_code
from .errors import SafetyError, ShieldInputError, ShieldUnavailableError
from .llama_guard import (
    CATEGORIES,
    CATEGORIES_1B,
    CATEGORIES_8B,
    LlamaGuard,
    build_prompt,
    parse_guard_output,
)
from .prompt_guard import PromptGuard, normalize_spacing
from .shield import NoopShield, Shield, first_block, run_shields
from .verdict import Refusals, ShieldVerdict, Touchpoint, ViolationLevel

__all__ = [
    "CATEGORIES",
    "CATEGORIES_1B",
    "CATEGORIES_8B",
    "CodeFinding",
    "CodeScanResult",
    "CodeShield",
    "LlamaGuard",
    "NoopShield",
    "PromptGuard",
    "Refusals",
    "SafetyError",
    "Shield",
    "ShieldInputError",
    "ShieldUnavailableError",
    "ShieldVerdict",
    "Touchpoint",
    "ViolationLevel",
    "build_prompt",
    "detect_language",
    "first_block",
    "normalize_spacing",
    "parse_guard_output",
    "run_shields",
    "scan_code",
]
