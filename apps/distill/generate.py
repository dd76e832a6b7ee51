"""The synthetic tool-use data generator: conversations whose every answer was checked by running it.

    >>> examples, report = asyncio.run(generate(GenerateConfig(seed=1, count=200)))
    >>> examples[0].kind, examples[0].messages[-1].content

Kinds (share of the default mix in brackets): `code` (an interpreter problem; the code runs in the real
sandbox of `llamasys.tools.code_interpreter` at generation time and the answer quotes its output) [18%],
`web` (a `web_search` call answered by a synthetic search back-end plugged into the real `WebSearchTool`)
[11%], `knowledge` (a `knowledge_search` call over a generated document bank in a real memory store) [9%],
`sequence` (a search whose result feeds interpreter code) [5%], `custom` (one call of a tool from the
random catalogue, 1 to 4 tools offered, its sibling families among them about half the time) [26%],
`parallel` (the same tool called 2-3 times in one reply) [8%], `parallel_multiple` (2-3 different tools in
one reply, some called twice: 2-4 calls) [6%], and no tool at all [17%]: `chat` (small talk), `answerable`
(questions a model answers itself) and `irrelevant` (requests no offered tool serves; the offered tools are
near misses of the request's own family or hard negatives drawn from other families).

Verification (`verify_example`), else the example is dropped and the reason counted: every call names an
offered tool and its arguments validate against that tool's JSON Schema (jsonschema, Draft 2020-12); every
call has a result; the interpreter reported `completed` and printed exactly the independently computed
value; every expected value appears in a tool result and in the final answer; the rendered assistant turns
decode back (through the chat format) to the same text and calls. The data is deterministic for a seed.

The prompt is what the agent sends: the system message is the agent's instructions, the tools are offered
through the model's chat format (`TemplateChatFormat` for SmolLM2), so the model learns on exactly what it
will see.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import jsonschema
from pydantic import BaseModel, Field

from llamasys.apps.distill.catalogue import TEMPLATES, CatalogueTool, draw_tool
from llamasys.apps.distill.tasks import (
    CHIT_CHAT,
    FACTS,
    NO_TOOL_FITS,
    code_task,
    documents,
    near_miss_request,
    unserved_request,
    web_fact,
)
from llamasys.core_model.messages import (
    AssistantMessage,
    SystemMessage,
    ToolCall,
    ToolDefinition,
    ToolResponseMessage,
    UserMessage,
)

__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "DEFAULT_MIX",
    "Example",
    "GenerateConfig",
    "GenerateReport",
    "RenderedExample",
    "generate",
    "parse_mix",
    "render_example",
    "source_version",
    "verify_example",
    "write_dataset",
]

log = logging.getLogger(__name__)

DEFAULT_INSTRUCTIONS = "You are a helpful assistant."
"""The agent's default system prompt (`llamasys.agentic.Agent(instructions=...)`)."""

Kind = Literal[
    "code", "web", "knowledge", "sequence", "custom", "parallel", "parallel_multiple",
    "chat", "answerable", "irrelevant",
]  # fmt: skip
DEFAULT_MIX: dict[str, float] = {
    "code": 0.18,
    "web": 0.11,
    "knowledge": 0.09,
    "sequence": 0.05,
    "custom": 0.26,
    "parallel": 0.08,
    "parallel_multiple": 0.06,
    "chat": 0.05,
    "answerable": 0.05,
    "irrelevant": 0.07,
}
NO_TOOL_KINDS = frozenset({"chat", "answerable", "irrelevant"})

Message = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolResponseMessage, Field(discriminator="role")
]


class Example(BaseModel):
    """One conversation: the offered tools, the messages (system first), and what verification expects."""

    id: str
    kind: Kind
    tools: list[ToolDefinition]
    messages: list[Message]
    expect: list[str] = Field(
        default_factory=list, description="values that must appear in a tool result and in the final answer"
    )
    code_outputs: dict[str, str] = Field(
        default_factory=dict, description="call id -> exact stdout the interpreter must print"
    )


