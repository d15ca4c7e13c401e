"""`python -m bot identities migrate`: conversations stored before namespacing continue.

Real tracker stores (SQLite and PostgreSQL, Rasa's SQL store) hold conversations as
the old connectors saved them; after the migration each is found under its
namespaced id with every event, and its profile (keyed by channel and sender all
along) is found from it: nothing lost.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, Optional

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa_sdk import Tracker

from actions.profile_client import identity
from bot.identity import Identity
from bot.identity_migration import migrate
from bot.tracker_store import ForgetfulSQLTrackerStore
from tests.servers import PROJECT_ROOT


@pytest.fixture(params=["sqlite", "postgresql"])
def store_config(request: pytest.FixtureRequest, tmp_path: Path) -> dict:
    if request.param == "sqlite":
        return {"dialect": "sqlite", "db": str(tmp_path / "tracker.db")}
    import sqlalchemy as sa

    url = sa.engine.make_url(request.getfixturevalue("postgres_url"))
    return {"dialect": "postgresql", "host": url.host, "port": url.port, "db": url.database, "username": url.username}


@pytest.fixture
def store(store_config: dict) -> Iterator[ForgetfulSQLTrackerStore]:
    store = ForgetfulSQLTrackerStore(Domain.empty(), **store_config)
    yield store
    store.engine.dispose()


async def save(store: ForgetfulSQLTrackerStore, sender: str, channels: List[Optional[str]]) -> None:
    tracker = DialogueStateTracker(sender, [])
    for i, channel in enumerate(channels):
        tracker.update(UserUttered(f"message {i}", {"name": "greet", "confidence": 1.0}, input_channel=channel))
        tracker.update(ActionExecuted("utter_greet"))
    await store.save(tracker)


def user_texts(tracker: Optional[DialogueStateTracker]) -> List[str]:
    return [e.text for e in tracker.events if isinstance(e, UserUttered)] if tracker else []


@pytest.mark.asyncio
async def test_each_conversation_moves_to_its_channels_namespace(store: ForgetfulSQLTrackerStore) -> None:
    await save(store, "12345", ["telegram", "telegram"])
    await save(store, "U0SLACK", ["slack"])
    await save(store, "mixed", ["telegram", "slack"])
    await save(store, "shell-user", ["cmdline"])
    await save(store, "rest:already", ["rest"])
    await save(store, "67890", ["telegram"])
    await save(store, "telegram:67890", ["telegram"])  # wrote again after the upgrade

    preview = migrate(store, dry_run=True)
    assert await store.retrieve("telegram:12345") is None  # a dry run changes nothing

    report = migrate(store)
    assert report.renamed == preview.renamed == {"12345": "telegram:12345", "U0SLACK": "slack:U0SLACK"}
    assert report.left == {
        "mixed": "several channels",
        "shell-user": "channel cmdline is not namespaced",
        "67890": "telegram id already in use",
    }
    assert user_texts(await store.retrieve("telegram:12345")) == ["message 0", "message 1"]
    assert await store.retrieve("12345") is None
    assert user_texts(await store.retrieve("67890")) == ["message 0"]  # left, not merged
    assert migrate(store).renamed == {}  # a second run has nothing to do

    migrated = Tracker.from_dict((await store.retrieve("telegram:12345")).current_state(EventVerbosity.ALL))
    assert identity(migrated) == Identity("telegram", "12345")  # the profile store's old key


@pytest.mark.asyncio
async def test_the_command_reads_the_tracker_store_from_endpoints(store_config: dict, store, tmp_path: Path) -> None:
    await save(store, "424242", ["telegram"])
    endpoints = tmp_path / "endpoints.yml"
    # In endpoints.yml the host is `url` (Rasa hands it to the store as the host).
    config = {("url" if key == "host" else key): value for key, value in store_config.items()}
    endpoints.write_text(yaml.safe_dump({"tracker_store": {"type": "bot.tracker_store.ForgetfulSQLTrackerStore", **config}}))
    command = [sys.executable, "-m", "bot", "identities", "migrate", "--endpoints", str(endpoints)]

    dry = subprocess.run(command + ["--dry-run"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stderr
    assert "would rename 424242 -> telegram:424242" in dry.stdout

    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "1 conversations renamed" in done.stdout
    assert user_texts(await store.retrieve("telegram:424242")) == ["message 0"]
