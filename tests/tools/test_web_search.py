"""web_search: DuckDuckGo through a stubbed ddgs client, Brave and Tavily through httpx MockTransport.
No test touches the network."""

import json
import time

import httpx
import pytest
from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException

from llamasys.tools import WebSearchTool

# --- DuckDuckGo (ddgs) ----------------------------------------------------------------------------


class FakeDDGS:
    """Stands in for ddgs.DDGS: records the call, returns canned results or raises like ddgs does."""

    def __init__(self, results=None, error=None, delay=0.0):
        self.results, self.error, self.delay = results or [], error, delay
        self.calls = []

    def text(self, query, **kwargs):
        self.calls.append((query, kwargs))
        if self.delay:
            time.sleep(self.delay)
        if self.error:
            raise self.error
        return self.results


DDG_RESULTS = [
    {
        "title": "Llama 3.1 - Meta AI",
        "href": "https://ai.meta.com/llama/",
        "body": "Meet  Llama 3.1,\n our most",
    },
    {
        "title": "meta-llama/Llama-3.1-8B",
        "href": "https://huggingface.co/meta-llama/Llama-3.1-8B",
        "body": "x" * 900,
    },
    {"title": "no url", "body": "dropped"},
]


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch):
    for name in ("BRAVE_SEARCH_API_KEY", "TAVILY_API_KEY"):
        monkeypatch.delenv(name, raising=False)


async def test_duckduckgo_results_are_compact_json():
    fake = FakeDDGS(DDG_RESULTS)
    tool = WebSearchTool(ddgs=fake, top_k=5)
    result = await tool.run(query="llama 3.1")
    assert not result.error
    assert fake.calls == [
        ("llama 3.1", {"region": "us-en", "safesearch": "moderate", "max_results": 5, "backend": "auto"})
    ]
    payload = json.loads(result.content)
    assert payload["query"] == "llama 3.1" and payload["backend"] == "duckduckgo"
    assert payload["results"][0] == {
        "title": "Llama 3.1 - Meta AI",
        "url": "https://ai.meta.com/llama/",
        "snippet": "Meet Llama 3.1, our most",
    }
    assert len(payload["results"]) == 2  # the hit without a URL is dropped
    assert len(payload["results"][1]["snippet"]) == 400 and payload["results"][1]["snippet"].endswith("…")
    assert result.metadata == {"backend": "duckduckgo", "query": "llama 3.1", "count": 2}


async def test_top_k_caps_the_results_and_a_factory_is_accepted():
    fake = FakeDDGS(DDG_RESULTS)
    result = await WebSearchTool(ddgs=lambda: fake, top_k=1, ddgs_backend="duckduckgo").run(query="llama")
    assert [r["url"] for r in json.loads(result.content)["results"]] == ["https://ai.meta.com/llama/"]
    assert fake.calls[0][1]["max_results"] == 1 and fake.calls[0][1]["backend"] == "duckduckgo"


async def test_ddgs_no_results_exception_is_an_empty_result_with_a_hint():
    result = await WebSearchTool(ddgs=FakeDDGS(error=DDGSException("No results found."))).run(query="zzqx")
    assert not result.error
    payload = json.loads(result.content)
    assert payload["results"] == [] and "Try fewer or different keywords" in payload["hint"]


@pytest.mark.parametrize(
    ("error", "kind", "text"),
    [
        (RatelimitException("202 Ratelimit"), "rate_limited", "rate-limited"),
        (
            DDGSException("https://html.duckduckgo.com/html 429 Too Many Requests"),
            "rate_limited",
            "rate-limited",
        ),
        (TimeoutException("timed out"), "timeout", "timed out"),
        (DDGSException("Engine failed: 403 Forbidden"), "engine", "Web search failed: Engine failed: 403"),
        (ConnectionError("Network is unreachable"), "network", "could not reach"),
    ],
)
async def test_ddgs_failures_become_error_results_with_a_hint(error, kind, text):
    result = await WebSearchTool(ddgs=FakeDDGS(error=error)).run(query="llama")
    assert result.error and result.metadata["kind"] == kind
    assert text in result.content


async def test_a_hanging_ddgs_call_is_cut_by_the_timeout():
    tool = WebSearchTool(ddgs=FakeDDGS(DDG_RESULTS, delay=1.5), timeout=0.6)
    result = await tool.run(query="llama")
    assert result.error and result.metadata["kind"] == "timeout"


async def test_empty_query_is_rejected_before_searching():
    fake = FakeDDGS(DDG_RESULTS)
    result = await WebSearchTool(ddgs=fake).run(query="")
    assert result.error and "query" in result.content and fake.calls == []


