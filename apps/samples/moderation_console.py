"""Moderation console: every shield's verdict, with its score, on typed text or on a whole conversation.

    python -m llamasys.apps.samples.moderation_console        # or: llamasys app --sample moderation_console

Type a text and pick whose it is (a user, the agent, a tool result, code about to run): Llama Guard 3,
Prompt Guard and the code scanner each give a verdict with categories and score. The second tab judges a
whole conversation (one `role: text` per line) the way an agent's output shield does. A shield whose
model is not installed says so, with the command that installs it, instead of passing silently.
"""

from __future__ import annotations

import asyncio
from typing import Any

import gradio as gr

from llamasys.core_model.messages import (
    AssistantMessage,
    StopReason,
    SystemMessage,
    ToolCall,
    ToolResponseMessage,
    UserMessage,
)
from llamasys.safety import CodeShield, LlamaGuard, PromptGuard, Shield, ShieldInputError

# whose text it is -> (the touchpoint its shields run at, the message that carries it)
ROLES = {
    "user": "user_input",
    "agent": "assistant_output",
    "tool result": "tool_output",
    "code to run": "tool_input",
}


def default_shields() -> list[Shield]:
    """The recommended shields; `on_unavailable="warn"` shows a missing model instead of blocking all."""
    return [
        LlamaGuard("llama-guard-3-1b", on_unavailable="warn"),
        PromptGuard("prompt-guard-86m", on_unavailable="warn"),
        CodeShield(),
    ]


def _messages(text: str, role: str) -> list[Any]:
    if role == "agent":
        return [UserMessage(content="(the conversation so far)"), AssistantMessage(content=text)]
    if role == "tool result":
        return [ToolResponseMessage(call_id="c1", tool_name="web_search", content=text)]
    if role == "code to run":  # how an agent hands code to its shields: the interpreter call it wants to make
        call = ToolCall(tool_name="code_interpreter", arguments={"code": text})
        return [AssistantMessage(tool_calls=[call], stop_reason=StopReason.end_of_message)]
    return [UserMessage(content=text)]


def parse_conversation(text: str) -> list[Any]:
    """`user: ...` / `assistant: ...` / `system: ...` lines (a line without a role continues the last)."""
    kinds = {
        "user": UserMessage,
        "assistant": AssistantMessage,
        "agent": AssistantMessage,
        "system": SystemMessage,
    }
    messages: list[Any] = []
    for line in text.splitlines():
        role, sep, rest = line.partition(":")
        if sep and role.strip().lower() in kinds:
            messages.append(kinds[role.strip().lower()](content=rest.strip()))
        elif messages and line.strip():
            messages[-1].content += "\n" + line
    if not messages:
        raise gr.Error("write the conversation as lines like 'user: hello' and 'assistant: hi'")
    return messages


async def _judge(shield: Shield, messages: list[Any], touchpoint: str) -> Any:
    try:
        return await shield.check(messages, touchpoint=touchpoint)
    except ShieldInputError as exc:  # e.g. the code scanner on plain user text: not its job
        return exc


def verdict_rows(verdicts: list[Any], shields: list[Shield]) -> list[list[Any]]:
    """One table row per verdict: shield, decision, categories, score, note."""
    rows = []
    for shield, v in zip(shields, verdicts, strict=True):
        if isinstance(v, ShieldInputError):
            rows.append([shield.name, "not applicable", "", "", str(v)[:300]])
            continue
        if v.unavailable:
            decision = "not installed / unavailable"
        elif not v.allowed:
            decision = "BLOCK"
        else:
            decision = "warn" if str(v.level) == "warn" else "allow"
        note = v.details.get("error") or v.details.get("skipped") or v.user_message or ""
        score = "" if v.score is None else round(float(v.score), 4)
        rows.append([v.shield, decision, ", ".join(v.categories), score, str(note)[:300]])
    return rows


async def check_text(shields: list[Shield], text: str, role: str) -> list[list[Any]]:
    if not text.strip():
        raise gr.Error("type some text to check")
    touchpoint = ROLES[role]
    messages = _messages(text, role)
    verdicts = await asyncio.gather(*(_judge(s, messages, touchpoint) for s in shields))
    return verdict_rows(list(verdicts), shields)


async def check_conversation(shields: list[Shield], text: str) -> list[list[Any]]:
    messages = parse_conversation(text)
    touchpoint = "assistant_output" if isinstance(messages[-1], AssistantMessage) else "user_input"
    verdicts = await asyncio.gather(*(_judge(s, messages, touchpoint) for s in shields))
    return verdict_rows(list(verdicts), shields)


HEADERS = ["shield", "decision", "categories", "score", "note"]


def build_app(settings: Any = None, *, shields: list[Shield] | None = None) -> gr.Blocks:
    shields = default_shields() if shields is None else shields
    with gr.Blocks(title="llamasys · moderation console") as demo:
        gr.Markdown("# 🛡️ Moderation console\nEach shield's verdict and score on a text or a conversation.")
        with gr.Tab("Text"):
            text = gr.Textbox(label="Text", lines=4, placeholder="How do I bake bread?")
            role = gr.Radio(list(ROLES), value="user", label="Whose text is it?")
            button = gr.Button("Check", variant="primary")
            table = gr.Dataframe(headers=HEADERS, label="Verdicts", interactive=False)

            async def on_text(text_value: str, role_value: str) -> list[list[Any]]:
                return await check_text(shields, text_value, role_value)

            button.click(on_text, [text, role], table, api_name="check_text")
        with gr.Tab("Conversation"):
            convo = gr.Textbox(label="Conversation", lines=8, value="user: How do I bake bread?\nassistant: ")
            convo_button = gr.Button("Check the conversation", variant="primary")
            convo_table = gr.Dataframe(headers=HEADERS, label="Verdicts", interactive=False)

            async def on_convo(value: str) -> list[list[Any]]:
                return await check_conversation(shields, value)

            convo_button.click(on_convo, convo, convo_table, api_name="check_conversation")
    return demo


def main() -> None:
    from . import run_sample

    run_sample(build_app().queue(default_concurrency_limit=4))


if __name__ == "__main__":
    main()
