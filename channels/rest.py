"""Rasa's REST channel (``POST /webhooks/rest/webhook``) where a client proves who it is.

The protocol is Rasa's: ``{"sender": "...", "message": "...", "metadata": {...}}`` in,
a JSON list of bot messages out. Unknown fields are ignored, as Rasa does. Changes:

* ``sender`` must be a signed sender token (``bot.sender_tokens``): a new client gets
  one from ``POST /webhooks/rest/session``, a backend that knows its users mints them
  with the shared secret. A request with a JWT in ``Authorization: Bearer`` that
  Rasa's ``--jwt-secret`` verifies speaks as the token's ``user.username`` instead.
  Anything else gets a 401 naming what to send. ``trusted_senders: true`` in
  credentials.yml accepts any plain sender: for development only, never production;
* the conversation id handed to Rasa is ``rest:<sender>`` (``bot.identity``), so a
  REST client cannot name a Telegram, Slack or web conversation;
* a body that is not a JSON object with a string ``message`` gets a 400 (415 for a
  non-JSON content type) naming the problem, where Rasa would answer 500 or ``[]``;
* the ``input_channel`` field is ignored: Rasa lets a REST client claim any channel.
"""
from __future__ import annotations

from http import HTTPStatus
import logging
from typing import Any, Dict, Optional, Text, Tuple

from rasa.core.channels.channel import InputChannel
from rasa.core.channels.rest import RestInput
from rasa.utils.common import call_potential_coroutine
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.identity import conversation_id
from bot.sender_tokens import SenderTokens, is_valid_sender
from channels.guard import OnNewMessage, guarded, is_valid_unicode

logger = logging.getLogger(__name__)

# Browsers' fetch() sends a string body as text/plain unless told otherwise, and
# several Rasa web widgets do exactly that: accept it when the body is JSON.
JSON_CONTENT_TYPES = {"", "application/json", "text/plain"}

Problem = Tuple[HTTPStatus, Text]
# Rasa's SQL tracker store keeps sender ids in a VARCHAR(255) column; a longer id would
# silently stay in one server's memory instead of the tracker store.
MAX_SENDER_LENGTH = 250  # 255, less the "rest:" prefix (bot.identity)
UNSIGNED_SENDER = (
    'The field "sender" must be a sender token: get one from POST /webhooks/rest/session '
    "(or send a JWT signed with the server's --jwt-secret)."
)


class RestChannel(RestInput):
    """``channels.rest.RestChannel`` in credentials.yml (see the module docstring)."""

    def __init__(self, tokens: SenderTokens, trusted_senders: bool = False) -> None:
        self.tokens = tokens
        self.trusted_senders = trusted_senders

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        trusted = (credentials or {}).get("trusted_senders", False)
        if not isinstance(trusted, bool):
            raise ValueError(f"credentials.yml: 'trusted_senders' of the REST channel must be true or false, not {trusted!r}.")
        if trusted:
            logger.warning("REST channel: trusted_senders is on, any client may speak as any REST sender (development only).")
        return cls(SenderTokens.from_environment(), trusted_senders=trusted)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = super().blueprint(guarded(on_new_message))

        @webhook.route("/session", methods=["POST"])
        async def new_session(_: Request) -> HTTPResponse:
            return response.json({"sender": self.tokens.issue()})

        @webhook.middleware("request")
        async def check_message(request: Request) -> Optional[HTTPResponse]:
            if request.method != "POST" or not request.path.rstrip("/").endswith("/webhook"):
                return None
            problem = body_problem(request) or await self._sender_problem(request)
            if problem is None:
                return None
            status, detail = problem
            return response.json({"error": detail}, status=status)

        return webhook

    async def _sender_problem(self, request: Request) -> Optional[Problem]:
        """Why the request may not speak as anyone; else its sender goes on ``request.ctx``."""
        jwt_user = await _jwt_username(request)
        claimed = str(request.json.get("sender", "default"))
        if jwt_user is not None:
            request.ctx.kai_sender = jwt_user
        elif self.trusted_senders:
            request.ctx.kai_sender = claimed
        else:
            request.ctx.kai_sender = self.tokens.sender_of(claimed)
        if request.ctx.kai_sender is None:
            return HTTPStatus.UNAUTHORIZED, UNSIGNED_SENDER
        return None

    async def _extract_sender(self, req: Request) -> Optional[Text]:
        return conversation_id(self.name(), req.ctx.kai_sender)

    def _extract_input_channel(self, req: Request) -> Text:
        return self.name()


async def _jwt_username(request: Request) -> Optional[Text]:
    """``user.username`` of a JWT that Rasa's ``--jwt-secret`` verifies, else None."""
    auth = getattr(request.app.ctx, "auth", None)
    if not request.app.config.get("USE_JWT") or auth is None or not request.headers.get("authorization"):
        return None
    try:
        if not await call_potential_coroutine(auth.is_authenticated(request)):
            return None
        payload = await call_potential_coroutine(auth.extract_payload(request))
    except Exception:  # sanic-jwt raises its own errors for malformed tokens
        return None
    user = payload.get("user") if isinstance(payload, dict) else None
    username = user.get("username") if isinstance(user, dict) else None
    return username if isinstance(username, str) and is_valid_sender(username) else None


def body_problem(request: Request) -> Optional[Problem]:
    """Why a POSTed body is not a REST message, or None if it is one."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in JSON_CONTENT_TYPES:
        return (
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type '{content_type}' is not supported: send application/json.",
        )
    try:
        body = request.json
    except InvalidUsage:
        return HTTPStatus.BAD_REQUEST, "The body is not valid JSON."
    return message_problem(body)


def message_problem(body: Any) -> Optional[Problem]:
    """Why a parsed body is not ``{"sender": ..., "message": "...", "metadata": {...}}``."""
    if not isinstance(body, dict):
        return HTTPStatus.BAD_REQUEST, 'The body must be a JSON object like {"sender": "me", "message": "hi"}.'
    if not isinstance(body.get("message"), str):
        return HTTPStatus.BAD_REQUEST, 'The field "message" must be a string.'
    if "sender" in body and not isinstance(body["sender"], (str, int)):
        return HTTPStatus.BAD_REQUEST, 'The field "sender" must be a string.'
    if len(str(body.get("sender", ""))) > MAX_SENDER_LENGTH:
        return HTTPStatus.BAD_REQUEST, f'The field "sender" must be at most {MAX_SENDER_LENGTH} characters.'
    if not is_valid_unicode(body["message"]) or not is_valid_unicode(str(body.get("sender", ""))):
        return HTTPStatus.BAD_REQUEST, "The text contains an unpaired UTF-16 surrogate: it is not valid Unicode."
    if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
        return HTTPStatus.BAD_REQUEST, 'The field "metadata" must be a JSON object.'
    return None
