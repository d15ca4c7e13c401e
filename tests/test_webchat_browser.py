"""The chat page in headless Chromium: Debian's browser, driven by Playwright (no download).

One story, as a user lives it on a phone-sized screen: open the page, send "hi" with
the keyboard, see the reply and the emotion badge, reload and see the history, live
through a server restart and keep talking in the same conversation. Screenshots go
to test-artifacts/.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Iterator, List, Optional

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.servers import PROJECT_ROOT, socketio_conversation

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
PHONE = {"width": 390, "height": 844}
REPLY_TIMEOUT_MS = 60_000
RECONNECT_TIMEOUT_MS = 60_000

# Records whether the typing indicator was ever shown: the bot can answer faster
# than a test could poll for it.
WATCH_TYPING = """() => {
  window.typingSeen = false;
  const typing = document.getElementById("typing");
  new MutationObserver(() => { if (!typing.hidden) window.typingSeen = true; })
    .observe(typing, { attributes: true });
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed for the browser test: run `make setup`.")
    # Chromium refuses its sandbox as root (containers, CI runners).
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield browser
        browser.close()


def user_texts(tracker: dict) -> List[str]:
    return [e["text"] for e in tracker["events"] if e["event"] == "user"]


def emotion_read(tracker: dict) -> Optional[str]:
    entities = (tracker.get("latest_message") or {}).get("entities", [])
    return next((e["value"] for e in entities if e["entity"] == "emotion"), None)


def send(page: Page, text: str) -> None:
    """Type and press Enter, keyboard only."""
    page.get_by_label("Message to Kai").focus()
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def test_chat_page_talks_reloads_and_reconnects(channel_stack, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    errors: List[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{channel_stack.rasa.url}/webhooks/webchat")  # the redirect adds the slash
    status = page.locator("#status")
    expect(status).to_have_attribute("data-state", "connected")

    page.evaluate(WATCH_TYPING)
    send(page, "hi")
    expect(page.locator(".bubble.user .text")).to_have_text(["hi"])
    expect(page.locator(".bubble.bot").first).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    expect(page.locator("#typing")).to_be_hidden()
    assert page.evaluate("window.typingSeen"), "the typing indicator never showed"

    session_id = page.evaluate("JSON.parse(localStorage.getItem('kai.webchat')).sessionId")
    tracker = channel_stack.tracker(socketio_conversation(session_id))
    assert user_texts(tracker) == ["hi"]
    # Rasa's socket.io output sends each paragraph of a response as its own message.
    bot_texts = [p for e in tracker["events"] if e["event"] == "bot" for p in e["text"].strip().split("\n\n")]
    assert page.locator(".bubble.bot .text").all_inner_texts() == bot_texts
    emotion = emotion_read(tracker)
    badge = page.locator("#emotion")
    if emotion is None:
        expect(badge).to_be_hidden()
    else:
        expect(badge).to_have_attribute("data-emotion", emotion)
        assert emotion in badge.get_attribute("aria-label")

    # Usable with the keyboard and on a phone: Tab reaches Send, nothing scrolls sideways.
    page.get_by_label("Message to Kai").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "send"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    history = page.locator(".bubble .text").all_inner_texts()
    page.reload()
    expect(page.locator(".bubble .text")).to_have_text(history)
    expect(status).to_have_attribute("data-state", "connected")
    assert page.evaluate("JSON.parse(localStorage.getItem('kai.webchat')).sessionId") == session_id

    assert errors == [], "the page logged errors before the restart"

    channel_stack.rasa.stop()
    expect(status).to_have_attribute("data-state", "offline", timeout=RECONNECT_TIMEOUT_MS)
    expect(page.get_by_label("Message to Kai")).to_be_disabled()
    page.screenshot(path=str(ARTIFACTS / "webchat-reconnecting.png"))
    channel_stack.restart_rasa()
    expect(status).to_have_attribute("data-state", "connected", timeout=RECONNECT_TIMEOUT_MS)

    send(page, "bye")
    expect(page.locator(".bubble.user .text")).to_have_text(["hi", "bye"])
    expect(page.locator(".bubble.bot").nth(len(bot_texts))).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    assert user_texts(channel_stack.tracker(socketio_conversation(session_id))) == ["hi", "bye"]
    page.screenshot(path=str(ARTIFACTS / "webchat-phone.png"))


# How Rasa's widgets may configure the client: websocket only, no long-polling start.
WEBSOCKET_ONLY_TURN = """async () => {
  const socket = io(window.location.origin, { path: "/socket.io", transports: ["websocket"] });
  const next = (event) => new Promise((resolve) => socket.once(event, resolve));
  await next("connect");
  socket.emit("session_request", { session_id: null });
  const sessionId = await next("session_confirm");
  socket.emit("user_uttered", { message: "hi", session_id: sessionId });
  const reply = await next("bot_uttered");
  const transport = socket.io.engine.transport.name;
  socket.close();
  return { sessionId, reply, transport };
}"""


def test_a_websocket_only_socketio_client_gets_a_reply(channel_stack, browser):
    page = browser.new_page()
    page.goto(f"{channel_stack.rasa.url}/webhooks/webchat/")
    result = page.evaluate(WEBSOCKET_ONLY_TURN)
    assert result["transport"] == "websocket"
    assert result["reply"]["text"]
    assert user_texts(channel_stack.tracker(socketio_conversation(result["sessionId"]))) == ["hi"]
    page.close()


def test_a_page_holding_a_session_id_the_server_did_not_issue_starts_afresh(channel_stack, browser):
    """A stored id the server cannot verify (a forged one, or one signed before the
    secret changed) is refused; the page drops it and its history and gets a new one."""
    page = browser.new_page()
    page.goto(f"{channel_stack.rasa.url}/webhooks/webchat/")
    forged = {"sessionId": "someone-else.bm90LWEtc2lnbmF0dXJl", "history": [], "emotion": None}
    page.evaluate(f"localStorage.setItem('kai.webchat', JSON.stringify({json.dumps(forged)}))")
    page.reload()
    expect(page.locator("#status")).to_have_attribute("data-state", "connected", timeout=RECONNECT_TIMEOUT_MS)
    session_id = page.evaluate("JSON.parse(localStorage.getItem('kai.webchat')).sessionId")
    assert session_id != forged["sessionId"]
    send(page, "hi")
    expect(page.locator(".bubble.bot").first).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    assert user_texts(channel_stack.tracker(socketio_conversation(session_id))) == ["hi"]
    page.close()
