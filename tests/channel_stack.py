"""One `rasa run` with every channel of credentials.yml on, shared by the channel tests.

Starting Rasa takes most of a minute on two cores, so the REST, socket.io, Slack,
Telegram and browser tests share one server (a session fixture, registered in
conftest.py). Slack and Telegram talk to the loopback stand-ins of
``tests/standin_apis.py`` through the project's real credentials.yml, with secrets
and API base URLs in the environment exactly as a deployment would set them.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest
import requests

from tests.servers import Server, start_action_server, start_rasa_server, write_endpoints

# Rasa's HTTP API is on (the tests read trackers through it), behind a token as any
# deployment that enables it must be.
API_TOKEN = "kai-tests-api-token"
# And Rasa's JWT option, which the REST channel also accepts as proof of a sender.
JWT_SECRET = "kai-tests-jwt-secret-0123456789abcdef"
from tests.standin_apis import StandIn, slack_web_api, telegram_bot_api

SLACK_TOKEN = "xoxb-1111111111-2222222222-kaitestbottoken"
SLACK_SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TELEGRAM_TOKEN = "123456789:AAH-kai-test-token-0123456789abcdef"
TELEGRAM_USERNAME = "kai_test_bot"
TELEGRAM_WEBHOOK_URL = "https://kai.example.test/webhooks/telegram/webhook"


@dataclass
class ChannelStack:
    """The running servers and stand-ins, and how to restart Rasa in place."""

    rasa: Server
    actions: Server
    slack: StandIn
    telegram: StandIn
    workdir: Path
    model: Path
    endpoints: Path
    env: Dict[str, str]

    def restart_rasa(self) -> None:
        """Stop Rasa and start it again on the same port (what a deploy does)."""
        self.rasa.stop()
        self.rasa = self._start_rasa(port=self.rasa.port)

    def tracker(self, conversation: str) -> Dict[str, Any]:
        """The conversation's tracker as Rasa's HTTP API returns it (``rest:alice``)."""
        response = requests.get(
            f"{self.rasa.url}/conversations/{conversation}/tracker", params={"token": API_TOKEN}, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def _start_rasa(self, port: int = 0) -> Server:
        return start_rasa_server(
            self.model, self.endpoints, self.workdir,
            extra_args=["--enable-api", "--auth-token", API_TOKEN, "--jwt-secret", JWT_SECRET],
            env=self.env, port=port or None,
        )


def channel_env(slack: StandIn, telegram: StandIn) -> Dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
        "SLACK_API_URL": f"{slack.url}/api/",
        "TELEGRAM_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_VERIFY": TELEGRAM_USERNAME,
        "TELEGRAM_WEBHOOK_URL": TELEGRAM_WEBHOOK_URL,
        "TELEGRAM_API_URL": telegram.url,
    }


@contextmanager
def running_channel_stack(model: Path, workdir: Path) -> Iterator[ChannelStack]:
    """The servers and stand-ins on ``model``, stopped however the block ends."""
    slack = slack_web_api(SLACK_TOKEN)
    telegram = telegram_bot_api(TELEGRAM_TOKEN, TELEGRAM_USERNAME)
    stack = None
    try:
        actions = start_action_server(workdir, env={"PROFILE_DB_URL": f"sqlite:///{workdir / 'profiles.db'}"})
        endpoints = write_endpoints(workdir / "endpoints.yml", actions.port, workdir / "tracker.db")
        stack = ChannelStack(
            None, actions, slack, telegram, workdir, model, endpoints, channel_env(slack, telegram)  # type: ignore[arg-type]
        )
        stack.rasa = stack._start_rasa()
        yield stack
    finally:
        for server in (stack.rasa, stack.actions) if stack else ():
            if server is not None:
                server.stop()
        slack.close()
        telegram.close()


@pytest.fixture(scope="session")
def channel_stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChannelStack]:
    with running_channel_stack(trained_model, tmp_path_factory.mktemp("channels")) as stack:
        yield stack
