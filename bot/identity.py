"""Who a conversation belongs to: a channel and that channel's sender id.

Rasa keys every conversation (tracker store, lock store, HTTP API) by one string,
the sender id, and each channel picks its own: a Telegram chat id, a Slack user
id, whatever a REST client sends. Two channels can therefore name the same
conversation. Every connector of this project hands Rasa the sender id *with its
channel in front* (``telegram:12345``, ``slack:U123``, ``rest:3f2a...``), so one
channel can never name another's conversation, and the profile store's key
``(channel, sender)`` is read off the conversation id itself.

A conversation id without a known channel prefix comes from a connector that
does not namespace (Rasa's own ``rasa shell``, the HTTP API, a third-party
connector): its identity is ``(input_channel, conversation id)``. Where that
cannot be told safely (no message yet, a prefixed id that arrived through another
channel, an id from before namespacing) the identity is ``("unknown", conversation
id)``: a key of its own that no channel's user shares, never a guess.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

SEPARATOR = ":"
# The channels whose connectors (in channels/) put their name in front of the
# sender id; Rasa's ``InputChannel.name()`` of each.
NAMESPACED_CHANNELS = ("rest", "socketio", "slack", "telegram")
UNKNOWN_CHANNEL = "unknown"


@dataclass(frozen=True)
class Identity:
    """One person as one channel knows them."""

    channel: str
    sender: str

    @property
    def key(self) -> str:
        """The conversation id of this identity (also how logs and checks name it)."""
        return f"{self.channel}{SEPARATOR}{self.sender}"


def conversation_id(channel: str, sender: str) -> str:
    """The id a connector of ``channel`` hands Rasa for ``sender``."""
    return Identity(channel, sender).key


def identity_of(conversation: str, input_channel: Optional[str] = None) -> Identity:
    """The identity a conversation belongs to (see the module docstring).

    ``input_channel`` is the channel of the conversation's latest user message, if
    there is one yet.
    """
    prefix, separator, sender = conversation.partition(SEPARATOR)
    if separator and sender and prefix in NAMESPACED_CHANNELS:
        if input_channel in (None, prefix):
            return Identity(prefix, sender)
        return Identity(UNKNOWN_CHANNEL, conversation)  # another channel let its client pick it
    if input_channel is None or input_channel in NAMESPACED_CHANNELS:
        # Not known yet, or a conversation from before namespacing (see
        # `python -m bot identities migrate`).
        return Identity(UNKNOWN_CHANNEL, conversation)
    return Identity(input_channel, conversation)
