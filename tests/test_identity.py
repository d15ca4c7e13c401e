"""Conversation identities (bot/identity.py) and signed sender tokens (bot/sender_tokens.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.identity import UNKNOWN_CHANNEL, Identity, conversation_id, identity_of
from bot.sender_tokens import SECRET_ENV, SenderTokens, is_valid_sender

TOKENS = SenderTokens(b"unit-test-secret-0123456789abcdef")
senders = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=128).filter(is_valid_sender)


@pytest.mark.parametrize(
    "conversation, input_channel, expected",
    [
        ("telegram:12345", None, Identity("telegram", "12345")),  # before the first message too
        ("telegram:12345", "telegram", Identity("telegram", "12345")),
        ("slack:U1:C2", "slack", Identity("slack", "U1:C2")),  # the prefix ends at the first colon
        ("rest:telegram:12345", "rest", Identity("rest", "telegram:12345")),
        # A Telegram id that arrived through the REST channel is nobody's Telegram identity.
        ("telegram:12345", "rest", Identity(UNKNOWN_CHANNEL, "telegram:12345")),
        # Un-namespaced: known only through a channel that does not namespace.
        ("default", "cmdline", Identity("cmdline", "default")),
        ("12345", None, Identity(UNKNOWN_CHANNEL, "12345")),
        ("12345", "telegram", Identity(UNKNOWN_CHANNEL, "12345")),  # stored before namespacing
        ("web:abc", "web", Identity("web", "web:abc")),
    ],
)
def test_identity_of_a_conversation(conversation, input_channel, expected):
    assert identity_of(conversation, input_channel) == expected


@given(channel=st.sampled_from(["rest", "socketio", "slack", "telegram"]), sender=st.text(min_size=1))
def test_a_namespaced_id_reads_back_as_its_identity(channel, sender):
    assert identity_of(conversation_id(channel, sender), channel) == Identity(channel, sender)


@given(sender=senders)
def test_a_token_names_its_sender(sender):
    assert TOKENS.sender_of(TOKENS.sign(sender)) == sender


@given(sender=senders, other=senders)
def test_a_token_cannot_be_moved_to_another_sender(sender, other):
    signature = TOKENS.sign(sender).rpartition(".")[2]
    assert other == sender or TOKENS.sender_of(f"{other}.{signature}") is None


@given(sender=senders, data=st.data())
def test_any_change_to_a_token_breaks_it(sender, data):
    token = TOKENS.sign(sender)
    index = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.characters(min_codepoint=33, max_codepoint=126).filter(lambda c: c != token[index]))
    assert TOKENS.sender_of(token[:index] + replacement + token[index + 1 :]) != sender


def test_another_secrets_tokens_and_non_tokens_are_refused():
    forged = SenderTokens(b"another-secret-0123456789abcdefgh").sign("alice")
    for token in (forged, "alice", "alice.", ".sig", None, 42, {"a": 1}, "x" * 10_000):
        assert TOKENS.sender_of(token) is None


def test_a_secret_too_short_or_a_bad_sender_is_refused():
    with pytest.raises(ValueError, match="16 characters"):
        SenderTokens(b"short")
    for sender in ("", "a.b", "a b", "x" * 129, "tab\there"):
        with pytest.raises(ValueError):
            TOKENS.sign(sender)


def test_without_the_variable_one_secret_is_generated_and_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    secret_file = tmp_path / "var" / "sender_secret"
    token = SenderTokens.from_environment(secret_file).sign("alice")
    assert oct(secret_file.stat().st_mode & 0o777) == "0o600"
    assert SenderTokens.from_environment(secret_file).sender_of(token) == "alice"  # after a restart
    monkeypatch.setenv(SECRET_ENV, "a-configured-secret-0123456789")
    assert SenderTokens.from_environment(secret_file).sender_of(token) is None  # the variable wins
