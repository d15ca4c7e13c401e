"""Rasa's REST channel (``POST /webhooks/rest/webhook``) with clear 4xx for bad bodies.

The protocol is Rasa's: ``{"sender": "...", "message": "...", "metadata": {...}}`` in,
a JSON list of bot messages out. Unknown fields are ignored, as Rasa does. Two changes:

* a body that is not a JSON object with a string ``message`` gets a 400 (415 for a
  non-JSON content type) naming the problem, where Rasa would answer 500 or ``[]``;
* the ``input_channel`` field is ignored: Rasa lets a REST client claim any channel
  name, which would let it reach another channel's user profile, since profiles are
  keyed by (channel, sender).
"""
from __future__ import annotations

from http import HTTPStatus
from typing import Any, Optional, Text, Tuple

from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.guard import OnNewMessage, guarded

# Browsers' fetch() sends a string body as text/plain unless told otherwise, and
# several Rasa web widgets do exactly that: accept it when the body is JSON.
JSON_CONTENT_TYPES = {"", "application/json", "text/plain"}

Problem = Tuple[HTTPStatus, Text]
# Rasa's SQL tracker store keeps sender ids in a VARCHAR(255) column; a longer id would
# silently stay in one server's memory instead of the tracker store.
MAX_SENDER_LENGTH = 255


class RestChannel(RestInput):
    """``rest`` in credentials.yml, with the body checks described above."""

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = super().blueprint(guarded(on_new_message))

        @webhook.middleware("request")
        async def reject_malformed(request: Request) -> Optional[HTTPResponse]:
            if request.method != "POST":
                return None
            problem = body_problem(request)
            if problem is None:
                return None
            status, detail = problem
            return response.json({"error": detail}, status=status)

        return webhook

    def _extract_input_channel(self, req: Request) -> Text:
        return self.name()


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
    if _has_lone_surrogate(body["message"]) or _has_lone_surrogate(str(body.get("sender", ""))):
        return HTTPStatus.BAD_REQUEST, "The text contains an unpaired UTF-16 surrogate: it is not valid Unicode."
    if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
        return HTTPStatus.BAD_REQUEST, 'The field "metadata" must be a JSON object.'
    return None


def _has_lone_surrogate(text: str) -> bool:
    """JSON's \\ud800 escapes decode to code points no UTF-8 text may hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
