"""OpenTelemetry spans for turns, inference, tool and shield steps (opentelemetry-api only).

Without a configured SDK the API's default tracer provider hands out non-recording spans, so this costs
next to nothing. To export, configure `opentelemetry-sdk` as usual before running agents:

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)

Span names: `agent.turn`, `agent.inference`, `agent.tool`, `agent.shield`; attributes under `llamasys.*`
(session and turn ids, tool name, touchpoint, token counts, status).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace

__all__ = ["span"]

_tracer = trace.get_tracer("llamasys.agentic")


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """A span named `name` with `llamasys.<key>` attributes (None values skipped)."""
    attrs = {f"llamasys.{k}": v for k, v in attributes.items() if v is not None}
    with _tracer.start_as_current_span(name, attributes=attrs) as current:
        yield current
