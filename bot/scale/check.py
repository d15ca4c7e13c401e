"""Read the conversations of a load run back from the SQL tracker store and check them.

For every conversation the load generator played, against the rows of Rasa's
``events`` table (in insertion order) under its conversation id ``rest:<sender>``
(``bot.identity``: the REST channel puts its name in front of the signed sender):

* lost: a message the client got a reply for is not stored;
* duplicated: a message (sender, seq) is stored more than once;
* interleaved: a stored user event carries another sender's metadata, or two
  messages are stored out of the order the client sent them in (b sent after a's
  reply came back, yet b stored first);
* half_written: a stored user message is not followed by the bot's events: its
  turn (up to the next user message) must hold the actions the bot ran and end
  with ``action_listen``, which Rasa appends last. Rasa saves a tracker once per
  turn, so a server killed mid-turn must leave either the whole turn or none of it.

Messages that failed at the client (a kill in flight) may be missing; if they are
stored, their turn must be whole like any other.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence

import sqlalchemy as sa

from bot.identity import conversation_id
from bot.scale.loadgen import CHANNEL, SentMessage

ACTION_LISTEN = "action_listen"


@dataclass
class CheckResult:
    messages: int = 0
    conversations: int = 0
    lost: int = 0
    duplicated: int = 0
    interleaved: int = 0
    half_written: int = 0
    failed_at_client: int = 0
    problems: List[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.interleaved or self.half_written)

    def as_dict(self) -> Dict[str, int]:
        keys = ("messages", "conversations", "lost", "duplicated", "interleaved", "half_written", "failed_at_client")
        return {key: getattr(self, key) for key in keys}


@dataclass
class StoredEvent:
    type_name: str
    action_name: Optional[str]
    data: Dict


def check_conversations(db_url: str, sent: Sequence[SentMessage]) -> CheckResult:
    """Check every conversation in ``sent`` against the tracker store at ``db_url``."""
    by_sender: Dict[str, List[SentMessage]] = defaultdict(list)
    for message in sent:
        by_sender[message.sender].append(message)
    stored = load_events(db_url, [conversation_id(CHANNEL, sender) for sender in by_sender])
    result = CheckResult(messages=len(sent), conversations=len(by_sender))
    result.failed_at_client = sum(not m.ok for m in sent)
    for sender, messages in by_sender.items():
        check_conversation(sender, messages, stored.get(conversation_id(CHANNEL, sender), []), result)
    return result


def load_events(db_url: str, conversations: Iterable[str]) -> Dict[str, List[StoredEvent]]:
    """Events of ``conversations`` (Rasa's ``sender_id``s, e.g. ``rest:<sender>``) from
    Rasa's ``events`` table, in the order they were written."""
    engine = sa.create_engine(db_url, future=True)
    events = sa.table("events", sa.column("id"), sa.column("sender_id"), sa.column("type_name"),
                      sa.column("action_name"), sa.column("data"))
    found: Dict[str, List[StoredEvent]] = defaultdict(list)
    try:
        with engine.connect() as conn:
            query = (sa.select(events.c.sender_id, events.c.type_name, events.c.action_name, events.c.data)
                     .where(events.c.sender_id.in_(list(conversations))).order_by(events.c.id))
            for sender, type_name, action_name, data in conn.execute(query):
                found[sender].append(StoredEvent(type_name, action_name, json.loads(data or "{}")))
    finally:
        engine.dispose()
    return found


def check_conversation(sender: str, sent: List[SentMessage], events: List[StoredEvent], result: CheckResult) -> None:
    """Add this conversation's problems to ``result``.

    ``sender`` is the plain sender (what the metadata carries), ``events`` those stored
    under its conversation id.
    """
    user_events = [(i, e) for i, e in enumerate(events) if e.type_name == "user"]
    position: Dict[int, int] = {}
    seq_counts: Counter = Counter()
    for order, (_, event) in enumerate(user_events):
        metadata = event.data.get("metadata") or {}
        if metadata.get("sender") != sender or not isinstance(metadata.get("seq"), int):
            result.interleaved += 1
            result.problems.append(f"{sender}: a user event with metadata {metadata!r}")
            continue
        seq_counts[metadata["seq"]] += 1
        position.setdefault(metadata["seq"], order)
    for seq, count in seq_counts.items():
        if count > 1:
            result.duplicated += count - 1
            result.problems.append(f"{sender}: message {seq} stored {count} times")
    for message in sent:
        if message.ok and message.seq not in position:
            result.lost += 1
            result.problems.append(f"{sender}: message {message.seq} answered but not stored")
    for later in _out_of_order(sent, position):
        result.interleaved += 1
        result.problems.append(f"{sender}: message {later} stored before one it was sent after")
    for index, (start, event) in enumerate(user_events):
        end = user_events[index + 1][0] if index + 1 < len(user_events) else len(events)
        if not _turn_is_whole(events[start + 1:end]):
            result.half_written += 1
            result.problems.append(f"{sender}: the turn of {event.data.get('text')!r} is incomplete")


def _out_of_order(sent: List[SentMessage], position: Dict[int, int]) -> List[int]:
    """Seqs stored before a message whose reply the client had before sending them."""
    wrong = set()
    for earlier in sent:
        for later in sent:
            if (earlier.done_at < later.sent_at and earlier.seq in position and later.seq in position
                    and position[later.seq] < position[earlier.seq]):
                wrong.add(later.seq)
    return sorted(wrong)


def _turn_is_whole(turn: List[StoredEvent]) -> bool:
    """The bot's actions were stored and the turn ends listening for the user.

    (A turn may be just ``action_listen`` when the policies chose to say nothing.)
    """
    actions = [e.action_name for e in turn if e.type_name == "action"]
    return bool(actions) and actions[-1] == ACTION_LISTEN
