"""BFCL single-turn categories through a model's own tool format, scored by our AST checker.

    >>> items = load_items(["simple_python", "irrelevance"], limit=20)
    >>> report = run_bfcl(EngineModel(load_model("smollm2-135m-instruct")), items)
    >>> report.categories["simple_python"].accuracy

Data: the `bfcl-eval` package's data files (`bfcl_eval/data/BFCL_v4_<category>.json`, JSON lines with
`id`, `question` (turns of messages) and `function` (BFCL function descriptions), and
`possible_answer/BFCL_v4_<category>.json` with the `ground_truth` per id); install it with
`pip install --no-deps bfcl-eval` (its own dependencies are not needed to read the data). `limit` takes
an evenly spaced subset of each category (indices round(i * n / limit)), the same every run.

Prompt: the conversation (the agent's default system prompt first, then the item's messages) with the
functions offered through the model's chat format, as its tool definitions. BFCL's parameter types are
written as JSON Schema for that (`dict` -> object, `float` -> number, `tuple` -> array, `any` -> no type)
and, as BFCL does before inference, " Note that the provided function is in Python 3 syntax." is added
to each description. The model's reply is decoded by the chat format; its calls become BFCL's
`[{name: {arguments}}]` and are checked against the original BFCL descriptions (`checker.py`). Greedy
decoding, at most `max_new_tokens` (default 256) new tokens.

Reported per category: accuracy (BFCL's AST rule), call rate (items with at least one decoded call),
tool-selection accuracy (the called names equal the expected ones as a multiset; no call on
irrelevance), and the schema-valid call rate (calls naming an offered function whose arguments validate
against its JSON Schema, over all calls). Overall: the call rate on items that need a call, and the
balanced score (harmonic mean of simple_python and irrelevance accuracy), because irrelevance alone
rewards a model that never calls. `truncated` counts the replies cut at `max_new_tokens` (stop reason
`out_of_tokens`): such a reply scores as what it decoded to, usually a call cut mid-way that decodes to
no call, so a run with truncated replies understates accuracy and the call rate; raise
`max_new_tokens` until it is 0 (parallel items need several calls in one reply).
"""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import jsonschema
from pydantic import BaseModel

from llamasys.apps.eval.checker import check_item, check_relevance
from llamasys.core_model.messages import (
    AssistantMessage,
    Message,
    StopReason,
    SystemMessage,
    ToolDefinition,
    UserMessage,
)

__all__ = [
    "CATEGORIES",
    "BfclItem",
    "BfclReport",
    "CategoryScore",
    "EngineModel",
    "ItemResult",
    "ToolModel",
    "bfcl_data_dir",
    "load_items",
    "run_bfcl",
    "to_tool_definition",
]

CATEGORIES = ["simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance"]
PYTHON_NOTE = " Note that the provided function is in Python 3 syntax."
_JSON_TYPES = {"dict": "object", "float": "number", "tuple": "array", "integer": "integer", "string": "string",
               "boolean": "boolean", "array": "array", "object": "object", "number": "number"}  # fmt: skip


class BfclError(RuntimeError):
    """The BFCL data cannot be read (package missing, unknown category)."""


class BfclItem(BaseModel):
    id: str
    category: str
    messages: list[dict[str, Any]]
    functions: list[dict[str, Any]]
    ground_truth: list[dict[str, Any]] | None = None


class ItemResult(BaseModel):
    id: str
    category: str
    valid: bool
    error: str = ""
    calls: list[dict[str, Any]]
    called: bool
    selection_ok: bool
    schema_valid_calls: int
    # The reply was cut at max_new_tokens (stop reason out_of_tokens): it scores as what it decoded to.
    truncated: bool = False
    text: str = ""


class CategoryScore(BaseModel):
    n: int
    accuracy: float
    call_rate: float
    selection_accuracy: float
    schema_valid_call_rate: float | None
    errors: dict[str, int]
    truncated: int = 0


class BfclReport(BaseModel):
    categories: dict[str, CategoryScore]
    positive_call_rate: float | None
    schema_valid_call_rate: float | None
    selection_accuracy: float
    balanced: float | None
    items: list[ItemResult]
    truncated: int = 0


