"""A real headless Chromium (Debian's chromium + chromium-driver, through selenium) uses the agent app:
it sends a message, watches the answer stream in, sees the tool step and the plot, and takes the
screenshot the README shows (written to $LLAMASYS_SCREENSHOT when that is set)."""

from __future__ import annotations

import asyncio
import os
import shutil
import time

import pytest
from support import require_in_ci

from llamasys.agentic import Agent
from llamasys.agentic.backend_scripted import ScriptedBackend
from llamasys.apps.agent_factory import missing_shields
from llamasys.apps.config import load_settings
from llamasys.apps.gradio_app import build_app
from llamasys.core_model.messages import ToolCall
from llamasys.tools.code_interpreter import CodeInterpreter

CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1500",
)
CODE = """import matplotlib.pyplot as plt
squares = [n * n for n in range(1, 11)]
print("sum of the first 10 squares:", sum(squares))
plt.plot(range(1, 11), squares, marker="o"); plt.title("n²"); plt.show()"""
ANSWER = "The sum of the squares of 1 to 10 is 385, computed by the code interpreter; the plot shows how they grow."


class SlowScriptedBackend(ScriptedBackend):
    """A scripted model that writes its words at a reading pace, so the browser can watch them stream."""

    async def stream(self, *args, **kwargs):
        async for chunk in super().stream(*args, **kwargs):
            await asyncio.sleep(0.3)
            yield chunk


@pytest.fixture
def browser(tmp_path):
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        require_in_ci("Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chrome-profile'}")
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(predicate, timeout=90.0, every=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"gave up after {timeout} s waiting for {predicate.__doc__ or predicate}")


def test_the_browser_sees_a_streamed_answer_and_the_tool_step(tmp_path, browser, serve):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    backend = SlowScriptedBackend([ToolCall(tool_name="code_interpreter", arguments={"code": CODE}), ANSWER])
    agent = Agent(backend, tools=[CodeInterpreter()], store=f"sqlite:///{tmp_path / 'agents.db'}")
    demo = build_app(
        factory=lambda settings: agent, title="llamasys agent"
    )  # the full app, settings panel too
    with serve(demo) as url:
        browser.get(url)
        box = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#agent-input textarea"), 60)[0]
        box.send_keys("What is the sum of the squares of 1 to 10? Plot them.")
        box.send_keys(Keys.ENTER)

        def chat_text():
            """the chat panel's text"""
            return browser.execute_script("return document.getElementById('agent-chat').innerText")

        seen = []

        def answered():
            """the whole answer"""
            text = chat_text()
            if "The sum of the squares" in text:
                seen.append(text[text.index("The sum of the squares") :])
            return ANSWER in text

        wait_for(answered, 120, every=0.05)
        partial = [s for s in seen if not s.startswith(ANSWER)]
        assert partial, f"the answer appeared at once instead of streaming ({len(seen)} looks)"

        # the answer streams before the output shields have run: wait for their step, then read the panel
        def answer_shielded():
            """the output shields' step"""
            return "Shields on the answer" in chat_text()

        wait_for(answer_shielded, 60)
        text = chat_text()
        assert "🛠️ Tools: code_interpreter" in text  # the tool step, done (closed: its calls inside)
        assert "Shields on your message" in text and "Shields on the answer" in text

        def plots():
            """a loaded image (the plot) in the chat"""
            images = browser.find_elements(By.CSS_SELECTOR, "#agent-chat img")
            return [i for i in images if i.get_attribute("naturalWidth") not in (None, "0")]

        wait_for(plots, 30)
        # open the tool step, then its call, so the screenshot shows the code and what it printed
        for label in ("Tools: code_interpreter", "code_interpreter ✅"):
            found = wait_for(
                lambda label=label: browser.find_elements(By.XPATH, f"//*[contains(text(), '{label}')]"), 10
            )
            browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", found[-1])
            found[-1].click()
        wait_for(lambda: "sum of the first 10 squares: 385" in chat_text(), 10)
        assert "Shields on tool call: ✅" in chat_text()  # the code scanner's verdict, nested under the call
        top = browser.find_elements(By.XPATH, "//*[contains(text(), 'Model: calls code_interpreter')]")[-1]
        browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", top)
        time.sleep(0.5)  # let the scroll settle before the picture
        banner = browser.find_element(By.ID, "shield-banner").text
        for missing in missing_shields(load_settings()):  # the shields whose models are not installed
            assert missing.command in banner
        shot = tmp_path / "app.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        target = os.environ.get("LLAMASYS_SCREENSHOT")
        if target:
            shutil.copyfile(shot, target)