# --- Brave --------------------------------------------------------------------------------------

BRAVE_RESPONSE = {
    "type": "search",
    "query": {"original": "llama 3.1 release", "more_results_available": True},
    "mixed": {
        "type": "mixed",
        "main": [
            {"type": "web", "index": 0, "all": False},
            {"type": "faq", "all": True},
            {"type": "web", "index": 1, "all": False},
            {"type": "news", "all": True},
        ],
        "top": [],
        "side": [],
    },
    "web": {
        "type": "search",
        "results": [
            {
                "title": "Introducing <strong>Llama 3.1</strong>: Our most capable models",
                "url": "https://ai.meta.com/blog/meta-llama-3-1/",
                "description": "Meta releases <strong>Llama 3.1</strong> 405B, the largest openly available model.",
                "page_age": "2024-07-23T15:00:00",
                "age": "July 23, 2024",
                "language": "en",
                "family_friendly": True,
                "profile": {"name": "Meta AI", "url": "https://ai.meta.com"},
                "extra_snippets": ["Llama 3.1 supports eight languages."],
            },
            {
                "title": "Llama 3.1 on Hugging Face",
                "url": "https://huggingface.co/blog/llama31",
                "description": "Short.",
            },
        ],
    },
    "faq": {
        "type": "faq",
        "results": [
            {
                "question": "When was Llama 3.1 released?",
                "answer": "On July 23, 2024.",
                "title": "Llama FAQ",
                "url": "https://example.org/faq#1",
            },
            {
                "question": "Is it open?",
                "answer": "The weights are downloadable.",
                "url": "https://example.org/faq#2",
            },
        ],
    },
    "news": {
        "type": "news",
        "results": [{"title": "News", "url": "https://news.example/x", "description": "n"}],
    },
}


def _mock_client(handler):
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_brave_request_and_mixed_ranking():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=BRAVE_RESPONSE)

    async with _mock_client(handler) as client:
        tool = WebSearchTool("brave", brave_api_key="brave-key", client=client, top_k=4)
        result = await tool.run(query="llama 3.1 release")
    request = seen[0]
    assert request.method == "GET"
    assert str(request.url).startswith("https://api.search.brave.com/res/v1/web/search?")
    assert request.url.params["q"] == "llama 3.1 release" and request.url.params["count"] == "4"
    assert request.headers["X-Subscription-Token"] == "brave-key"
    assert request.headers["Accept"] == "application/json"

    payload = json.loads(result.content)
    assert payload["backend"] == "brave"
    assert payload["results"] == [
        {
            "title": "Introducing Llama 3.1: Our most capable models",
            "url": "https://ai.meta.com/blog/meta-llama-3-1/",
            "snippet": "Meta releases Llama 3.1 405B, the largest openly available model. "
            "Llama 3.1 supports eight languages.",
            "date": "2024-07-23T15:00:00",
        },
        {
            "title": "When was Llama 3.1 released?",
            "url": "https://example.org/faq#1",
            "snippet": "On July 23, 2024.",
            "type": "faq",
        },
        {
            "title": "Is it open?",
            "url": "https://example.org/faq#2",
            "snippet": "The weights are downloadable.",
            "type": "faq",
        },
        {
            "title": "Llama 3.1 on Hugging Face",
            "url": "https://huggingface.co/blog/llama31",
            "snippet": "Short.",
        },
    ]


async def test_brave_key_from_the_environment_makes_it_the_auto_backend(monkeypatch):
    monkeypatch.setenv("BRAVE_SEARCH_API_KEY", "env-key")
    tokens = []

    def handler(request):
        tokens.append(request.headers["X-Subscription-Token"])
        return httpx.Response(200, json={"web": {"results": BRAVE_RESPONSE["web"]["results"]}})

    async with _mock_client(handler) as client:
        tool = WebSearchTool(client=client, ddgs=FakeDDGS(error=AssertionError("ddgs must not be used")))
        assert tool.resolve_backend() == "brave"
        result = await tool.run(query="llama")
    assert tokens == ["env-key"]
    assert [r["url"] for r in json.loads(result.content)["results"]] == [
        "https://ai.meta.com/blog/meta-llama-3-1/",
        "https://huggingface.co/blog/llama31",
    ]


async def test_brave_without_a_key_names_the_variable():
    tool = WebSearchTool("brave")
    result = await tool.run(query="llama")
    assert result.error and result.metadata["kind"] == "missing_api_key"
    assert "BRAVE_SEARCH_API_KEY" in result.content
    assert tool.definition.name == "web_search"  # the definition needs no key


