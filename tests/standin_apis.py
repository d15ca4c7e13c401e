"""Local stand-ins for the Slack Web API and the Telegram Bot API, on loopback.

Rasa's real connectors are pointed at these (``SLACK_API_URL``, ``TELEGRAM_API_URL``),
so channel tests exercise the connectors' real HTTP calls with no traffic leaving the
machine. Each stand-in records every call and answers the way the platform documents:
Slack's ``chat.postMessage`` (https://api.slack.com/methods/chat.postMessage) and
Telegram's ``getMe``, ``setWebhook`` and ``sendMessage`` (https://core.telegram.org/bots/api).
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs

Answer = Tuple[int, Dict[str, Any]]


@dataclass
class Call:
    """One request the bot made to the stand-in."""

    method: str  # the API method: "chat.postMessage", "sendMessage", ...
    headers: Dict[str, str]
    params: Dict[str, Any]


class StandIn:
    """A threaded HTTP server that records calls and answers with ``answer(call)``."""

    def __init__(self, route: Callable[[str], Optional[str]], answer: Callable[[Call], Answer]) -> None:
        self.calls: List[Call] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(route, answer))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def calls_to(self, method: str, **params: Any) -> List[Call]:
        """Recorded calls of ``method`` whose parameters include ``params``."""
        with self._lock:
            calls = list(self.calls)
        return [
            c for c in calls
            if c.method == method and all(str(c.params.get(k)) == str(v) for k, v in params.items())
        ]

    def wait_for(self, method: str, timeout: float = 60, **params: Any) -> Call:
        """The first call of ``method`` with ``params``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls_to(method, **params)
            if found:
                return found[0]
            time.sleep(0.1)
        raise AssertionError(f"no {method} call with {params} within {timeout}s; calls: {self.calls}")

    def _handler(self, route: Callable[[str], Optional[str]], answer: Callable[[Call], Answer]) -> type:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                self._serve()

            def do_GET(self) -> None:  # noqa: N802
                self._serve()

            def _serve(self) -> None:
                method = route(self.path)
                if method is None:
                    self._reply(404, {"ok": False, "error": "not_found"})
                    return
                call = Call(method, dict(self.headers), _params(self))
                with stand_in._lock:
                    stand_in.calls.append(call)
                self._reply(*answer(call))

            def _reply(self, status: int, body: Dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

        return Handler


def _params(request: BaseHTTPRequestHandler) -> Dict[str, Any]:
    """Parameters from a JSON or form body (slack_sdk sends JSON, aiogram forms)."""
    length = int(request.headers.get("Content-Length") or 0)
    raw = request.rfile.read(length) if length else b""
    content_type = request.headers.get("Content-Type", "")
    if "json" in content_type:
        return json.loads(raw or b"{}")
    if "multipart/form-data" in content_type:
        return _multipart(raw, content_type)
    return {k: v[0] for k, v in parse_qs(raw.decode()).items()}


def _multipart(raw: bytes, content_type: str) -> Dict[str, Any]:
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    return {
        part.get_param("name", header="content-disposition"): part.get_content()
        for part in message.iter_parts()
    }


# --- Slack ---------------------------------------------------------------------------

SLACK_BOT_USER = "U0KAIBOT"


def slack_web_api(token: str) -> StandIn:
    """Slack's Web API at ``<url>/api/<method>``: ``chat.postMessage`` for a valid token."""

    def route(path: str) -> Optional[str]:
        return path.split("?")[0][len("/api/"):] if path.startswith("/api/") else None

    def answer(call: Call) -> Answer:
        if call.headers.get("Authorization") != f"Bearer {token}":
            return 200, {"ok": False, "error": "invalid_auth"}
        if call.method != "chat.postMessage":
            return 200, {"ok": False, "error": "unknown_method"}
        ts = f"{time.time():.6f}"
        message = {"type": "message", "user": SLACK_BOT_USER, "text": call.params.get("text"), "ts": ts}
        return 200, {"ok": True, "channel": call.params.get("channel"), "ts": ts, "message": message}

    return StandIn(route, answer)


# --- Telegram ------------------------------------------------------------------------

TELEGRAM_BOT_ID = 7000000001
UNAUTHORIZED = "<wrong token>"


def telegram_bot_api(token: str, username: str) -> StandIn:
    """The Bot API at ``<url>/bot<token>/<method>``; a wrong token gets 401 like Telegram."""
    prefix = f"/bot{token}/"

    def route(path: str) -> Optional[str]:
        if not path.startswith("/bot"):
            return None
        if not path.startswith(prefix):
            return UNAUTHORIZED
        return path[len(prefix):].split("?")[0]

    def answer(call: Call) -> Answer:
        if call.method == UNAUTHORIZED:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if call.method == "getMe":
            return 200, {"ok": True, "result": {
                "id": TELEGRAM_BOT_ID, "is_bot": True, "first_name": "Kai", "username": username,
            }}
        if call.method == "setWebhook":
            return 200, {"ok": True, "result": True, "description": "Webhook was set"}
        if call.method == "sendMessage":
            return 200, {"ok": True, "result": {
                "message_id": int(time.time() * 1000) % 2**31,
                "date": int(time.time()),
                "from": {"id": TELEGRAM_BOT_ID, "is_bot": True, "first_name": "Kai", "username": username},
                "chat": {"id": int(call.params["chat_id"]), "type": "private"},
                "text": call.params.get("text", ""),
            }}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    return StandIn(route, answer)
