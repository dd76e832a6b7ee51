"""Every sample app starts on 127.0.0.1 and answers one scripted question through gradio_client.

The model is a ScriptedBackend; the tools are real: the sandboxed code interpreter, the memory bank
with MiniLM embeddings on a SQLite file, the code scanner, the approval and client-tool pauses."""

from __future__ import annotations

import json

from gradio_client import Client, handle_file

from llamasys.agentic.backend_scripted import ScriptedBackend
from llamasys.core_model.messages import ToolCall


def text_of(message: dict) -> str:
    content = message["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return json.dumps(content) if isinstance(content, dict) else str(content)


def title(message: dict) -> str:
    return (message.get("metadata") or {}).get("title", "")


def answers(chat: list[dict]) -> list[str]:
    return [text_of(m) for m in chat if m["role"] == "assistant" and not m.get("metadata")]


def ask(url: str, text: str, files=(), client: Client | None = None) -> list[dict]:
    own = client is None
    client = client or Client(url, verbose=False)
    try:
        out = client.predict({"text": text, "files": [handle_file(f) for f in files]}, [], api_name="/chat")
    finally:
        if own:
            client.close()
    return out[0]


class FakeDDGS:
    """Stands in for the DuckDuckGo client (no network in tests): same `.text(...)` call and result keys."""

    def text(self, query, **kwargs):
        return [
            {
                "title": "Llama 3.1 announced",
                "href": "https://ai.example/llama-3-1",
                "body": "Released July 23, 2024.",
            }
        ]


def test_research_assistant_searches_and_cites(tmp_path, serve):
    from llamasys.apps.samples import research_assistant
    from llamasys.tools import WebSearchTool

    backend = ScriptedBackend(
        [
            ToolCall(tool_name="web_search", arguments={"query": "Llama 3.1 release date"}),
            "Llama 3.1 was released on July 23, 2024 [1].\n\nSources:\n[1] Llama 3.1 announced - https://ai.example/llama-3-1",
        ]
    )
    demo = research_assistant.build_app(
        backend=backend, search=WebSearchTool(ddgs=FakeDDGS()), store=f"sqlite:///{tmp_path / 'a.db'}"
    )
    with serve(demo) as url:
        chat = ask(url, "When was Llama 3.1 released?")
    search = next(m for m in chat if title(m).startswith("🛠️ web_search"))
    assert "https://ai.example/llama-3-1" in text_of(search)
    assert answers(chat)[-1].startswith("Llama 3.1 was released on July 23, 2024 [1].")
    assert backend.requests[0].messages[0].content == research_assistant.INSTRUCTIONS


def test_data_analyst_reads_the_csv_and_the_plot_comes_back_inline(tmp_path, serve):
    from llamasys.apps.samples import data_analyst

    csv = tmp_path / "sales.csv"
    csv.write_text("month,total\nJan,120\nFeb,90\nMar,200\n")
    code = (
        "import pandas as pd, matplotlib.pyplot as plt\n"
        "df = pd.read_csv('sales.csv')\n"
        "print(df.loc[df.total.idxmax(), 'month'], df.total.sum())\n"
        "df.plot(x='month', y='total', kind='bar'); plt.show()"
    )
    backend = ScriptedBackend(
        [ToolCall(tool_name="code_interpreter", arguments={"code": code}), "March is best (200)."]
    )
    demo = data_analyst.build_app(backend=backend, store=f"sqlite:///{tmp_path / 'a.db'}")
    with serve(demo) as url:
        chat = ask(url, "Which month is best? Plot it.", files=[csv])
    run = next(m for m in chat if title(m).startswith("🛠️ code_interpreter"))
    assert "Mar 410" in text_of(run)  # computed in the sandbox from the uploaded file
    files = [
        p for m in chat if isinstance(m["content"], list) for p in m["content"] if p.get("type") == "file"
    ]
    images = [f for f in files if str(f["file"]).endswith(".png")]
    assert images, "the matplotlib figure is shown in the chat"
    assert "sales.csv" in backend.requests[0].messages[-1].content  # the model was told where the file is
    assert answers(chat)[-1] == "March is best (200)."


def test_document_qa_ingests_the_document_and_answers_from_the_passage(tmp_path, serve):
    from llamasys.apps.samples import document_qa
    from llamasys.tools.memory import MemoryStore

    doc = tmp_path / "handbook.md"
    doc.write_text(
        "# Handbook\n\n## Leave\n\nNew staff get 25 vacation days a year.\n\n## Travel\n\nBook trains.\n"
    )
    backend = ScriptedBackend(
        [
            ToolCall(tool_name="knowledge_search", arguments={"query": "vacation days new staff"}),
            "25 days (handbook.md, 'New staff get').",
        ]
    )
    memory = MemoryStore(f"sqlite:///{tmp_path / 'memory.db'}")
    demo = document_qa.build_app(backend=backend, memory=memory, store=f"sqlite:///{tmp_path / 'a.db'}")
    with serve(demo) as url:
        chat = ask(url, "How many vacation days do new staff get?", files=[doc])
    assert any(title(m) == "📚 Memory: ingested handbook.md" for m in chat)
    search = next(m for m in chat if title(m).startswith("🛠️ knowledge_search"))
    assert "25 vacation days" in text_of(search)
    assert answers(chat)[-1] == "25 days (handbook.md, 'New staff get')."


def test_moderation_console_shows_each_verdict_with_its_score(tmp_path, serve):
    from llamasys.apps.samples import moderation_console
    from llamasys.safety import CodeShield, LlamaGuard

    shields = [CodeShield(), LlamaGuard(tmp_path / "no-guard-here", on_unavailable="warn")]
    with serve(moderation_console.build_app(shields=shields)) as url:
        client = Client(url, verbose=False)
        try:
            table = client.predict("import os\nos.system('rm -rf /')", "code to run", api_name="/check_text")
        finally:
            client.close()
    rows = {row[0]: row for row in table["data"]}
    assert rows["code_shield"][1] == "BLOCK" and rows["code_shield"][2]  # with the pattern ids
    assert rows["llama_guard"][1] == "not installed / unavailable"
    assert (
        moderation_console.parse_conversation("user: hi\nassistant: hello\nmore")[1].content == "hello\nmore"
    )


def test_custom_tool_app_pauses_for_the_client_tool_and_the_approval(tmp_path, serve):
    from llamasys.apps.samples import custom_tool_app

    custom_tool_app.BOOKINGS.clear()
    backend = ScriptedBackend(
        [
            ToolCall(call_id="loc", tool_name="get_user_location", arguments={}),
            ToolCall(
                call_id="bk",
                tool_name="book_table",
                arguments={"restaurant": "Luigi's", "people": 2, "time": "20:00"},
            ),
            "Booked Luigi's for 2 at 20:00 in Lisbon.",
        ]
    )
    demo = custom_tool_app.build_app(backend=backend, plugins=[], store=f"sqlite:///{tmp_path / 'a.db'}")
    with serve(demo) as url:
        client = Client(url, verbose=False)
        try:
            chat = ask(url, "Book a table for 2 at Luigi's at 20:00 near me.", client=client)
            assert "runs on your side" in text_of(chat[-1])  # the client-side tool paused the turn
            chat = ask(url, "Lisbon", client=client)  # the answer to get_user_location
            buttons = chat[-1].get("options") or []
            assert [b["value"] for b in buttons] == ["approve:bk", "deny:bk"]
            assert custom_tool_app.BOOKINGS == []  # nothing runs before the approval
            chat = client.predict("approve:bk", chat, api_name="/decide")  # what the Approve button sends
        finally:
            client.close()
    assert custom_tool_app.BOOKINGS == [{"restaurant": "Luigi's", "people": 2, "time": "20:00"}]
    assert answers(chat)[-1] == "Booked Luigi's for 2 at 20:00 in Lisbon."
    fed = backend.requests[1].messages
    assert any(m.role == "tool" and m.content == "Lisbon" for m in fed)