class RenderedExample(BaseModel):
    """An example as token ids for training: `spans` are [start, end) ranges of assistant tokens (loss
    positions, each ending with the end-of-turn token); `prefix_len` tokens (the system turn) are shared
    by every example with the same system prompt."""

    id: str
    kind: str
    tokens: list[int]
    spans: list[tuple[int, int]]
    prefix_len: int


class GenerateConfig(BaseModel):
    """What to generate: `count` examples from `seed` with the `mix` of kinds (shares, normalised)."""

    seed: int = 0
    count: int = 1000
    mix: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_MIX))
    instructions: str = DEFAULT_INSTRUCTIONS
    avoid_names: list[str] = Field(default_factory=list, description="tool names never to generate")
    avoid_prompts: list[str] = Field(default_factory=list, description="user messages never to generate")
    interpreter_backend: str = "auto"
    optional_rate: float = Field(
        0.35, ge=0.0, le=1.0,
        description="chance that a catalogue call sets (and its request words) each optional parameter",
    )  # fmt: skip
    number_style_rate: float = Field(
        0.0, ge=0.0, le=1.0,
        description="chance that a catalogue request writes its numbers as typed ('$1,200', '70kg', '5%')",
    )  # fmt: skip


def parse_mix(text: str) -> dict[str, float]:
    """The default mix with the shares named in `text` ("irrelevant=0.3,custom=0.2") replaced.

    Raises ValueError naming the problem: an unknown kind, a share that is not a number >= 0, or no share left."""
    mix = dict(DEFAULT_MIX)
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, sep, value = part.partition("=")
        kind = kind.strip()
        if not sep or kind not in DEFAULT_MIX:
            raise ValueError(
                f"mix entry {part!r}: write KIND=SHARE with KIND one of {', '.join(DEFAULT_MIX)}"
            )
        try:
            share = float(value)
        except ValueError:
            raise ValueError(f"mix entry {part!r}: {value.strip()!r} is not a number") from None
        if not share >= 0:
            raise ValueError(f"mix entry {part!r}: a share must be >= 0")
        mix[kind] = share
    if sum(mix.values()) <= 0:
        raise ValueError(f"mix {text!r} leaves every share at 0")
    return mix


class GenerateReport(BaseModel):
    seed: int
    requested: int
    kept: int
    kinds: dict[str, int]
    dropped: dict[str, int]


BANK_NAMES = [("documents", ""), ("handbook", "company policies"), ("notes", "")]


def _tool_sets() -> list[list[str]]:
    return [
        ["code_interpreter", "web_search", "knowledge_search"],
        ["code_interpreter", "web_search", "knowledge_search"],
        ["code_interpreter", "web_search"],
        ["code_interpreter"],
        ["web_search"],
        ["knowledge_search"],
    ]


class _SyntheticSearch:
    """A ddgs-compatible client (`text(query, ...)`) answering from recorded pages per query; a query
    never recorded (a teacher's own wording) gets the pages of the recorded query sharing the most words
    with it (at least two), else nothing."""

    def __init__(self) -> None:
        self.pages: dict[str, list[dict[str, str]]] = {}

    def text(self, query: str, **_: Any) -> list[dict[str, str]]:
        if query in self.pages:
            return list(self.pages[query])
        words = set(query.lower().split())
        best = max(self.pages, key=lambda q: len(words & set(q.lower().split())), default=None)
        if best is None or len(words & set(best.lower().split())) < 2:
            return []
        return list(self.pages[best])


