"""Signed sender tokens: how a web page or REST client proves which conversation is theirs.

Rasa lets a REST or socket.io client name any sender id, and with it continue any
conversation. Here the server issues the id: a token ``<sender>.<signature>``, the
signature an HMAC-SHA256 of the sender under a server secret. Only the holder of
the token can speak as that sender; a forged or altered token fails the check.

The secret comes from ``KAI_SENDER_SECRET``; when that is unset, a random one is
generated once and kept in ``var/sender_secret`` (one log line says so), so tokens
survive restarts. Several servers behind one load balancer must share the secret:
set the variable. A backend that authenticates its own users can mint tokens for
their ids with the same secret (:meth:`SenderTokens.sign`).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path
from typing import Optional

from bot.paths import PROJECT_ROOT

logger = logging.getLogger(__name__)

SECRET_ENV = "KAI_SENDER_SECRET"
SECRET_FILE = PROJECT_ROOT / "var" / "sender_secret"
# What a sender may be: short enough for Rasa's 255-character sender column once
# the channel prefix and signature are added, and printable.
MAX_SENDER_CHARS = 128
_SIGNATURE_CHARS = 43  # 32 bytes, base64url without padding
_PURPOSE = b"kai-sender-v1:"  # a signature made here is valid for nothing else


class SenderTokens:
    """Issues and checks sender tokens under one secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError(f"{SECRET_ENV} must be at least 16 characters.")
        self._secret = secret

    @classmethod
    def from_environment(cls, secret_file: Path = SECRET_FILE) -> "SenderTokens":
        """The server's tokens: ``KAI_SENDER_SECRET``, else ``var/sender_secret`` (made once)."""
        configured = os.environ.get(SECRET_ENV, "").strip()
        if configured:
            return cls(configured.encode())
        return cls(_kept_secret(secret_file))

    def issue(self) -> str:
        """A token for a new, random sender."""
        return self.sign(secrets.token_hex(16))

    def sign(self, sender: str) -> str:
        """The token of ``sender`` (printable, no dot, at most 128 characters)."""
        if not is_valid_sender(sender):
            raise ValueError(f"A sender must be 1-{MAX_SENDER_CHARS} printable characters without '.' or spaces.")
        return f"{sender}.{self._signature(sender)}"

    def sender_of(self, token: object) -> Optional[str]:
        """The sender a token names, or None if it is not a token this secret signed."""
        if not isinstance(token, str) or len(token) > MAX_SENDER_CHARS + 1 + _SIGNATURE_CHARS:
            return None
        sender, dot, signature = token.rpartition(".")
        if not dot or not is_valid_sender(sender):
            return None
        return sender if hmac.compare_digest(signature, self._signature(sender)) else None

    def _signature(self, sender: str) -> str:
        digest = hmac.new(self._secret, _PURPOSE + sender.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def is_valid_sender(sender: str) -> bool:
    return (
        0 < len(sender) <= MAX_SENDER_CHARS
        and sender.isprintable()
        and not any(c in sender for c in ". ")
    )


def _kept_secret(path: Path) -> bytes:
    """The secret in ``path``, generated (readable by this user only) if it is missing."""
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32).encode()
    draft = path.with_name(f"{path.name}.{os.getpid()}")
    draft.touch(mode=0o600)
    draft.write_bytes(secret)
    try:
        # A hard link appears whole or not at all, and fails if the file exists: two
        # servers starting at once end up with the same secret, never a half-written one.
        os.link(draft, path)
    except FileExistsError:
        return path.read_bytes().strip()
    finally:
        draft.unlink()
    logger.warning(f"{SECRET_ENV} is unset: generated a sender-token secret in {path} (set it to share one).")
    return secret
