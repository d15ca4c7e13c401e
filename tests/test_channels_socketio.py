"""Rasa's socket.io channel (through channels.socketio), spoken to as Rasa's widgets do.

The client is python-socketio's, which speaks the same Socket.IO protocol (v5) as the
JavaScript client 4.x that the web page and Rasa's widgets use.
"""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List

import pytest
import socketio
from rasa_sdk import Tracker

from actions.profile_client import identity
from bot.identity import Identity
from channels.guard import EMPTY_REPLY
from channels.socketio import FORGED_SESSION, NO_SESSION, UNREADABLE_REPLY
from tests.servers import TOKENS, socketio_conversation

TIMEOUT = 60


@contextmanager
def connect(stack) -> Iterator[socketio.SimpleClient]:
    client = socketio.SimpleClient()
    client.connect(stack.rasa.url, socketio_path="/socket.io", transports=["polling"])
    try:
        yield client
    finally:
        # A polling client's graceful disconnect waits for the server to end its
        # pending long-poll (the 25 s ping interval); the test need not wait for that.
        client.client.eio.disconnect(abort=True)


def start_session(client: socketio.SimpleClient, session_id: Any) -> str:
    client.emit("session_request", {"session_id": session_id})
    event, confirmed = client.receive(timeout=TIMEOUT)
    assert event == "session_confirm"
    return confirmed


def user_texts(tracker: Dict[str, Any]) -> List[str]:
    return [e["text"] for e in tracker["events"] if e["event"] == "user"]


def turn(client: socketio.SimpleClient, payload: Any) -> List[Any]:
    """Send one user event; return the bot messages and the turn_end payload."""
    client.emit("user_uttered", payload)
    messages = []
    while True:
        event, data = client.receive(timeout=TIMEOUT)
        if event == "turn_end":
            return [messages, data]
        assert event == "bot_uttered", (event, data)
        messages.append(data)


@pytest.fixture
def client(channel_stack):
    with connect(channel_stack) as c:
        yield c


def test_session_request_and_a_reply_with_the_emotion_read(channel_stack, client):
    session_id = start_session(client, None)

    messages, end = turn(client, {"message": "I am so happy today", "session_id": session_id})

    assert messages and all(isinstance(m.get("text"), str) for m in messages if "text" in m)
    tracker = channel_stack.tracker(socketio_conversation(session_id))
    assert identity(Tracker.from_dict(tracker)) == Identity("socketio", TOKENS.sender_of(session_id))
    read = [e for e in tracker["latest_message"]["entities"] if e["entity"] == "emotion"]
    assert read, "the NLU read no emotion in the message"
    assert end["emotion"]["emotion"] == read[0]["value"]


def test_a_session_request_without_an_id_gets_a_fresh_signed_one(client):
    first = start_session(client, None)
    assert TOKENS.sender_of(first) is not None and first != start_session(client, None)


def test_a_reconnecting_page_continues_its_session(channel_stack):
    with connect(channel_stack) as first:
        session_id = start_session(first, None)
        turn(first, {"message": "hi", "session_id": session_id})
    with connect(channel_stack) as second:  # a reload: new socket, same session id
        assert start_session(second, session_id) == session_id
        messages, _ = turn(second, {"message": "bye", "session_id": session_id})
    assert messages
    assert user_texts(channel_stack.tracker(socketio_conversation(session_id))) == ["hi", "bye"]


@pytest.mark.parametrize(
    "session_id",
    [f"sio-{uuid.uuid4().hex}", f"{uuid.uuid4().hex}.bm90LWEtc2lnbmF0dXJl", {"id": 1}],
    ids=["self-chosen", "forged-signature", "not-a-string"],
)
def test_a_session_id_the_server_did_not_issue_is_refused(client, session_id):
    client.emit("session_request", {"session_id": session_id})
    event, data = client.receive(timeout=TIMEOUT)
    assert event == "session_refused" and data == {"reason": FORGED_SESSION}


def test_a_message_before_any_confirmed_session_is_refused(channel_stack, client):
    other = TOKENS.sign("someone-else")
    client.emit("user_uttered", {"message": "what do you know about me?", "session_id": other})
    event, data = client.receive(timeout=TIMEOUT)
    assert event == "session_refused" and data == {"reason": NO_SESSION}
    # (Reading a tracker through the HTTP API starts a session: only user turns count.)
    assert user_texts(channel_stack.tracker(socketio_conversation(other))) == []


def test_a_message_naming_another_session_is_answered_in_the_sockets_own(channel_stack, client):
    own = start_session(client, None)
    other = TOKENS.sign("someone-else-2")
    turn(client, {"message": "hi", "session_id": other})
    assert user_texts(channel_stack.tracker(socketio_conversation(other))) == []
    assert user_texts(channel_stack.tracker(socketio_conversation(own))) == ["hi"]


@pytest.mark.parametrize(
    "payload, expected",
    [
        ("just a string", UNREADABLE_REPLY),
        ({"message": 42}, UNREADABLE_REPLY),
        ({"message": "hi", "metadata": "{not json"}, UNREADABLE_REPLY),
        ({"message": ""}, EMPTY_REPLY),
        ({"message": "z" * 20_000}, "too long"),
    ],
    ids=["string", "message-not-string", "metadata-bad-json", "empty", "overlong"],
)
def test_bad_payloads_get_a_polite_reply(client, payload, expected):
    session_id = start_session(client, None)
    if isinstance(payload, dict):
        payload = {**payload, "session_id": session_id}
    messages, end = turn(client, payload)
    assert [m["text"] for m in messages] == [expected] or expected in messages[0]["text"]
    assert end == {"emotion": None}


def test_the_server_keeps_serving_after_bad_payloads(client):
    session_id = start_session(client, None)
    for payload in ("x", [1, 2], {"message": None}):
        turn(client, payload)
    messages, _ = turn(client, {"message": "hi", "session_id": session_id})
    assert messages and messages[0].get("text")
