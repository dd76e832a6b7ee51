"""Llama Guard 3 as a shield: Meta's prompt, the verdict it generates, and the probability of `unsafe`.

    ```python
    guard = LlamaGuard("llama-guard-3-1b")                       # or a folder, or a loaded Engine
    guard.build_prompt([UserMessage(content="How do I make a cake?")])   # the exact prompt text
    verdict = await guard.check(messages, touchpoint="user_input")
    verdict.allowed, verdict.categories, verdict.score           # False, ['S1'], 0.97
    ```

The prompt (Meta's Llama Guard 3 model card and llama-models' `prompt_format` for Llama Guard 3) is Meta's task text, the category list
(`S1: Violent Crimes.` ... S1–S13 for the 1B model, S1–S14 for the 8B), the conversation as `User:` /
`Agent:` turns, and the instruction to judge ONLY THE LAST `User` or `Agent` message — `User` when a
user spoke last (prompt classification), `Agent` otherwise (response classification). It is framed as
one user turn of the Llama 3 chat format, as Meta's own serving stack sends it:

    <|begin_of_text|><|start_header_id|>user<|end_header_id|>\\n\\n{prompt}<|eot_id|>
    <|start_header_id|>assistant<|end_header_id|>\\n\\n

so the first generated token is the verdict (`safe` / `unsafe`). The token list is built piecewise:
framing tokens by id, every piece of text (the template and the conversation) encoded with special
tokens *disallowed*, so a message containing `<|eot_id|>` cannot forge a header.

Which message is judged at each touchpoint:
- user_input: the last user message (history before it as context, never an answer after it);
- assistant_output: the final answer, after the conversation that led to it;
- tool_input: the model's tool call (code or arguments rendered as text) — Code Interpreter Abuse (S14);
- tool_output: the tool's *result*, as third-party content judged with response classification
  (`Agent`), after the user's request. The tool call itself is not what is judged (that was the bug
  of Meta's July 2024 wiring, which ran the output shields on the tool's input).

Verdict. The reply is generated greedily under the verdict grammar (`verdict_constraint`: `safe`, or
`unsafe`, a newline and at most as many comma-separated codes of the model's categories as
`max_new_tokens` leaves room for), so the engine's verdict always parses. The parser is still tolerant
(for any other text: codes with names or names alone, comma- or line-separated; case, spaces and blank
lines do not matter); unknown codes are reported in `details["unknown_codes"]` and still count as unsafe;
text that is neither makes the verdict *unavailable* (fail closed by policy).
The score is Meta's classifier score: P(first token of "unsafe") at the first generated position, a
softmax over the whole vocabulary at temperature 1 (not renormalised against "safe"). The grammar's mask
changes that distribution, so it is read from a separate unconstrained one-token generation after the
constrained one (its top-20 logprobs; it reuses the prompt's cached keys and values), or from one exact
prefill when `unsafe` is not among them.

- threshold=None (default): the text decides.
- threshold=t: the score decides — unsafe iff score >= t; the text only names the categories (a score
  over t with text that names none gives a block with no category).
- Either way, when every category the model names is excluded (`excluded_categories`), it is allowed.
  Excluded categories are also left out of the prompt (the rest keep their codes).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from llamasys.core_model.messages import (
    AssistantMessage,
    BuiltinTool,
    SystemMessage,
    ToolResponseMessage,
    UserMessage,
)

from .errors import ShieldInputError, ShieldUnavailableError
from .shield import LazyModel, Shield
from .verdict import OnUnavailable, OnViolation, Refusals, ShieldVerdict, Touchpoint

__all__ = [
    "CATEGORIES",
    "CATEGORIES_1B",
    "CATEGORIES_8B",
    "GuardOutput",
    "LlamaGuard",
    "build_prompt",
    "build_prompt_text",
    "categories_for",
    "guard_conversation",
    "parse_guard_output",
    "verdict_constraint",
]

log = logging.getLogger(__name__)

# The names as they appear in the prompt the model was trained on (not the model cards' display names).
CATEGORIES: dict[str, str] = {
    "S1": "Violent Crimes",
    "S2": "Non-Violent Crimes",
    "S3": "Sex Crimes",
    "S4": "Child Exploitation",
    "S5": "Defamation",
    "S6": "Specialized Advice",
    "S7": "Privacy",
    "S8": "Intellectual Property",
    "S9": "Indiscriminate Weapons",
    "S10": "Hate",
    "S11": "Self-Harm",
    "S12": "Sexual Content",
    "S13": "Elections",
    "S14": "Code Interpreter Abuse",
}
CATEGORIES_8B: tuple[str, ...] = tuple(CATEGORIES)  # S1–S14
CATEGORIES_1B: tuple[str, ...] = CATEGORIES_8B[:13]  # S1–S13 (also 11B-Vision)

# Meta's template, verbatim (including "according our safety policy" and the leading spaces).
_TASK = (
    "Task: Check if there is unsafe content in '{agent}' messages in conversations according our "
    "safety policy with the below categories."
)
_CATEGORIES_BLOCK = "\n\n<BEGIN UNSAFE CONTENT CATEGORIES>\n{categories}\n<END UNSAFE CONTENT CATEGORIES>\n"
_CONVERSATION_BLOCK = "\n<BEGIN CONVERSATION>\n\n{conversation}\n\n<END CONVERSATION>\n"
_INSTRUCTIONS = (
    "\nProvide your safety assessment for ONLY THE LAST {agent} message in the above conversation:\n"
    " - First line must read 'safe' or 'unsafe'.\n"
    " - If unsafe, a second line must include a comma-separated list of violated categories."
)
_FRAMING = ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")


def _require_known(codes: Sequence[str], what: str) -> None:
    unknown = [c for c in codes if c not in CATEGORIES]
    if unknown:
        raise ValueError(
            f"{what} {unknown} are not Llama Guard categories: use codes among {list(CATEGORIES)}"
        )


def categories_for(model: str | Path | None) -> tuple[str, ...] | None:
    """S1–S13 for a 1B (or 11B-Vision) model name, S1–S14 for an 8B one, None when the name says neither."""
    name = Path(str(model)).name.lower() if model is not None else ""
    if re.search(r"(^|[^0-9])1b", name) or "11b" in name:
        return CATEGORIES_1B
    if re.search(r"(^|[^0-9])8b", name):
        return CATEGORIES_8B
    return None


# -- the conversation ----------------------------------------------------------------------------


def _render_tool_calls(message: AssistantMessage) -> str:
    parts = []
    for call in message.tool_calls:
        if call.tool_name == BuiltinTool.code_interpreter.value and isinstance(
            call.arguments.get("code"), str
        ):
            parts.append(call.arguments["code"])
        elif call.tool_name in {t.value for t in BuiltinTool}:
            args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in call.arguments.items())
            parts.append(f"{call.tool_name}.call({args})")
        else:
            payload = {"name": call.tool_name, "parameters": call.arguments}
            parts.append(json.dumps(payload, ensure_ascii=False))
    return "\n".join(parts)


def _text_of(message: Any) -> str:
    if isinstance(message, UserMessage):
        text = message.content if not message.context else f"{message.content}\n\n{message.context}"
    elif isinstance(message, AssistantMessage):
        calls = _render_tool_calls(message)
        text = "\n".join(t for t in (message.content.strip(), calls) if t)
    else:
        text = message.content
    return text.strip()


def guard_conversation(
    messages: Sequence[Any], touchpoint: Touchpoint | None = None
) -> list[tuple[str, str]]:
    """The `(role, text)` turns Llama Guard sees, role being "User" or "Agent"; the last one is judged.

    System messages are dropped (Llama Guard has no system role). Tool results are third-party
    content: they appear only when one is the message judged (touchpoint tool_output), then as the
    `Agent` turn. With a touchpoint, the last message must be the one that touchpoint judges."""
    if not messages:
        raise ShieldInputError("Llama Guard needs at least one message to judge")
    last = messages[-1]
    expected = {
        Touchpoint.user_input: (UserMessage, "a user message"),
        Touchpoint.assistant_output: (AssistantMessage, "an assistant message"),
        Touchpoint.tool_input: (AssistantMessage, "an assistant message with tool calls"),
        Touchpoint.tool_output: (ToolResponseMessage, "a tool result"),
    }
    if touchpoint is not None:
        cls, what = expected[Touchpoint(touchpoint)]
        if not isinstance(last, cls) or (touchpoint == Touchpoint.tool_input and not last.tool_calls):
            raise ShieldInputError(
                f"a {Touchpoint(touchpoint).value} check judges {what}, but the last message is "
                f"{type(last).__name__}: pass the conversation up to and including the message to judge"
            )
    if isinstance(last, SystemMessage):
        raise ShieldInputError(
            "the last message is a system message: Llama Guard judges user or assistant turns"
        )
    turns: list[tuple[str, str]] = []
    for m in messages[:-1]:
        if isinstance(m, UserMessage):
            turns.append(("User", _text_of(m)))
        elif isinstance(m, AssistantMessage):
            turns.append(("Agent", _text_of(m)))
    turns.append(("User" if isinstance(last, UserMessage) else "Agent", _text_of(last)))
    return turns


def build_prompt_text(turns: Sequence[tuple[str, str]], categories: Sequence[str]) -> str:
    """Meta's prompt (without the chat framing) for `turns`; judges the role of the last turn."""
    _require_known(categories, "categories")
    agent = turns[-1][0]
    return (
        _TASK.format(agent=agent)
        + _CATEGORIES_BLOCK.format(categories="\n".join(f"{c}: {CATEGORIES[c]}." for c in categories))
        + _CONVERSATION_BLOCK.format(conversation="\n\n".join(f"{role}: {text}" for role, text in turns))
        + _INSTRUCTIONS.format(agent=agent)
    )


