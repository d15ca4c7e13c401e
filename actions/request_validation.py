"""Answer malformed /webhook requests with 400 and a one-line reason, never a 500.

rasa_sdk checks only that the body is JSON; a body without a ``tracker`` (or with
a tracker of the wrong shape) would raise inside the executor and come back as a
500 with a traceback in the log. This request middleware checks the envelope
before the executor sees it.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

from sanic import Sanic, response
from sanic.request import Request

logger = logging.getLogger(__name__)

_APP_NAME = "rasa_sdk"  # the name rasa_sdk.endpoint.create_app gives its Sanic app


def problem_with(body: Any) -> Optional[str]:
    """Why this /webhook body cannot be an action call, or None if it can."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    if not isinstance(body.get("next_action"), str):
        return "'next_action' must be a string"
    tracker = body.get("tracker")
    if not isinstance(tracker, dict):
        return "'tracker' must be an object"
    if not isinstance(tracker.get("sender_id"), str):
        return "'tracker.sender_id' must be a string"
    for key, kind in (("slots", dict), ("events", list), ("latest_message", dict)):
        if tracker.get(key) is not None and not isinstance(tracker[key], kind):
            return f"'tracker.{key}' must be a {'list' if kind is list else 'object'}"
    if not isinstance(body.get("domain", {}), dict):
        return "'domain' must be an object"
    return None


async def _validate(request: Request) -> Optional[response.HTTPResponse]:
    if request.method != "POST" or request.path != "/webhook":
        return None
    if request.headers.get("Content-Encoding") == "deflate":
        return None  # compressed bodies are decoded by rasa_sdk itself
    try:
        body = request.json
    except Exception:  # sanic raises InvalidUsage for bodies that are not JSON
        body = None
    problem = problem_with(body) if body is not None else None
    if problem:
        logger.warning("Rejected malformed action call: %s", problem)
        return response.json({"error": f"Malformed action call: {problem}"}, status=400)
    return None


def install() -> None:
    """Attach the check to rasa_sdk's app when the action server is loading this package."""
    try:
        app = Sanic.get_app(_APP_NAME)
    except Exception:  # imported outside `rasa run actions` (tests, scripts): nothing to do
        return
    if not getattr(app.ctx, "kai_request_validation", False):  # once, even on auto-reload
        app.register_middleware(_validate, "request")
        app.ctx.kai_request_validation = True
