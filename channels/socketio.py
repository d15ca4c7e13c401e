"""Rasa's socket.io channel with server-issued session ids, telling the page the emotion.

Protocol unchanged (so Rasa's own web widgets connect as they are): ``session_request``
/ ``session_confirm``, the user event with ``{"message", "session_id"}``, the bot event
with Rasa's message dicts. Added on top:

* the session id is a signed sender token (``bot.sender_tokens``) that the server
  issues in ``session_confirm`` when the client asks without one (widgets store and
  resend it). A ``session_request`` naming a forged or altered id is refused: a
  ``session_refused`` event with the reason, then the socket is disconnected. A
  message is answered only on a socket whose session was confirmed, as that
  session's conversation ``socketio:<sender>`` (``bot.identity``), whatever
  ``session_id`` it carries; with ``session_persistence: false`` every
  ``session_request`` starts a new conversation;
* ``session_request`` awaits ``enter_room``: rasa 3.6 calls it without ``await``, which
  python-socketio >= 5.10 made a coroutine, so the socket never joined its session's
  room and no reply arrived at all;
* a ``turn_end`` event once the bot has answered a message, ``{"emotion": ...}`` (see
  ``channels.emotion``): the page hides its typing indicator and updates its badge;
  widgets that do not know the event ignore it;
* websocket upgrades work on Python 3.11 (``channels.compat``);
* a payload that is not ``{"message": "<text>", ...}`` gets a polite reply instead of a
  traceback in the server log, and the checks in ``channels.guard``.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint, Sanic
from socketio import AsyncServer

from bot.identity import conversation_id
from bot.sender_tokens import SenderTokens
from channels.compat import allow_sanic_websockets_on_python_311
from channels.emotion import latest_emotion
from channels.guard import OnNewMessage, guarded

logger = logging.getLogger(__name__)

allow_sanic_websockets_on_python_311()

TURN_END_EVENT = "turn_end"
REFUSED_EVENT = "session_refused"
UNREADABLE_REPLY = 'I couldn\'t read that message: send {"message": "<your text>"}.'
FORGED_SESSION = "This session id was not issued by this server: request a session without one."
NO_SESSION = "No confirmed session on this connection: send session_request first."


class SocketIOChannel(SocketIOInput):
    """``socketio`` in credentials.yml, with the additions described above."""

    def __init__(self, *args: Any, tokens: Optional[SenderTokens] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app: Optional[Sanic] = None  # set once the server runs: see blueprint
        self.tokens = tokens or SenderTokens.from_environment()
        self.sessions: Dict[Text, Text] = {}  # socket id -> its confirmed conversation id

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = super().blueprint(on_new_message)  # Rasa's routes; our handlers below
        sio = self.sio
        assert sio is not None  # set by super().blueprint

        @webhook.listener("after_server_start")
        async def remember_app(app: Sanic, _: Any) -> None:
            self.app = app  # the agent (and its tracker store) lives on app.ctx

        sio.on("session_request", self._session_request, namespace=self.namespace)
        sio.on("disconnect", self._disconnect, namespace=self.namespace)
        answer = self._reporting_turn_end(guarded(on_new_message))

        async def handle_message(sid: Text, *args: Any) -> None:
            # A client may emit the event with any number of arguments; ours is one.
            data = args[0] if len(args) == 1 else None
            conversation = self.sessions.get(sid)
            if conversation is None:
                await self._refuse(sid, NO_SESSION)
            elif not is_readable(data, self.metadata_key):
                unreadable = {"text": UNREADABLE_REPLY}
                await sio.emit(self.bot_message_evt, unreadable, room=sid, namespace=self.namespace)
                await sio.emit(TURN_END_EVENT, {"emotion": None}, room=sid, namespace=self.namespace)
            else:
                output = SocketIOOutput(sio, self.bot_message_evt)
                text, metadata = data.get("message", ""), _metadata(data, self.metadata_key)
                await answer(UserMessage(text, output, conversation, input_channel=self.name(), metadata=metadata))

        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        return webhook

    async def _session_request(self, sid: Text, *args: Any) -> None:
        """Confirm the session the client holds a token for, or a new one; refuse forgeries.

        Anything but one ``{"session_id": ...}`` argument asks for a new session."""
        sio: AsyncServer = self.sio  # type: ignore[assignment]
        data = args[0] if len(args) == 1 else None
        requested = data.get("session_id") if isinstance(data, dict) else None
        if not requested or not self.session_persistence:
            token = self.tokens.issue()
        elif self.tokens.sender_of(requested) is not None:
            token = requested
        else:
            logger.warning(f"Socket {sid} refused: its session id was not issued by this server.")
            await self._refuse(sid, FORGED_SESSION)
            await sio.disconnect(sid, namespace=self.namespace)
            return
        conversation = conversation_id(self.name(), self.tokens.sender_of(token))  # type: ignore[arg-type]
        self.sessions[sid] = conversation
        await sio.enter_room(sid, conversation, namespace=self.namespace)
        await sio.emit("session_confirm", token, room=sid, namespace=self.namespace)
        logger.debug(f"Socket {sid} joined its session.")

    async def _disconnect(self, sid: Text) -> None:
        self.sessions.pop(sid, None)

    async def _refuse(self, sid: Text, reason: Text) -> None:
        await self.sio.emit(REFUSED_EVENT, {"reason": reason}, room=sid, namespace=self.namespace)  # type: ignore[union-attr]

    def _reporting_turn_end(self, on_new_message: OnNewMessage) -> OnNewMessage:
        async def handle(message: UserMessage) -> None:
            try:
                await on_new_message(message)
            finally:
                payload = {"emotion": await self._emotion_of(message)}
                await self.sio.emit(  # type: ignore[union-attr]
                    TURN_END_EVENT, payload, room=message.sender_id, namespace=self.namespace
                )

        return handle

    async def _emotion_of(self, message: UserMessage) -> Optional[Dict[Text, Any]]:
        """The emotion read in ``message``; None if it never reached the NLU (see guard)."""
        agent = getattr(self.app.ctx, "agent", None) if self.app else None
        if agent is None or agent.tracker_store is None:
            return None
        try:
            tracker = await agent.tracker_store.retrieve(message.sender_id)
        except Exception as error:  # the badge is a nicety: never fail the turn over it
            logger.warning(f"Could not read the emotion of {message.sender_id}: {error}")
            return None
        return latest_emotion(tracker, message.message_id)


def _metadata(data: Dict[Text, Any], metadata_key: Text) -> Optional[Dict[Text, Any]]:
    metadata = data.get(metadata_key)
    return json.loads(metadata) if isinstance(metadata, str) else metadata  # is_readable checked it


def is_readable(data: Any, metadata_key: Text = "metadata") -> bool:
    """Whether a user event's payload is what Rasa's handler can read without crashing."""
    if not isinstance(data, dict) or not isinstance(data.get("message", ""), str):
        return False
    metadata = data.get(metadata_key)
    if isinstance(metadata, str):  # Rasa accepts metadata as a JSON string too
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return False
    return metadata is None or isinstance(metadata, dict)
