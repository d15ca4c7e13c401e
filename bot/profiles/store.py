"""The profile store: who a sender is, what they told us, and forgetting it on request.

Every public method is one unit of work in its own transaction. Writes to one
user are serialised (a row lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite),
so two channels of the same person writing at once leave a consistent profile
and a complete audit. A write that meets a connection error is retried with
backoff; if the database stays down the caller gets
:class:`ProfileStoreUnavailable`, never a silently dropped write.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Dict, List, Optional, Tuple, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.profiles import migrate
from bot.profiles.engine import WRITE_OPTION, create_profile_engine
from bot.profiles.models import Identity, Preference, ProfileChange, User, utcnow
from bot.profiles.settings import ProfileSettings
from bot.profiles.validation import clean_category, clean_language, clean_name, clean_value

logger = logging.getLogger(__name__)

T = TypeVar("T")


class ProfileStoreUnavailable(RuntimeError):
    """The database could not be reached after all retries; nothing was written."""


@dataclass(frozen=True)
class Profile:
    """What we know about one person, detached from the database."""

    user_id: int
    name: Optional[str]
    language: Optional[str]
    preferences: Dict[str, str]
    created_at: datetime
    updated_at: datetime

    @property
    def is_empty(self) -> bool:
        return self.name is None and not self.preferences


@dataclass(frozen=True)
class Change:
    """The outcome of one write: the field and its value before and after."""

    field: str
    old_value: Optional[str]
    new_value: Optional[str]

    @property
    def changed(self) -> bool:
        return self.old_value != self.new_value


class ProfileStore:
    """User profiles keyed by (channel, sender id), on any SQLAlchemy database."""

    def __init__(self, settings: Optional[ProfileSettings] = None, run_migrations: bool = True) -> None:
        self.settings = settings or ProfileSettings()
        self.engine = create_profile_engine(self.settings)
        self._sessions = sessionmaker(self.engine, future=True, expire_on_commit=False)
        if run_migrations:
            self._retry(lambda: migrate.upgrade(self.engine), "migrate")

    @classmethod
    def from_url(cls, url: str, **kwargs) -> "ProfileStore":  # type: ignore[no-untyped-def]
        return cls(ProfileSettings(url=url), **kwargs)

    def close(self) -> None:
        self.engine.dispose()

    # -- reads ---------------------------------------------------------------

    def get(self, channel: str, sender_id: str) -> Optional[Profile]:
        """The profile of this identity, or None if we have never met it."""
        return self._read(lambda s: _profile_of(s, _user_for(s, channel, sender_id)))

    def changes(self, channel: str, sender_id: str) -> List[Change]:
        """The audit trail of this identity's user, oldest first."""

        def unit(s: Session) -> List[Change]:
            user = _user_for(s, channel, sender_id)
            if user is None:
                return []
            rows = s.scalars(
                select(ProfileChange)
                .where(ProfileChange.user_id == user.id)
                .order_by(ProfileChange.id)
            )
            return [Change(r.field, r.old_value, r.new_value) for r in rows]

        return self._read(unit)

    # -- writes --------------------------------------------------------------

    def get_or_create(self, channel: str, sender_id: str) -> Profile:
        """The profile of this identity, created empty on first contact."""
        existing = self.get(channel, sender_id)
        if existing is not None:
            return existing
        return self._write(lambda s: _profile_of(s, _lock_or_create_user(s, channel, sender_id)))

    def set_name(self, channel: str, sender_id: str, name: str) -> Change:
        """Store the display name (validated); returns the old and new value."""
        name = clean_name(name)

        def unit(s: Session) -> Change:
            user = _lock_or_create_user(s, channel, sender_id)
            change = Change("name", user.display_name, name)
            if change.changed:
                user.display_name = name
                _audit(s, user, change, channel, sender_id)
            return change

        return self._write(unit)

    def set_language(self, channel: str, sender_id: str, language: str) -> Change:
        """Store the user's language as a short tag such as "en" or "pt-BR"."""
        language = clean_language(language)

        def unit(s: Session) -> Change:
            user = _lock_or_create_user(s, channel, sender_id)
            change = Change("language", user.language, language)
            if change.changed:
                user.language = language
                _audit(s, user, change, channel, sender_id)
            return change

        return self._write(unit)

    def set_preference(self, channel: str, sender_id: str, category: str, value: str) -> Change:
        """Store (or replace) the preference for ``category``; returns old and new value."""
        category, value = clean_category(category), clean_value(value)

        def unit(s: Session) -> Change:
            user = _lock_or_create_user(s, channel, sender_id)
            row = s.scalars(
                select(Preference).where(Preference.user_id == user.id, Preference.category == category)
            ).one_or_none()
            change = Change(f"preference:{category}", row.value if row else None, value)
            if change.changed:
                if row is None:
                    s.add(Preference(user_id=user.id, category=category, value=value))
                else:
                    row.value = value
                _audit(s, user, change, channel, sender_id)
            return change

        return self._write(unit)

    def link_identity(self, channel: str, sender_id: str, to_channel: str, to_sender_id: str) -> Profile:
        """Let (channel, sender_id) reach the profile of (to_channel, to_sender_id).

        The profile is created if needed; linking an identity that already belongs
        to another user is refused, since merging two people's data must be explicit.
        """

        def unit(s: Session) -> Profile:
            user = _lock_or_create_user(s, to_channel, to_sender_id)
            owner = _user_for(s, channel, sender_id)
            if owner is not None and owner.id != user.id:
                raise ValueError(f"{channel}:{sender_id} already belongs to another profile")
            if owner is None:
                s.add(Identity(user_id=user.id, channel=channel, sender_id=sender_id))
                s.flush()
            return _profile_of(s, user)

        return self._write(unit)

    def forget(self, channel: str, sender_id: str) -> List[Tuple[str, str]]:
        """Delete the user behind this identity with all identities, preferences and audit.

        Returns the (channel, sender_id) identities that were deleted, empty if
        there was nothing to delete.
        """

        def unit(s: Session) -> List[Tuple[str, str]]:
            user = _lock_user(s, channel, sender_id)
            return [] if user is None else _delete_user(s, user.id)

        return self._write(unit)

    # -- units of work ---------------------------------------------------------

    def _read(self, unit: Callable[[Session], T]) -> T:
        def run() -> T:
            with self._sessions.begin() as session:
                return unit(session)

        return self._retry(run, "read")

    def _write(self, unit: Callable[[Session], T]) -> T:
        def run() -> T:
            with self._sessions.begin() as session:
                session.connection(execution_options={WRITE_OPTION: True})
                return unit(session)

        # A concurrent first contact may create the same identity: the loser's
        # transaction fails on the unique constraint and simply runs again.
        try:
            return self._retry(run, "write")
        except IntegrityError:
            return self._retry(run, "write")

    def _retry(self, run: Callable[[], T], what: str) -> T:
        delay = self.settings.retry_backoff_s
        for attempt in range(1, self.settings.retry_attempts + 1):
            try:
                return run()
            except DBAPIError as error:
                if isinstance(error, IntegrityError) or not _is_connection_error(error):
                    raise
                if attempt == self.settings.retry_attempts:
                    logger.error("Profile store %s failed after %d attempts: %s", what, attempt, error)
                    raise ProfileStoreUnavailable(
                        f"profile database unreachable ({type(error.orig).__name__})"
                    ) from error
                logger.warning("Profile store %s failed (attempt %d), retrying: %s", what, attempt, error)
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")


