"""End to end over REST: remember across restarts, then forget, with real servers and databases.

Drives ``rasa run`` (the project's trained model, the forget-me SQL tracker store)
and ``rasa run actions``: tell a preference, restart both processes, ask what the
bot knows (it remembers), forget me, ask again (it does not), and check the
profile tables and the tracker store's ``events`` rows along the way. Run once
with everything on SQLite (the embedded default) and once on PostgreSQL.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Dict, List

import pytest
import sqlalchemy as sa

from tests.servers import rest_conversation, running, say, start_action_server, start_rasa_server, write_endpoints

TRACKER_STORE = "bot.tracker_store.ForgetfulSQLTrackerStore"
PROFILE_TABLES = ("users", "identities", "preferences", "profile_changes")


def texts(replies: List[Dict]) -> str:
    return " ".join(r.get("text", "") for r in replies)


def tracker_rows(url: str, conversation: str) -> List[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT data FROM events WHERE sender_id = :s"), {"s": conversation}).scalars())
    finally:
        engine.dispose()


def user_id_of(url: str, sender: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT user_id FROM identities WHERE channel = 'rest' AND sender_id = :s")
            return conn.execute(query, {"s": sender}).scalar_one()
    finally:
        engine.dispose()


def profile_rows(url: str, user_id: int, sender: str) -> Dict[str, int]:
    """Rows left of this user in each profile table (the PostgreSQL database is shared)."""
    engine = sa.create_engine(url)
    queries = {
        "users": "SELECT count(*) FROM users WHERE id = :u",
        "identities": "SELECT count(*) FROM identities WHERE user_id = :u OR sender_id = :s",
        "preferences": "SELECT count(*) FROM preferences WHERE user_id = :u",
        "profile_changes": "SELECT count(*) FROM profile_changes WHERE user_id = :u OR sender_id = :s",
    }
    try:
        with engine.connect() as conn:
            return {t: conn.execute(sa.text(q), {"u": user_id, "s": sender}).scalar_one() for t, q in queries.items()}
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Dict:
    """The tracker store endpoint config, its SQLAlchemy URL, and the profile store URL."""
    if request.param == "sqlite":
        tracker_db = tmp_path / "tracker.db"
        return {
            "tracker_store": {"type": TRACKER_STORE, "dialect": "sqlite", "db": str(tracker_db)},
            "tracker_url": f"sqlite:///{tracker_db}",
            "profile_url": f"sqlite:///{tmp_path / 'profiles.db'}",
        }
    url = sa.engine.make_url(request.getfixturevalue("postgres_url"))
    # Both stores share the test database: Rasa owns `events`, the profile store its four tables.
    return {
        "tracker_store": {
            "type": TRACKER_STORE, "dialect": "postgresql", "url": url.host, "port": url.port,
            "db": url.database, "username": url.username,
        },
        "tracker_url": str(url),
        "profile_url": str(url),
    }


def test_remember_across_restarts_then_forget(trained_model: Path, tmp_path: Path, databases: Dict) -> None:
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    action_env = {"PROFILE_DB_URL": databases["profile_url"]}

    def start_both():  # type: ignore[no-untyped-def]
        actions = start_action_server(tmp_path, env=action_env)
        endpoints = write_endpoints(
            tmp_path / "endpoints.yml", actions.port, tmp_path / "unused.db",
            extra={"tracker_store": databases["tracker_store"]},
        )
        return actions, start_rasa_server(trained_model, endpoints, tmp_path)

    actions, rasa = start_both()
    with running(rasa, actions):
        reply = texts(say(rasa, sender, "I love jazz music"))
        assert reply == "Noted: for music you like jazz.", reply
        assert tracker_rows(databases["tracker_url"], rest_conversation(sender)), "the turn was not stored"

    actions, rasa = start_both()  # both processes restarted: memory must come from the databases
    with running(rasa, actions):
        reply = texts(say(rasa, sender, "what do you know about me?"))
        assert "for music you like jazz" in reply, reply

        user_id = user_id_of(databases["profile_url"], sender)
        assert profile_rows(databases["profile_url"], user_id, sender)["preferences"] == 1
        assert "delete everything" in texts(say(rasa, sender, "forget me"))
        reply = texts(say(rasa, sender, "yes"))
        assert "deleted everything" in reply, reply
        assert profile_rows(databases["profile_url"], user_id, sender) == {t: 0 for t in PROFILE_TABLES}
        assert tracker_rows(databases["tracker_url"], rest_conversation(sender)) == []

        reply = texts(say(rasa, sender, "what do you know about me?"))
        assert "don't know anything about you" in reply, reply
        events = [json.loads(row) for row in tracker_rows(databases["tracker_url"], rest_conversation(sender))]
        # A fresh conversation: only the new message, none of the forgotten ones.
        assert [e["text"] for e in events if e["event"] == "user"] == ["what do you know about me?"]
        assert events[0]["name"] == "action_session_start"
        assert profile_rows(databases["profile_url"], user_id, sender)["identities"] == 0
