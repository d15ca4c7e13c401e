"""Rasa's socket.io channel, fixed for python-socketio 5.x and telling the page the emotion.

Protocol unchanged (so Rasa's own web widgets connect as they are): ``session_request``
/ ``session_confirm``, the user event with ``{"message", "session_id"}``, the bot event
with Rasa's message dicts. Added on top:

* ``session_request`` awaits ``enter_room``: rasa 3.6 calls it without ``await``, which
  python-socketio >= 5.10 made a coroutine, so with ``session_persistence: true`` the
  socket never joined its session's room and no reply arrived at all;
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
import uuid
from typing import Any, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint, Sanic
from socketio import AsyncServer

from channels.compat import allow_sanic_websockets_on_python_311
from channels.emotion import latest_emotion
from channels.guard import OnNewMessage, guarded

logger = logging.getLogger(__name__)

allow_sanic_websockets_on_python_311()

TURN_END_EVENT = "turn_end"
UNREADABLE_REPLY = 'I couldn\'t read that message: send {"message": "<your text>"}.'


class SocketIOChannel(SocketIOInput):
    """``socketio`` in credentials.yml, with the additions described above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app: Optional[Sanic] = None  # set once the server runs: see blueprint

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = super().blueprint(self._reporting_turn_end(guarded(on_new_message)))
        sio = self.sio
        assert sio is not None  # set by super().blueprint

        @webhook.listener("after_server_start")
        async def remember_app(app: Sanic, _: Any) -> None:
            self.app = app  # the agent (and its tracker store) lives on app.ctx

        sio.on("session_request", self._session_request, namespace=self.namespace)
        rasa_handler = sio.handlers[self.namespace or "/"][self.user_message_evt]

        async def handle_message(sid: Text, data: Any) -> None:
            if not is_readable(data, self.metadata_key):
                unreadable = {"text": UNREADABLE_REPLY}
                await sio.emit(self.bot_message_evt, unreadable, room=sid, namespace=self.namespace)
                await sio.emit(TURN_END_EVENT, {"emotion": None}, room=sid, namespace=self.namespace)
                return
            await rasa_handler(sid, data)

        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        return webhook

    async def _session_request(self, sid: Text, data: Any) -> None:
        """Rasa's handler, with ``enter_room`` awaited and the session id checked."""
        sio: AsyncServer = self.sio  # type: ignore[assignment]
        session_id = data.get("session_id") if isinstance(data, dict) else None
        if not isinstance(session_id, str) or not session_id.strip():
            session_id = uuid.uuid4().hex
        if self.session_persistence:
            await sio.enter_room(sid, session_id, namespace=self.namespace)
        await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
        logger.debug(f"Socket {sid} joined session {session_id}.")

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
