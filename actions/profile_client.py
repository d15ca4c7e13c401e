"""The action server's one profile store, and how an action names its user.

The store is built on first use, not at import, so the action server starts
(and answers /health) even while the database is still coming up.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from typing import Callable, Optional, Tuple, TypeVar

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.profiles import Profile, ProfileStore, ProfileStoreUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")
UNAVAILABLE_RESPONSE = "utter_profile_unavailable"

_store: Optional[ProfileStore] = None
_store_lock = threading.Lock()


def get_store() -> ProfileStore:
    """The process-wide store (PROFILE_DB_URL or var/profiles.db), migrated on first use."""
    global _store
    with _store_lock:
        if _store is None:
            _store = ProfileStore()
        return _store


def use_store(store: Optional[ProfileStore]) -> None:
    """Replace the process-wide store (tests and benchmarks point it at their database)."""
    global _store
    with _store_lock:
        _store = store


def identity(tracker: Tracker) -> Tuple[Optional[str], str]:
    """(channel, sender id) of the conversation, the channel from its latest message.

    Only messages after the latest restart count: right after forget-me (which
    restarts the conversation) Rasa runs ``action_session_start``, and the
    forgotten conversation must not re-create the profile. The channel is None
    before the first message of a conversation.
    """
    for event in reversed(tracker.events):
        if event.get("event") == "restart":
            break
        if event.get("event") == "user":
            return event.get("input_channel"), tracker.sender_id
    return None, tracker.sender_id


def lookup(channel: Optional[str], sender_id: str) -> Optional[Profile]:
    """The stored profile of this conversation, without creating one (blocking)."""
    store = get_store()
    return store.get(channel, sender_id) if channel else store.find_by_sender(sender_id)


def lookup_or_create(channel: Optional[str], sender_id: str) -> Optional[Profile]:
    """The profile, created on first contact when the channel is known (blocking).

    Rasa runs ``action_session_start`` before the first message is logged, so a
    brand-new conversation has no channel yet: then the profile is only looked
    up, and the first action that stores something creates it.
    """
    if channel is None:
        return lookup(None, sender_id)
    return get_store().get_or_create(channel, sender_id)


async def call_store(function: Callable[..., T], *args: object) -> T:
    """Run a blocking store call in a worker thread, so retries never stall the server."""
    return await asyncio.to_thread(function, *args)


def report_unavailable(dispatcher: CollectingDispatcher, action: str, error: ProfileStoreUnavailable) -> None:
    """Tell the user politely and leave an error in the log for whoever runs the bot."""
    logger.error("%s: profile store unavailable: %s", action, error)
    dispatcher.utter_message(response=UNAVAILABLE_RESPONSE)
