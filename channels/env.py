"""Channel secrets from environment variables, and the stand-in for a channel left out.

Rasa's own ``${VAR}`` substitution in credentials.yml stops the whole server when a
variable is unset. Here a channel whose secrets are missing is left out with one log
line, so a bot without a Slack app still serves the web page, REST and Telegram.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Awaitable, Callable, Dict, Optional, Sequence, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint

logger = logging.getLogger(__name__)


def read_secrets(channel: Text, names: Sequence[Text]) -> Optional[Dict[Text, Text]]:
    """The values of the environment variables ``names``, or None (logged) if any is unset."""
    values = {name: os.environ.get(name, "").strip() for name in names}
    missing = [name for name, value in values.items() if not value]
    if missing:
        logger.warning(
            f"Channel '{channel}' left out: set {', '.join(missing)} to enable it "
            f"(see credentials.yml)."
        )
        return None
    return values


def optional_env(name: Text) -> Optional[Text]:
    """An optional setting from the environment; unset and empty both mean None."""
    return os.environ.get(name, "").strip() or None


class LeftOutChannel(InputChannel):
    """Takes a disabled channel's place in Rasa's channel list and registers no routes.

    ``rasa run`` builds every channel named in credentials.yml and registers its
    blueprint; returning this from ``from_credentials`` is how a channel opts out.
    """

    def __init__(self, channel: Text) -> None:
        self.channel = channel

    def url_prefix(self) -> Text:
        return self.channel

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        return Blueprint(f"{self.channel}_left_out", __name__)