def _is_connection_error(error: DBAPIError) -> bool:
    """Errors worth retrying: the server is down, restarting, or the database is busy."""
    return isinstance(error, OperationalError) or bool(error.connection_invalidated)


def _user_for(s: Session, channel: str, sender_id: str) -> Optional[User]:
    return s.scalars(
        select(User).join(Identity).where(Identity.channel == channel, Identity.sender_id == sender_id)
    ).one_or_none()


def _lock_user(s: Session, channel: str, sender_id: str) -> Optional[User]:
    """The user row, locked until commit (PostgreSQL; SQLite already holds the write lock)."""
    return s.scalars(
        select(User)
        .join(Identity)
        .where(Identity.channel == channel, Identity.sender_id == sender_id)
        .with_for_update(of=User)
    ).one_or_none()


def _lock_or_create_user(s: Session, channel: str, sender_id: str) -> User:
    user = _lock_user(s, channel, sender_id)
    if user is None:
        user = User()
        s.add(user)
        s.flush()
        s.add(Identity(user_id=user.id, channel=channel, sender_id=sender_id))
        s.flush()  # raises IntegrityError now if another transaction won the race
    return user


def _delete_user(s: Session, user_id: int) -> List[Tuple[str, str]]:
    identities = s.execute(
        select(Identity.channel, Identity.sender_id).where(Identity.user_id == user_id)
    ).all()
    # Children first, explicitly: does not depend on ON DELETE CASCADE support.
    for table in (ProfileChange, Preference, Identity):
        s.execute(delete(table).where(table.user_id == user_id))
    s.execute(delete(User).where(User.id == user_id))
    return [tuple(row) for row in identities]


def _audit(s: Session, user: User, change: Change, channel: str, sender_id: str) -> None:
    user.updated_at = utcnow()
    s.add(ProfileChange(
        user_id=user.id, field=change.field, old_value=change.old_value,
        new_value=change.new_value, channel=channel, sender_id=sender_id,
    ))


def _profile_of(s: Session, user: Optional[User]) -> Optional[Profile]:
    if user is None:
        return None
    preferences = dict(s.execute(
        select(Preference.category, Preference.value).where(Preference.user_id == user.id)
    ).all())
    return Profile(
        user_id=user.id, name=user.display_name, language=user.language,
        preferences=preferences, created_at=user.created_at, updated_at=user.updated_at,
    )
