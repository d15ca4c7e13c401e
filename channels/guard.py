"""What every channel does with text the assistant should not try to understand.

Rasa hands each incoming ``UserMessage`` to one callback; wrapping that callback here
gives all channels the same behaviour: an empty, over-long or unreadable message
(lone UTF-16 surrogates) gets a polite reply through the channel it came from (and is not stored in the tracker), and an
error while answering becomes an apology instead of silence or a 500.
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Optional, Text

from rasa.core.channels.channel import UserMessage

logger = logging.getLogger(__name__)

# Telegram's own limit, the strictest of the channels we serve; the NLU reads only the
# first few hundred tokens anyway, and tokenizing 20,000 characters would only cost time.
MAX_MESSAGE_CHARS = 4096

EMPTY_REPLY = "I didn't catch anything there. Could you type a message?"
TOO_LONG_REPLY = (
    "That message is too long for me ({length:,} characters). "
    "Could you say it in under {limit:,}?"
)
UNREADABLE_TEXT_REPLY = "I couldn't read that message: part of it is not valid text. Could you type it again?"
FAILURE_REPLY = "Sorry, something went wrong on my side. Please try again in a moment."

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def polite_reply_for(text: Optional[Text]) -> Optional[Text]:
    """The reply for a text we will not pass to the assistant, or None if it is fine."""
    if not text or not text.strip():
        return EMPTY_REPLY
    if len(text) > MAX_MESSAGE_CHARS:
        return TOO_LONG_REPLY.format(length=len(text), limit=MAX_MESSAGE_CHARS)
    if not is_valid_unicode(text):
        return UNREADABLE_TEXT_REPLY
    return None


def is_valid_unicode(text: Text) -> bool:
    """False for text with lone UTF-16 surrogates (JSON's \\ud800), which no UTF-8
    text may hold: the NLU's tokenizers and the tracker store fail on them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def guarded(on_new_message: OnNewMessage) -> OnNewMessage:
    """``on_new_message`` with the checks above, for a connector's ``blueprint``."""

    async def handle(message: UserMessage) -> None:
        reply = polite_reply_for(message.text)
        if reply is not None:
            logger.info(f"Not passed to the assistant ({message.input_channel}): {reply}")
            await message.output_channel.send_text_message(message.sender_id, reply)
            return
        try:
            await on_new_message(message)
        except Exception:  # the user gets an apology; the traceback goes to the log
            logger.exception(f"Failed to answer a {message.input_channel} message")
            await _send_quietly(message, FAILURE_REPLY)

    return handle


async def _send_quietly(message: UserMessage, text: Text) -> None:
    # Sending can fail for the same reason answering did (a platform API down).
    try:
        await message.output_channel.send_text_message(message.sender_id, text)
    except Exception as error:
        logger.warning(f"Could not send the apology on {message.input_channel} either: {error}")
