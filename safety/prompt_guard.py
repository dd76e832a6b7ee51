"""Prompt Guard (v1, 3 labels) and Llama Prompt Guard 2 (86M / 22M, 2 labels) as a shield.

    ```python
    pg = PromptGuard("prompt-guard-86m")                 # catalogue id, a folder, or (model, tokenizer)
    pg.jailbreak_score("Ignore your previous instructions.")       # 0.9999
    pg.injection_score(['{"weather": "sunny"}', "..."])          # batched: one score per text
    verdict = await pg.check(messages, touchpoint="tool_output")
    ```

Scores (Meta's Prompt Guard model card and its inference utilities in PurpleLlama): `probs = softmax(logits / temperature)`.
- v1 (BENIGN, INJECTION, JAILBREAK): jailbreak = P(JAILBREAK); injection = P(INJECTION) + P(JAILBREAK).
- v2 (BENIGN, MALICIOUS): both scores are P(MALICIOUS) (v2 has no separate injection label).
The number of labels decides; label names from the model's `id2label` are used when they are the
known ones, otherwise the columns are read in that order.

Which score where: user input -> jailbreak score of the user's words (and the injection score of any
retrieved `context` attached to the message, which is third-party text); tool output -> injection score
of the tool result. Other touchpoints are not Prompt Guard's job: the verdict is an explicit "allowed,
skipped" with the reason in `details`. A violation is `score >= threshold` (default 0.9).

Long text: the (normalised) text is tokenised once and scored in overlapping token windows of the
model's maximum length (512 for all three models), `window_overlap` tokens shared between neighbours;
the text's score is the maximum over its windows. All windows of all texts go through the model in
batches of `batch_size`.

Normalisation (the fix for the spaced-out-letters bypass, "I g n o r e ..."): remove every whitespace
character, tokenise what is left, and rebuild the string from the tokens, putting back one space
before a token whose first character was preceded by whitespace in the original. Words typed normally
keep their spaces; letters spaced out inside a word are joined. On any failure the text is used as is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llamasys.core_model.messages import ToolResponseMessage, UserMessage

from .errors import ShieldInputError
from .shield import LazyModel, Shield
from .verdict import OnUnavailable, OnViolation, Refusals, ShieldVerdict, Touchpoint

__all__ = ["PromptGuard", "normalize_spacing"]

log = logging.getLogger(__name__)

_V1 = ("BENIGN", "INJECTION", "JAILBREAK")
_V2 = ("BENIGN", "MALICIOUS")


def normalize_spacing(text: str, tokenizer: Any) -> str:
    """Undo letter spacing ("I g n o r e" -> "Ignore") while keeping ordinary word spaces."""
    try:
        kept = [i for i, ch in enumerate(text) if not ch.isspace()]
        cleaned = "".join(text[i] for i in kept)
        if not cleaned:
            return text
        enc = tokenizer(cleaned, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        out: list[str] = []
        pos = 0
        for start, end in enc["offset_mapping"]:
            start = max(start, pos)
            if end <= start:
                continue
            original = kept[start]
            if original > 0 and text[original - 1].isspace() and out:
                out.append(" ")
            out.append(cleaned[start:end])
            pos = end
        out.append(cleaned[pos:])  # anything the tokenizer did not cover
        return "".join(out)
    except Exception as e:  # a tokenizer without offsets, or anything odd: score the text as it is
        log.debug("Prompt Guard normalisation skipped: %s", e)
        return text


class PromptGuard(Shield):
    """Prompt Guard v1 / v2 through transformers' sequence classification, on the CPU by default.

    model: a catalogue id ("prompt-guard-86m", "llama-prompt-guard-2-86m", "llama-prompt-guard-2-22m"),
    a folder with config.json + weights + tokenizer files, or a `(model, tokenizer)` pair already loaded."""

    name = "prompt_guard"

    def __init__(
        self,
        model: Any,
        *,
        threshold: float = 0.9,
        temperature: float = 1.0,
        normalize: bool = True,
        window_overlap: int = 64,
        batch_size: int = 16,
        device: str = "cpu",
        on_unavailable: OnUnavailable = "block",
        on_violation: OnViolation = "block",
        refusals: Refusals | None = None,
    ) -> None:
        super().__init__(on_unavailable=on_unavailable, on_violation=on_violation, refusals=refusals)
        if temperature <= 0:
            raise ValueError("temperature must be greater than 0")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1 (a probability), not {threshold}")
        if batch_size < 1 or window_overlap < 0:
            raise ValueError("batch_size must be >= 1 and window_overlap >= 0")
        self.threshold = threshold
        self.temperature = temperature
        self.normalize = normalize
        self.window_overlap = window_overlap
        self.batch_size = batch_size
        self.device = device
        if isinstance(model, tuple) and len(model) == 2:
            self.source = type(model[0]).__name__
            pair = model
            self._model: LazyModel[Any] = LazyModel("Prompt Guard", lambda: self._prepare(*pair))
        elif isinstance(model, (str, Path)):
            self.source = str(model)
            self._model = LazyModel(f"Prompt Guard model {model!r}", lambda: self._prepare(*_load(model)))
        else:
            raise TypeError(
                "PromptGuard(model=...) takes a catalogue id, a folder, or a (model, tokenizer) pair, "
                f"not {type(model).__name__}"
            )

    # -- loading --

    def _prepare(self, model: Any, tokenizer: Any) -> _Classifier:
        return _Classifier(model.to(self.device).eval(), tokenizer)

    @property
    def labels(self) -> tuple[str, ...]:
        """BENIGN/INJECTION/JAILBREAK (v1) or BENIGN/MALICIOUS (v2); loads the model."""
        return self._model.get().labels

    @property
    def version(self) -> int:
        return 1 if len(self.labels) == 3 else 2

    # -- scores --

    def probabilities(self, texts: Sequence[str]) -> list[list[list[float]]]:
        """Per text, the class probabilities of each of its windows."""
        clf = self._model.get()
        texts = [self._normalized(clf, t) for t in texts]
        return clf.window_probs(texts, self.temperature, self.window_overlap, self.batch_size, self.device)

    def jailbreak_score(self, text: str | Sequence[str]) -> float | list[float]:
        """For text from the user: v1 P(JAILBREAK), v2 P(MALICIOUS); max over windows."""
        return self._score(text, "jailbreak")

    def injection_score(self, text: str | Sequence[str]) -> float | list[float]:
        """For third-party text (tool results, documents): v1 P(INJECTION)+P(JAILBREAK), v2 P(MALICIOUS)."""
        return self._score(text, "injection")

    def _score(self, text: str | Sequence[str], kind: str) -> float | list[float]:
        single = isinstance(text, str)
        scores = self._scores([(kind, t) for t in ([text] if single else text)])
        return scores[0] if single else scores

    def _scores(self, jobs: Sequence[tuple[str, str]]) -> list[float]:
        """The `kind` score ("jailbreak" / "injection") of each `(kind, text)`; all texts in one pass."""
        if not jobs:
            return []
        clf = self._model.get()
        probs = self.probabilities([text for _, text in jobs])
        return [
            max(sum(w[c] for c in clf.columns(kind)) for w in windows)
            for (kind, _), windows in zip(jobs, probs, strict=True)
        ]

    def _normalized(self, clf: _Classifier, text: str) -> str:
        return normalize_spacing(text, clf.tokenizer) if self.normalize else text

    # -- shield --

    async def _check(self, messages: list[Any], touchpoint: Touchpoint) -> ShieldVerdict:
        last = messages[-1]
        if touchpoint == Touchpoint.user_input:
            if not isinstance(last, UserMessage):
                raise ShieldInputError(
                    f"a user_input check judges a user message, but the last message is {type(last).__name__}"
                )
            jobs = [("jailbreak", last.content)]
            if last.context:
                jobs.append(("injection", last.context))
        elif touchpoint == Touchpoint.tool_output:
            if not isinstance(last, ToolResponseMessage):
                raise ShieldInputError(
                    f"a tool_output check judges the tool's result, but the last message is {type(last).__name__}: "
                    "pass the conversation up to and including the ToolResponseMessage"
                )
            jobs = [("injection", last.content)]
        else:
            return ShieldVerdict.allow(
                self.name,
                touchpoint,
                details={
                    "skipped": f"Prompt Guard scores user input and tool output, not {touchpoint.value}"
                },
            )
        scores = await asyncio.to_thread(self._scores, jobs)
        details: dict[str, Any] = {f"{kind}_score": s for (kind, _), s in zip(jobs, scores, strict=True)}
        details["threshold"] = self.threshold
        details["version"] = self.version
        score = max(scores)
        hits = [kind for (kind, _), s in zip(jobs, scores, strict=True) if s >= self.threshold]
        if not hits:
            return ShieldVerdict.allow(self.name, touchpoint, score=score, details=details)
        return self.violation(
            touchpoint, self.refusals.prompt_guard, categories=hits, score=score, details=details
        )


class _Classifier:
    """A loaded classifier: model, tokenizer, label layout and window geometry."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self.model, self.tokenizer = model, tokenizer
        n = int(model.config.num_labels)
        if n not in (2, 3):
            raise ValueError(
                f"a Prompt Guard model has 3 labels (v1) or 2 (v2), this one has {n}: is it a Prompt Guard checkpoint?"
            )
        names = [str(model.config.id2label.get(i, "")).upper() for i in range(n)]
        expected = _V1 if n == 3 else _V2
        if sorted(names) == sorted(expected):
            self.index = {name: names.index(name) for name in expected}
        else:
            self.index = {name: i for i, name in enumerate(expected)}
        self.labels = expected
        # where the special tokens go around a window ([CLS] ... [SEP] for DeBERTa)
        probe = tokenizer("a", add_special_tokens=False)["input_ids"]
        full = tokenizer("a", add_special_tokens=True)["input_ids"]
        at = next(i for i in range(len(full)) if full[i : i + len(probe)] == probe)
        self.prefix, self.suffix = full[:at], full[at + len(probe) :]
        limits = [
            getattr(model.config, "max_position_embeddings", None),
            getattr(tokenizer, "model_max_length", None),
        ]
        limits = [int(x) for x in limits if isinstance(x, int) and 0 < x < 1_000_000]
        self.max_len = min(limits) if limits else 512
        self.window = self.max_len - len(self.prefix) - len(self.suffix)
        if self.window < 2:
            raise ValueError(f"the model's maximum length {self.max_len} leaves no room for text")
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad) if pad is not None else 0

    def columns(self, kind: str) -> list[int]:
        if len(self.labels) == 2:
            return [self.index["MALICIOUS"]]
        if kind == "jailbreak":
            return [self.index["JAILBREAK"]]
        return [self.index["INJECTION"], self.index["JAILBREAK"]]

    def windows(self, text: str, overlap: int) -> list[list[int]]:
        ids = self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
        step = max(1, self.window - min(overlap, self.window - 1))
        starts = range(0, max(1, len(ids) - self.window + step), step)
        return [self.prefix + ids[s : s + self.window] + self.suffix for s in starts]

    def window_probs(
        self, texts: Sequence[str], temperature: float, overlap: int, batch_size: int, device: str
    ) -> list[list[list[float]]]:
        import torch

        owners: list[int] = []
        rows: list[list[int]] = []
        for i, text in enumerate(texts):
            for window in self.windows(text, overlap):
                owners.append(i)
                rows.append(window)
        probs: list[list[float]] = []
        with torch.inference_mode():
            for b in range(0, len(rows), batch_size):
                batch = rows[b : b + batch_size]
                width = max(len(r) for r in batch)
                ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for j, r in enumerate(batch):
                    ids[j, : len(r)] = torch.tensor(r)
                    mask[j, : len(r)] = 1
                logits = self.model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
                probs += torch.softmax(logits.float() / temperature, dim=-1).cpu().tolist()
        out: list[list[list[float]]] = [[] for _ in texts]
        for owner, p in zip(owners, probs, strict=True):
            out[owner].append(p)
        return out


def _load(model: str | Path) -> tuple[Any, Any]:
    path = Path(model)
    if not path.exists():
        if isinstance(model, Path) or "/" in str(model) or "\\" in str(model):
            raise FileNotFoundError(
                f"{path}: no such folder (expected a Prompt Guard folder or a catalogue id)"
            )
        try:  # the catalogue knows where a downloaded model lives
            from llamasys.core_model.checkpoints import catalog
        except ImportError as e:
            raise FileNotFoundError(
                f"{model!r} is not a folder and the model catalogue is not available ({e})"
            ) from e
        path = Path(catalog.resolve(str(model)))
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"{path} has no config.json: expected a Prompt Guard folder (config.json, model.safetensors, tokenizer files)"
        )
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )  # slow import: only when needed

    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    classifier = AutoModelForSequenceClassification.from_pretrained(str(path), local_files_only=True)
    return classifier, tokenizer
