"""Where the profile store lives and how hard it tries when the database is down.

One environment variable switches from the embedded default (a SQLite file in the
project's ``var/`` folder) to any SQLAlchemy URL, PostgreSQL first::

    PROFILE_DB_URL=postgresql+psycopg2://kai:secret@db.internal:5432/kai
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "var" / "profiles.db"
URL_ENV_VAR = "PROFILE_DB_URL"


class ProfileSettingsError(ValueError):
    """The profile store configuration is unusable; the message says why."""


def default_url() -> str:
    """The URL from ``PROFILE_DB_URL``, else the SQLite file ``var/profiles.db``."""
    return os.environ.get(URL_ENV_VAR) or f"sqlite:///{DEFAULT_SQLITE_PATH}"


@dataclass(frozen=True)
class ProfileSettings:
    """Connection and retry settings of the profile store."""

    url: str = field(default_factory=default_url)
    # A write is retried this many times on a connection error before the store
    # gives up loudly (ProfileStoreUnavailable); never dropped silently.
    retry_attempts: int = 4
    # Seconds before the first retry; doubled after each failed attempt.
    retry_backoff_s: float = 0.25
    # SQLite only: how long a writer waits for another writer's lock.
    sqlite_busy_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        try:
            url = make_url(self.url)
        except Exception as error:  # SQLAlchemy raises ArgumentError and others
            raise ProfileSettingsError(
                f"{URL_ENV_VAR}={self.url!r} is not a SQLAlchemy URL ({error})"
            ) from None
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            # Every pooled connection would see its own empty in-memory database.
            raise ProfileSettingsError("the profile store needs a SQLite file, not ':memory:'")
        if self.retry_attempts < 1:
            raise ProfileSettingsError(f"retry_attempts must be >= 1, got {self.retry_attempts}")

    @property
    def backend(self) -> str:
        """``sqlite``, ``postgresql``, ... as SQLAlchemy names the dialect."""
        return make_url(self.url).get_backend_name()

    def ensure_sqlite_folder(self) -> None:
        """Create the folder of a SQLite file (``var/`` is not in the repository)."""
        url = make_url(self.url)
        if url.get_backend_name() == "sqlite":
            Path(url.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
