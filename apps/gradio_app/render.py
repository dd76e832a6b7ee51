"""Agent events -> Gradio chat messages, as pure functions (no Gradio import, so they are unit-tested alone).

A `TurnView` is fed the events of one turn (`llamasys.agentic` stream events) and keeps the list of chat
messages that shows it, in the shape `gr.Chatbot` takes (Gradio 6 "messages": dicts with `role`,
`content` and `metadata`):

- every step is a collapsible box: `metadata = {"title", "id", "status": "pending" -> "done", "duration"}`
  (seconds); inference steps show token usage, tool steps one box per call (nested through `parent_id`)
  with the arguments, the result and its duration, shield steps each verdict (shield, allowed / blocked,
  score, categories, "not installed");
- the answer streams as a plain assistant message beside the boxes;
- PNG attachments (interpreter plots) are written to `files_dir` and shown inline as file messages;
- a turn waiting for approvals or client-side tools ends with a message whose `options` are the buttons.

Gradio's metadata keys (title, id, parent_id, log, duration, status) are those of `gradio.components.chatbot.
MetadataDict` (Gradio 6).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["APPROVE", "DENY", "TurnView", "render_turn", "shield_line", "tool_arguments_markdown"]

APPROVE = "approve"
DENY = "deny"

_STEP_TITLES = {
    "inference": "🧠 Model",
    "tool_execution": "🛠️ Tools",
    "shield_call": "🛡️ Shields",
    "memory_retrieval": "📚 Memory",
}
_TOUCHPOINTS = {
    "user_input": "your message",
    "tool_input": "tool call",
    "tool_output": "tool result",
    "assistant_output": "the answer",
}
MAX_RESULT_CHARS = 4000


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def tool_arguments_markdown(tool_name: str, arguments: dict[str, Any]) -> str:
    """Markdown for a call's arguments: code as a python block (the interpreter), the rest as JSON."""
    code = arguments.get("code") if isinstance(arguments, dict) else None
    if isinstance(code, str) and set(arguments) <= {"code"}:
        return f"```python\n{code}\n```"
    return "```json\n" + json.dumps(arguments, ensure_ascii=False, indent=1) + "\n```"


def shield_line(verdict: Any) -> str:
    """One verdict as one line: `llama_guard: ⛔ blocked (S1, score 0.97)` / `prompt_guard: ✅ allowed`."""
    name = _get(verdict, "shield", "shield")
    if _get(verdict, "unavailable", False):
        state = "⚠️ not available (model missing or broken)"
    elif not _get(verdict, "allowed", True):
        state = "⛔ blocked"
    elif str(_get(verdict, "level", "none")) == "warn":
        state = "⚠️ allowed with a warning"
    else:
        state = "✅ allowed"
    details = []
    categories = _get(verdict, "categories") or []
    if categories:
        details.append(", ".join(categories))
    score = _get(verdict, "score")
    if score is not None:
        details.append(f"score {score:.2f}")
    return f"**{name}**: {state}" + (f" ({'; '.join(details)})" if details else "")


def _fence(text: str) -> str:
    if len(text) > MAX_RESULT_CHARS:
        text = text[:MAX_RESULT_CHARS] + f"\n… ({len(text) - MAX_RESULT_CHARS} more characters)"
    return "```text\n" + text.replace("```", "ˋˋˋ") + "\n```"


