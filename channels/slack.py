"""Rasa's Slack connector with secrets from the environment and stricter webhook answers.

Environment: ``SLACK_BOT_TOKEN`` and ``SLACK_SIGNING_SECRET`` (both needed, else the
channel is left out), ``SLACK_API_URL`` (optional: another Slack Web API base URL, such
as a local stand-in in tests). Other settings (``slack_channel``, ``use_threads``,
``conversation_granularity``, ...) stay in credentials.yml as Rasa documents them.

On top of Rasa's ``SlackInput``:

* a request without a valid, fresh (5 minutes) signature gets 401, not Rasa's 400;
* a retried event (same ``event_id``, ``X-Slack-Retry-Num`` set) that was already
  received is acknowledged and not answered again; Rasa only skips retries whose
  reason is in ``errors_ignore_retry``;
* a signed body that is not a Slack event or interaction Rasa can read gets a 400
  rather than a 500, and a click that carries nothing to answer (a link button) a 200;
* empty or over-long messages get the polite replies of ``channels.guard``.

The conversation id handed to Rasa is ``slack:<user id>`` (``bot.identity``; with Rasa's
default ``conversation_granularity: sender``), so the profile store's key is
``("slack", <user id>)``; replies still go to the Slack channel the message came from.
"""
from __future__ import annotations

import json
import logging
from collections import OrderedDict
from http import HTTPStatus
from typing import Any, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel
from rasa.core.channels.slack import SlackInput
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.env import LeftOutChannel, optional_env, read_secrets
from channels.guard import OnNewMessage, guarded, is_valid_unicode
from channels.namespacing import namespaced

logger = logging.getLogger(__name__)

TOKEN_ENV = "SLACK_BOT_TOKEN"
SIGNING_SECRET_ENV = "SLACK_SIGNING_SECRET"
API_URL_ENV = "SLACK_API_URL"
# Slack retries an event at most three times within about an hour; a few thousand
# ids cover far more than that window for one bot.
REMEMBERED_EVENTS = 4096


