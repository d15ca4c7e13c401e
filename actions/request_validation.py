"""Answer malformed /webhook requests with 400 and a one-line reason, never a 500.

rasa_sdk checks only that the body is JSON; a body without a ``tracker`` (or with
a tracker of the wrong shape) would raise inside the executor and come back as a
500 with a traceback in the log. A body that is not JSON, or not valid deflate
data when it says ``Content-Encoding: deflate`` (as Rasa sends it with
``COMPRESS_ACTION_SERVER_REQUEST``), fails inside rasa_sdk too: its error handler
logs a traceback and parses the body again. This request middleware decodes and
checks the envelope before the executor sees it, with the parser rasa_sdk itself
uses for each encoding. An unknown path or method gets its 404 or 405, where
rasa_sdk's catch-all error handler would answer 500.
"""
from __future__ import annotations

import json
import logging
import zlib
from http import HTTPStatus
from typing import Any, Optional, Tuple

from sanic import Sanic, response
from sanic.exceptions import InvalidUsage, MethodNotSupported, NotFound, SanicException
from sanic.request import Request

logger = logging.getLogger(__name__)

_APP_NAME = "rasa_sdk"  # the name rasa_sdk.endpoint.create_app gives its Sanic app

Problem = Tuple[HTTPStatus, str]


def problem_with(body: Any) -> Optional[str]:
    """Why this /webhook body cannot be an action call, or None if it can."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    if not isinstance(body.get("next_action"), str):
        return "'next_action' must be a string"
    if body.get("version") is not None and not isinstance(body["version"], str):
        return "'version' must be a string"
    if not isinstance(body.get("domain", {}), dict):
        return "'domain' must be an object"
    tracker = body.get("tracker")
    if not isinstance(tracker, dict):
        return "'tracker' must be an object"
    return _tracker_problem(tracker)


def _tracker_problem(tracker: dict) -> Optional[str]:
    """What rasa_sdk's ``Tracker`` reads, in the shape it reads it."""
    if not isinstance(tracker.get("sender_id"), str):
        return "'tracker.sender_id' must be a string"
    # rasa_sdk defaults these when they are missing, not when they are null.
    for key, kind in (("slots", dict), ("events", list), ("latest_message", dict)):
        if key in tracker and not isinstance(tracker[key], kind):
            return f"'tracker.{key}' must be {'a list' if kind is list else 'an object'}"
    if tracker.get("active_loop") is not None and not isinstance(tracker["active_loop"], dict):
        return "'tracker.active_loop' must be an object"
    events = tracker.get("events", [])
    if not all(isinstance(event, dict) for event in events):
        return "'tracker.events' must be a list of objects"
    # The channel of the latest user event names whose profile an action reads.
    if any(e.get("event") == "user" and not isinstance(e.get("input_channel") or "", str) for e in events):
        return "'input_channel' of a user event must be a string"
    latest = tracker.get("latest_message", {})
    entities = latest.get("entities", [])
    if not isinstance(entities, list) or not all(isinstance(entity, dict) for entity in entities):
        return "'tracker.latest_message.entities' must be a list of objects"
    if not isinstance(latest.get("intent", {}), dict):
        return "'tracker.latest_message.intent' must be an object"
    return None


def action_call(request: Request) -> Tuple[Any, Optional[Problem]]:
    """The request's body, decoded as rasa_sdk decodes it, or why it cannot be."""
    if request.headers.get("Content-Encoding") != "deflate":
        try:
            return request.json, None
        except InvalidUsage:
            return None, (HTTPStatus.BAD_REQUEST, "body is not valid JSON")
    # rasa_sdk inflates the body and parses it with json.loads.
    try:
        data = _inflate(request.body, request.app.config.REQUEST_MAX_SIZE)
    except zlib.error:
        return None, (HTTPStatus.BAD_REQUEST, "body is not valid deflate data")
    if data is None:
        return None, (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body inflates past the request size limit")
    try:
        return json.loads(data), None
    except ValueError:  # UnicodeDecodeError included
        return None, (HTTPStatus.BAD_REQUEST, "inflated body is not valid JSON")


def _inflate(data: bytes, limit: int) -> Optional[bytes]:
    """The inflated bytes, or None past ``limit`` (a small body can inflate to gigabytes)."""
    inflater = zlib.decompressobj()
    inflated = inflater.decompress(data, limit + 1)
    if len(inflated) > limit:
        return None
    if not inflater.eof:
        raise zlib.error("incomplete or truncated stream")
    return inflated


async def _validate(request: Request) -> Optional[response.HTTPResponse]:
    if request.method != "POST" or request.path != "/webhook":
        return None
    body, problem = action_call(request)
    if problem is None:
        reason = problem_with(body)
        problem = (HTTPStatus.BAD_REQUEST, reason) if reason else None
    if problem is None:
        return None
    status, reason = problem
    logger.warning("Rejected malformed action call: %s", reason)
    return response.json({"error": f"Malformed action call: {reason}"}, status=status)


async def _not_found(request: Request, error: SanicException) -> response.HTTPResponse:
    # rasa_sdk's catch-all exception handler would answer an unknown path with a 500
    # (and an ERROR traceback); Sanic picks this more specific handler instead.
    return response.json({"error": str(error)}, status=error.status_code)


def install() -> None:
    """Attach the check to rasa_sdk's app when the action server is loading this package."""
    try:
        app = Sanic.get_app(_APP_NAME)
    except Exception:  # imported outside `rasa run actions` (tests, scripts): nothing to do
        return
    if not getattr(app.ctx, "kai_request_validation", False):  # once, even on auto-reload
        app.register_middleware(_validate, "request")
        app.error_handler.add(NotFound, _not_found)
        app.error_handler.add(MethodNotSupported, _not_found)
        app.ctx.kai_request_validation = True
