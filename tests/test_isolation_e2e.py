"""No client can speak as, read or steer another user: the isolation cases, for real.

Runs ``benchmarks/security/isolation.py`` against the shared `rasa run` with every
channel (tests/channel_stack.py): a Telegram and a Slack user store a name and a
preference, then REST, socket.io and HTTP API clients try to reach them by their
platform ids, their namespaced ids and forged tokens.

Caught on the main before identities were namespaced and senders signed: a REST
client posting ``{"sender": "<the Telegram chat id>"}`` got 200 and was greeted
with that user's profile (``action_session_start`` looked the profile up by sender
id alone), and a socket.io ``session_request`` naming the chat id was confirmed and
continued that conversation, history included.
"""
from __future__ import annotations

from benchmarks.security.isolation import run_isolation


def test_no_client_reaches_another_users_profile_history_or_conversation(channel_stack):
    result = run_isolation(channel_stack)
    assert result["cases"] >= 30
    assert result["failures"] == [], "\n".join(result["failures"])