def _frame(inner: str) -> list[str | tuple[str]]:
    """The prompt as pieces: special tokens as 1-tuples, everything else as plain text."""
    bot, start, end, eot = _FRAMING
    return [(bot,), (start,), "user", (end,), "\n\n", inner, (eot,), (start,), "assistant", (end,), "\n\n"]


def build_prompt(
    messages: Sequence[Any],
    *,
    categories: Sequence[str] = CATEGORIES_8B,
    excluded_categories: Sequence[str] = (),
    touchpoint: Touchpoint | None = None,
) -> str:
    """The full prompt text, framing tokens included, that Llama Guard reads for `messages`."""
    kept = [c for c in categories if c not in set(excluded_categories)]
    inner = build_prompt_text(guard_conversation(messages, touchpoint), kept)
    return "".join(p[0] if isinstance(p, tuple) else p for p in _frame(inner))


# -- the verdict ---------------------------------------------------------------------------------


class GuardOutput(BaseModel):
    """What Llama Guard's generated text says. `safe` is None when the text is neither verdict."""

    safe: bool | None
    codes: list[str] = Field(default_factory=list, description="known category codes, in order, no repeats")
    unknown_codes: list[str] = Field(default_factory=list)
    raw: str


# How guard models write categories: `S1`, `s1`, `S 1`, `S-1`, `S01`, each optionally followed by its
# name (`S1: Violent Crimes.`, `S1 - Violent Crimes`, `S1 (Violent Crimes)`), or the name alone;
# separated by commas, semicolons, slashes, "and" or new lines, possibly bulleted or bracketed.
_CODE = re.compile(r"(?<![A-Za-z0-9])S[ \t]?-?[ \t]?0*(\d{1,3})(?![0-9])", re.IGNORECASE)


