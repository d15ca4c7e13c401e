"""Rasa's Telegram connector with secrets from the environment and checked updates.

Environment: ``TELEGRAM_TOKEN`` (the bot token from @BotFather), ``TELEGRAM_VERIFY``
(the bot's username, which Rasa checks the token against) and ``TELEGRAM_WEBHOOK_URL``
(the public https address of ``/webhooks/telegram/webhook``); without all three the
channel is left out. ``TELEGRAM_API_URL`` optionally names another Bot API server (a
self-hosted one, or a local stand-in in tests). ``TELEGRAM_SECRET_TOKEN`` optionally
sets the webhook's secret token; by default it is derived from the bot token.

On top of Rasa's ``TelegramInput``:

* the webhook is registered with a secret token, which Telegram sends back in the
  ``X-Telegram-Bot-Api-Secret-Token`` header of every update; an update without it
  (or with another) gets a 401, so only Telegram can speak as a Telegram chat;
* the conversation id handed to Rasa is ``telegram:<chat id>`` (``bot.identity``);

* the webhook is registered once the server runs, and a failure is logged instead of
  stopping the whole server (Rasa calls ``setWebhook`` while building its routes and
  aborts on any error, and again on every output-channel lookup);
* a malformed update gets a 400 instead of a 500; an update of a kind Rasa does not
  handle (a channel post, a membership change) is acknowledged and skipped, so
  Telegram does not retry it;
* an error while answering is logged (``debug_mode`` off) and ``channels.guard``
  replies politely to empty or over-long text.

The profile store's key is therefore ``("telegram", <chat id>)``.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from http import HTTPStatus
from typing import Any, Dict, Optional, Text

from aiogram import Bot
from aiogram.bot.api import TELEGRAM_PRODUCTION, Methods, TelegramAPIServer, check_token
from aiogram.types import Update
from aiogram.utils.exceptions import ValidationError
from rasa.core.channels.channel import InputChannel
from rasa.core.channels.telegram import TelegramInput, TelegramOutput
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.env import LeftOutChannel, optional_env, read_secrets
from channels.guard import OnNewMessage, guarded
from channels.namespacing import namespaced

logger = logging.getLogger(__name__)

TOKEN_ENV = "TELEGRAM_TOKEN"
VERIFY_ENV = "TELEGRAM_VERIFY"
WEBHOOK_URL_ENV = "TELEGRAM_WEBHOOK_URL"
API_URL_ENV = "TELEGRAM_API_URL"
SECRET_TOKEN_ENV = "TELEGRAM_SECRET_TOKEN"
SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# The update kinds Rasa's TelegramInput reads; it crashes on any other.
HANDLED_KINDS = ("message", "edited_message", "callback_query")


class TelegramBotAt(TelegramOutput):
    """Rasa's Telegram output channel, talking to the Bot API server given."""

    def __init__(self, access_token: Text, server: TelegramAPIServer) -> None:
        Bot.__init__(self, access_token, server=server)


