"""Rasa's TelegramInput (through channels.telegram) against a loopback Bot API stand-in."""
from __future__ import annotations

from typing import Dict, Optional

import pytest
import requests
from rasa_sdk import Tracker

from actions.profile_client import identity
from bot.identity import Identity
from channels.telegram import SECRET_TOKEN_HEADER
from tests.platform_clients import new_chat_id, post_update, secret_token, text_update


def test_the_webhook_is_registered_with_a_secret_token_when_the_server_starts(channel_stack):
    assert len(secret_token(channel_stack)) >= 32


@pytest.mark.parametrize("token", [None, "", "not-the-secret-token"], ids=["missing", "empty", "wrong"])
def test_an_update_without_the_secret_token_gets_401_and_no_reply(channel_stack, token):
    chat_id = new_chat_id()
    headers = {} if token is None else {SECRET_TOKEN_HEADER: token}
    response = requests.post(
        f"{channel_stack.rasa.url}/webhooks/telegram/webhook", json=text_update("hi", chat_id), headers=headers, timeout=60
    )
    assert response.status_code == 401
    follow_up = new_chat_id()
    post_update(channel_stack, json=text_update("hi", follow_up))
    channel_stack.telegram.wait_for("sendMessage", chat_id=follow_up)
    assert not channel_stack.telegram.calls_to("sendMessage", chat_id=chat_id)


def test_an_update_gets_a_reply_through_send_message(channel_stack):
    chat_id = new_chat_id()
    response = post_update(channel_stack, json=text_update("hi", chat_id))
    assert response.status_code == 200

    reply = channel_stack.telegram.wait_for("sendMessage", chat_id=chat_id)
    assert reply.params["text"].strip()
    tracker = channel_stack.tracker(f"telegram:{chat_id}")  # the conversation, namespaced by channel
    assert tracker["latest_input_channel"] == "telegram"
    assert identity(Tracker.from_dict(tracker)) == Identity("telegram", str(chat_id))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": b"{not json", "headers": {"Content-Type": "application/json"}},
        {"json": ["update_id", 1]},
        {"json": {"update_id": "one", "message": {"chat": {"id": 1}, "text": "hi"}}},
        {"json": {"update_id": 1, "message": "hi"}},
        {"json": {"update_id": 1, "message": {"message_id": 1, "text": "hi"}}},
        {"json": {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1}, "text": 42}}},
        {"json": {"update_id": 1, "callback_query": {"id": "1", "data": "hi"}}},
    ],
    ids=["invalid-json", "not-an-object", "bad-update-id", "message-not-object", "no-chat", "text-not-string",
         "button-without-message"],
)
def test_a_malformed_update_gets_400(channel_stack, kwargs):
    response = post_update(channel_stack, **kwargs)
    assert response.status_code == 400, response.text


def test_the_server_keeps_answering_after_malformed_updates(channel_stack):
    for body in (b"{", b"[]", b'{"update_id": 1, "message": 5}'):
        post_update(channel_stack, data=body, headers={"Content-Type": "application/json"})
    chat_id = new_chat_id()
    post_update(channel_stack, json=text_update("hello", chat_id))
    channel_stack.telegram.wait_for("sendMessage", chat_id=chat_id)


def test_an_update_kind_rasa_does_not_read_is_acknowledged_without_a_reply(channel_stack):
    chat_id = -new_chat_id()
    post = {"message_id": 3, "chat": {"id": chat_id, "type": "channel", "title": "news"}, "date": 1, "text": "hi"}
    response = post_update(channel_stack, json={"update_id": 77, "channel_post": post})
    assert response.status_code == 200

    follow_up = new_chat_id()
    post_update(channel_stack, json=text_update("hi", follow_up))
    channel_stack.telegram.wait_for("sendMessage", chat_id=follow_up)
    assert not channel_stack.telegram.calls_to("sendMessage", chat_id=chat_id)


@pytest.mark.parametrize("text, expected", [("x" * 20_000, "too long"), ("   ", "didn't catch")])
def test_overlong_or_blank_text_gets_a_polite_reply(channel_stack, text, expected):
    chat_id = new_chat_id()
    assert post_update(channel_stack, json=text_update(text, chat_id)).status_code == 200
    reply = channel_stack.telegram.wait_for("sendMessage", chat_id=chat_id)
    assert expected in reply.params["text"]