class _Tools:
    """The real built-in tools, wired to synthetic back-ends, one set per generation run."""

    def __init__(self, workdir: Path, seed: int, backend: str) -> None:
        from llamasys.tools.code_interpreter import CodeInterpreter
        from llamasys.tools.web_search import WebSearchTool

        self.search = _SyntheticSearch()
        self.web = WebSearchTool(backend="duckduckgo", ddgs=self.search, top_k=3)
        self.interpreter = CodeInterpreter(backend=backend, wall_timeout_s=60, cpu_seconds=60)
        self.docs = documents(random.Random(f"{seed}-bank"))
        self.workdir = workdir
        self._knowledge: dict[str, Any] = {}
        self._store: Any = None

    def knowledge(self, bank: str, description: str) -> Any:
        if bank not in self._knowledge:
            from llamasys.tools.memory.bank import MemoryStore
            from llamasys.tools.memory.knowledge_search import KnowledgeSearchTool

            if self._store is None:
                self._store = MemoryStore(self.workdir / "bank.sqlite")
            b = self._store.create_bank(bank, description=description)
            b.add_texts([(d.title, d.text) for d in self.docs], progress=False)
            self._knowledge[bank] = KnowledgeSearchTool(self._store, [bank], k=3, mode="keyword")
        return self._knowledge[bank]

    def definitions(self, names: Sequence[str], bank: tuple[str, str]) -> list[ToolDefinition]:
        out = []
        for name in names:
            if name == "code_interpreter":
                out.append(self.interpreter.definition)
            elif name == "web_search":
                out.append(self.web.definition)
            else:
                tool = self.knowledge(*bank)
                out.append(
                    ToolDefinition(
                        name=tool.name, description=tool.description, parameters=tool.definition.parameters
                    )
                )
        return out

    async def close(self) -> None:
        await self.interpreter.close()
        await self.web.close()
        if self._store is not None:
            self._store.close()


def _call_id(rng: random.Random) -> str:
    return "call_" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))


def _kinds(rng: random.Random, mix: dict[str, float], count: int) -> Iterator[str]:
    names = sorted(mix)
    weights = [mix[n] for n in names]
    for _ in range(count):
        yield rng.choices(names, weights)[0]


