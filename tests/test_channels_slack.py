"""Rasa's SlackInput (through channels.slack) against a loopback Slack Web API stand-in."""
from __future__ import annotations

import json
import time
from typing import Any, Dict

import requests
from rasa_sdk import Tracker

from actions.profile_client import identity
from bot.identity import Identity
from channels.guard import MAX_MESSAGE_CHARS
from tests.channel_stack import SLACK_TOKEN, ChannelStack
from tests.platform_clients import direct_message, signed_headers


def post(stack: ChannelStack, body: bytes, headers: Dict[str, str]) -> requests.Response:
    return requests.post(f"{stack.rasa.url}/webhooks/slack/webhook", data=body, headers=headers, timeout=30)


def post_event(stack: ChannelStack, envelope: Dict[str, Any], **headers: str) -> requests.Response:
    body = json.dumps(envelope).encode()
    return post(stack, body, {**signed_headers(body), **headers})


def test_signed_event_gets_a_reply_posted_with_the_bot_token(channel_stack):
    envelope = direct_message("hi")
    user, channel = envelope["event"]["user"], envelope["event"]["channel"]

    assert post_event(channel_stack, envelope).status_code == 200

    reply = channel_stack.slack.wait_for("chat.postMessage", channel=channel)
    assert reply.headers["Authorization"] == f"Bearer {SLACK_TOKEN}"
    assert reply.params["text"].strip()
    tracker = channel_stack.tracker(f"slack:{user}")  # the conversation, namespaced by channel
    assert tracker["latest_input_channel"] == "slack"
    assert identity(Tracker.from_dict(tracker)) == Identity("slack", user)  # the profile store's key


def test_unsigned_badly_signed_or_stale_events_get_401_and_no_reply(channel_stack):
    rejected = []
    for headers in (
        {"Content-Type": "application/json"},
        lambda body: signed_headers(body, secret="not-the-signing-secret"),
        lambda body: signed_headers(body, timestamp=int(time.time()) - 10 * 60),
        lambda body: {**signed_headers(body), "X-Slack-Signature": "v0=" + "0" * 64},
    ):
        envelope = direct_message("hi")
        body = json.dumps(envelope).encode()
        response = post(channel_stack, body, headers(body) if callable(headers) else headers)
        assert response.status_code == 401, response.text
        rejected.append(envelope["event"]["channel"])

    # A good event sent afterwards is answered; by then no rejected one was.
    follow_up = direct_message("hi")
    post_event(channel_stack, follow_up)
    channel_stack.slack.wait_for("chat.postMessage", channel=follow_up["event"]["channel"])
    for channel in rejected:
        assert not channel_stack.slack.calls_to("chat.postMessage", channel=channel)


def test_a_retry_of_a_received_event_is_not_answered_twice(channel_stack):
    envelope = direct_message("hi")
    channel = envelope["event"]["channel"]
    post_event(channel_stack, envelope)
    channel_stack.slack.wait_for("chat.postMessage", channel=channel)
    answered = len(channel_stack.slack.calls_to("chat.postMessage", channel=channel))

    for attempt in ("1", "2"):
        retry = post_event(channel_stack, envelope, **{"X-Slack-Retry-Num": attempt, "X-Slack-Retry-Reason": "http_error"})
        assert retry.status_code == 200 and retry.headers.get("X-Slack-No-Retry") == "1"

    follow_up = direct_message("hi")
    post_event(channel_stack, follow_up)
    channel_stack.slack.wait_for("chat.postMessage", channel=follow_up["event"]["channel"])
    assert len(channel_stack.slack.calls_to("chat.postMessage", channel=channel)) == answered


def test_a_retry_of_an_event_that_never_arrived_is_answered(channel_stack):
    envelope = direct_message("hi")
    response = post_event(channel_stack, envelope, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"})
    assert response.status_code == 200
    channel_stack.slack.wait_for("chat.postMessage", channel=envelope["event"]["channel"])


def test_an_overlong_message_gets_a_polite_reply(channel_stack):
    envelope = direct_message("x" * 20_000)
    assert post_event(channel_stack, envelope).status_code == 200
    reply = channel_stack.slack.wait_for("chat.postMessage", channel=envelope["event"]["channel"])
    assert "too long" in reply.params["text"] and f"{MAX_MESSAGE_CHARS:,}" in reply.params["text"]


def test_signed_but_malformed_bodies_get_400_and_the_server_keeps_serving(channel_stack):
    for body in (b"{not json", b"[1, 2]", json.dumps({"event": "hi"}).encode(),
                 json.dumps({"event": {"type": "message", "text": 5, "user": "U1"}}).encode()):
        response = post(channel_stack, body, signed_headers(body))
        assert response.status_code == 400, (body, response.status_code, response.text)

    envelope = direct_message("hi")
    post_event(channel_stack, envelope)
    channel_stack.slack.wait_for("chat.postMessage", channel=envelope["event"]["channel"])


def test_url_verification_challenge_is_echoed(channel_stack):
    body = json.dumps({"token": "t", "challenge": "kai-challenge-123", "type": "url_verification"}).encode()
    response = post(channel_stack, body, signed_headers(body))
    assert response.status_code == 200 and "kai-challenge-123" in response.text