@pytest.mark.parametrize(
    ("response", "kind", "text"),
    [
        (httpx.Response(429, headers={"Retry-After": "2"}), "rate_limited", "wait 2 s"),
        (httpx.Response(401, json={"error": "bad token"}), "auth", "check BRAVE_SEARCH_API_KEY"),
        (httpx.Response(503, text="upstream down"), "http_error", "HTTP 503: upstream down"),
        (httpx.Response(200, text="<html>not json</html>"), "bad_response", "not JSON"),
        (httpx.Response(200, json=["a", "list"]), "bad_response", "unexpected JSON"),
    ],
)
async def test_brave_http_failures_are_error_results(response, kind, text):
    async with _mock_client(lambda request: response) as client:
        result = await WebSearchTool("brave", brave_api_key="k", client=client).run(query="llama")
    assert result.error and result.metadata["kind"] == kind
    assert text in result.content


@pytest.mark.parametrize(
    ("exception", "kind"),
    [(httpx.ReadTimeout("read timed out"), "timeout"), (httpx.ConnectError("connection refused"), "network")],
)
async def test_brave_transport_failures_are_error_results(exception, kind):
    def handler(request):
        raise exception

    async with _mock_client(handler) as client:
        result = await WebSearchTool("brave", brave_api_key="k", client=client).run(query="llama")
    assert result.error and result.metadata["kind"] == kind


async def test_brave_with_no_results_gives_a_hint():
    async with _mock_client(
        lambda r: httpx.Response(200, json={"type": "search", "web": {"results": []}})
    ) as c:
        result = await WebSearchTool("brave", brave_api_key="k", client=c).run(query="zzqx")
    assert not result.error and json.loads(result.content)["results"] == []
    assert "hint" in json.loads(result.content)


# --- Tavily -------------------------------------------------------------------------------------

TAVILY_RESPONSE = {
    "query": "llama guard 3 categories",
    "answer": None,
    "images": [],
    "results": [
        {
            "title": "Llama Guard 3 model card",
            "url": "https://github.com/meta-llama/PurpleLlama/blob/main/Llama-Guard3/8B/MODEL_CARD.md",
            "content": "Llama Guard 3 classifies 14 hazard categories S1-S14.",
            "score": 0.91,
            "raw_content": None,
        },
        {
            "title": "News item",
            "url": "https://news.example/guard",
            "content": "c",
            "score": 0.5,
            "published_date": "Tue, 23 Jul 2024 15:00:00 GMT",
        },
    ],
    "response_time": 1.02,
}


async def test_tavily_request_and_results(monkeypatch):
    monkeypatch.setenv("TAVILY_API_KEY", "tvly-test")
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, json=TAVILY_RESPONSE)

    async with _mock_client(handler) as client:
        tool = WebSearchTool(client=client, top_k=2)
        assert tool.resolve_backend() == "tavily"
        result = await tool.run(query="llama guard 3 categories")
    request = seen[0]
    assert request.method == "POST" and str(request.url) == "https://api.tavily.com/search"
    assert request.headers["Authorization"] == "Bearer tvly-test"
    assert json.loads(request.content) == {
        "query": "llama guard 3 categories",
        "max_results": 2,
        "search_depth": "basic",
    }
    assert json.loads(result.content)["results"] == [
        {
            "title": "Llama Guard 3 model card",
            "url": "https://github.com/meta-llama/PurpleLlama/blob/main/Llama-Guard3/8B/MODEL_CARD.md",
            "snippet": "Llama Guard 3 classifies 14 hazard categories S1-S14.",
        },
        {
            "title": "News item",
            "url": "https://news.example/guard",
            "snippet": "c",
            "date": "Tue, 23 Jul 2024 15:00:00 GMT",
        },
    ]


async def test_tavily_without_a_key_names_the_variable_and_bad_key_is_reported():
    missing = await WebSearchTool("tavily").run(query="x")
    assert missing.error and "TAVILY_API_KEY" in missing.content
    async with _mock_client(
        lambda r: httpx.Response(401, json={"detail": {"error": "Unauthorized"}})
    ) as client:
        refused = await WebSearchTool("tavily", tavily_api_key="bad", client=client).run(query="x")
    assert refused.error and refused.metadata["kind"] == "auth" and "TAVILY_API_KEY" in refused.content


def test_bad_configuration_is_refused_at_construction():
    with pytest.raises(ValueError, match="unknown web_search backend 'bing'"):
        WebSearchTool("bing")
    with pytest.raises(ValueError, match="top_k"):
        WebSearchTool(top_k=0)