class _Builder:
    def __init__(self, config: GenerateConfig, tools: _Tools) -> None:
        self.config = config
        self.tools = tools
        self.avoid = frozenset(config.avoid_names)

    def system(self) -> SystemMessage:
        return SystemMessage(content=self.config.instructions)

    def builtin_set(self, rng: random.Random, needed: Sequence[str]) -> tuple[list[str], tuple[str, str]]:
        choices = [s for s in _tool_sets() if all(n in s for n in needed)]
        return rng.choice(choices), rng.choice(BANK_NAMES)

    async def run_tool(self, name: str, arguments: dict[str, Any], bank: tuple[str, str]) -> str:
        if name == "code_interpreter":
            result = await self.tools.interpreter.run(**arguments)
        elif name == "web_search":
            result = await self.tools.web.run(**arguments)
        else:
            result = await self.tools.knowledge(*bank).run(**arguments)
        return result.content

    async def build(self, rng: random.Random, kind: str, example_id: str) -> Example:
        return await getattr(self, f"_{kind}")(rng, example_id)

    # -- built-in tools ---------------------------------------------------------------------------------

    async def _code(self, rng: random.Random, example_id: str) -> Example:
        task = code_task(rng)
        names, bank = self.builtin_set(rng, ["code_interpreter"])
        call = ToolCall(call_id=_call_id(rng), tool_name="code_interpreter", arguments={"code": task.code})
        output = await self.run_tool("code_interpreter", call.arguments, bank)
        answer = task.answer.format(value=task.expected)
        return Example(
            id=example_id, kind="code", tools=self.tools.definitions(names, bank),
            messages=[self.system(), UserMessage(content=task.question), AssistantMessage(tool_calls=[call]),
                      ToolResponseMessage(call_id=call.call_id, tool_name=call.tool_name, content=output),
                      AssistantMessage(content=answer)],
            expect=[task.expected], code_outputs={call.call_id: task.expected},
        )  # fmt: skip

    async def _web(self, rng: random.Random, example_id: str) -> Example:
        fact = web_fact(rng)
        names, bank = self.builtin_set(rng, ["web_search"])
        self.tools.search.pages[fact.query] = fact.pages
        call = ToolCall(call_id=_call_id(rng), tool_name="web_search", arguments={"query": fact.query})
        output = await self.run_tool("web_search", call.arguments, bank)
        return Example(
            id=example_id, kind="web", tools=self.tools.definitions(names, bank),
            messages=[self.system(), UserMessage(content=fact.question), AssistantMessage(tool_calls=[call]),
                      ToolResponseMessage(call_id=call.call_id, tool_name=call.tool_name, content=output),
                      AssistantMessage(content=fact.answer)],
            expect=[fact.value],
        )  # fmt: skip

    async def _knowledge(self, rng: random.Random, example_id: str) -> Example:
        doc = rng.choice(self.tools.docs)
        names, bank = self.builtin_set(rng, ["knowledge_search"])
        lead = rng.choice(["", "According to my documents, ", "Check our documents: ", "From the handbook: "])
        question = lead + (doc.question[0].lower() + doc.question[1:] if lead else doc.question)
        call = ToolCall(call_id=_call_id(rng), tool_name="knowledge_search", arguments={"query": doc.query})
        output = await self.run_tool("knowledge_search", call.arguments, bank)
        return Example(
            id=example_id, kind="knowledge", tools=self.tools.definitions(names, bank),
            messages=[self.system(), UserMessage(content=question), AssistantMessage(tool_calls=[call]),
                      ToolResponseMessage(call_id=call.call_id, tool_name=call.tool_name, content=output),
                      AssistantMessage(content=doc.answer)],
            expect=[doc.value],
        )  # fmt: skip

    async def _sequence(self, rng: random.Random, example_id: str) -> Example:
        names, bank = self.builtin_set(rng, ["code_interpreter", "web_search", "knowledge_search"])
        if rng.random() < 0.5:
            doc = rng.choice([d for d in self.tools.docs if d.value.isdigit()])
            k = rng.randint(2, 12)
            question = f"{doc.question} Multiply that number by {k} with Python."
            first = ToolCall(
                call_id=_call_id(rng), tool_name="knowledge_search", arguments={"query": doc.query}
            )
            base = doc.value
        else:
            fact = web_fact(rng)
            while not fact.value.replace(".", "", 1).isdigit():
                fact = web_fact(rng)
            self.tools.search.pages[fact.query] = fact.pages
            k = rng.randint(2, 12)
            question = f"{fact.question} Then compute {k} times that value with Python."
            first = ToolCall(call_id=_call_id(rng), tool_name="web_search", arguments={"query": fact.query})
            base = fact.value
        out1 = await self.run_tool(first.tool_name, first.arguments, bank)
        value = str(round(float(base) * k, 2)) if "." in base else str(int(base) * k)
        code = f"print(round({base} * {k}, 2))" if "." in base else f"print({base} * {k})"
        second = ToolCall(call_id=_call_id(rng), tool_name="code_interpreter", arguments={"code": code})
        out2 = await self.run_tool("code_interpreter", second.arguments, bank)
        return Example(
            id=example_id, kind="sequence", tools=self.tools.definitions(names, bank),
            messages=[self.system(), UserMessage(content=question), AssistantMessage(tool_calls=[first]),
                      ToolResponseMessage(call_id=first.call_id, tool_name=first.tool_name, content=out1),
                      AssistantMessage(tool_calls=[second]),
                      ToolResponseMessage(call_id=second.call_id, tool_name=second.tool_name, content=out2),
                      AssistantMessage(content=f"The value is {base}, and {k} times it is {value}.")],
            expect=[value], code_outputs={second.call_id: value},
        )  # fmt: skip

    # -- catalogue tools --------------------------------------------------------------------------------

    def _call_style(self) -> dict[str, float]:
        """How catalogue requests are worded: `CatalogueTool.sample_call`'s rates from the config."""
        return {
            "optional_rate": self.config.optional_rate,
            "number_style_rate": self.config.number_style_rate,
        }

    def _offer(self, rng: random.Random, chosen: list[CatalogueTool], extra: int) -> list[ToolDefinition]:
        """The chosen tools and `extra` distractors from other families. When a chosen family has siblings
        (the same argument shapes, another operation: `ToolTemplate.group`), about half the time the
        distractors are its siblings first, so the call must be picked by name and description."""
        used = {t.template.name for t in chosen}
        others = [t for t in TEMPLATES if t.name not in used]
        groups = {t.template.group for t in chosen if t.template.group}
        siblings = [t for t in others if t.group in groups]
        picked = []
        if extra and siblings and rng.random() < 0.5:
            picked = rng.sample(siblings, min(extra, len(siblings)))
        taken = {t.name for t in picked}
        picked += rng.sample([t for t in others if t.name not in taken], extra - len(picked))
        offered = [c.definition for c in chosen] + [
            draw_tool(rng, t, avoid_names=self.avoid).definition for t in picked
        ]
        names = [d.name for d in offered]
        if len(set(names)) != len(names):
            raise _Drop("duplicate tool names")
        rng.shuffle(offered)
        return offered

    async def _custom_calls(
        self,
        rng: random.Random,
        example_id: str,
        kind: str,
        tools: list[CatalogueTool],
        calls_per_tool: list[int],
    ) -> Example:
        sampled = []
        for tool, n in zip(tools, calls_per_tool, strict=True):
            seen: set[str] = set()
            for _ in range(n):
                for _attempt in range(10):
                    call = tool.sample_call(rng, **self._call_style())
                    key = json.dumps(call.arguments, sort_keys=True)
                    if key not in seen:
                        seen.add(key)
                        break
                else:
                    raise _Drop("could not draw distinct arguments")
                sampled.append((tool, call))
        if len(sampled) == 1:
            question = sampled[0][1].question
        else:
            clauses = [c.clause for _, c in sampled]
            joined = ", ".join(clauses[:-1]) + " and " + clauses[-1]
            verbish = all("Please {clause}." in t.template.questions for t, _ in sampled)
            frame = rng.choice(
                ["Please {x}.", "Can you {x}?", "I need you to {x}."] if verbish
                else ["What is {x}?", "Find {x}.", "Get me {x}.", "I need {x}.", "Tell me {x}."]
            )  # fmt: skip
            if not verbish and any("Please {clause}." in t.template.questions for t, _ in sampled):
                frame = rng.choice(["Do these for me: {x}.", "I have a few requests: {x}."])
            question = frame.format(x=joined)
            question = question[0].upper() + question[1:]
        extra = rng.choice([0, 0, 1, 2, 3]) if kind == "custom" else rng.choice([0, 1, 2])
        offered = self._offer(rng, tools, extra)
        calls = [ToolCall(call_id=_call_id(rng), tool_name=t.name, arguments=c.arguments) for t, c in sampled]
        results = [
            ToolResponseMessage(call_id=call.call_id, tool_name=call.tool_name, content=json.dumps(c.result))
            for call, (_, c) in zip(calls, sampled, strict=True)
        ]
        answer = " ".join(c.answer for _, c in sampled)
        return Example(
            id=example_id, kind=kind, tools=offered,
            messages=[self.system(), UserMessage(content=question), AssistantMessage(tool_calls=calls), *results,
                      AssistantMessage(content=answer)],
            expect=[c.answer_value for _, c in sampled],
        )  # fmt: skip

    async def _custom(self, rng: random.Random, example_id: str) -> Example:
        tool = draw_tool(rng, rng.choice(TEMPLATES), avoid_names=self.avoid)
        return await self._custom_calls(rng, example_id, "custom", [tool], [1])

    async def _parallel(self, rng: random.Random, example_id: str) -> Example:
        tool = draw_tool(rng, rng.choice(TEMPLATES), avoid_names=self.avoid)
        return await self._custom_calls(rng, example_id, "parallel", [tool], [rng.choice([2, 2, 3])])

    async def _parallel_multiple(self, rng: random.Random, example_id: str) -> Example:
        templates = rng.sample(TEMPLATES, rng.choice([2, 2, 3]))
        tools = [draw_tool(rng, t, avoid_names=self.avoid) for t in templates]
        # BFCL-style requests often ask two things of each of two subjects: up to 4 calls in one reply
        counts = [2 if rng.random() < 0.35 else 1 for _ in tools]
        while sum(counts) > 4:
            counts[counts.index(2)] = 1
        return await self._custom_calls(rng, example_id, "parallel_multiple", tools, counts)

    # -- no tool ----------------------------------------------------------------------------------------

    def _plain_tools(self, rng: random.Random) -> list[ToolDefinition]:
        if rng.random() < 0.5:
            names, bank = self.builtin_set(rng, [])
            return self.tools.definitions(names, bank)
        return [
            draw_tool(rng, t, avoid_names=self.avoid).definition
            for t in rng.sample(TEMPLATES, rng.randint(1, 4))
        ]

    async def _chat(self, rng: random.Random, example_id: str) -> Example:
        q, a = rng.choice(CHIT_CHAT)
        return Example(
            id=example_id,
            kind="chat",
            tools=self._plain_tools(rng),
            messages=[self.system(), UserMessage(content=q), AssistantMessage(content=a)],
        )

    async def _answerable(self, rng: random.Random, example_id: str) -> Example:
        q, a = rng.choice(FACTS)
        return Example(
            id=example_id,
            kind="answerable",
            tools=self._plain_tools(rng),
            messages=[self.system(), UserMessage(content=q), AssistantMessage(content=a)],
        )

    async def _irrelevant(self, rng: random.Random, example_id: str) -> Example:
        draw = rng.random()
        if draw < 0.2:  # the built-in tools, a request none of them carries out
            names, bank = self.builtin_set(rng, [])
            q, a = unserved_request(rng)
            return Example(
                id=example_id, kind="irrelevant", tools=self.tools.definitions(names, bank),
                messages=[self.system(), UserMessage(content=q), AssistantMessage(content=a)],
            )  # fmt: skip
        wanted = rng.choice(TEMPLATES)
        others = [t for t in TEMPLATES if t.name != wanted.name]
        if draw < 0.65:  # a near miss: the tool of the request's own domain is offered and does not serve it
            q, answer = near_miss_request(rng, wanted.name)
            # a near miss often asks what a sibling family does (a city's area next to its population)
            unrelated = [t for t in others if not (wanted.group and t.group == wanted.group)]
            chosen = [wanted, *rng.sample(unrelated, rng.randint(0, 2))]
            rng.shuffle(chosen)
        else:  # hard negatives: a request for one family, tools of other families
            q = draw_tool(rng, wanted).sample_call(rng, **self._call_style()).question
            answer = rng.choice(NO_TOOL_FITS)
            chosen = rng.sample(others, rng.randint(1, 3))
        offered = [draw_tool(rng, t, avoid_names=self.avoid).definition for t in chosen]
        return Example(
            id=example_id, kind="irrelevant", tools=offered,
            messages=[self.system(), UserMessage(content=q), AssistantMessage(content=answer)],
        )  # fmt: skip


