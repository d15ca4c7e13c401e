"""Malformed requests to Rasa's HTTP API get a 400 with the reason, never a 500.

``rasa run --enable-api`` serves the conversation and model endpoints of
``rasa/server.py``. Its handlers read the JSON body as they expect it and turn any
exception into a 500 ("An unexpected error occurred"): a body that is not JSON, a
``text`` that is a number, ``parse_data`` without ``entities``, a list where an
object belongs (all found by ``python -m benchmarks.security``). The request
middleware here checks the body of each endpoint that takes one before Rasa's
handler runs, and answers a malformed one with 400 in the shape of Rasa's own
errors. Well-formed requests pass untouched; routes it does not know pass too.

Only the shape is checked, not the meaning: Rasa still answers an unknown intent
with 404, a missing conversation with 404, and so on.

``HttpApiChecks`` in credentials.yml installs the check when the server starts (it
is listed there because credentials.yml is where ``rasa run`` takes extensions of its
server from; it adds no route of its own).
"""
from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, Callable, Dict, Optional

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, Sanic, response

from channels.guard import is_valid_unicode
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

API_APP_NAME = "rasa_server"  # rasa.server.create_app's Sanic app: only there with --enable-api
# Rasa's SQL tracker store keeps conversation ids in a VARCHAR(255) column.
MAX_CONVERSATION_ID_CHARS = 255

Check = Callable[[Any], Optional[str]]


# --- What each endpoint's body must look like ------------------------------------------

def parse_problem(body: Any) -> Optional[str]:
    """POST /model/parse: ``{"text": "..."}`` (Rasa also takes a list of texts)."""
    if not isinstance(body, dict):
        return "the body must be a JSON object like {\"text\": \"hello\"}"
    text = body.get("text")
    if isinstance(text, list) and text:
        text = text[0]
    if not isinstance(text, str):
        return "'text' must be a string"
    if body.get("message_id") is not None and not isinstance(body["message_id"], str):
        return "'message_id' must be a string"
    return _text_problem(text, "text")


def message_problem(body: Any) -> Optional[str]:
    """POST /conversations/<id>/messages: ``{"text", "sender": "user", "parse_data"?}``."""
    if not isinstance(body, dict):
        return "the body must be a JSON object like {\"text\": \"hello\", \"sender\": \"user\"}"
    if not isinstance(body.get("text"), str):
        return "'text' must be a string"
    if body.get("parse_data") is not None:
        return parse_data_problem(body["parse_data"])
    return _text_problem(body["text"], "text")


def parse_data_problem(parse_data: Any) -> Optional[str]:
    """What Rasa reads of a message's ``parse_data``: an intent object and a list of entities."""
    if not isinstance(parse_data, dict):
        return "'parse_data' must be an object"
    intent = parse_data.get("intent")
    if not isinstance(intent, dict) or not isinstance(intent.get("name", ""), str):
        return "'parse_data.intent' must be an object with a string 'name'"
    return entities_problem(parse_data.get("entities"), "parse_data.entities")


def entities_problem(entities: Any, where: str) -> Optional[str]:
    if not isinstance(entities, list):
        return f"'{where}' must be a list"
    for entity in entities:
        if not isinstance(entity, dict) or not isinstance(entity.get("entity"), str) or "value" not in entity:
            return f"each of '{where}' must be an object with a string 'entity' and a 'value'"
    return None


def trigger_intent_problem(body: Any) -> Optional[str]:
    """POST /conversations/<id>/trigger_intent: ``{"name": "...", "entities"?: [...] or {...}}``."""
    if not isinstance(body, dict):
        return "the body must be a JSON object like {\"name\": \"greet\"}"
    if not isinstance(body.get("name"), str):
        return "'name' must be a string"
    entities = body.get("entities")
    if isinstance(entities, dict) or not entities:
        return None  # Rasa reads {"entity": "value"} pairs too
    return entities_problem(entities, "entities")


def execute_problem(body: Any) -> Optional[str]:
    """POST /conversations/<id>/execute: ``{"name": "...", "policy"?, "confidence"?}``."""
    if not isinstance(body, dict):
        return "the body must be a JSON object like {\"name\": \"utter_greet\"}"
    if not isinstance(body.get("name"), str):
        return "'name' must be a string"
    if body.get("policy") is not None and not isinstance(body["policy"], str):
        return "'policy' must be a string"
    if body.get("confidence") is not None and not _is_number(body["confidence"]):
        return "'confidence' must be a number"
    return None


def events_problem(body: Any) -> Optional[str]:
    """POST /conversations/<id>/tracker/events: an event or a list of events, at least one
    of which Rasa can read (its handler fails with a 500 when none is)."""
    events = body if isinstance(body, list) else [body]
    if not all(isinstance(event, dict) for event in events):
        return None  # Rasa's JSON schema check answers these with 400
    for event in events:
        problem = _stored_fields_problem(event)
        if problem:
            return problem
    try:
        readable = [event for event in events if _event_from(event) is not None]
    except Exception as error:  # Rasa's event classes raise on some fields of the wrong type
        return f"an event cannot be read ({type(error).__name__}: {error})"
    return None if readable else "the body has no event Rasa can read (unknown or incomplete types)"


