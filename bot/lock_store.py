"""Rasa's Redis lock store, with each change to a conversation's lock made atomic.

Why: Rasa 3.6's ``RedisLockStore`` issues a ticket by reading the lock from Redis,
appending a ticket in Python and writing it back (GET, then SET). Two servers that
receive messages of the same conversation at the same moment can both read the
empty lock, both take ticket 0 and both run the turn at once; the second tracker
save then overwrites the first turn's events (the scale benchmark's crash run lost
7 of 1,998 messages this way, all from two messages sent at once; see
RasaHQ/rasa#9213; the fix Rasa tried, ``ConcurrentRedisLockStore``, was reverted
from open source in RasaHQ/rasa#11428). Finishing a turn has the same
read-then-write shape and can delete a ticket issued in between.

Here every read-modify-write of a lock runs in a Redis optimistic transaction
(WATCH the key, MULTI, EXEC; redis-py retries when another client changed the key
meanwhile), so tickets are unique and served in order across all servers.
Configured in ``endpoints.production.yml`` with the same keys as ``type: redis``::

    lock_store:
      type: bot.lock_store.AtomicRedisLockStore
      url: ...
"""
from __future__ import annotations

import json
from typing import Callable, Optional, Text

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, RedisLockStore
from rasa.utils.endpoints import EndpointConfig


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` whose ticket issue, update and clean-up are Redis transactions."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        # Rasa builds custom lock stores from their endpoint config alone.
        super().__init__(host=endpoint_config.url or "localhost", **endpoint_config.kwargs)

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: Optional[TicketLock]) -> tuple:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        return self._change(conversation_id, issue)

    def update_lock(self, conversation_id: Text) -> None:
        def drop_expired(lock: Optional[TicketLock]) -> tuple:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, drop_expired)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        def finish(lock: Optional[TicketLock]) -> tuple:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._change(conversation_id, finish)

    def _change(self, conversation_id: Text, change: Callable[[Optional[TicketLock]], tuple]):
        """Apply ``change`` (old lock -> (new lock, result)) atomically; return the result.

        A lock left without tickets is deleted, as Rasa's ``cleanup`` does. (A waiter
        whose own ticket expired then gets Rasa's LockError instead of waiting forever.)
        """
        key = self.key_prefix + conversation_id

        def transaction(pipe) -> object:
            stored = pipe.get(key)  # executes at once: the pipeline is WATCHing key
            lock = TicketLock.from_dict(json.loads(stored)) if stored else None
            lock, result = change(lock)
            pipe.multi()
            if lock is not None and lock.is_someone_waiting():
                pipe.set(key, lock.dumps())
            elif stored:
                pipe.delete(key)
            return result

        return self.red.transaction(transaction, key, value_from_callable=True)
