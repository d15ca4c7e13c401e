"""Rasa's REST channel (through channels.rest): the documented protocol and bad input."""
from __future__ import annotations

import uuid

import jwt
import pytest
import requests

from channels.guard import EMPTY_REPLY, MAX_MESSAGE_CHARS
from tests.channel_stack import JWT_SECRET
from tests.servers import TOKENS, rest_conversation, say


def webhook(stack) -> str:
    return f"{stack.rasa.url}/webhooks/rest/webhook"


def new_sender() -> str:
    return f"rest-{uuid.uuid4().hex[:8]}"


def test_rest_protocol_as_rasa_documents_it(channel_stack):
    assert requests.get(f"{channel_stack.rasa.url}/webhooks/rest/", timeout=10).json() == {"status": "ok"}
    sender = new_sender()
    replies = say(channel_stack.rasa, sender, "hi")
    assert replies and all(r["recipient_id"] == rest_conversation(sender) for r in replies)
    assert all(isinstance(r.get("text"), str) and r["text"] for r in replies if "text" in r)
    assert channel_stack.tracker(rest_conversation(sender))["latest_input_channel"] == "rest"


def test_a_new_client_gets_a_sender_token_and_speaks_with_it(channel_stack):
    token = requests.post(f"{channel_stack.rasa.url}/webhooks/rest/session", timeout=10).json()["sender"]
    sender = TOKENS.sender_of(token)
    assert sender is not None  # signed with the server's secret
    response = requests.post(webhook(channel_stack), json={"sender": token, "message": "hi"}, timeout=60)
    assert response.status_code == 200 and response.json()[0]["recipient_id"] == rest_conversation(sender)


def test_a_jwt_from_rasas_jwt_secret_speaks_as_its_username(channel_stack):
    user = new_sender()
    token = jwt.encode({"user": {"username": user, "role": "user"}}, JWT_SECRET, algorithm="HS256")
    body = {"sender": "ignored-when-a-jwt-is-given", "message": "hi"}
    response = requests.post(webhook(channel_stack), json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert response.status_code == 200 and response.json()[0]["recipient_id"] == rest_conversation(user)


@pytest.mark.parametrize("sender", ["alice", "alice.forged-signature", None], ids=["plain", "forged", "missing"])
def test_a_sender_without_a_valid_token_gets_401_and_reaches_nothing(channel_stack, sender):
    body = {"message": "hi"} if sender is None else {"sender": sender, "message": "hi"}
    response = requests.post(webhook(channel_stack), json=body, timeout=30)
    assert response.status_code == 401 and "POST /webhooks/rest/session" in response.json()["error"]


@pytest.mark.parametrize(
    "body, content_type, status, says",
    [
        (b'{"sender": "a", "message": ', "application/json", 400, "not valid JSON"),
        (b'["hi"]', "application/json", 400, "JSON object"),
        (b'{"sender": "a"}', "application/json", 400, '"message"'),
        (b'{"sender": "a", "message": 12}', "application/json", 400, '"message"'),
        (b'{"sender": {"id": 1}, "message": "hi"}', "application/json", 400, '"sender"'),
        (b'{"sender": "a", "message": "hi", "metadata": "x"}', "application/json", 400, '"metadata"'),
        (b"sender=a&message=hi", "application/x-www-form-urlencoded", 415, "application/json"),
        (b"<message>hi</message>", "application/xml", 415, "application/json"),
        (b'{"sender": "' + b"s" * 256 + b'", "message": "hi"}', "application/json", 400, "at most 250"),
        (b'{"sender": "a", "message": "hi \\ud800"}', "application/json", 400, "surrogate"),
    ],
    ids=["invalid-json", "not-object", "no-message", "message-not-string", "sender-not-string",
         "metadata-not-object", "form-encoded", "xml", "sender-too-long", "lone-surrogate"],
)
def test_malformed_bodies_get_a_clear_4xx(channel_stack, body, content_type, status, says):
    response = requests.post(webhook(channel_stack), data=body, headers={"Content-Type": content_type}, timeout=30)
    assert response.status_code == status
    assert says in response.json()["error"]


@pytest.mark.parametrize("text, expected", [("", EMPTY_REPLY), ("   \n ", EMPTY_REPLY), ("y" * 20_000, "too long")])
def test_empty_or_overlong_text_gets_a_polite_reply_and_is_not_stored(channel_stack, text, expected):
    sender = new_sender()
    replies = say(channel_stack.rasa, sender, text)
    assert len(replies) == 1 and expected in replies[0]["text"]
    if expected != EMPTY_REPLY:
        assert f"{MAX_MESSAGE_CHARS:,}" in replies[0]["text"]
    user_events = [e for e in channel_stack.tracker(rest_conversation(sender))["events"] if e["event"] == "user"]
    assert user_events == []


def test_a_json_body_sent_as_text_plain_is_accepted_like_browsers_send_it(channel_stack):
    sender = new_sender()
    response = requests.post(
        webhook(channel_stack), data=f'{{"sender": "{TOKENS.sign(sender)}", "message": "hi"}}',
        headers={"Content-Type": "text/plain;charset=UTF-8"}, timeout=60,
    )
    assert response.status_code == 200 and response.json()[0]["recipient_id"] == rest_conversation(sender)


def test_unknown_fields_are_ignored_and_the_channel_cannot_be_claimed(channel_stack):
    sender = new_sender()
    body = {"sender": TOKENS.sign(sender), "message": "hi", "input_channel": "slack", "colour": "blue",
            "metadata": {"page": "/"}}
    response = requests.post(webhook(channel_stack), json=body, timeout=60)
    assert response.status_code == 200 and response.json()
    # Profiles are keyed by (channel, sender): a REST client must not pose as a Slack user.
    assert channel_stack.tracker(rest_conversation(sender))["latest_input_channel"] == "rest"


def test_the_server_keeps_serving_after_bad_input(channel_stack):
    for body in (b"{", b"null", b'{"message": []}'):
        requests.post(webhook(channel_stack), data=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert say(channel_stack.rasa, new_sender(), "hi")