class SlackChannel(SlackInput):
    """``channels.slack.SlackChannel`` in credentials.yml."""

    def __init__(self, *args: Any, api_url: Optional[Text] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.api_url = api_url
        self.seen_events = RecentIds(REMEMBERED_EVENTS)

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        secrets = read_secrets("slack", [TOKEN_ENV, SIGNING_SECRET_ENV])
        if secrets is None:
            return LeftOutChannel("slack")
        channel = super().from_credentials(
            {
                **(credentials or {}),
                "slack_token": secrets[TOKEN_ENV],
                "slack_signing_secret": secrets[SIGNING_SECRET_ENV],
            }
        )
        channel.api_url = optional_env(API_URL_ENV)
        return channel

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = super().blueprint(guarded(namespaced(self.name(), on_new_message)))

        @webhook.middleware("request")
        async def reject_bad_requests(request: Request) -> Optional[HTTPResponse]:
            if not request.path.rstrip("/").endswith("/webhook"):
                return None  # the health route needs no signature
            if not self.is_request_from_slack_authentic(request):
                logger.warning("Slack request rejected: missing, wrong or stale signature.")
                return response.text(
                    "Invalid or stale X-Slack-Signature.", status=HTTPStatus.UNAUTHORIZED
                )
            problem = event_problem(request)
            if problem is not None:
                return response.text(problem, status=HTTPStatus.BAD_REQUEST)
            if _content_type(request) == "application/x-www-form-urlencoded" and not interaction_text(request):
                # A link button or an empty choice: nothing to answer (Rasa would say 500).
                return response.text("Nothing to answer.")
            return None

        return webhook

    async def process_message(
        self,
        request: Request,
        on_new_message: OnNewMessage,
        text: Text,
        sender_id: Optional[Text],
        metadata: Optional[Dict],
    ) -> Any:
        event_id = request.json.get("event_id") if is_json(request) else None
        if event_id and self.seen_events.seen_before(event_id):
            logger.info(
                f"Slack retry #{request.headers.get(self.retry_num_header)} of event "
                f"{event_id} ignored: it was already received."
            )
            return response.text("", headers={"X-Slack-No-Retry": "1"})
        return await super().process_message(request, on_new_message, text, sender_id, metadata)

    def get_output_channel(
        self, channel: Optional[Text] = None, thread_id: Optional[Text] = None
    ) -> OutputChannel:
        output = super().get_output_channel(channel, thread_id)
        if self.api_url:
            output.client.base_url = self.api_url.rstrip("/") + "/"
        return output


def interaction_text(request: Request) -> Optional[Text]:
    """What the user chose in an interaction ``interaction_problem`` accepted."""
    action = json.loads(request.form.get("payload"))["actions"][0]
    return SlackInput._get_interactive_response(action)


class RecentIds:
    """The last ``capacity`` ids seen, oldest forgotten first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: "OrderedDict[Text, None]" = OrderedDict()

    def seen_before(self, id_: Text) -> bool:
        """Record ``id_``; True if it was already recorded."""
        if id_ in self._ids:
            return True
        self._ids[id_] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return False


def is_json(request: Request) -> bool:
    return _content_type(request) == "application/json"


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip()


def event_problem(request: Request) -> Optional[Text]:
    """Why a signed body cannot be read by Rasa's Slack handler, or None if it can."""
    if request.method != "POST":
        return None
    if _content_type(request) == "application/x-www-form-urlencoded":
        return interaction_problem(request)
    if not is_json(request):
        return None  # Rasa acknowledges other bodies without reading them
    try:
        body = request.json
    except InvalidUsage:
        return "The body is not valid JSON."
    if not isinstance(body, dict):
        return "The body must be a JSON object (a Slack event envelope)."
    event = body.get("event", {})
    if not isinstance(event, dict):
        return 'The field "event" must be an object.'
    if not all(isinstance(event.get(key, ""), str) for key in ("text", "user", "channel", "ts", "thread_ts")):
        return 'The fields "event.text", "event.user", "event.channel" and "event.ts" must be strings.'
    if not is_valid_unicode(event.get("text", "")) or not is_valid_unicode(event.get("user", "")):
        return "The event's text contains an unpaired UTF-16 surrogate: it is not valid Unicode."
    if not _is_list_of(body.get("authed_users", []), str) or not _is_list_of(body.get("authorizations", []), dict):
        return 'The fields "authed_users" (strings) and "authorizations" (objects) must be lists.'
    return None


def interaction_problem(request: Request) -> Optional[Text]:
    """Why a form-encoded body is not an interactive component Rasa can read (a button
    click, a menu choice), or None if it is one."""
    try:
        payload = json.loads(request.form.get("payload", ""))
    except (ValueError, UnicodeDecodeError):
        return 'A form body must carry a JSON "payload" (a Slack interaction).'
    if not isinstance(payload, dict):
        return 'The field "payload" must be a JSON object.'
    user, actions = payload.get("user"), payload.get("actions")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        return 'The field "payload.user.id" must be a string.'
    if not isinstance(actions, list) or not actions or not _is_list_of(actions, dict):
        return 'The field "payload.actions" must be a non-empty list of objects.'
    if not all(isinstance(payload.get(key, {}), dict) for key in ("channel", "message")):
        return 'The fields "payload.channel" and "payload.message" must be objects.'
    if not SlackInput._is_interactive_message(payload):
        return f"Interactive components of type {str(actions[0].get('type'))[:40]!r} are not supported."
    try:
        chosen = SlackInput._get_interactive_response(actions[0])
    except (AttributeError, TypeError, IndexError, KeyError):
        chosen = 0  # a selection of another shape: reported below
    if chosen is not None and not isinstance(chosen, str):
        return "The action's value or selection must be text."
    return None


def _is_list_of(value: Any, kind: type) -> bool:
    return isinstance(value, list) and all(isinstance(item, kind) for item in value)
