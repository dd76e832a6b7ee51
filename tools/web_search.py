"""`web_search`: the built-in search tool (DuckDuckGo through `ddgs`; Brave and Tavily over httpx).

    tool = WebSearchTool()                 # backend="auto": Brave if BRAVE_SEARCH_API_KEY is set,
                                           # else Tavily if TAVILY_API_KEY is set, else DuckDuckGo
    tool = WebSearchTool(backend="brave", top_k=5, client=httpx.AsyncClient(...))
    result = await tool.run(query="llama 3.1 release date")
    result.content   # {"query": "...", "backend": "brave", "results": [{"title", "url", "snippet", "date"?}]}

The model sees compact JSON: one object per hit with title, url, snippet and, where the engine gives
one, date. Brave's results follow the engine's own blended ranking (`mixed.main`, as Meta's reference
system reads it), so FAQ answers, info boxes, news and videos appear where Brave ranks them.

Nothing here raises into the agent: "no results" is a normal result with a hint, while rate limits
(HTTP 429, ddgs' RatelimitException), timeouts, network errors, bad keys and malformed responses are
error results saying what happened and what to try. A missing key for an explicitly chosen back-end
names the environment variable to set. Keys are read when the tool is called, so a key exported after
start-up is picked up.

`ddgs_backend` is passed to ddgs: "auto" (its default) lets it query several engines (DuckDuckGo,
Bing, Brave, Mojeek, Wikipedia, ...) and fall back when one refuses; "duckduckgo" pins DuckDuckGo.
`ddgs` is synchronous: it runs in a worker thread under the tool's timeout. `ddgs=` takes a client
(anything with `.text(query, max_results=...)`, like `ddgs.DDGS()`) or a factory of one; tests inject a
fake there, and an httpx client on a MockTransport for Brave and Tavily.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field

from .base import Tool, ToolResult

log = logging.getLogger(__name__)

BRAVE_URL = "https://api.search.brave.com/res/v1/web/search"
TAVILY_URL = "https://api.tavily.com/search"
BRAVE_KEY_ENV = "BRAVE_SEARCH_API_KEY"
TAVILY_KEY_ENV = "TAVILY_API_KEY"

Backend = Literal["auto", "duckduckgo", "brave", "tavily"]

_SNIPPET_CHARS = 400


class SearchHit(BaseModel):
    title: str
    url: str
    snippet: str = ""
    date: str | None = None
    type: str | None = None  # Brave's result kind when it is not an ordinary web page (faq, news, ...)


class _SearchProblem(Exception):
    """A failure already phrased for the model; `kind` goes into the result's metadata."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class WebSearchTool(Tool):
    """Search the web; `top_k` results as compact JSON."""

    name = "web_search"
    description = (
        "Search the web for current information (news, facts after your training data, prices, "
        "documentation). Returns the top results as JSON with title, url, snippet and date."
    )

    class Arguments(BaseModel):
        query: str = Field(
            min_length=1,
            max_length=400,
            description="The search query: a few precise keywords or a question.",
        )

    def __init__(
        self,
        backend: Backend = "auto",
        *,
        top_k: int = 3,
        client: httpx.AsyncClient | None = None,
        ddgs: Any | None = None,
        ddgs_backend: str = "auto",
        brave_api_key: str | None = None,
        tavily_api_key: str | None = None,
        region: str = "us-en",
        safesearch: Literal["on", "moderate", "off"] = "moderate",
        timeout: float | None = 20.0,
    ) -> None:
        if backend not in ("auto", "duckduckgo", "brave", "tavily"):
            raise ValueError(f"unknown web_search backend {backend!r}: use auto, duckduckgo, brave or tavily")
        if top_k < 1:
            raise ValueError("top_k must be at least 1")
        self.backend = backend
        self.top_k = top_k
        self.timeout = timeout
        self.region = region
        self.safesearch = safesearch
        self._client = client
        self._owns_client = client is None
        self._ddgs = ddgs
        self.ddgs_backend = ddgs_backend
        self._brave_key = brave_api_key
        self._tavily_key = tavily_api_key

    # --- choosing the back-end -------------------------------------------------------------------

    def _key(self, explicit: str | None, env: str) -> str | None:
        return explicit or os.environ.get(env) or None

    def resolve_backend(self) -> str:
        if self.backend != "auto":
            return self.backend
        if self._key(self._brave_key, BRAVE_KEY_ENV):
            return "brave"
        if self._key(self._tavily_key, TAVILY_KEY_ENV):
            return "tavily"
        return "duckduckgo"

    # --- the call --------------------------------------------------------------------------------

    async def call(self, query: str) -> ToolResult:
        backend = self.resolve_backend()
        try:
            if backend == "brave":
                hits = await self._brave(query)
            elif backend == "tavily":
                hits = await self._tavily(query)
            else:
                hits = await self._duckduckgo(query)
        except _SearchProblem as problem:
            return ToolResult.failure(str(problem), kind=problem.kind, backend=backend, query=query)
        hits = hits[: self.top_k]
        payload: dict[str, Any] = {
            "query": query,
            "backend": backend,
            "results": [hit.model_dump(exclude_none=True) for hit in hits],
        }
        if not hits:
            payload["hint"] = "No results. Try fewer or different keywords, or a more general query."
        return ToolResult(
            content=json.dumps(payload, ensure_ascii=False),
            metadata={"backend": backend, "query": query, "count": len(hits)},
        )

    # --- DuckDuckGo (ddgs) -----------------------------------------------------------------------

    async def _duckduckgo(self, query: str) -> list[SearchHit]:
        try:
            import ddgs  # noqa: F401  (imported here: it is slow to import and only this back-end needs it)
            from ddgs.exceptions import DDGSException, RatelimitException
            from ddgs.exceptions import TimeoutException as DDGSTimeout
        except ImportError as exc:  # pragma: no cover - ddgs is a dependency
            raise _SearchProblem(
                f"the ddgs package is not installed ({exc}); pip install ddgs", "config"
            ) from exc

        def search() -> list[dict[str, Any]]:
            if self._ddgs is not None and hasattr(self._ddgs, "text"):
                client = self._ddgs
            else:
                client = (self._ddgs or _default_ddgs(self.timeout))()
            return client.text(
                query,
                region=self.region,
                safesearch=self.safesearch,
                max_results=self.top_k,
                backend=self.ddgs_backend,
            )

        # ddgs has its own per-request timeout; this bound covers the whole call (several engines).
        budget = None if self.timeout is None else max(self.timeout - 0.5, 0.5)
        try:
            raw = await asyncio.wait_for(asyncio.to_thread(search), timeout=budget)
        except RatelimitException as exc:
            raise _rate_limited("DuckDuckGo", None) from exc
        except (DDGSTimeout, TimeoutError) as exc:
            raise _timed_out("DuckDuckGo") from exc
        except DDGSException as exc:
            text = str(exc)
            lowered = text.lower()
            if "no results" in lowered:
                return []  # ddgs raises instead of returning an empty list
            if "ratelimit" in lowered or "rate limit" in lowered or "429" in lowered:
                raise _rate_limited("DuckDuckGo", None) from exc
            if "timed out" in lowered or "timeout" in lowered:
                raise _timed_out("DuckDuckGo") from exc
            raise _SearchProblem(
                f"Web search failed: {text or type(exc).__name__}. Try again later or rephrase the query.",
                "engine",
            ) from exc
        except OSError as exc:
            raise _network_error("DuckDuckGo", exc) from exc
        hits = []
        for item in raw or []:
            if not isinstance(item, dict):
                continue
            url = item.get("href") or item.get("url")
            title = item.get("title")
            if not url or not title:
                continue
            hits.append(
                SearchHit(
                    title=_clean(title), url=str(url), snippet=_clean(item.get("body")), date=item.get("date")
                )
            )
        return hits

    # --- Brave -----------------------------------------------------------------------------------

    async def _brave(self, query: str) -> list[SearchHit]:
        key = self._key(self._brave_key, BRAVE_KEY_ENV)
        if not key:
            raise _missing_key("Brave", BRAVE_KEY_ENV)
        data = await self._http_json(
            "Brave",
            BRAVE_KEY_ENV,
            "GET",
            BRAVE_URL,
            params={"q": query, "count": min(max(self.top_k, 1), 20)},
            headers={"X-Subscription-Token": key, "Accept": "application/json", "Accept-Encoding": "gzip"},
        )
        return clean_brave_response(data, self.top_k)

    # --- Tavily ----------------------------------------------------------------------------------

    async def _tavily(self, query: str) -> list[SearchHit]:
        key = self._key(self._tavily_key, TAVILY_KEY_ENV)
        if not key:
            raise _missing_key("Tavily", TAVILY_KEY_ENV)
        data = await self._http_json(
            "Tavily",
            TAVILY_KEY_ENV,
            "POST",
            TAVILY_URL,
            json={"query": query, "max_results": self.top_k, "search_depth": "basic"},
            headers={"Authorization": f"Bearer {key}", "Accept": "application/json"},
        )
        hits = []
        for item in data.get("results") or []:
            if isinstance(item, dict) and item.get("url") and item.get("title"):
                hits.append(
                    SearchHit(
                        title=_clean(item["title"]),
                        url=str(item["url"]),
                        snippet=_clean(item.get("content")),
                        date=item.get("published_date") or None,
                    )
                )
        return hits

    # --- HTTP ------------------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout or 20.0), follow_redirects=True
            )
        return self._client

    async def _http_json(
        self, engine: str, key_env: str, method: str, url: str, **kwargs: Any
    ) -> dict[str, Any]:
        try:
            response = await self._http().request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise _timed_out(engine) from exc
        except httpx.TransportError as exc:
            raise _network_error(engine, exc) from exc
        status = response.status_code
        if status == 429:
            raise _rate_limited(engine, response.headers.get("Retry-After"))
        if status in (401, 403):
            raise _SearchProblem(
                f"{engine} search refused the API key (HTTP {status}); check {key_env}.", "auth"
            )
        if status >= 400:
            raise _SearchProblem(
                f"{engine} search failed with HTTP {status}: {_error_detail(response)}. Try again later.",
                "http_error",
            )
        try:
            data = response.json()
        except ValueError as exc:
            raise _SearchProblem(
                f"{engine} search returned a response that is not JSON.", "bad_response"
            ) from exc
        if not isinstance(data, dict):
            raise _SearchProblem(f"{engine} search returned unexpected JSON.", "bad_response")
        return data

    async def close(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None


def clean_brave_response(data: dict[str, Any], top_k: int) -> list[SearchHit]:
    """Brave's response as hits, in the order of its blended ranking `mixed.main`.

    Each `mixed.main` entry names a result list (`web`, `faq`, `infobox`, `videos`, `locations`,
    `news`) and either one `index` into it or `all: true`. Without `mixed`, the web results are used."""
    order = ((data.get("mixed") or {}).get("main")) or [
        {"type": "web", "index": i} for i in range(len((data.get("web") or {}).get("results") or []))
    ]
    hits: list[SearchHit] = []
    for ref in order:
        if len(hits) >= top_k:
            break
        if not isinstance(ref, dict):
            continue
        kind = ref.get("type")
        items = ((data.get(kind) or {}).get("results") or []) if isinstance(kind, str) else []
        if ref.get("all"):
            chosen = items
        else:
            index = ref.get("index")
            chosen = [items[index]] if isinstance(index, int) and 0 <= index < len(items) else []
        for item in chosen:
            hit = _brave_hit(kind, item) if isinstance(item, dict) else None
            if hit is not None:
                hits.append(hit)
    return hits[:top_k]


def _brave_hit(kind: str | None, item: dict[str, Any]) -> SearchHit | None:
    url = item.get("url") or (item.get("profile") or {}).get("url")
    if kind == "faq":
        title, snippet = item.get("question") or item.get("title"), item.get("answer")
    elif kind == "infobox":
        title, snippet = item.get("title"), item.get("long_desc") or item.get("description")
    else:
        title, snippet = item.get("title"), item.get("description")
        extra = item.get("extra_snippets")
        if kind == "web" and isinstance(extra, list) and extra and len(_clean(snippet)) < 120:
            snippet = f"{snippet or ''} {extra[0]}"
    if not url or not title:
        return None
    date = item.get("page_age") or item.get("age") or item.get("date")
    return SearchHit(
        title=_clean(title),
        url=str(url),
        snippet=_clean(snippet),
        date=str(date) if date else None,
        type=None if kind == "web" else kind,
    )


def _default_ddgs(timeout: float | None) -> Callable[[], Any]:
    def make() -> Any:
        from ddgs import DDGS

        return DDGS(timeout=int(min(timeout or 10.0, 10.0)))

    return make


def _clean(text: Any) -> str:
    """Plain one-line text: Brave marks matches with <strong>; snippets are capped at 400 characters."""
    if not text:
        return ""
    value = " ".join(str(text).replace("<strong>", "").replace("</strong>", "").split())
    return value if len(value) <= _SNIPPET_CHARS else value[: _SNIPPET_CHARS - 1].rstrip() + "…"


def _error_detail(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:200] or response.reason_phrase


def _missing_key(engine: str, env: str) -> _SearchProblem:
    return _SearchProblem(
        f"{engine} search needs an API key: set the environment variable {env} "
        "(or use backend='duckduckgo', which needs none).",
        "missing_api_key",
    )


def _rate_limited(engine: str, retry_after: str | None) -> _SearchProblem:
    wait = f" (the service asks to wait {retry_after} s)" if retry_after else ""
    return _SearchProblem(
        f"{engine} search is rate-limited right now{wait}. Do not retry at once: answer from what you "
        "know and say the search was unavailable, or search again later.",
        "rate_limited",
    )


def _timed_out(engine: str) -> _SearchProblem:
    return _SearchProblem(f"{engine} search timed out. Try again with a shorter, simpler query.", "timeout")


def _network_error(engine: str, exc: BaseException) -> _SearchProblem:
    return _SearchProblem(
        f"{engine} search could not reach the service ({type(exc).__name__}: {exc}). The network may be down; "
        "answer from what you know and say the search failed.",
        "network",
    )
