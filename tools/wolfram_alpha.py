"""`wolfram_alpha`: computation and curated facts through the Wolfram|Alpha Full Results API (v2).

    tool = WolframAlphaTool()              # reads WOLFRAM_ALPHA_API_KEY (an AppID) when called
    result = await tool.run(query="integrate x^2 sin(x) dx")
    result.content    # the API's JSON, trimmed as below

The request is the one Meta's reference system makes: `GET https://api.wolframalpha.com/v2/query` with
`input`, `appid`, `format=plaintext` and `output=json`. The answer is trimmed the same way
(Meta's llama-stack Wolfram Alpha tool), which keeps the model's context small:

- these `queryresult` keys are removed: datatypes, error, timedout, timedoutpods, numpods, timing,
  parsetiming, parsetimedout, recalculate, id, host, server, related, version, assumptions;
- these keys are removed from every pod: scanner, id, error, expressiontypes, states, infos, position,
  numsubpods;
- the pods after the one titled "Result" are dropped (all pods stay when none is titled so).

The trimmed JSON is the content. A query Wolfram|Alpha did not understand comes back with a `hint`
(and its "did you mean" suggestions); a missing or refused AppID, rate limits, timeouts and network
errors are error results that say what to do.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from typing import Any

import httpx
from pydantic import BaseModel, Field

from .base import Tool, ToolResult

log = logging.getLogger(__name__)

WOLFRAM_URL = "https://api.wolframalpha.com/v2/query"
WOLFRAM_KEY_ENV = "WOLFRAM_ALPHA_API_KEY"

QUERYRESULT_KEYS_REMOVED = (
    "datatypes",
    "error",
    "timedout",
    "timedoutpods",
    "numpods",
    "timing",
    "parsetiming",
    "parsetimedout",
    "recalculate",
    "id",
    "host",
    "server",
    "related",
    "version",
    "assumptions",
)
POD_KEYS_REMOVED = ("scanner", "id", "error", "expressiontypes", "states", "infos", "position", "numsubpods")


def trim_wolfram_response(response: dict[str, Any]) -> dict[str, Any]:
    """Meta's trimming of a v2 `output=json` response (see the module docstring); the input is not modified."""
    trimmed = copy.deepcopy(response)
    result = trimmed.get("queryresult")
    if not isinstance(result, dict):
        return trimmed
    for key in QUERYRESULT_KEYS_REMOVED:
        result.pop(key, None)
    pods = result.get("pods")
    if isinstance(pods, list):
        for pod in pods:
            if isinstance(pod, dict):
                for key in POD_KEYS_REMOVED:
                    pod.pop(key, None)
        for position, pod in enumerate(pods):
            if isinstance(pod, dict) and pod.get("title") == "Result":
                result["pods"] = pods[: position + 1]
                break
    return trimmed


class WolframAlphaTool(Tool):
    """Ask Wolfram|Alpha; the answer is its trimmed JSON."""

    name = "wolfram_alpha"
    description = (
        "Compute with Wolfram|Alpha: math (algebra, calculus, equations), unit conversions, science and "
        "engineering data, dates, statistics and curated facts. Pass a concise query in English or math "
        "notation."
    )

    class Arguments(BaseModel):
        query: str = Field(
            min_length=1,
            max_length=500,
            description='What to compute or look up, e.g. "solve x^2 + 2x - 3 = 0" or "distance Earth to Mars".',
        )

    def __init__(
        self,
        *,
        api_key: str | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: float | None = 30.0,
    ) -> None:
        self._api_key = api_key
        self._client = client
        self._owns_client = client is None
        self.timeout = timeout

    async def call(self, query: str) -> ToolResult:
        key = self._api_key or os.environ.get(WOLFRAM_KEY_ENV)
        if not key:
            return ToolResult.failure(
                f"wolfram_alpha needs a Wolfram|Alpha AppID: set the environment variable {WOLFRAM_KEY_ENV} "
                "(get one at https://developer.wolframalpha.com).",
                kind="missing_api_key",
            )
        params = {"input": query, "appid": key, "format": "plaintext", "output": "json"}
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout or 30.0))
        try:
            response = await self._client.get(WOLFRAM_URL, params=params)
        except httpx.TimeoutException:
            return ToolResult.failure("Wolfram|Alpha timed out. Try a simpler query.", kind="timeout")
        except httpx.TransportError as exc:
            return ToolResult.failure(
                f"Could not reach Wolfram|Alpha ({type(exc).__name__}: {exc}); say the computation service "
                "is unavailable.",
                kind="network",
            )
        if response.status_code == 429:
            return ToolResult.failure(
                "Wolfram|Alpha is rate-limited right now; try later.", kind="rate_limited"
            )
        if response.status_code in (401, 403):
            return ToolResult.failure(
                f"Wolfram|Alpha refused the AppID (HTTP {response.status_code}); check {WOLFRAM_KEY_ENV}.",
                kind="auth",
            )
        if response.status_code >= 400:
            return ToolResult.failure(
                f"Wolfram|Alpha failed with HTTP {response.status_code}. Try again later.", kind="http_error"
            )
        try:
            data = response.json()
        except ValueError:
            return ToolResult.failure(
                "Wolfram|Alpha returned a response that is not JSON.", kind="bad_response"
            )
        result = data.get("queryresult") if isinstance(data, dict) else None
        if not isinstance(result, dict):
            return ToolResult.failure(
                "Wolfram|Alpha returned JSON without a queryresult.", kind="bad_response"
            )

        error = result.get("error")
        if isinstance(error, dict) and error:
            message = str(error.get("msg") or "unknown error")
            code = str(error.get("code", ""))
            if code in ("1", "2") or "appid" in message.lower():
                return ToolResult.failure(
                    f"Wolfram|Alpha rejected the AppID: {message}. Check {WOLFRAM_KEY_ENV}.", kind="auth"
                )
            return ToolResult.failure(f"Wolfram|Alpha reported an error: {message}.", kind="engine")

        trimmed = trim_wolfram_response(data)
        metadata: dict[str, Any] = {"success": bool(result.get("success")), "query": query}
        if not result.get("success"):
            suggestions = _did_you_mean(result.get("didyoumeans"))
            hint = "Wolfram|Alpha did not understand the query. Rephrase it as a short math expression or fact query."
            if suggestions:
                hint += " Did you mean: " + "; ".join(suggestions) + "?"
            trimmed["hint"] = hint
        return ToolResult(content=json.dumps(trimmed, ensure_ascii=False), metadata=metadata)

    async def close(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None


def _did_you_mean(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value] if value else []
    texts = []
    for item in items:
        text = item.get("val") if isinstance(item, dict) else item
        if isinstance(text, str) and text:
            texts.append(text)
    return texts