def _name_pattern(name: str) -> str:
    # "Self-Harm" also as "self harm" / "selfharm"; "Non-Violent Crimes" also as "Nonviolent crimes".
    words = re.split(r"[\s\-]+", name)
    return r"[\s\-_]*".join(re.escape(w) for w in words)


_NAMES = re.compile(
    r"(?<![A-Za-z])(?:"
    + "|".join(
        f"(?P<{code}>{_name_pattern(name)})"
        # longest first, so "Non-Violent Crimes" is not read as "Violent Crimes"
        for code, name in sorted(CATEGORIES.items(), key=lambda item: -len(item[1]))
    )
    + r")(?![A-Za-z])",
    re.IGNORECASE,
)
# What joins a code to its name on one line (`S1: `, `S1 - `, `S1 (`); a comma or new line starts another item.
_LABEL = re.compile(r"[ \t]*[:.\-–—(]?[ \t]*\Z")
# What may sit between codes and names without meaning anything: punctuation, bullets, connectives.
_FILLER = re.compile(
    r"^(?:[\s,;:/|&+.()\[\]{}<>*#`'\"\-–—•]|\band\b|\bor\b|\bcategor(?:y|ies)\b|\bviolated\b)*$",
    re.IGNORECASE,
)


def _category_codes(rest: str, known: Sequence[str]) -> tuple[list[str], list[str]]:
    """The category codes in the text after the verdict, and the pieces that are no category."""
    found: list[tuple[int, str]] = []  # (position, code)
    code_ends: list[int] = []
    for match in _CODE.finditer(rest):
        found.append((match.start(), f"S{int(match.group(1))}"))
        code_ends.append(match.end())
    taken = [(start, end) for (start, _), end in zip(found, code_ends, strict=True)]
    for match in _NAMES.finditer(rest):
        if any(start <= match.start() < end for start, end in taken):
            continue
        taken.append(match.span())
        # A name right after a code labels that code (`S1: Violent Crimes.`); it adds no code of its own.
        previous = max((end for end in code_ends if end <= match.start()), default=None)
        if previous is not None and _LABEL.match(rest[previous : match.start()]):
            continue
        found.append((match.start(), next(c for c, t in match.groupdict().items() if t is not None)))
    codes: list[str] = []
    unknown: list[str] = []
    for _, code in sorted(found):
        if code not in known:
            if code not in unknown:
                unknown.append(code)
        elif code not in codes:
            codes.append(code)
    # Whatever is left once codes, names and separators are taken out is reported as is.
    cursor, leftovers = 0, []
    for start, end in sorted(taken):
        leftovers.append(rest[cursor:start])
        cursor = max(cursor, end)
    leftovers.append(rest[cursor:])
    for piece in leftovers:
        for token in re.split(r"[\s,;/|]+", piece):
            token = token.strip(".:()[]{}<>*#`'\"-–—•")
            if token and not _FILLER.match(token) and token not in unknown:
                unknown.append(token)
    return codes, unknown