def replace_events_problem(body: Any) -> Optional[str]:
    """PUT /conversations/<id>/tracker/events: the conversation's new list of events."""
    if not isinstance(body, list):
        return "the body must be a list of events"
    return events_problem(body) if body else None


def _stored_fields_problem(event: dict) -> Optional[str]:
    """The fields Rasa's SQL tracker store writes to text columns (action and intent
    names) must be text; anything else fails the save after the handler answered."""
    if event.get("name") is not None and not isinstance(event["name"], str):
        return "an event's 'name' must be a string"
    if event.get("event") == "user" and event.get("parse_data") is not None:
        return parse_data_problem(event["parse_data"])
    return None


def _event_from(parameters: dict) -> Any:
    from rasa.shared.core.events import Event  # only ever called inside `rasa run`

    return Event.from_parameters(parameters)


BODY_CHECKS: Dict[str, Check] = {
    "POST /model/parse": parse_problem,
    "POST /conversations/<conversation_id:path>/tracker/events": events_problem,
    "PUT /conversations/<conversation_id:path>/tracker/events": replace_events_problem,
    "POST /conversations/<conversation_id:path>/messages": message_problem,
    "POST /conversations/<conversation_id:path>/trigger_intent": trigger_intent_problem,
    "POST /conversations/<conversation_id:path>/execute": execute_problem,
}


# --- The middleware ----------------------------------------------------------------------

def request_problem(request: Request) -> Optional[str]:
    """Why Rasa's handler would fail on this request, or None."""
    conversation = request.match_info.get("conversation_id")
    if isinstance(conversation, str):
        problem = _conversation_problem(conversation)
        if problem:
            return problem
    route = f"{request.method} {_route_path(request)}"
    check = BODY_CHECKS.get(route)
    if check is None:
        return None
    try:
        body = request.json
    except InvalidUsage:
        return "the body is not valid JSON"
    if _has_lone_surrogate(body):  # the tracker store cannot save such text (UTF-8 only)
        return "the body contains an unpaired UTF-16 surrogate: it is not valid Unicode"
    return check(body)


def _route_path(request: Request) -> Optional[str]:
    """The pattern of the route the request matched ("/conversations/<conversation_id:path>/...")."""
    route = request.route
    return "/" + route.path.lstrip("/") if route is not None else None


def _conversation_problem(conversation: str) -> Optional[str]:
    if len(conversation) > MAX_CONVERSATION_ID_CHARS:
        return f"the conversation id must be at most {MAX_CONVERSATION_ID_CHARS} characters"
    return _text_problem(conversation, "conversation id")


def _text_problem(text: str, what: str) -> Optional[str]:
    """JSON's \\ud800 escapes decode to lone surrogates, which no UTF-8 text may hold."""
    if not is_valid_unicode(text):
        return f"the {what} contains an unpaired UTF-16 surrogate: it is not valid Unicode"
    return None


def _has_lone_surrogate(value: Any) -> bool:
    """Whether any key or string in a parsed JSON value is not valid Unicode."""
    pending = [value]
    while pending:  # a loop, not recursion: JSON can nest deeper than Python recurses
        item = pending.pop()
        if isinstance(item, str) and _text_problem(item, "text"):
            return True
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


async def check_request(request: Request) -> Optional[HTTPResponse]:
    problem = request_problem(request)
    if problem is None:
        return None
    logger.info(f"HTTP API request refused ({request.method} {request.path}): {problem}")
    # The shape of Rasa's own API errors (rasa.server.ErrorResponse), so clients read it alike.
    body = {"status": "failure", "reason": "BadRequest", "message": problem[0].upper() + problem[1:] + ".",
            "code": HTTPStatus.BAD_REQUEST}
    return response.json(body, status=HTTPStatus.BAD_REQUEST)


def install(app: Optional[Sanic] = None) -> bool:
    """Check requests to Rasa's HTTP API on ``app`` (default: the API's app, if it runs).

    Returns whether the check is installed (False when the HTTP API is off).
    """
    if app is None:
        try:
            app = Sanic.get_app(API_APP_NAME)
        except Exception:  # `rasa run` without --enable-api: no API to check
            return False
    if not getattr(app.ctx, "kai_http_api_checks", False):
        app.register_middleware(check_request, "request")
        app.ctx.kai_http_api_checks = True
    return True


class HttpApiChecks(InputChannel):
    """``channels.http_api.HttpApiChecks`` in credentials.yml: not a channel, the checks above."""

    @classmethod
    def name(cls) -> str:
        return "http_api_checks"

    def blueprint(self, on_new_message: Callable[..., Any]) -> Blueprint:
        checks = Blueprint("http_api_checks", __name__)

        @checks.listener("before_server_start")
        async def install_checks(app: Sanic, _: Any) -> None:
            if not install(app if app.name == API_APP_NAME else None):
                logger.debug("HTTP API off (no --enable-api): nothing to check.")

        return checks