class TurnView:
    """The chat messages of one turn, updated event by event.

    `messages` starts with the user's message; feed events with `feed(event)` (pydantic events or their
    `model_dump()` dicts) and read `messages` after each one. `files_dir` receives attachments (PNG
    plots) so the chatbot can show them; without it they are listed by name only.
    """

    def __init__(
        self,
        user_text: str | None = None,
        *,
        files_dir: str | Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self._tools_box: dict[str, Any] | None = None  # shown as soon as the model asks for tools
        self._tools_started = 0.0
        self.messages: list[dict[str, Any]] = []
        if user_text is not None:
            self.messages.append({"role": "user", "content": user_text})
        self.files_dir = Path(files_dir) if files_dir is not None else None
        self._boxes: dict[str, dict[str, Any]] = {}  # step id / call id -> its message
        self._answer: dict[str, Any] | None = None  # the streamed answer of the current inference
        self._answers: list[dict[str, Any]] = []
        self._pending_calls: dict[str, tuple[str, dict[str, Any]]] = {}  # call id -> (name, arguments)
        self.status: str | None = None
        self.output: str | None = None
        self.pending: list[dict[str, Any]] = []
        self.not_installed: list[str] = []
        self.session_id: str | None = None

    # -- the event dispatcher ---------------------------------------------------------------------
    def feed(self, event: Any) -> list[dict[str, Any]]:
        kind = _get(event, "type")
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(event)
        return self.messages

    def _box(self, key: str, title: str, *, parent: str | None = None, pending: bool = True) -> dict:
        metadata: dict[str, Any] = {"title": title, "id": key}
        if parent is not None:
            metadata["parent_id"] = parent
        if pending:
            metadata["status"] = "pending"
        message = {"role": "assistant", "content": "", "metadata": metadata}
        self._boxes[key] = message
        self.messages.append(message)
        return message

    def _done(self, message: dict, duration: float | None, log: str | None = None) -> None:
        message["metadata"]["status"] = "done"
        if duration is not None:
            message["metadata"]["duration"] = round(float(duration), 3)
        if log:
            message["metadata"]["log"] = log

    def _on_turn_start(self, event: Any) -> None:
        self.session_id = _get(event, "session_id")

    def _on_step_start(self, event: Any) -> None:
        step_id, step_type = _get(event, "step_id"), _get(event, "step_type")
        if step_type == "tool_execution" and self._tools_box is not None:
            self._boxes[step_id] = self._tools_box  # the box shown since the model asked for the tools
            return
        self._box(step_id, _STEP_TITLES.get(step_type, step_type) + " …")
        if step_type == "inference":
            self._answer = None

    def _open_tools_box(self, step_id: str) -> None:
        """The model asked for tools: show them running (pending) right away, one box per call."""
        key = f"tools-{step_id}"
        names = ", ".join(name for name, _ in self._pending_calls.values())
        self._tools_box = self._box(key, f"🛠️ Running {names} …")
        self._tools_started = self.clock()
        for call_id, (name, arguments) in self._pending_calls.items():
            child = self._box(call_id, f"🛠️ {name}", parent=key)
            child["content"] = "**arguments**\n" + tool_arguments_markdown(name, arguments)

    def _on_step_progress(self, event: Any) -> None:
        text = _get(event, "text") or ""
        if text:
            if self._answer is None:
                self._answer = {"role": "assistant", "content": ""}
                self._answers.append(self._answer)
                self.messages.append(self._answer)
            self._answer["content"] += text
        delta = _get(event, "tool_call_delta") or ""
        box = self._boxes.get(_get(event, "step_id"))
        if delta and box is not None:
            box["content"] += delta

    def _on_step_complete(self, event: Any) -> None:
        step = _get(event, "step")
        step_type = _get(step, "step_type")
        step_id = _get(step, "step_id")
        box = self._boxes.get(step_id)
        if box is None:  # a step we did not see start (a reopened session): show it whole
            box = self._box(step_id, _STEP_TITLES.get(step_type, str(step_type)))
        getattr(self, f"_complete_{step_type}", lambda s, b: None)(step, box)
        duration = _get(step, "duration_s")
        if step_type == "tool_execution" and box is self._tools_box:
            duration = max(duration or 0.0, self.clock() - self._tools_started)
            self._tools_box = None
        self._done(box, duration, box["metadata"].get("log"))
        if step_type == "inference" and self._pending_calls:
            self._open_tools_box(step_id)

    def _complete_inference(self, step: Any, box: dict) -> None:
        response = _get(step, "model_response")
        calls = _get(response, "tool_calls") or []
        usage = _get(step, "usage")
        log = f"{_get(usage, 'prompt_tokens', 0)} prompt + {_get(usage, 'completion_tokens', 0)} new tokens"
        reused = _get(usage, "prefix_tokens_reused")
        if reused:
            log += f", {reused} reused"
        parts = []
        if calls:
            names = ", ".join(_get(c, "tool_name") for c in calls)
            box["metadata"]["title"] = f"🧠 Model: calls {names}"
            parts.append(
                "\n\n".join(
                    tool_arguments_markdown(_get(c, "tool_name"), _get(c, "arguments") or {}) for c in calls
                )
            )
            self._pending_calls = {
                _get(c, "call_id"): (_get(c, "tool_name"), _get(c, "arguments") or {}) for c in calls
            }
        elif _get(step, "tools_offered", False) and not _get(step, "error"):
            # Honest about small models that "compute" in their head: no tool ran for this answer.
            box["metadata"]["title"] = "🧠 Model: answer, without calling a tool"
        else:
            box["metadata"]["title"] = "🧠 Model: answer"
        for problem in _get(response, "parse_errors") or []:
            parts.append(f"⚠️ malformed tool call: {problem}")
        if _get(step, "trimmed_messages"):
            parts.append(f"{_get(step, 'trimmed_messages')} old messages trimmed to fit the context window")
        if _get(step, "error"):
            parts.append(f"💥 {_get(step, 'error')}")
            box["metadata"]["title"] = "🧠 Model: failed"
        if self._answer is None and (_get(response, "content") or "").strip() and not calls:
            self._answer = {"role": "assistant", "content": _get(response, "content")}
            self._answers.append(self._answer)
            self.messages.append(self._answer)
        box["content"] = "\n\n".join(parts)
        box["metadata"]["log"] = log

    def _complete_tool_execution(self, step: Any, box: dict) -> None:
        calls = {_get(c, "call_id"): c for c in _get(step, "tool_calls") or []}
        names = []
        for response in _get(step, "tool_responses") or []:
            call_id = _get(response, "call_id")
            name = _get(response, "tool_name")
            names.append(name)
            child = self._boxes.get(call_id)
            if child is None:
                child = self._box(call_id, f"🛠️ {name}", parent=box["metadata"]["id"])
                call = calls.get(call_id)
                if call is not None:
                    child["content"] = "**arguments**\n" + tool_arguments_markdown(
                        name, _get(call, "arguments") or {}
                    )
            if _get(response, "blocked"):
                mark = "⛔ result withheld by a shield"
            elif _get(response, "error"):
                mark = "💥 failed"
            else:
                mark = "✅"
            child["metadata"]["title"] = f"🛠️ {name} {mark}"
            if _get(response, "source") == "client":
                child["metadata"]["title"] += " (answered by the client)"
            child["content"] += "\n\n**result**\n" + _fence(_get(response, "content") or "")
            metadata = _get(response, "metadata") or {}
            elapsed = self.clock() - self._tools_started if box is self._tools_box else 0.0
            self._done(child, metadata.get("duration_s") or max(_get(step, "duration_s") or 0.0, elapsed))
            for attachment in _get(response, "attachments") or []:
                self._attachment(attachment, parent=call_id)
        box["metadata"]["title"] = "🛠️ Tools: " + ", ".join(names) if names else "🛠️ Tools"
        box["content"] = ""
        box["metadata"].pop("log", None)
        self._pending_calls = {}

    def _attachment(self, attachment: Any, *, parent: str) -> None:
        name = _get(attachment, "name") or "attachment"
        mime = _get(attachment, "mime_type") or ""
        data = _get(attachment, "data")
        if isinstance(data, str):  # a model_dump(mode="json") attachment: base64
            import base64

            data = base64.b64decode(data)
        if self.files_dir is None or not isinstance(data, bytes | bytearray):
            self.messages.append({"role": "assistant", "content": f"📎 {name} ({mime})"})
            return
        self.files_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(data).hexdigest()[:16]
        path = self.files_dir / f"{digest}-{Path(name).name}"
        path.write_bytes(data)
        self.messages.append({"role": "assistant", "content": {"path": str(path), "mime_type": mime}})

    def _complete_shield_call(self, step: Any, box: dict) -> None:
        touchpoint = str(_get(step, "touchpoint"))
        verdicts = _get(step, "verdicts") or []
        lines = [shield_line(v) for v in verdicts]
        missing = list(_get(step, "not_installed") or [])
        for name in missing:
            lines.append(f"**{name}**: ⚠️ not installed (skipped)")
            if name not in self.not_installed:
                self.not_installed.append(name)
        violation = _get(step, "violation")
        if violation is not None:
            mark = "⛔ blocked"
        elif (
            any(str(_get(v, "level", "none")) == "warn" or _get(v, "unavailable") for v in verdicts)
            or missing
        ):
            mark = "⚠️"
        else:
            mark = "✅"
        box["metadata"]["title"] = f"🛡️ Shields on {_TOUCHPOINTS.get(touchpoint, touchpoint)}: {mark}"
        call_id = _get(step, "call_id")
        if call_id and call_id in self._boxes and call_id != _get(step, "step_id"):
            box["metadata"]["parent_id"] = call_id
        box["content"] = "\n\n".join(lines) if lines else "no shield configured here"

    def _complete_memory_retrieval(self, step: Any, box: dict) -> None:
        documents = _get(step, "ingested_documents") or []
        context = _get(step, "inserted_context") or ""
        parts = []
        if documents:
            box["metadata"]["title"] = "📚 Memory: ingested " + ", ".join(documents)
            parts.append("\n".join(f"- {d}" for d in documents))
        else:
            box["metadata"]["title"] = "📚 Memory: retrieved context"
        if context:
            parts.append(_fence(context))
        box["content"] = "\n\n".join(parts)

    def _on_turn_awaiting_input(self, event: Any) -> None:
        self.status = "awaiting_input"
        self.pending = []
        for pending in _get(event, "pending") or []:
            call = _get(pending, "call")
            kind = _get(pending, "kind")
            self.pending.append(
                {
                    "call_id": _get(call, "call_id"),
                    "tool_name": _get(call, "tool_name"),
                    "arguments": _get(call, "arguments") or {},
                    "kind": kind,
                }
            )
        self.messages.extend(approval_messages(self.pending))

    def _on_turn_complete(self, event: Any) -> None:
        result = _get(event, "result")
        self.status = str(_get(result, "status"))
        self.output = _get(result, "output") or ""
        self.session_id = _get(result, "session_id") or self.session_id
        for box in self._boxes.values():  # nothing stays spinning once the turn is over
            if box["metadata"].get("status") == "pending":
                box["metadata"]["status"] = "done"
                waiting = self.status == "awaiting_input"
                box["metadata"]["log"] = "waiting for you" if waiting else f"not finished ({self.status})"
        if self.status == "awaiting_input":
            return
        if self.status == "blocked":
            # The streamed answer (if the output shield stopped it) must not stay on screen.
            for answer in self._answers:
                if answer in self.messages:
                    self.messages.remove(answer)
            self.messages.append({"role": "assistant", "content": f"⛔ {self.output}"})
            return
        if self.status in ("failed", "cancelled", "interrupted"):
            error = _get(result, "error")
            text = {
                "failed": "💥 The turn failed",
                "cancelled": "⏹️ Stopped",
                "interrupted": "The turn was cut short",
            }
            self.messages.append(
                {"role": "assistant", "content": text[self.status] + (f": {error}" if error else ".")}
            )
            return
        shown = self._answers[-1]["content"].strip() if self._answers else ""
        if self.output.strip() and self.output.strip() != shown:
            self.messages.append({"role": "assistant", "content": self.output})
        if self.status == "max_iterations":
            self.messages.append(
                {
                    "role": "assistant",
                    "content": "(stopped after the maximum number of model calls)",
                    "metadata": {"title": "⚠️ iteration limit reached", "status": "done"},
                }
            )


def approval_messages(pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The message that asks for approvals / client answers; its `options` become buttons in the chat.
    Option values are `approve:<call_id>` / `deny:<call_id>`."""
    if not pending:
        return []
    lines, options = [], []
    for item in pending:
        args = json.dumps(item["arguments"], ensure_ascii=False)
        if item["kind"] == "approval":
            lines.append(f"🔐 **{item['tool_name']}**({args}) needs your approval.")
            options.append(
                {"label": f"✅ Approve {item['tool_name']}", "value": f"{APPROVE}:{item['call_id']}"}
            )
            options.append({"label": f"❌ Deny {item['tool_name']}", "value": f"{DENY}:{item['call_id']}"})
        else:
            lines.append(
                f"🖥️ **{item['tool_name']}**({args}) runs on your side: type its result as your next message."
            )
    message: dict[str, Any] = {"role": "assistant", "content": "\n\n".join(lines)}
    if options:
        message["options"] = options
    return [message]


def render_turn(
    user_text: str | None, events: list[Any], *, files_dir: str | Path | None = None
) -> list[dict]:
    """All the chat messages of one turn from its events (e.g. a stored turn, to reopen a session)."""
    view = TurnView(user_text, files_dir=files_dir)
    for event in events:
        view.feed(event)
    return view.messages