class _Drop(Exception):
    """The example cannot be built as drawn; the reason is counted."""


def verify_example(example: Example, chat_format: Any | None = None) -> list[str]:
    """Problems with an example (empty when it verifies); see the module docstring for the checks.

    chat_format: the model's chat format; when given, the rendering round trip is checked too."""
    problems: list[str] = []
    offered = {t.name: t for t in example.tools}
    if len(offered) != len(example.tools):
        problems.append("two offered tools share a name")
    messages = example.messages
    if not messages or not isinstance(messages[0], SystemMessage):
        problems.append("the first message is not the system prompt")
    if not isinstance(messages[-1], AssistantMessage) or messages[-1].tool_calls or not messages[-1].content:
        problems.append("the conversation does not end with a plain final answer")
        return problems
    results: dict[str, str] = {m.call_id: m.content for m in messages if isinstance(m, ToolResponseMessage)}
    calls = [c for m in messages if isinstance(m, AssistantMessage) for c in m.tool_calls]
    for call in calls:
        tool = offered.get(call.tool_name)
        if tool is None:
            problems.append(f"call to {call.tool_name!r}, which is not offered")
            continue
        try:
            jsonschema.Draft202012Validator(tool.parameters).validate(call.arguments)
        except jsonschema.ValidationError as exc:
            problems.append(f"arguments of {call.tool_name} do not match its schema: {exc.message}")
        if call.call_id not in results:
            problems.append(f"call {call.call_id} has no result")
    for call_id, printed in example.code_outputs.items():
        content = results.get(call_id, "")
        if not content.startswith("completed") or f"[stdout]\n{printed}\n[/stdout]" not in content:
            problems.append(f"the interpreter did not print {printed!r}: {content[:200]!r}")
    if example.kind in NO_TOOL_KINDS and calls:
        problems.append("a no-tool example calls a tool")
    if example.kind not in NO_TOOL_KINDS and not calls:
        problems.append("a tool example makes no call")
    final = messages[-1].content
    for value in example.expect:
        if value not in final:
            problems.append(f"the final answer does not contain {value!r}")
        if calls and not any(value in r for r in results.values()):
            problems.append(f"no tool result contains {value!r}")
    if chat_format is not None and not problems:
        try:
            rendered = render_example(example, chat_format)
        except ValueError as exc:
            problems.append(str(exc))
        else:
            assistants = [m for m in messages if isinstance(m, AssistantMessage)]
            for (start, end), message in zip(rendered.spans, assistants, strict=True):
                decoded = chat_format.decode_assistant_message(rendered.tokens[start:end])
                got = [(c.tool_name, c.arguments) for c in decoded.tool_calls]
                want = [(c.tool_name, c.arguments) for c in message.tool_calls]
                if got != want or decoded.content.strip() != message.content.strip() or decoded.parse_errors:
                    problems.append(
                        f"the rendered turn does not decode back: {decoded.content[:120]!r} {got}"
                    )
    return problems


