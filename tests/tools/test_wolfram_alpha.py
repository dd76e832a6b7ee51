"""wolfram_alpha: the v2 query request, Meta's trimming of the JSON answer, and the error paths."""

import copy
import json

import httpx
import pytest

from llamasys.tools import WolframAlphaTool
from llamasys.tools.wolfram_alpha import trim_wolfram_response

# The shape of a real `output=json&format=plaintext` answer (keys, types and nesting as the API sends them).
SOLVE_RESPONSE = {
    "queryresult": {
        "success": True,
        "error": False,
        "numpods": 5,
        "datatypes": "Solve",
        "timedout": "",
        "timedoutpods": "",
        "timing": 1.379,
        "parsetiming": 0.264,
        "parsetimedout": False,
        "recalculate": "",
        "id": "MSP16641h3f1b5a6g0fi4b00004i4a66ig0bcd3a8g",
        "host": "https://www6b3.wolframalpha.com",
        "server": "29",
        "related": "https://www6b3.wolframalpha.com/api/v1/relatedQueries.jsp?id=MSPa16651",
        "version": "2.6",
        "inputstring": "solve x^2 + 2x - 3 = 0",
        "pods": [
            {
                "title": "Input interpretation",
                "scanner": "Identity",
                "id": "Input",
                "position": 100,
                "error": False,
                "numsubpods": 1,
                "subpods": [{"title": "", "plaintext": "solve x^2 + 2 x - 3 = 0"}],
                "expressiontypes": {"name": "Default"},
            },
            {
                "title": "Result",
                "scanner": "Solve",
                "id": "Result",
                "position": 200,
                "error": False,
                "numsubpods": 2,
                "primary": True,
                "subpods": [{"title": "", "plaintext": "x = -3"}, {"title": "", "plaintext": "x = 1"}],
                "expressiontypes": [{"name": "Default"}, {"name": "Default"}],
                "states": [{"name": "Step-by-step solution", "input": "Result__Step-by-step solution"}],
                "infos": {"text": "x is the variable"},
            },
            {
                "title": "Root plot",
                "scanner": "Solve",
                "id": "RootPlot",
                "position": 300,
                "error": False,
                "numsubpods": 1,
                "subpods": [{"title": "", "plaintext": ""}],
                "expressiontypes": {"name": "Default"},
            },
            {
                "title": "Sum of roots",
                "scanner": "Solve",
                "id": "SumOfRoots",
                "position": 400,
                "error": False,
                "numsubpods": 1,
                "subpods": [{"title": "", "plaintext": "-2"}],
                "expressiontypes": {"name": "Default"},
            },
        ],
        "assumptions": {
            "type": "Clash",
            "word": "x",
            "template": "Assuming ${desc1}",
            "count": 2,
            "values": [],
        },
    }
}

EXPECTED_TRIMMED = {
    "queryresult": {
        "success": True,
        "inputstring": "solve x^2 + 2x - 3 = 0",
        "pods": [
            {
                "title": "Input interpretation",
                "subpods": [{"title": "", "plaintext": "solve x^2 + 2 x - 3 = 0"}],
            },
            {
                "title": "Result",
                "primary": True,
                "subpods": [{"title": "", "plaintext": "x = -3"}, {"title": "", "plaintext": "x = 1"}],
            },
        ],
    }
}


def test_trimming_matches_metas_rules_exactly():
    original = copy.deepcopy(SOLVE_RESPONSE)
    assert trim_wolfram_response(SOLVE_RESPONSE) == EXPECTED_TRIMMED
    assert original == SOLVE_RESPONSE  # the input is left alone


def test_without_a_result_pod_every_pod_stays():
    response = copy.deepcopy(SOLVE_RESPONSE)
    for pod in response["queryresult"]["pods"]:
        if pod["title"] == "Result":
            pod["title"] = "Solutions"
    trimmed = trim_wolfram_response(response)
    assert [p["title"] for p in trimmed["queryresult"]["pods"]] == [
        "Input interpretation",
        "Solutions",
        "Root plot",
        "Sum of roots",
    ]
    assert all(set(p) <= {"title", "subpods", "primary"} for p in trimmed["queryresult"]["pods"])


