"""`rasa run` (REST) plus `rasa run actions`, a short conversation, and its events on disk."""
import json
import sqlite3
import uuid

import pytest

from tests.servers import rest_conversation, running, say, start_action_server, start_rasa_server, write_endpoints


@pytest.fixture(scope="module")
def servers(trained_model, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("foundation")
    actions = start_action_server(workdir)
    endpoints = write_endpoints(workdir / "endpoints.yml", actions.port, workdir / "tracker.db")
    rasa = start_rasa_server(trained_model, endpoints, workdir)
    with running(rasa, actions):
        yield rasa, workdir / "tracker.db"


def test_conversation_over_rest_lands_in_the_sqlite_tracker_store(servers):
    rasa, tracker_db = servers
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    greeting = say(rasa, sender, "hello there")
    assert greeting and greeting[0]["recipient_id"] == rest_conversation(sender) and greeting[0]["text"]
    sad = say(rasa, sender, "I feel really sad and lonely today")
    assert any("sorry" in m.get("text", "").lower() for m in sad), sad
    assert say(rasa, sender, "are you a bot?")[0]["text"].startswith("I'm a bot")
    say(rasa, sender, "bye")

    with sqlite3.connect(tracker_db) as db:
        rows = db.execute(
            "SELECT type_name, intent_name, action_name FROM events WHERE sender_id = ? ORDER BY id", (rest_conversation(sender),)
        ).fetchall()
    intents = [intent for kind, intent, _ in rows if kind == "user"]
    actions = [action for kind, _, action in rows if kind == "action"]
    assert intents == ["greet", "share_feeling", "bot_challenge", "goodbye"]
    assert "utter_empathy_sadness" in actions and "utter_goodbye" in actions

    with sqlite3.connect(tracker_db) as db:
        slots = [json.loads(d) for (d,) in db.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'slot'", (rest_conversation(sender),)
        )]
    assert ("emotion", "sadness") in [(slot["name"], slot["value"]) for slot in slots]
