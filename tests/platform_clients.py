"""Clients that speak to the assistant as Slack and Telegram do, for tests and benchmarks.

Each signs or authenticates its requests the way the real platform does (Slack's
v0 request signature, Telegram's webhook secret token), so a request reaches the
connector's parser, and reads the bot's answer off the loopback stand-in API.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
import uuid
from typing import Any, Dict, Optional

import requests

from channels.telegram import SECRET_TOKEN_HEADER
from tests.channel_stack import SLACK_SIGNING_SECRET, TELEGRAM_WEBHOOK_URL, ChannelStack


def signed_headers(body: bytes, secret: str = SLACK_SIGNING_SECRET, timestamp: Optional[int] = None) -> Dict[str, str]:
    """Headers as Slack signs a request (https://api.slack.com/authentication/verifying-requests-from-slack)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": f"v0={digest}",
    }


def direct_message(text: str, user: Optional[str] = None, channel: Optional[str] = None) -> Dict[str, Any]:
    """An Events API envelope for a direct message to the bot."""
    return {
        "token": "unused-verification-token",
        "team_id": "T0KAI",
        "api_app_id": "A0KAI",
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"user_id": "U0KAIBOT", "is_bot": True}],
        "event": {
            "type": "message",
            "channel_type": "im",
            "user": user or f"U{uuid.uuid4().hex[:9].upper()}",
            "channel": channel or f"D{uuid.uuid4().hex[:9].upper()}",
            "text": text,
            "ts": f"{time.time():.6f}",
        },
    }


def slack_say(stack: ChannelStack, user: str, text: str) -> str:
    """A direct message from Slack user ``user``; the text of the bot's first reply."""
    envelope = direct_message(text, user=user)
    body = json.dumps(envelope).encode()
    response = requests.post(f"{stack.rasa.url}/webhooks/slack/webhook", data=body, headers=signed_headers(body), timeout=60)
    response.raise_for_status()
    return stack.slack.wait_for("chat.postMessage", channel=envelope["event"]["channel"]).params["text"]


def text_update(text: str, chat_id: int) -> Dict[str, Any]:
    """An Update as Telegram posts it for a private text message."""
    user = {"id": chat_id, "is_bot": False, "first_name": "Ana", "language_code": "en"}
    return {
        "update_id": random.randint(1, 2**31),
        "message": {
            "message_id": random.randint(1, 2**31),
            "from": user,
            "chat": {"id": chat_id, "first_name": "Ana", "type": "private"},
            "date": int(time.time()),
            "text": text,
        },
    }


def new_chat_id() -> int:
    return random.randint(10**8, 10**10)


def secret_token(stack: ChannelStack) -> str:
    """The secret token the server registered with setWebhook, which Telegram sends back."""
    return stack.telegram.wait_for("setWebhook", url=TELEGRAM_WEBHOOK_URL).params["secret_token"]


def post_update(stack: ChannelStack, headers: Optional[Dict[str, str]] = None, **kwargs: Any) -> requests.Response:
    """POST to the webhook as Telegram does: with the registered secret token."""
    headers = {SECRET_TOKEN_HEADER: secret_token(stack), **(headers or {})}
    return requests.post(f"{stack.rasa.url}/webhooks/telegram/webhook", headers=headers, timeout=60, **kwargs)


def telegram_say(stack: ChannelStack, chat_id: int, text: str) -> str:
    """A private message in chat ``chat_id``; the text of the bot's reply to it."""
    answered = len(stack.telegram.calls_to("sendMessage", chat_id=chat_id))
    post_update(stack, json=text_update(text, chat_id)).raise_for_status()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        calls = stack.telegram.calls_to("sendMessage", chat_id=chat_id)
        if len(calls) > answered:
            return calls[answered].params["text"]
        time.sleep(0.1)
    raise TimeoutError(f"no Telegram reply to {text!r}")
