"""Hand Rasa a platform's messages under namespaced conversation ids (``bot.identity``).

Slack and Telegram name a conversation by the platform's own id (a user id, a chat
id), and Rasa's connectors use that id twice: as the conversation id and as the
recipient their output channel posts to. Wrapping a connector's message callback
here gives Rasa ``telegram:12345`` as the conversation id, while replies still go
out to ``12345``.
"""
from __future__ import annotations

from typing import Any, Dict, Text

from rasa.core.channels.channel import OutputChannel, UserMessage

from bot.identity import SEPARATOR, conversation_id
from channels.guard import OnNewMessage


class PlatformRecipientOutput(OutputChannel):
    """An output channel that posts to the platform id inside a namespaced recipient."""

    def __init__(self, platform_output: OutputChannel) -> None:
        self.platform_output = platform_output

    def name(self) -> Text:  # type: ignore[override]
        return self.platform_output.name()

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        await self.platform_output.send_response(platform_id(recipient_id), message)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.platform_output.send_text_message(platform_id(recipient_id), text, **kwargs)


def platform_id(recipient_id: Text) -> Text:
    """``12345`` for ``telegram:12345``."""
    return recipient_id.partition(SEPARATOR)[2] or recipient_id


def namespaced(channel: Text, on_new_message: OnNewMessage) -> OnNewMessage:
    """``on_new_message`` receiving ``<channel>:<platform id>`` conversation ids."""

    async def handle(message: UserMessage) -> Any:
        return await on_new_message(
            UserMessage(
                message.text,
                PlatformRecipientOutput(message.output_channel),
                conversation_id(channel, str(message.sender_id)),
                message.parse_data,
                message.input_channel,
                message.message_id,
                message.metadata,
            )
        )

    return handle
