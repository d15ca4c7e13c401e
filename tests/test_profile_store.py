"""The profile store on real databases: SQLite files and PostgreSQL on 127.0.0.1:5432."""
from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa

from bot.profiles import (
    InvalidProfileValue,
    ProfileSettings,
    ProfileSettingsError,
    ProfileStore,
    ProfileStoreUnavailable,
)
from bot.profiles import migrate

PROFILE_TABLES = ("users", "identities", "preferences", "profile_changes")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProfileStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'profiles.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    store = ProfileStore.from_url(url)
    yield store
    store.close()


def sender() -> str:
    """A sender id no other test uses (the PostgreSQL database is shared by the run)."""
    return f"user-{uuid.uuid4().hex[:10]}"


def count_rows(store: ProfileStore, table: str, user_id: int) -> int:
    column = "id" if table == "users" else "user_id"
    with store.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {column} = :u"), {"u": user_id}).scalar_one()


def test_migrations_run_on_start_up_and_are_idempotent(store: ProfileStore) -> None:
    migrate.upgrade(store.engine)  # a second start-up: nothing to do, no error
    ProfileStore(store.settings)  # and a third, through the constructor
    assert migrate.current_revision(store.engine) == "0001"
    tables = set(sa.inspect(store.engine).get_table_names())
    assert set(PROFILE_TABLES) <= tables


def test_default_url_is_a_sqlite_file_under_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROFILE_DB_URL", raising=False)
    settings = ProfileSettings()
    assert settings.backend == "sqlite"
    assert settings.url.endswith("/var/profiles.db")
    monkeypatch.setenv("PROFILE_DB_URL", "postgresql+psycopg2://kai@db:5432/kai")
    assert ProfileSettings().backend == "postgresql"


@pytest.mark.parametrize("url", ["not a url", "sqlite://", "sqlite:///:memory:"])
def test_bad_url_is_a_one_line_error(url: str) -> None:
    with pytest.raises(ProfileSettingsError):
        ProfileSettings(url=url)


def test_first_contact_creates_an_empty_profile(store: ProfileStore) -> None:
    sid = sender()
    assert store.get("rest", sid) is None
    profile = store.get_or_create("rest", sid)
    assert profile.is_empty and profile.created_at is not None
    assert store.get_or_create("rest", sid).user_id == profile.user_id


def test_preferences_round_trip_and_corrections_are_audited(store: ProfileStore) -> None:
    sid = sender()
    assert store.set_name("rest", sid, "Ana").new_value == "Ana"
    store.set_preference("rest", sid, "movies", "sci-fi")
    correction = store.set_preference("rest", sid, "movie", "comedy")
    assert (correction.old_value, correction.new_value) == ("sci-fi", "comedy")
    assert not store.set_preference("rest", sid, "movie", "comedy").changed  # no-op, not audited
    store.set_language("rest", sid, "pt-BR")

    profile = store.get("rest", sid)
    assert (profile.name, profile.language, profile.preferences) == ("Ana", "pt-BR", {"movie": "comedy"})
    assert [(c.field, c.old_value, c.new_value) for c in store.changes("rest", sid)] == [
        ("name", None, "Ana"),
        ("preference:movie", None, "sci-fi"),
        ("preference:movie", "sci-fi", "comedy"),
        ("language", None, "pt-BR"),
    ]


@pytest.mark.parametrize(
    "value",
    [
        "O'Brien \"the\" `quoted`",
        "Robert'); DROP TABLE users;--",
        "1 OR 1=1; DELETE FROM preferences",
        "Zoë 🎬🍿 李",
        "👩‍👩‍👧 family",
    ],
)
def test_hostile_text_is_stored_verbatim(store: ProfileStore, value: str) -> None:
    sid = sender()
    store.set_name("rest", sid, value)
    store.set_preference("rest", sid, "food", value)
    profile = store.get("rest", sid)
    assert profile.name == value and profile.preferences == {"food": value}
    assert set(PROFILE_TABLES) <= set(sa.inspect(store.engine).get_table_names())


@pytest.mark.parametrize(
    "category, value, message",
    [
        ("movie", "x" * 5000, "5000 characters"),
        ("movie", "   ", "empty"),
        ("podcast", "history", "not 'podcast'"),
        ("'; DROP TABLE preferences;--", "x", "I can only remember"),
        ("movie", None, "isn't text"),
    ],
)
def test_bad_preferences_are_refused_with_a_clear_reason(
    store: ProfileStore, category: str, value: object, message: str
) -> None:
    sid = sender()
    with pytest.raises(InvalidProfileValue, match=message):
        store.set_preference("rest", sid, category, value)  # type: ignore[arg-type]
    assert store.get("rest", sid) is None  # refused before anything was written


def test_language_must_be_a_tag(store: ProfileStore) -> None:
    with pytest.raises(InvalidProfileValue, match="not a language tag"):
        store.set_language("rest", sender(), "English; DROP TABLE users")


def test_long_name_is_refused_and_control_characters_are_dropped(store: ProfileStore) -> None:
    sid = sender()
    with pytest.raises(InvalidProfileValue, match="up to 100"):
        store.set_name("rest", sid, "A" * 5000)
    store.set_name("rest", sid, "Ana\x00\x1b[31m  Lima\n")
    assert store.get("rest", sid).name == "Ana[31m Lima"