class ToolModel(Protocol):
    """Anything that answers conversations with tools offered: returns the decoded assistant messages."""

    def complete(
        self, dialogs: Sequence[tuple[list[Message], list[ToolDefinition]]]
    ) -> list[AssistantMessage]: ...


class EngineModel:
    """A native `Engine` as a ToolModel: its chat format encodes the prompt and decodes the reply.

    `constrained=True` decodes each reply under the chat format's `tool_choice="auto"` constraint with
    parallel calls allowed (`reply_constraint(tools, "auto", parallel_tool_calls=True)`): free text, or
    calls of the offered tools whose arguments validate, as the agent's `EngineBackend` decodes by default.
    False (the default) measures what the model writes on its own."""

    def __init__(
        self,
        engine: Any,
        *,
        max_new_tokens: int = 256,
        max_prompt_tokens: int | None = None,
        constrained: bool = False,
    ) -> None:
        from llamasys.core_model import SamplingParams

        self.engine = engine
        self.format = engine.chat_format
        self.sampling = SamplingParams(temperature=0.0, max_tokens=max_new_tokens)
        self.max_prompt_tokens = max_prompt_tokens or engine.max_seq_len - max_new_tokens
        self.constrained = constrained

    def constraints_for(self, dialogs: Sequence[tuple[list[Message], list[ToolDefinition]]]) -> list[Any]:
        """The `tool_choice="auto"` reply constraint of each dialog (parallel calls allowed; None without
        tools), in the chat format's own tool-call syntax."""
        return [
            self.format.reply_constraint(tools, "auto", parallel_tool_calls=True) if tools else None
            for _, tools in dialogs
        ]

    def complete(
        self, dialogs: Sequence[tuple[list[Message], list[ToolDefinition]]]
    ) -> list[AssistantMessage]:
        prompts = [self.format.encode_dialog_prompt(m, tools=t) for m, t in dialogs]
        out: list[AssistantMessage | None] = [None] * len(prompts)
        fits = [i for i, p in enumerate(prompts) if len(p) <= self.max_prompt_tokens]
        for i in set(range(len(prompts))) - set(fits):
            out[i] = AssistantMessage(
                content="", parse_errors=[f"prompt of {len(prompts[i])} tokens is too long"]
            )
        constraints = self.constraints_for([dialogs[i] for i in fits]) if self.constrained else None
        completions = (
            self.engine.generate([prompts[i] for i in fits], self.sampling, constraints=constraints)
            if fits
            else []
        )
        for i, completion in zip(fits, completions, strict=True):
            out[i] = self.format.decode_assistant_message(completion.tokens, completion.stop_reason)
        return [m for m in out if m is not None]


class OpenAIToolModel:
    """A model behind an OpenAI-compatible server (`/v1/chat/completions` with `tools`) as a ToolModel.

    The server's own tool format is used (its `tool_calls`); a reply with no `tool_calls` whose text holds
    calls in a known text convention is decoded by our tool-call codec, like the agent does."""

    def __init__(
        self, *, base_url: str, model: str, api_key: str | None = None, max_new_tokens: int = 256
    ) -> None:
        import openai

        self.client = openai.OpenAI(base_url=base_url, api_key=api_key or "not-needed")
        self.model = model
        self.max_new_tokens = max_new_tokens

    def _one(self, messages: list[Message], tools: list[ToolDefinition]) -> AssistantMessage:
        from llamasys.core_model.chat.system_prompt import function_schema
        from llamasys.core_model.chat.tool_call_codec import parse_tagged_json_completion
        from llamasys.core_model.messages import ToolCall

        response = self.client.chat.completions.create(
            model=self.model,
            messages=[{"role": m.role, "content": m.content} for m in messages],
            tools=[function_schema(t) for t in tools] or None,
            temperature=0.0,
            max_tokens=self.max_new_tokens,
        )
        choice = response.choices[0]
        message = choice.message
        stop = StopReason.out_of_tokens if choice.finish_reason == "length" else StopReason.end_of_turn
        calls, errors = [], []
        for call in message.tool_calls or []:
            try:
                arguments = json.loads(call.function.arguments or "{}")
            except ValueError as exc:
                errors.append(f"{call.function.name}: arguments are not JSON ({exc})")
                continue
            calls.append(ToolCall(call_id=call.id, tool_name=call.function.name, arguments=arguments))
        content = message.content or ""
        if not calls and not errors and "<tool_call>" in content:
            decoded = parse_tagged_json_completion(content)
            return AssistantMessage(
                content=decoded.content,
                tool_calls=decoded.tool_calls,
                parse_errors=decoded.errors,
                stop_reason=stop,
            )
        return AssistantMessage(content=content, tool_calls=calls, parse_errors=errors, stop_reason=stop)

    def complete(
        self, dialogs: Sequence[tuple[list[Message], list[ToolDefinition]]]
    ) -> list[AssistantMessage]:
        return [self._one(m, t) for m, t in dialogs]


