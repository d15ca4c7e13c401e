"""One-off: move conversations stored before identities were namespaced to their new ids.

Since every connector names a conversation ``<channel>:<sender>`` (``bot.identity``),
a conversation stored earlier as ``12345`` would no longer be found: the next
Telegram message from chat 12345 arrives as ``telegram:12345``. This renames each
such conversation in the tracker store by the channel its own messages came
through, so history continues; profiles need nothing (they were always keyed by
``(channel, sender)``).

    python -m bot identities migrate --endpoints endpoints.yml [--dry-run]

A conversation whose messages came through more than one channel, or none, is left
as it is and listed: there is no safe way to say whose it is. One whose new id is
already taken (the user wrote again after the upgrade) is left and listed too.
Old socket.io sessions move to ``socketio:<id>`` but cannot be continued by a page:
their ids were never signed, so nobody can prove they are theirs.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.utils.endpoints import read_endpoint_config
from tqdm import tqdm

from bot.identity import NAMESPACED_CHANNELS, SEPARATOR, conversation_id

logger = logging.getLogger(__name__)


@dataclass
class MigrationReport:
    """What a run renamed (old id -> new id) and what it left, with why."""

    renamed: Dict[str, str] = field(default_factory=dict)
    left: Dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        reasons = Counter(self.left.values())
        left = ", ".join(f"{n} {reason}" for reason, n in reasons.items()) or "none"
        return f"{len(self.renamed)} conversations renamed; left as they were: {left}."


def tracker_store_from_endpoints(endpoints_file: str) -> SQLTrackerStore:
    """The SQL tracker store endpoints.yml configures (the only kind this migrates)."""
    config = read_endpoint_config(endpoints_file, "tracker_store")
    store = TrackerStore.create(config)
    store = getattr(store, "_tracker_store", store)  # Rasa wraps it in a lock-aware store
    if not isinstance(store, SQLTrackerStore):
        raise ValueError(f"{endpoints_file}: the tracker store is {type(store).__name__}; only SQL stores are migrated.")
    return store


def migrate(store: SQLTrackerStore, dry_run: bool = False) -> MigrationReport:
    """Rename every un-namespaced conversation to ``<its channel>:<id>`` (see module docstring)."""
    report = MigrationReport()
    events = store.SQLEvent
    with store.session_scope() as session:
        senders = [s for (s,) in session.query(events.sender_id).distinct() if not _is_namespaced(s)]
        for sender in tqdm(senders, desc="Conversations", unit="conv", disable=not senders):
            target = _target(session, events, sender)
            if target.startswith("!"):
                report.left[sender] = target[1:]
                continue
            if session.query(events.id).filter(events.sender_id == target).first() is not None:
                report.left[sender] = f"{target.split(SEPARATOR)[0]} id already in use"
                continue
            report.renamed[sender] = target
            if not dry_run:
                session.query(events).filter(events.sender_id == sender).update(
                    {events.sender_id: target}, synchronize_session=False
                )
        if not dry_run:
            session.commit()
    return report


def _is_namespaced(sender: str) -> bool:
    prefix, separator, rest = sender.partition(SEPARATOR)
    return bool(separator and rest) and prefix in NAMESPACED_CHANNELS


def _target(session: sa.orm.Session, events: type, sender: str) -> str:
    """The new id of ``sender``'s conversation, or ``!reason`` when there is none."""
    rows = session.query(events.data).filter(events.sender_id == sender, events.type_name == "user")
    channels = {_input_channel(data) for (data,) in rows} - {None}
    if len(channels) != 1:
        return "!no channel known" if not channels else "!several channels"
    channel = channels.pop()
    if channel not in NAMESPACED_CHANNELS:
        return f"!channel {channel} is not namespaced"
    new_id = conversation_id(channel, sender)
    return new_id if len(new_id) <= 255 else "!new id too long"


def _input_channel(data: Optional[str]) -> Optional[str]:
    try:
        return json.loads(data or "{}").get("input_channel")
    except (ValueError, AttributeError):
        return None


def main(endpoints_file: str, dry_run: bool) -> int:
    report = migrate(tracker_store_from_endpoints(endpoints_file), dry_run=dry_run)
    for old, new in report.renamed.items():
        print(f"{'would rename' if dry_run else 'renamed'} {old} -> {new}")
    for old, reason in report.left.items():
        print(f"left {old}: {reason}")
    print(("Dry run: " if dry_run else "") + report.summary())
    return 0