def render_example(example: Example, chat_format: Any) -> RenderedExample:
    """Token ids and assistant spans through the chat format's own prompt encoder (see RenderedExample).

    Raises ValueError when the encoding of a shorter dialog is not a prefix of the longer one (the
    template would then not be append-only and spans could not be cut)."""
    messages = list(example.messages)
    end_ids = set(chat_format.tokenizer.stop_ids) | {chat_format.tokenizer.eos_id}
    full = chat_format.encode_dialog_prompt(messages, tools=example.tools)
    spans: list[tuple[int, int]] = []
    for k, message in enumerate(messages):
        if not isinstance(message, AssistantMessage):
            continue
        prefix = chat_format.encode_dialog_prompt(messages[:k], tools=example.tools)
        if full[: len(prefix)] != prefix:
            raise ValueError(f"{example.id}: the prompt before turn {k} is not a prefix of the whole dialog")
        end = next((i for i in range(len(prefix), len(full)) if full[i] in end_ids), None)
        if end is None:
            raise ValueError(f"{example.id}: assistant turn {k} has no end-of-turn token")
        spans.append((len(prefix), end + 1))
    tokens = full[: spans[-1][1]]
    first_end = next(i for i, t in enumerate(tokens) if t in end_ids)
    return RenderedExample(
        id=example.id, kind=example.kind, tokens=tokens, spans=spans, prefix_len=first_end + 1
    )