def test_one_person_on_two_channels_shares_one_profile(store: ProfileStore) -> None:
    slack, telegram = sender(), sender()
    store.set_name("slack", slack, "Ana")
    store.link_identity("telegram", telegram, "slack", slack)
    store.set_preference("telegram", telegram, "music", "jazz")
    assert store.get("slack", slack) == store.get("telegram", telegram)
    assert store.get("slack", slack).preferences == {"music": "jazz"}
    other = sender()
    store.get_or_create("web", other)
    with pytest.raises(ValueError, match="another profile"):
        store.link_identity("web", other, "slack", slack)


def test_same_sender_id_on_different_channels_is_two_people(store: ProfileStore) -> None:
    sid = sender()
    store.set_name("slack", sid, "Ana")
    store.set_name("telegram", sid, "Bo")
    assert store.get("slack", sid).name == "Ana" and store.get("telegram", sid).name == "Bo"


def test_forget_deletes_every_row_of_the_user_and_nothing_else(store: ProfileStore) -> None:
    sid, telegram, bystander = sender(), sender(), sender()
    store.set_name("rest", sid, "Ana")
    store.set_preference("rest", sid, "book", "poetry")
    store.link_identity("telegram", telegram, "rest", sid)
    store.set_preference("rest", bystander, "book", "crime")
    user_id = store.get("rest", sid).user_id

    assert sorted(store.forget("rest", sid)) == sorted([("rest", sid), ("telegram", telegram)])
    for table in PROFILE_TABLES:
        assert count_rows(store, table, user_id) == 0, table
    assert store.get("rest", sid) is None and store.get("telegram", telegram) is None
    assert store.changes("rest", sid) == []
    assert store.get("rest", bystander).preferences == {"book": "crime"}
    assert store.forget("rest", sid) == []  # twice is fine
    assert store.get_or_create("rest", sid).is_empty  # a later conversation starts fresh


def test_concurrent_writes_to_different_users(store: ProfileStore) -> None:
    users = [sender() for _ in range(8)]

    def write(sid: str) -> None:
        for i in range(10):
            store.set_preference("rest", sid, "movie", f"{sid}-{i}")
            store.set_name("rest", sid, f"name-{i}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, users))
    for sid in users:
        profile = store.get("rest", sid)
        assert profile.preferences == {"movie": f"{sid}-9"} and profile.name == "name-9"
        assert len(store.changes("rest", sid)) == 20


def test_one_user_writing_from_two_channels_at_once(store: ProfileStore) -> None:
    web, slack = sender(), sender()
    store.get_or_create("web", web)
    store.link_identity("slack", slack, "web", web)
    start = threading.Barrier(2)

    def write(channel: str, sid: str, own_category: str) -> None:
        start.wait()
        for i in range(15):
            store.set_preference(channel, sid, own_category, f"{channel}-{i}")
            store.set_preference(channel, sid, "activity", f"{channel}-{i}")  # contended

    threads = [
        threading.Thread(target=write, args=("web", web, "movie")),
        threading.Thread(target=write, args=("slack", slack, "music")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    profile = store.get("web", web)
    changes = store.changes("web", web)
    last_activity = [c for c in changes if c.field == "preference:activity"][-1].new_value
    assert profile.preferences == {"movie": "web-14", "music": "slack-14", "activity": last_activity}
    # The audit is a serial history: each change starts from the previous value.
    for field in ("preference:movie", "preference:music", "preference:activity"):
        chain = [c for c in changes if c.field == field]
        assert all(a.new_value == b.old_value for a, b in zip(chain, chain[1:])), field
    assert len([c for c in changes if c.field != "preference:activity"]) == 30


def test_concurrent_first_contact_creates_one_profile(store: ProfileStore) -> None:
    sid = sender()
    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = {p.user_id for p in pool.map(lambda _: store.get_or_create("rest", sid), range(6))}
    assert len(ids) == 1


def test_unreachable_database_fails_loudly_after_retries(caplog: pytest.LogCaptureFixture) -> None:
    settings = ProfileSettings(
        url="postgresql+psycopg2://postgres@127.0.0.1:1/nothing", retry_attempts=2, retry_backoff_s=0.01
    )
    with caplog.at_level(logging.WARNING), pytest.raises(ProfileStoreUnavailable):
        ProfileStore(settings)
    assert "failed after 2 attempts" in caplog.text


def test_postgres_outage_is_retried_without_losing_the_write(postgres_url: str) -> None:
    settings = ProfileSettings(url=postgres_url, retry_attempts=6, retry_backoff_s=0.2)
    store = ProfileStore(settings)
    sid = sender()
    store.set_name("rest", sid, "before")
    database = sa.engine.make_url(postgres_url).database
    admin = sa.create_engine(postgres_url.replace(f"/{database}", "/postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        # The database goes away: no new connections, existing ones are killed.
        conn.exec_driver_sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
        )
        restore = threading.Timer(
            0.5, lambda: admin.connect().exec_driver_sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        )
        restore.start()
        try:
            change = store.set_preference("rest", sid, "music", "jazz")  # retries until it is back
        finally:
            restore.join()
    assert change.new_value == "jazz"
    assert store.get("rest", sid).preferences == {"music": "jazz"}
    store.close()
    admin.dispose()


def test_sqlite_writer_waits_out_a_locked_database(tmp_path: Path) -> None:
    path = tmp_path / "profiles.db"
    store = ProfileStore(ProfileSettings(url=f"sqlite:///{path}", sqlite_busy_timeout_s=0.1, retry_backoff_s=0.2))
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    threading.Timer(0.4, blocker.rollback).start()
    store.set_preference("rest", "ana", "food", "ramen")  # "database is locked" -> retried
    assert store.get("rest", "ana").preferences == {"food": "ramen"}
    blocker.close()
    store.close()