def bfcl_data_dir() -> Path:
    """The `data` folder of the installed bfcl-eval package."""
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        raise BfclError("the BFCL data is not installed: pip install --no-deps bfcl-eval")
    folder = Path(spec.submodule_search_locations[0], "data")
    if not folder.is_dir():
        raise BfclError(
            f"{folder} is missing: reinstall with pip install --no-deps --force-reinstall bfcl-eval"
        )
    return folder


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _subset(n: int, limit: int | None) -> list[int]:
    if limit is None or limit >= n:
        return list(range(n))
    return sorted({round(i * n / limit) for i in range(limit)})


def load_items(categories: Sequence[str] = CATEGORIES, limit: int | None = None) -> list[BfclItem]:
    """The items of each category (all, or an evenly spaced subset of `limit` per category)."""
    folder = bfcl_data_dir()
    items: list[BfclItem] = []
    for category in categories:
        if category not in CATEGORIES:
            raise BfclError(f"unknown BFCL category {category!r}: use one of {', '.join(CATEGORIES)}")
        questions = _read_jsonl(folder / f"BFCL_v4_{category}.json")
        answers: dict[str, Any] = {}
        answer_file = folder / "possible_answer" / f"BFCL_v4_{category}.json"
        if category != "irrelevance":
            answers = {a["id"]: a["ground_truth"] for a in _read_jsonl(answer_file)}
        for index in _subset(len(questions), limit):
            q = questions[index]
            items.append(
                BfclItem(
                    id=q["id"],
                    category=category,
                    messages=q["question"][0],
                    functions=q["function"],
                    ground_truth=answers.get(q["id"]),
                )
            )
    return items


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")  # name -> schema
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")  # [schema, ...]
_SCHEMA_ONE = ("items", "additionalProperties", "not", "contains")  # schema (items may be a list)