def bfcl_function_names() -> frozenset[str]:
    """Every function name in the installed `bfcl-eval` package's test data (empty when not installed):
    the generator never emits these names, so no benchmark function is trained on."""
    import importlib.util

    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    names: set[str] = set()
    for path in Path(spec.submodule_search_locations[0], "data").glob("BFCL_v*.json"):
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                for fn in json.loads(line).get("function", []):
                    names.add(fn["name"])
    return frozenset(names)


async def generate(
    config: GenerateConfig, *, chat_format: Any | None = None, progress: bool = False
) -> tuple[list[Example], GenerateReport]:
    """`config.count` verified examples (fewer if some are dropped; see the report) in a fixed order.

    Deterministic for a seed: each example draws from its own `random.Random(f"{seed}-{index}")`, and
    tool results come from deterministic back-ends (sandboxed code, recorded pages, a fixed bank)."""
    avoid = set(config.avoid_prompts)

    async def produce(
        builder: _Builder, rng: random.Random, kind: str, name: str
    ) -> tuple[Example, list[str]]:
        example = await builder.build(rng, kind, name)
        held_out = any(isinstance(m, UserMessage) and m.content in avoid for m in example.messages)
        return example, ["a held-out prompt"] if held_out else []

    return await draw_verified(config, chat_format, produce, desc="generate", progress=progress)