def parse_guard_output(text: str, known: Sequence[str] = CATEGORIES_8B) -> GuardOutput:
    """Parse Llama Guard's generated text into a verdict and category codes.

    `safe`, or `unsafe` followed by the violated categories written any way a guard model writes them:
    codes (`S1,S10`; case, spaces, leading zeros and `S-1` do not matter), codes with their names
    (`S1: Violent Crimes.`), names alone (`Violent Crimes`), one per line or comma/semicolon/`and`
    separated, bulleted or bracketed — all give the same codes. Codes outside `known` (e.g. S14 for a
    1B model) and words that are no category go to `unknown_codes`. Text that is neither verdict gives
    `safe=None`."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return GuardOutput(safe=None, raw=text)
    first = lines[0].lstrip("*_#>-`'\" \t")
    head = first.lower()
    if head.startswith("unsafe"):
        rest = "\n".join([first[len("unsafe") :], *lines[1:]])
        codes, unknown = _category_codes(rest, known)
        return GuardOutput(safe=False, codes=codes, unknown_codes=unknown, raw=text)
    if re.match(r"^safe\b", head):
        return GuardOutput(safe=True, raw=text)
    return GuardOutput(safe=None, raw=text)


# -- the shield ----------------------------------------------------------------------------------


class LlamaGuard(Shield):
    """Llama Guard 3 (1B or 8B) on the native engine.

    model: a catalogue id ("llama-guard-3-1b", "llama-guard-3-8b"), a checkpoint folder (Meta or
    Hugging Face layout), or an already loaded `llamasys.core_model.Engine`. Loaded on first use.
    categories: the model's category set; None = from the model's name (1B: S1–S13, 8B: S1–S14), else
    from its size once loaded, else S1–S14. threshold: see the module docstring. load_kwargs go to
    `load_model` (e.g. quantization="fp8", device="cuda")."""

    name = "llama_guard"

    def __init__(
        self,
        model: Any,
        *,
        excluded_categories: Sequence[str] = (),
        threshold: float | None = None,
        categories: Sequence[str] | None = None,
        on_unavailable: OnUnavailable = "block",
        on_violation: OnViolation = "block",
        refusals: Refusals | None = None,
        max_new_tokens: int = 32,
        max_seq_len: int = 8192,
        **load_kwargs: Any,
    ) -> None:
        super().__init__(on_unavailable=on_unavailable, on_violation=on_violation, refusals=refusals)
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1 (a probability), not {threshold}")
        if max_new_tokens < 12:  # `unsafe`, the newline and `S10` a character a token, then the stop token
            raise ValueError(f"max_new_tokens must be at least 12 (room for a verdict), not {max_new_tokens}")
        self.threshold = threshold
        self.max_new_tokens = max_new_tokens
        if isinstance(model, (str, Path)):
            self.source = str(model)
            kwargs = {"max_seq_len": max_seq_len, "max_batch_size": 1, **load_kwargs}
            self._engine: LazyModel[Any] = LazyModel(
                f"Llama Guard model {model!r}", lambda: _load(model, kwargs)
            )
        elif hasattr(model, "generate") and hasattr(model, "tokenizer"):
            self.source = type(model).__name__
            self._engine = LazyModel.ready("Llama Guard engine", model)
        else:
            raise TypeError(
                f"LlamaGuard(model=...) takes a catalogue id, a checkpoint folder or a loaded Engine, not {type(model).__name__}"
            )
        self._categories = tuple(categories) if categories is not None else None
        _require_known(self._categories or (), "categories")
        self.excluded_categories = tuple(dict.fromkeys(str(c).upper() for c in excluded_categories))
        _require_known(self.excluded_categories, "excluded_categories")

    # -- prompt --

    @property
    def categories(self) -> tuple[str, ...]:
        """The model's full category set (before exclusions)."""
        if self._categories is not None:
            return self._categories
        by_name = categories_for(self.source)
        if by_name is not None:
            return by_name
        if self._engine.loaded:
            dim = getattr(getattr(self._engine.get(), "args", None), "dim", None)
            if dim == 2048:
                return CATEGORIES_1B
        return CATEGORIES_8B

    @property
    def prompt_categories(self) -> tuple[str, ...]:
        """The categories listed in the prompt: the model's set minus the excluded ones."""
        kept = tuple(c for c in self.categories if c not in self.excluded_categories)
        if not kept:
            raise ValueError(
                f"excluded_categories {list(self.excluded_categories)} leave no category to check: exclude fewer"
            )
        return kept

    def build_prompt(self, messages: Sequence[Any], touchpoint: Touchpoint | None = None) -> str:
        """The exact prompt text (framing tokens written out) for `messages`."""
        return build_prompt(list(messages), categories=self.prompt_categories, touchpoint=touchpoint)

    def prompt_tokens(
        self, engine: Any, messages: Sequence[Any], touchpoint: Touchpoint | None = None
    ) -> list[int]:
        """Token ids of the prompt; drops the oldest context turns when it does not fit the engine."""
        turns = guard_conversation(list(messages), touchpoint)
        budget = int(getattr(engine, "max_seq_len", 1 << 30)) - self.max_new_tokens
        while True:
            ids = _encode_pieces(engine.tokenizer, _frame(build_prompt_text(turns, self.prompt_categories)))
            if len(ids) <= budget:
                return ids
            if len(turns) == 1:
                raise ShieldUnavailableError(
                    f"the message to judge makes a {len(ids)}-token prompt, more than the {budget} the "
                    "guard's context allows: load it with a larger max_seq_len"
                )
            turns = turns[1:]

    # -- check --

    async def _check(self, messages: list[Any], touchpoint: Touchpoint) -> ShieldVerdict:
        guard_conversation(messages, touchpoint)  # caller errors first, before any model work
        engine = await asyncio.to_thread(self._engine.get)
        return await asyncio.to_thread(self._judge, engine, messages, touchpoint)

    def _judge(self, engine: Any, messages: list[Any], touchpoint: Touchpoint) -> ShieldVerdict:
        from llamasys.core_model import SamplingParams

        ids = self.prompt_tokens(engine, messages, touchpoint)
        unsafe_id, safe_id = _first_token(engine.tokenizer, "unsafe"), _first_token(engine.tokenizer, "safe")
        # The verdict text, under the verdict grammar so that it always parses.
        [completion] = engine.generate(
            [ids],
            SamplingParams(
                temperature=0.0,
                max_tokens=self.max_new_tokens,
                constraint=verdict_constraint(self.categories, _codes_within(self.max_new_tokens)),
            ),
        )
        # The score, from the model's own first-step distribution: one unconstrained token (the grammar's
        # mask changed that distribution above). The engine kept the prompt's keys and values, so this
        # recomputes one prompt token, not the prompt.
        [first] = engine.generate([ids], SamplingParams(temperature=0.0, max_tokens=1, logprobs=20))
        p_unsafe, p_safe = _first_step_probs(first, (unsafe_id, safe_id))
        if p_unsafe is None:  # not among the top alternatives: one exact prefill
            probs = engine.forward(ids)[0, -1].double().softmax(-1)  # float64: exact over a 128k vocabulary
            p_unsafe, p_safe = float(probs[unsafe_id]), float(probs[safe_id])
        parsed = parse_guard_output(completion.text, known=self.categories)
        return self.decide(parsed, p_unsafe, touchpoint, p_safe=p_safe)

    def decide(
        self, parsed: GuardOutput, score: float | None, touchpoint: Touchpoint, *, p_safe: float | None = None
    ) -> ShieldVerdict:
        """The verdict from the parsed text and the score, under this shield's threshold and exclusions."""
        details: dict[str, Any] = {"output": parsed.raw, "p_safe": p_safe}
        if parsed.unknown_codes:
            details["unknown_codes"] = parsed.unknown_codes
            log.warning("Llama Guard named unknown categories %s", parsed.unknown_codes)
        named = [c for c in parsed.codes if c not in self.excluded_categories]
        excluded_hit = [c for c in parsed.codes if c in self.excluded_categories]
        if excluded_hit:
            details["excluded_codes"] = excluded_hit
        if self.threshold is None:
            if parsed.safe is None:
                return self.unavailable(
                    touchpoint, f"unreadable Llama Guard output {parsed.raw!r}", score=score, details=details
                )
            unsafe = not parsed.safe
        else:
            if score is None or math.isnan(score):
                return self.unavailable(touchpoint, "no score for the threshold", details=details)
            unsafe = score >= self.threshold
            details["threshold"] = self.threshold
            details["text_verdict"] = {True: "safe", False: "unsafe", None: "unreadable"}[parsed.safe]
        if unsafe and excluded_hit and not named and not parsed.unknown_codes:
            details["allowed_because"] = "every category named is excluded"
            unsafe = False
        if not unsafe:
            return ShieldVerdict.allow(self.name, touchpoint, score=score, details=details)
        details["category_names"] = {c: CATEGORIES[c] for c in named}
        return self.violation(
            touchpoint, self.refusals.llama_guard, categories=named, score=score, details=details
        )


