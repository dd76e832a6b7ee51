"""Request bodies of the OpenAI-compatible API, as pydantic v2 models (field names and meanings from OpenAI's
API reference, https://platform.openai.com/docs/api-reference/chat/create, /moderations, /embeddings).

Fields this server does not implement are refused with a 400 that says so (e.g. `n` > 1, audio), never
silently ignored when they would change the answer; fields that only describe the caller (`user`,
`metadata`, `store`, `service_tier`, `parallel_tool_calls`) are accepted and ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatCompletionRequest",
    "EmbeddingRequest",
    "FunctionDefinition",
    "ModerationRequest",
    "NamedToolChoice",
    "ToolParam",
]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class TextPart(_Lenient):
    type: Literal["text"]
    text: str


class OtherPart(_Lenient):
    type: str


Content = str | list[TextPart | OtherPart] | None


class FunctionCall(_Lenient):
    name: str
    arguments: str = Field(description="the arguments as a JSON object, in a string")


class ToolCallParam(_Lenient):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class SystemMessageParam(_Lenient):
    role: Literal["system", "developer"]
    content: Content


class UserMessageParam(_Lenient):
    role: Literal["user"]
    content: Content


class AssistantMessageParam(_Lenient):
    role: Literal["assistant"]
    content: Content = None
    tool_calls: list[ToolCallParam] | None = None


class ToolMessageParam(_Lenient):
    role: Literal["tool"]
    content: Content
    tool_call_id: str


MessageParam = Annotated[
    SystemMessageParam | UserMessageParam | AssistantMessageParam | ToolMessageParam,
    Field(discriminator="role"),
]


class FunctionDefinition(_Lenient):
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None


class ToolParam(_Lenient):
    type: Literal["function"]
    function: FunctionDefinition


class _FunctionName(_Lenient):
    name: str


class NamedToolChoice(_Lenient):
    type: Literal["function"]
    function: _FunctionName


class StreamOptions(_Lenient):
    include_usage: bool = False


class ResponseFormat(_Lenient):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None


class ChatCompletionRequest(_Lenient):
    """POST /v1/chat/completions."""

    model: str
    messages: list[MessageParam] = Field(min_length=1)
    tools: list[ToolParam] | None = None
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    n: int | None = Field(None, ge=1)
    response_format: ResponseFormat | None = None
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)


class ModerationRequest(_Lenient):
    """POST /v1/moderations: text only (Llama Guard reads text)."""

    input: str | list[str]
    model: str | None = None


class EmbeddingRequest(_Lenient):
    """POST /v1/embeddings."""

    input: str | list[str] | list[int] | list[list[int]]
    model: str
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
