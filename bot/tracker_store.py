"""Rasa's SQL tracker store, extended so that forget-me also forgets the conversation.

Why a tracker store and not the action server: Rasa saves a conversation *after*
the actions of a turn have run, and ``SQLTrackerStore.save`` writes every event
the database does not hold yet. Rows deleted by the action server during the turn
would therefore be written straight back. Here, the save of the turn in which
``action_forget_me`` succeeded (signalled by the ``Restarted`` event it returns)
deletes every stored event of the sender instead, and writes none.

This is the one module in ``bot/`` that imports Rasa: it is configured in
``endpoints.yml`` as ``type: bot.tracker_store.ForgetfulSQLTrackerStore`` with the
same keys as ``type: SQL`` (dialect, db, host, port, username, password, ...).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable, Optional

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, Restarted
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

FORGET_ACTION_NAME = "action_forget_me"


def erasure_requested(events: Iterable[Event]) -> bool:
    """True when ``action_forget_me`` ran and returned ``Restarted`` (its success signal)."""
    last_action = None
    for event in events:
        if isinstance(event, ActionExecuted):
            last_action = event.action_name
        elif isinstance(event, Restarted) and last_action == FORGET_ACTION_NAME:
            return True
    return False


class ForgetfulSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` that deletes a sender's history when they asked to be forgotten."""

    def __init__(self, domain: Optional[Domain] = None, dialect: str = "sqlite", db: str = "rasa.db", **kwargs: Any) -> None:
        if dialect == "sqlite" and db:
            # SQLite creates the file but not its folder (var/ is not in the repository).
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        super().__init__(domain, dialect=dialect, db=db, **kwargs)

    async def save(self, tracker: DialogueStateTracker) -> None:
        if erasure_requested(tracker.events):
            deleted = self.delete_conversation(tracker.sender_id)
            logger.info("Forgot conversation '%s': deleted %d stored events.", tracker.sender_id, deleted)
            return
        await super().save(tracker)

    def delete_conversation(self, sender_id: str) -> int:
        """Delete every stored event of ``sender_id`` (all sessions); returns how many."""
        with self.session_scope() as session:
            deleted = (
                session.query(self.SQLEvent)
                .filter(self.SQLEvent.sender_id == sender_id)
                .delete(synchronize_session=False)
            )
            session.commit()
        return deleted