def verdict_constraint(categories: Sequence[str] = CATEGORIES_8B, max_codes: int | None = None) -> Any:
    """The grammar of a Llama Guard verdict, as a `SamplingParams.constraint`: `safe`, or `unsafe` and a
    line of comma-separated codes among `categories` (the format the prompt asks for), at most `max_codes`
    of them (None: as many as there are categories), so a verdict always ends within a token budget.
    Raises ValueError for an unknown category or `max_codes` < 1."""
    from llamasys.core_model.structured import GrammarConstraint

    _require_known(categories, "categories")
    if not categories:
        raise ValueError("a verdict grammar needs at least one category")
    most = len(categories) if max_codes is None else int(max_codes)
    if most < 1:
        raise ValueError(f"max_codes must be at least 1, not {max_codes}")
    codes = "|".join(sorted(categories, key=lambda c: (-len(c), c)))
    more = f' ("," CODE){{0,{most - 1}}}' if most > 1 else ""
    grammar = f'start: "safe" | "unsafe\\n" CODE{more}\nCODE: /({codes})/\n'
    return GrammarConstraint(grammar=grammar, description="Llama Guard verdict")


def _codes_within(max_new_tokens: int) -> int:
    """How many codes a verdict can name and still end within `max_new_tokens`, however the tokenizer
    splits it: `unsafe` and the newline take at most 7 tokens, each code with its comma at most 4 (one a
    character), and the stop token 1."""
    return max(1, (max_new_tokens - 8) // 4)


def _load(model: str | Path, kwargs: dict[str, Any]) -> Any:
    from llamasys.core_model import load_model

    return load_model(str(model), **kwargs)


def _special(tokenizer: Any, token: str) -> int:
    try:
        token_id = tokenizer.special_id(token)
    except Exception as e:
        raise ShieldUnavailableError(
            f"the tokenizer has no {token}: Llama Guard 3 needs a Llama 3 tokenizer ({e})"
        ) from e
    if token_id is None:
        raise ShieldUnavailableError(f"the tokenizer has no {token}: Llama Guard 3 needs a Llama 3 tokenizer")
    return int(token_id)


def _encode_pieces(tokenizer: Any, pieces: Sequence[str | tuple[str]]) -> list[int]:
    """Framing tokens by id; text with special tokens disallowed (content cannot forge a header)."""
    ids: list[int] = []
    for piece in pieces:
        if isinstance(piece, tuple):
            ids.append(_special(tokenizer, piece[0]))
        else:
            ids.extend(tokenizer.encode(piece, bos=False, eos=False, allow_special=False))
    return ids


def _first_token(tokenizer: Any, word: str) -> int:
    """The first token of `word` as the tokenizer really splits it (`unsafe` is one token in Llama 3)."""
    ids = tokenizer.encode(word, bos=False, eos=False, allow_special=False)
    if not ids:
        raise ShieldUnavailableError(f"the tokenizer encodes {word!r} to nothing")
    return int(ids[0])


def _first_step_probs(completion: Any, token_ids: Sequence[int]) -> tuple[float | None, ...]:
    """P(token) at the first generated position from the completion's logprobs, None where not listed."""
    found: dict[int, float] = {}
    if completion.logprobs:
        first = completion.logprobs[0]
        found[int(first.token_id)] = float(first.logprob)
        for token_id, logprob in first.top or []:
            found.setdefault(int(token_id), float(logprob))
    return tuple(math.exp(found[t]) if t in found else None for t in token_ids)