class TelegramChannel(TelegramInput):
    """``channels.telegram.TelegramChannel`` in credentials.yml."""

    def __init__(
        self,
        *args: Any,
        api_server: TelegramAPIServer = TELEGRAM_PRODUCTION,
        secret_token: Optional[Text] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.api_server = api_server
        self.secret_token = secret_token or derived_secret_token(self.access_token)
        self.output: Optional[TelegramOutput] = None

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        secrets = read_secrets("telegram", [TOKEN_ENV, VERIFY_ENV, WEBHOOK_URL_ENV])
        if secrets is None:
            return LeftOutChannel("telegram")
        try:
            check_token(secrets[TOKEN_ENV])
        except ValidationError:
            logger.warning(f"Channel 'telegram' left out: {TOKEN_ENV} is not a Telegram bot token.")
            return LeftOutChannel("telegram")
        api_url = optional_env(API_URL_ENV)
        return cls(
            secrets[TOKEN_ENV],
            secrets[VERIFY_ENV],
            secrets[WEBHOOK_URL_ENV],
            debug_mode=False,  # log a failed answer; Rasa's default re-raises it as a 500
            api_server=TelegramAPIServer.from_base(api_url) if api_url else TELEGRAM_PRODUCTION,
            secret_token=optional_env(SECRET_TOKEN_ENV),
        )

    def get_output_channel(self) -> TelegramOutput:
        # One client for the channel's lifetime, and no network call: see module docstring.
        if self.output is None:
            self.output = TelegramBotAt(self.access_token, self.api_server)
        return self.output

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = super().blueprint(guarded(namespaced(self.name(), on_new_message)))

        @webhook.listener("after_server_start")
        async def set_webhook(*_: Any) -> None:
            await self._register_webhook()

        @webhook.listener("before_server_stop")
        async def close_client(*_: Any) -> None:
            if self.output is not None:
                await self.output.session.close()  # aiogram's HTTP client session

        @webhook.middleware("request")
        async def check_update(request: Request) -> Optional[HTTPResponse]:
            if not request.path.rstrip("/").endswith("/webhook"):
                return None
            if request.method != "POST":  # Rasa's route takes GET too and answers it with a 500
                return response.text("Telegram posts updates: use POST.", status=HTTPStatus.METHOD_NOT_ALLOWED)
            given = request.headers.get(SECRET_TOKEN_HEADER, "")
            if not hmac.compare_digest(given.encode(), self.secret_token.encode()):
                logger.warning(f"Telegram update rejected: missing or wrong {SECRET_TOKEN_HEADER}.")
                return response.text(f"Missing or wrong {SECRET_TOKEN_HEADER}.", status=HTTPStatus.UNAUTHORIZED)
            try:
                update = request.json
            except InvalidUsage:
                return response.text("The body is not valid JSON.", status=HTTPStatus.BAD_REQUEST)
            problem = update_problem(update) or _unparsable(update)
            if problem is not None:
                return response.text(problem, status=HTTPStatus.BAD_REQUEST)
            if not any(kind in update for kind in HANDLED_KINDS):
                return response.text("success")  # acknowledged, nothing to answer
            return None

        return webhook

    async def _register_webhook(self) -> None:
        try:
            # aiogram 2.15's set_webhook predates secret_token: the Bot API call itself.
            payload = {"url": self.webhook_url, "secret_token": self.secret_token}
            await self.get_output_channel().request(Methods.SET_WEBHOOK, payload)
            logger.info(f"Telegram webhook set to {self.webhook_url}.")
        except Exception as error:
            logger.error(
                f"Telegram webhook not set ({error}); the other channels keep running. "
                f"Fix {TOKEN_ENV}/{WEBHOOK_URL_ENV} and restart, or GET /webhooks/telegram/set_webhook."
            )


def derived_secret_token(bot_token: Text) -> Text:
    """A webhook secret only this bot's owner can know (Telegram allows [A-Za-z0-9_-])."""
    return hmac.new(bot_token.encode(), b"kai-telegram-webhook", hashlib.sha256).hexdigest()


def update_problem(update: Any) -> Optional[Text]:
    """Why a body is not a Telegram update Rasa can read, or None if it is one."""
    if not isinstance(update, dict):
        return "The body must be a JSON object (a Telegram Update)."
    if not isinstance(update.get("update_id"), int) or isinstance(update.get("update_id"), bool):
        return 'The field "update_id" must be an integer.'
    query = update.get("callback_query")
    if query is not None:
        if not isinstance(query, dict) or not isinstance(query.get("data", ""), str):
            return 'The field "callback_query" must be an object with a string "data".'
        return _message_problem(query.get("message"), "callback_query.message")
    for kind in ("message", "edited_message"):
        if kind in update:
            return _message_problem(update[kind], kind)
    return None


def _unparsable(update: Dict[Text, Any]) -> Optional[Text]:
    """Why aiogram cannot build the Update Rasa reads (an entity missing its offset, a
    location that is not an object, ...), or None."""
    try:
        parsed = Update(**update)  # aiogram builds nested objects when first read: read what Rasa reads
        query = parsed.callback_query
        message = query.message if query else parsed.edited_message or parsed.message
        location = message.location if message is not None else None
        if location is not None and not all(isinstance(v, (int, float)) for v in (location.longitude, location.latitude)):
            return "A location needs a numeric longitude and latitude."
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        return f"The update is not one Telegram sends: {type(error).__name__}."
    return None


def _message_problem(message: Any, where: Text) -> Optional[Text]:
    if not isinstance(message, dict):
        return f'The field "{where}" must be an object.'
    chat = message.get("chat")
    if not isinstance(chat, dict) or not isinstance(chat.get("id"), int):
        return f'The field "{where}.chat.id" must be an integer.'
    if not isinstance(message.get("text", ""), str):
        return f'The field "{where}.text" must be a string.'
    return None