async def test_request_and_trimmed_content():
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, json=SOLVE_RESPONSE)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        tool = WolframAlphaTool(api_key="APPID-1", client=client)
        result = await tool.run(query="solve x^2 + 2x - 3 = 0")
    request = seen[0]
    assert request.method == "GET"
    assert request.url.copy_with(query=None) == "https://api.wolframalpha.com/v2/query"
    assert dict(request.url.params) == {
        "input": "solve x^2 + 2x - 3 = 0",
        "appid": "APPID-1",
        "format": "plaintext",
        "output": "json",
    }
    assert not result.error
    assert json.loads(result.content) == EXPECTED_TRIMMED
    assert result.metadata == {"success": True, "query": "solve x^2 + 2x - 3 = 0"}


async def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("WOLFRAM_ALPHA_API_KEY", raising=False)
    tool = WolframAlphaTool()
    result = await tool.run(query="2+2")
    assert result.error and result.metadata["kind"] == "missing_api_key"
    assert "WOLFRAM_ALPHA_API_KEY" in result.content
    assert tool.definition.parameters["required"] == ["query"]


async def test_key_is_read_from_the_environment_at_call_time(monkeypatch):
    monkeypatch.delenv("WOLFRAM_ALPHA_API_KEY", raising=False)
    appids = []

    def handler(request):
        appids.append(request.url.params["appid"])
        return httpx.Response(200, json=SOLVE_RESPONSE)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        tool = WolframAlphaTool(client=client)
        monkeypatch.setenv("WOLFRAM_ALPHA_API_KEY", "LATE-KEY")
        assert not (await tool.run(query="2+2")).error
    assert appids == ["LATE-KEY"]


@pytest.mark.parametrize(
    ("response", "kind", "text"),
    [
        (
            httpx.Response(
                200, json={"queryresult": {"success": False, "error": {"code": "1", "msg": "Invalid appid"}}}
            ),
            "auth",
            "Invalid appid. Check WOLFRAM_ALPHA_API_KEY",
        ),
        (
            httpx.Response(
                200, json={"queryresult": {"success": False, "error": {"code": "1000", "msg": "busy"}}}
            ),
            "engine",
            "busy",
        ),
        (httpx.Response(429), "rate_limited", "rate-limited"),
        (httpx.Response(403), "auth", "WOLFRAM_ALPHA_API_KEY"),
        (httpx.Response(500), "http_error", "HTTP 500"),
        (httpx.Response(200, text="Error 1: Invalid appid"), "bad_response", "not JSON"),
        (httpx.Response(200, json={"unexpected": True}), "bad_response", "without a queryresult"),
    ],
)
async def test_failures_are_error_results(response, kind, text):
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: response)) as client:
        result = await WolframAlphaTool(api_key="k", client=client).run(query="2+2")
    assert result.error and result.metadata["kind"] == kind
    assert text in result.content


async def test_transport_failures_are_error_results():
    def timeout(request):
        raise httpx.ReadTimeout("slow")

    def refused(request):
        raise httpx.ConnectError("refused")

    for handler, kind in ((timeout, "timeout"), (refused, "network")):
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            result = await WolframAlphaTool(api_key="k", client=client).run(query="2+2")
        assert result.error and result.metadata["kind"] == kind


async def test_a_query_it_does_not_understand_gets_a_hint_with_suggestions():
    response = {
        "queryresult": {
            "success": False,
            "error": False,
            "numpods": 0,
            "datatypes": "",
            "timing": 0.4,
            "id": "",
            "version": "2.6",
            "inputstring": "integrte x^2",
            "didyoumeans": {"score": "0.8", "level": "medium", "val": "integrate x^2"},
        }
    }
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=response))
    ) as c:
        result = await WolframAlphaTool(api_key="k", client=c).run(query="integrte x^2")
    payload = json.loads(result.content)
    assert result.metadata["success"] is False
    assert "Did you mean: integrate x^2?" in payload["hint"]
    assert set(payload["queryresult"]) == {"success", "inputstring", "didyoumeans"}
