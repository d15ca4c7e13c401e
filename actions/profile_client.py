"""The action server's one profile store, and how an action names its user.

The store is built on first use, not at import, so the action server starts
(and answers /health) even while the database is still coming up.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from typing import Callable, Optional, TypeVar

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.identity import Identity, identity_of
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


def identity(tracker: Tracker) -> Identity:
    """Whose conversation this is (see ``bot.identity``): the conversation id, read
    with the channel of its latest message."""
    return identity_of(tracker.sender_id, tracker.get_latest_input_channel())


def lookup(who: Identity) -> Optional[Profile]:
    """The stored profile of this identity, without creating one (blocking).

    Profiles are created by the first write (a name, a preference), never by a
    look-up: right after forget-me Rasa starts a new session, and that must not
    bring an empty profile back.
    """
    return get_store().get(who.channel, who.sender)


async def call_store(function: Callable[..., T], *args: object) -> T:
    """Run a blocking store call in a worker thread, so retries never stall the server."""
    return await asyncio.to_thread(function, *args)


def report_unavailable(dispatcher: CollectingDispatcher, action: str, error: ProfileStoreUnavailable) -> None:
    """Tell the user politely and leave an error in the log for whoever runs the bot."""
    logger.error("%s: profile store unavailable: %s", action, error)
    dispatcher.utter_message(response=UNAVAILABLE_RESPONSE)
