"""LangChain interop, both ways (langchain-core 0.3 / 1.x).

    from langchain_core.tools import tool as lc_tool
    from llamasys.tools.langchain_interop import from_langchain, to_langchain

    @lc_tool
    def multiply(a: int, b: int) -> int:
        '''Multiply two integers.'''
        return a * b

    ours = from_langchain(multiply)          # a llamasys Tool: same name, description, JSON Schema
    await ours.run(a=6, b=7)                 # ToolResult(content="42")

    theirs = to_langchain(web_search_tool)   # a langchain_core BaseTool with args_schema
    theirs.invoke({"query": "llama"})        # sync or `await theirs.ainvoke(...)`, or a ToolCall dict

`from_langchain` works for any `BaseTool` (`@tool`, `StructuredTool`, subclasses): the schema is the
tool's `tool_call_schema` (what LangChain itself shows a model, injected arguments left out), checked
with `jsonschema` before the call; the call goes through LangChain's own `ainvoke` with a ToolCall, so
its validation, callbacks and error handling apply. A `ToolMessage` with `status="error"` or an
exception becomes an error result; text blocks become the content and image blocks attachments; an
artifact (`response_format="content_and_artifact"`) lands in `metadata["artifact"]`.

`to_langchain` gives a `BaseTool` whose `args_schema` is the llamasys tool's pydantic model (or its JSON
Schema), `response_format="content_and_artifact"` (the artifact is the full `ToolResult`), and whose
error results raise `ToolException`, which LangChain turns into an error `ToolMessage` for the model.
The sync path runs the coroutine on a private event loop (in a worker thread when the caller is already
inside one).
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import re
import uuid
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, ConfigDict, PrivateAttr

from .base import Attachment, JSONSchemaTool, Tool, ToolResult, to_json_text

__all__ = ["LangChainTool", "LlamasysLangChainTool", "from_langchain", "to_langchain"]

_INVALID_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


class LangChainTool(JSONSchemaTool):
    """A LangChain `BaseTool` seen as a llamasys tool."""

    def __init__(self, lc_tool: BaseTool, *, name: str | None = None, timeout: float | None = 60.0) -> None:
        schema = lc_tool.tool_call_schema
        parameters = dict(schema) if isinstance(schema, dict) else schema.model_json_schema()
        parameters.pop("description", None)  # LangChain repeats the tool's description on the schema
        super().__init__(
            name or _valid_name(lc_tool.name),
            lc_tool.description or "",
            parameters,
            timeout=timeout,
        )
        self.lc_tool = lc_tool

    async def call(self, /, **arguments: Any) -> ToolResult:
        call = {
            "name": self.lc_tool.name,
            "args": arguments,
            "id": f"call_{uuid.uuid4().hex[:12]}",
            "type": "tool_call",
        }
        output = await self.lc_tool.ainvoke(call)
        if isinstance(output, ToolMessage):
            result = _from_message_content(output.content)
            if output.artifact is not None:
                result.metadata["artifact"] = _jsonable(output.artifact)
            result.error = output.status == "error"
            return result
        return ToolResult.from_value(output)


def from_langchain(
    lc_tool: BaseTool, *, name: str | None = None, timeout: float | None = 60.0
) -> LangChainTool:
    """Wrap a LangChain tool as a llamasys tool (name, description and schema preserved)."""
    if not isinstance(lc_tool, BaseTool):
        raise TypeError(f"from_langchain needs a langchain_core BaseTool, got {type(lc_tool).__name__}")
    return LangChainTool(lc_tool, name=name, timeout=timeout)


class LlamasysLangChainTool(BaseTool):
    """A llamasys tool as a LangChain `BaseTool`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    response_format: str = "content_and_artifact"  # type: ignore[assignment]
    handle_tool_error: bool = True  # type: ignore[assignment]
    _llamasys_tool: Tool = PrivateAttr()

    @property
    def llamasys_tool(self) -> Tool:
        return self._llamasys_tool

    async def _arun(self, **kwargs: Any) -> tuple[str, ToolResult]:
        arguments = {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in kwargs.items()}
        result = await self._llamasys_tool.run(**arguments)
        if result.error:
            raise ToolException(result.content)
        return result.content, result

    def _run(self, **kwargs: Any) -> tuple[str, ToolResult]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._arun(**kwargs))
        # Called synchronously from inside an event loop: run on a private loop in a worker thread.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="llamasys-tool") as pool:
            return pool.submit(asyncio.run, self._arun(**kwargs)).result()


def to_langchain(tool: Tool) -> LlamasysLangChainTool:
    """A LangChain `BaseTool` that runs `tool` (its schema, sync and async)."""
    if not isinstance(tool, Tool):
        raise TypeError(f"to_langchain needs a llamasys Tool, got {type(tool).__name__}")
    # The JSON Schema the model sees (not the pydantic class): `@tool` fields are aliased to their
    # parameter names, and LangChain reads a class's field names, not its aliases.
    args_schema: Any = tool.definition.parameters
    lc = LlamasysLangChainTool(
        name=tool.name, description=tool.description or tool.name, args_schema=args_schema
    )
    lc._llamasys_tool = tool
    return lc


def _valid_name(name: str) -> str:
    cleaned = _INVALID_NAME_CHARS.sub("_", name.strip())[:64]
    return cleaned or "langchain_tool"


def _from_message_content(content: Any) -> ToolResult:
    if isinstance(content, str):
        return ToolResult(content=content)
    texts: list[str] = []
    attachments: list[Attachment] = []
    for block in content if isinstance(content, list) else [content]:
        if isinstance(block, str):
            texts.append(block)
            continue
        if not isinstance(block, dict):
            texts.append(to_json_text(block))
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "image" and (block.get("base64") or block.get("data")):
            mime = block.get("mime_type") or block.get("mimeType") or "image/png"
            data = base64.b64decode(block.get("base64") or block.get("data"))
            attachments.append(
                Attachment(
                    name=f"image-{len(attachments) + 1}.{mime.split('/')[-1]}", mime_type=mime, data=data
                )
            )
        elif kind == "image_url" and str((block.get("image_url") or {}).get("url", "")).startswith("data:"):
            header, _, payload = block["image_url"]["url"].partition(",")
            mime = header.removeprefix("data:").split(";")[0] or "image/png"
            attachments.append(
                Attachment(
                    name=f"image-{len(attachments) + 1}.{mime.split('/')[-1]}",
                    mime_type=mime,
                    data=base64.b64decode(payload),
                )
            )
        else:
            texts.append(to_json_text(block))
    return ToolResult(content="\n".join(texts), attachments=attachments)


def _jsonable(value: Any) -> Any:
    try:
        return json.loads(to_json_text(value))
    except (TypeError, ValueError):
        return repr(value)
