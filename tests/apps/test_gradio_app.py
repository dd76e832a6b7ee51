"""The agent app driven through `gradio_client` over real HTTP on 127.0.0.1, with a scripted model."""

from __future__ import annotations

from gradio_client import Client

from llamasys.apps.gradio_app import build_app, session_history


def text_of(message: dict) -> str:
    """Gradio 6 returns content as a list of {"type": "text", "text": ...} parts."""
    content = message["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def test_a_tool_using_turn_comes_back_with_its_tool_step_and_verdicts(make_agent, serve, multiply_plan):
    agent = make_agent(multiply_plan)
    demo = build_app(agent=agent, title="test agent")
    with serve(demo) as url:
        client = Client(url, verbose=False)
        try:
            job = client.submit({"text": "What is 1234 * 5678?", "files": []}, [], api_name="/chat")
            outputs = job.result(timeout=120)
        finally:
            client.close()
    chat = outputs[0] if isinstance(outputs, tuple | list) and isinstance(outputs[0], list) else outputs
    titles = [(m.get("metadata") or {}).get("title", "") for m in chat]
    assert chat[0]["role"] == "user" and "1234 * 5678" in str(chat[0]["content"])
    tool_box = next(m for m in chat if (m.get("metadata") or {}).get("title", "").startswith("🛠️ multiply"))
    assert tool_box["metadata"]["status"] == "done" and "7006652" in text_of(tool_box)
    assert tool_box["metadata"]["parent_id"]  # nested under its tool step
    # the input shields' step: Llama Guard / Prompt Guard are not installed on this machine, and say so
    shield = next(m for m in chat if "Shields on your message" in (m.get("metadata") or {}).get("title", ""))
    assert "not installed" in text_of(shield)
    assert any("Shields on tool call" in t for t in titles)  # the code scanner judged the call
    answers = [text_of(m) for m in chat if m["role"] == "assistant" and not m.get("metadata")]
    assert answers == ["1234 times 5678 is 7006652."]  # streamed once, not repeated
    # the turn is stored: reopening the session shows the same steps
    (session,) = agent.list_sessions()
    reopened = session_history(agent, session.session_id)
    assert [m["content"] for m in reopened if "metadata" not in m] == [
        "What is 1234 * 5678?",
        "1234 times 5678 is 7006652.",
    ]
    assert any((m.get("metadata") or {}).get("title", "").startswith("🛠️ multiply ✅") for m in reopened)


def test_stop_cancels_the_running_turn(make_agent, serve):
    import asyncio
    import time

    from llamasys.core_model.messages import ToolCall
    from llamasys.tools import tool

    @tool(timeout=120)
    async def wait_for_news(topic: str) -> str:
        """Wait until there is news on a topic.

        Args:
            topic: What to wait for.
        """
        await asyncio.sleep(100)
        return "news"

    agent = make_agent(
        [ToolCall(tool_name="wait_for_news", arguments={"topic": "llamas"}), "never said"],
        tools=[wait_for_news],
    )
    with serve(build_app(agent=agent)) as url:
        client = Client(url, verbose=False)
        try:
            job = client.submit(
                {"text": "Tell me when there is llama news.", "files": []}, [], api_name="/chat"
            )
            deadline = time.monotonic() + 60
            while not any("Running wait_for_news" in str(o) for o in job.outputs()):
                assert time.monotonic() < deadline, "the tool never started"
                time.sleep(0.2)
            client.predict(api_name="/stop")
            chat = job.result(timeout=60)[0]
        finally:
            client.close()
    assert text_of(chat[-1]) in ("⏹️ Stopped.", "⏹️ Stopped")
    (session,) = agent.list_sessions()
    (turn,) = agent.store.list_turns(session.session_id)
    assert turn.status == "cancelled"


def test_the_page_says_when_shields_are_missing_and_when_the_model_is_a_small_one():
    from llamasys.apps.agent_factory import MissingShield
    from llamasys.apps.config import load_settings
    from llamasys.apps.gradio_app.app import model_note, shield_banner

    missing = MissingShield(
        shield="llama_guard",
        model="llama-guard-3-1b",
        command="llamasys model download llama-guard-3-1b",
        reason="not downloaded",
    )
    banner = shield_banner([missing])
    assert (
        "**llama_guard** (`llama-guard-3-1b`)" in banner
        and "`llamasys model download llama-guard-3-1b`" in banner
    )
    assert shield_banner([]) == ""
    assert "135M parameters" in model_note(load_settings(overrides={"model": "smollm2-135m-instruct"}))
    assert model_note(load_settings(overrides={"model": "llama3.1-8b-instruct"})) == ""
    assert model_note(load_settings(overrides={"server_url": "http://127.0.0.1:8000/v1"})) == ""
