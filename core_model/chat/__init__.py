"""The chat format and tool-call protocol: prompts in, assistant messages and tool calls out.

```python
from llamasys.core_model.chat import make_chat_format
chat = make_chat_format(tokenizer, chat_template)   # Llama 3.1/3.2, or the model's own template
ids = chat.encode_dialog_prompt(messages, tools=tools, tool_choice="auto")
reply = chat.decode_assistant_message(completion_ids, stop_reason)
```

Modules: `format` (the `ChatFormat` protocol, the Llama 3 format, the factory), `template_format` (models that
are not Llama 3: their own jinja chat template and a `<tool_call>{...}</tool_call>` JSON convention),
`system_prompt` (the Llama 3.1/3.2 system prompt and tool instructions), `tool_call_codec` (every tool-call
syntax, both ways), `stream_parser` (token-by-token parsing into `ParseEvent`s).
"""

from __future__ import annotations

from llamasys.core_model.chat.format import ChatFormat, Llama3ChatFormat, make_chat_format
from llamasys.core_model.chat.stream_parser import (
    ParseEvent,
    StreamParser,
    TextDelta,
    ToolCallDelta,
    ToolCallParsed,
    ToolCallParseError,
)
from llamasys.core_model.chat.template_format import TemplateChatFormat

__all__ = [
    "ChatFormat",
    "Llama3ChatFormat",
    "ParseEvent",
    "StreamParser",
    "TemplateChatFormat",
    "TextDelta",
    "ToolCallDelta",
    "ToolCallParseError",
    "ToolCallParsed",
    "make_chat_format",
]