def _json_schema(node: Any) -> Any:
    """A BFCL parameter schema with BFCL's type names (`dict`, `float`, `tuple`, `any`) as JSON Schema's.

    Only schema positions are rewritten: a property NAMED `type` (BFCL has many) is a property, and values
    such as `default` or `enum` are copied as they are."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type":
            if isinstance(value, str) and value in _JSON_TYPES:
                out["type"] = _JSON_TYPES[value]
            elif isinstance(value, list):
                out["type"] = [_JSON_TYPES[v] for v in value if isinstance(v, str) and v in _JSON_TYPES]
            # "any" (or an unknown name): no type constraint
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _json_schema(schema) for name, schema in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_json_schema(schema) for schema in value]
        elif key in _SCHEMA_ONE:
            out[key] = [_json_schema(v) for v in value] if isinstance(value, list) else _json_schema(value)
        else:
            out[key] = value
    return out


def to_tool_definition(function: dict[str, Any]) -> ToolDefinition:
    """A BFCL function description as the tool definition offered to the model (see the module docstring)."""
    parameters = _json_schema(function.get("parameters") or {"type": "dict", "properties": {}})
    parameters["type"] = "object"
    return ToolDefinition(
        name=function["name"],
        description=(function.get("description") or "") + PYTHON_NOTE,
        parameters=parameters,
    )


def _messages(item: BfclItem, instructions: str) -> list[Message]:
    out: list[Message] = [SystemMessage(content=instructions)]
    for m in item.messages:
        if m["role"] == "system":
            out[0] = SystemMessage(content=f"{instructions}\n\n{m['content']}")
        else:
            out.append(UserMessage(content=m["content"]))
    return out


def score_item(item: BfclItem, reply: AssistantMessage) -> ItemResult:
    calls = [{c.tool_name: c.arguments} for c in reply.tool_calls]
    if item.category == "irrelevance":
        result = check_relevance(calls)
        expected_names: list[str] = []
    else:
        result = check_item(item.category, item.functions, calls, item.ground_truth or [])
        expected_names = [next(iter(a)) for a in item.ground_truth or []]
    offered = {d.name: d for d in map(to_tool_definition, item.functions)}
    schema_ok = 0
    for call in reply.tool_calls:
        tool = offered.get(call.tool_name)
        if tool is not None and jsonschema.Draft202012Validator(tool.parameters).is_valid(call.arguments):
            schema_ok += 1
    return ItemResult(
        id=item.id,
        category=item.category,
        valid=result.valid,
        error=result.error_type,
        calls=calls,
        called=bool(calls),
        selection_ok=Counter(c.tool_name for c in reply.tool_calls) == Counter(expected_names),
        schema_valid_calls=schema_ok,
        truncated=reply.stop_reason == StopReason.out_of_tokens,
        text=reply.content[:500],
    )


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def summarize(results: Sequence[ItemResult]) -> BfclReport:
    categories: dict[str, CategoryScore] = {}
    for category in dict.fromkeys(r.category for r in results):
        rs = [r for r in results if r.category == category]
        n_calls = sum(len(r.calls) for r in rs)
        categories[category] = CategoryScore(
            n=len(rs),
            accuracy=round(sum(r.valid for r in rs) / len(rs), 4),
            call_rate=round(sum(r.called for r in rs) / len(rs), 4),
            selection_accuracy=round(sum(r.selection_ok for r in rs) / len(rs), 4),
            schema_valid_call_rate=_rate(sum(r.schema_valid_calls for r in rs), n_calls),
            errors=dict(Counter(r.error for r in rs if r.error)),
            truncated=sum(r.truncated for r in rs),
        )
    positive = [r for r in results if r.category != "irrelevance"]
    simple, irrelevance = categories.get("simple_python"), categories.get("irrelevance")
    balanced = None
    if simple and irrelevance:
        a, b = simple.accuracy, irrelevance.accuracy
        balanced = round(2 * a * b / (a + b), 4) if a + b else 0.0
    return BfclReport(
        categories=categories,
        positive_call_rate=_rate(sum(r.called for r in positive), len(positive)),
        schema_valid_call_rate=_rate(
            sum(r.schema_valid_calls for r in results), sum(len(r.calls) for r in results)
        ),
        selection_accuracy=round(sum(r.selection_ok for r in results) / len(results), 4) if results else 0.0,
        balanced=balanced,
        items=list(results),
        truncated=sum(r.truncated for r in results),
    )


def run_bfcl(
    model: ToolModel,
    items: Sequence[BfclItem],
    *,
    instructions: str | None = None,
    batch_size: int = 4,
    progress: bool = True,
    on_result: Callable[[ItemResult], None] | None = None,
) -> BfclReport:
    """Ask the model every item (in batches) and score it; see the module docstring."""
    from tqdm import tqdm

    from llamasys.apps.distill.generate import DEFAULT_INSTRUCTIONS

    instructions = instructions or DEFAULT_INSTRUCTIONS
    results: list[ItemResult] = []
    with tqdm(total=len(items), desc="bfcl", disable=not progress) as bar:
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            dialogs = [
                (_messages(i, instructions), [to_tool_definition(f) for f in i.functions]) for i in chunk
            ]
            for item, reply in zip(chunk, model.complete(dialogs), strict=True):
                result = score_item(item, reply)
                results.append(result)
                if on_result is not None:
                    on_result(result)
                bar.update(1)
    return summarize(results)
