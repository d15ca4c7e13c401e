"""The chat page, served by the Rasa server itself at ``/webhooks/webchat/``.

Static files only (``static/``: HTML, CSS, vanilla JavaScript and the vendored
socket.io client), so there is no build step and no CDN. The page talks to the
``socketio`` channel; ``config.json`` tells it that channel's path and event names as
credentials.yml sets them, so the two cannot drift apart.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.guard import MAX_MESSAGE_CHARS, OnNewMessage

STATIC_DIR = Path(__file__).parent / "static"


class WebChatPage(InputChannel):
    """``channels.webchat.WebChatPage`` in credentials.yml: the page, not a message route."""

    @classmethod
    def name(cls) -> Text:
        return "webchat"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        page = Blueprint("webchat_page", __name__)
        page.static("/static", str(STATIC_DIR), name="webchat_static")

        @page.route("/", methods=["GET"], strict_slashes=True)
        async def index(_: Request) -> HTTPResponse:
            return await response.file(STATIC_DIR / "index.html")

        @page.route("", methods=["GET"], strict_slashes=True)
        async def index_without_slash(request: Request) -> HTTPResponse:
            # The page loads its assets by relative URL: they resolve under the slash.
            return response.redirect(request.path + "/")

        @page.route("/config.json", methods=["GET"])
        async def config(request: Request) -> HTTPResponse:
            socketio = _socketio_channel(request)
            if socketio is None:
                return response.json(
                    {"error": "The socketio channel is not enabled in credentials.yml."}, status=503
                )
            return response.json(page_config(socketio))

        return page


def page_config(socketio: SocketIOInput) -> Dict[Text, Any]:
    """What the page needs to speak to the socketio channel."""
    return {
        "socketio_path": socketio.socketio_path,
        "namespace": socketio.namespace or "/",
        "user_message_evt": socketio.user_message_evt,
        "bot_message_evt": socketio.bot_message_evt,
        "session_persistence": socketio.session_persistence,
        "max_message_chars": MAX_MESSAGE_CHARS,
    }


def _socketio_channel(request: Request) -> Optional[SocketIOInput]:
    channels = getattr(request.app.ctx, "input_channels", [])
    return next((c for c in channels if isinstance(c, SocketIOInput)), None)
