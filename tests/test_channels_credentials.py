"""credentials.yml as `rasa run` reads it: secrets from the environment, missing ones left out.

In-process and fast: Rasa's own `create_http_input_channels` builds the channels from
the project's credentials.yml and Rasa's own `register` mounts them on a Sanic app.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Dict, List, Set

import pytest
from rasa.core.channels.channel import register
from rasa.core.run import create_http_input_channels
from sanic import Sanic

from channels.env import LeftOutChannel
from tests.servers import PROJECT_ROOT, free_port

CREDENTIALS = str(PROJECT_ROOT / "credentials.yml")
SLACK = {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "s3cret"}
TELEGRAM = {
    "TELEGRAM_TOKEN": "123456789:AAH-kai-test-token-0123456789abcdef",
    "TELEGRAM_VERIFY": "kai_test_bot",
    "TELEGRAM_WEBHOOK_URL": "https://kai.example.test/webhooks/telegram/webhook",
}
ALL_CHANNEL_VARIABLES = [*SLACK, *TELEGRAM, "SLACK_API_URL", "TELEGRAM_API_URL"]


@pytest.fixture
def environment(monkeypatch):
    """Start from no channel secrets at all; return a setter for some."""
    for name in ALL_CHANNEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def set_variables(variables: Dict[str, str]) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return set_variables


def routes(channels: List) -> Set[str]:
    app = Sanic(f"credentials_test_{uuid.uuid4().hex}")
    register(channels, app, route="/webhooks/")
    return {route.path for route in app.router.routes}


def left_out_lines(caplog) -> List[str]:
    return [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]


def test_without_secrets_slack_and_telegram_are_left_out_with_one_line_each(environment, caplog):
    with caplog.at_level(logging.WARNING):
        channels = create_http_input_channels(None, CREDENTIALS)

    assert [type(c).__name__ for c in channels] == [
        "RestChannel", "SocketIOChannel", "WebChatPage", "HttpApiChecks", "LeftOutChannel", "LeftOutChannel",
    ]
    lines = left_out_lines(caplog)
    assert len(lines) == 2
    assert "'slack'" in lines[0] and "SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET" in lines[0]
    assert "'telegram'" in lines[1] and "TELEGRAM_TOKEN, TELEGRAM_VERIFY, TELEGRAM_WEBHOOK_URL" in lines[1]
    mounted = routes(channels)
    assert {"webhooks/rest/webhook", "socket.io", "webhooks/webchat/"} <= mounted
    assert not any("slack" in r or "telegram" in r for r in mounted)


def test_a_partly_configured_channel_names_only_what_is_missing(environment, caplog):
    environment({"SLACK_BOT_TOKEN": "xoxb-1-2-abc", **TELEGRAM})
    with caplog.at_level(logging.WARNING):
        channels = create_http_input_channels(None, CREDENTIALS)
    assert left_out_lines(caplog) == [
        "Channel 'slack' left out: set SLACK_SIGNING_SECRET to enable it (see credentials.yml)."
    ]
    assert "webhooks/telegram/webhook" in routes(channels)


def test_a_malformed_telegram_token_leaves_telegram_out(environment, caplog):
    environment({**SLACK, **TELEGRAM, "TELEGRAM_TOKEN": "not a token"})
    with caplog.at_level(logging.WARNING):
        channels = create_http_input_channels(None, CREDENTIALS)
    assert isinstance(channels[-1], LeftOutChannel)
    assert any("TELEGRAM_TOKEN is not a Telegram bot token" in r.getMessage() for r in caplog.records)
    assert "webhooks/slack/webhook" in routes(channels)


def test_an_unreachable_telegram_api_is_logged_and_blocks_nothing(environment, caplog):
    # Rasa's own TelegramInput calls setWebhook while its routes are built and stops
    # the server when that fails; here every channel mounts and the failure is one line.
    environment({**SLACK, **TELEGRAM, "TELEGRAM_API_URL": f"http://127.0.0.1:{free_port()}"})
    channels = create_http_input_channels(None, CREDENTIALS)
    assert {"webhooks/slack/webhook", "webhooks/telegram/webhook", "webhooks/rest/webhook"} <= routes(channels)

    telegram = channels[-1]
    with caplog.at_level(logging.ERROR):
        asyncio.run(telegram._register_webhook())
    assert any("Telegram webhook not set" in r.getMessage() for r in caplog.records)