async def draw_verified(
    config: GenerateConfig,
    chat_format: Any | None,
    produce: Any,
    *,
    desc: str,
    progress: bool = False,
    concurrency: int = 1,
) -> tuple[list[Example], GenerateReport]:
    """The loop `generate` and the teacher mode share: draw `config.count` items (kind, then a
    `random.Random(f"{seed}-{index}")` each), let `produce(builder, rng, kind, name)` make the example and
    return it with its own problems (or raise `_Drop`), add `verify_example`'s problems, keep what has none.
    Dropped items are counted by their first problem in the report. `concurrency` items are in flight at
    once (the teacher batches their requests); the kept examples stay in index order either way."""
    from tqdm import tqdm

    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    master = random.Random(config.seed)
    kinds = list(_kinds(master, config.mix, config.count))
    slots = asyncio.Semaphore(concurrency)
    with tempfile.TemporaryDirectory(prefix=f"llamasys-{desc}-") as tmp:
        tools = _Tools(Path(tmp), config.seed, config.interpreter_backend)
        builder = _Builder(config, tools)

        async def one(index: int, kind: str, bar: Any) -> tuple[Example | None, str]:
            async with slots:
                digest = hashlib.sha256(f"{config.seed}-{index}".encode()).hexdigest()[:10]
                rng = random.Random(f"{config.seed}-{index}")
                try:
                    example, problems = await produce(builder, rng, kind, f"{kind}-{digest}")
                except _Drop as exc:
                    return None, str(exc)
                finally:
                    bar.update(1)
                problems = [*problems, *verify_example(example, chat_format)]
                if problems:
                    log.debug("dropped %s: %s", example.id, problems)
                    return None, problems[0][:80]
                return example, ""

        try:
            with tqdm(total=len(kinds), desc=desc, disable=not progress) as bar:
                outcomes = await asyncio.gather(*(one(i, k, bar) for i, k in enumerate(kinds)))
        finally:
            await tools.close()
    examples = [e for e, _ in outcomes if e is not None]
    dropped = Counter(reason for e, reason in outcomes if e is None)
    report = GenerateReport(
        seed=config.seed,
        requested=config.count,
        kept=len(examples),
        kinds=dict(Counter(e.kind for e in examples)),
        dropped=dict(dropped),
    )
    return examples, report


def source_version() -> dict[str, Any] | None:
    """The git commit of the generator's source and whether tracked files differ from it, or None outside
    a git checkout (a wheel install). A seed reproduces its data only with the same catalogue and tasks,
    so a dataset records the code that drew it: `{"commit": "<40 hex>", "modified": false}`."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(here), *args], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise OSError(done.stderr.strip())
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        modified = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "modified": modified}


def write_dataset(
    folder: Path,
    examples: Sequence[Example],
    report: GenerateReport,
    chat_format: Any,
    config: GenerateConfig,
) -> dict[str, Any]:
    """Write `examples.jsonl`, `tokens.jsonl` (RenderedExample per line) and `manifest.json` into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "examples.jsonl").open("w", encoding="utf-8") as f:
        for e in examples:
            f.write(e.model_dump_json() + "\n")
    lengths = []
    prefixes = set()
    with (folder / "tokens.jsonl").open("w", encoding="utf-8") as f:
        for e in examples:
            r = render_example(e, chat_format)
            prefixes.add(tuple(r.tokens[: r.prefix_len]))
            lengths.append((len(r.tokens), sum(b - a for a, b in r.spans), r.prefix_len))
            f.write(r.model_dump_json() + "\n")
    manifest = {
        "config": config.model_dump(exclude={"avoid_names", "avoid_prompts"}),
        "avoided_names": len(config.avoid_names),
        "avoided_prompts": len(config.avoid_prompts),
        "report": report.model_dump(),
        "tokens": sum(n for n, _, _ in lengths),
        "assistant_tokens": sum(a for _, a, _ in lengths),
        "suffix_tokens": sum(n - p for n, _, p in lengths),
        "distinct_prefixes": len({hashlib.sha256(str(r).encode()).hexdigest() for r in prefixes}),
        "source": source_version(),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest
