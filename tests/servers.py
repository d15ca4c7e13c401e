"""Start and stop real `rasa run` and `rasa run actions` processes for tests.

Every server listens on a free loopback port, logs to a file in the test's
temporary directory and is stopped (and waited for) when the context exits.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import requests
import yaml

from bot.identity import conversation_id
from bot.sender_tokens import SECRET_ENV, SenderTokens

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RASA = str(PROJECT_ROOT / ".venv" / "bin" / "rasa")
STARTUP_TIMEOUT_S = 240
# Every Rasa server of the tests signs sender tokens with this secret, so a test can
# mint a REST sender's token as a backend sharing the secret would (see `say`).
SENDER_SECRET = "kai-tests-sender-secret-0123456789"
TOKENS = SenderTokens(SENDER_SECRET.encode())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A running server process and where to reach it."""

    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def write_endpoints(
    path: Path, action_port: Optional[int], tracker_db: Path, extra: Optional[Dict] = None
) -> Path:
    """An endpoints.yml like the project's, pointing at this test's ports and files."""
    store = {"type": "bot.tracker_store.ForgetfulSQLTrackerStore", "dialect": "sqlite", "db": str(tracker_db)}
    endpoints: Dict = {"tracker_store": store}
    if action_port is not None:
        endpoints["action_endpoint"] = {"url": f"http://127.0.0.1:{action_port}/webhook"}
    endpoints.update(extra or {})
    path.write_text(yaml.safe_dump(endpoints))
    return path


def _spawn(args: List[str], log_path: Path, env: Optional[Dict[str, str]]) -> subprocess.Popen:
    log = open(log_path, "ab")
    return subprocess.Popen(
        args,
        cwd=PROJECT_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,  # own process group: stop() kills rasa's children too
    )


def _wait_until_up(server: Server, path: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log()[-4000:]}")
        try:
            if requests.get(server.url + path, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    server.stop()
    raise TimeoutError(f"server not up after {STARTUP_TIMEOUT_S}s:\n{server.log()[-4000:]}")


def start_action_server(workdir: Path, env: Optional[Dict[str, str]] = None) -> Server:
    port = free_port()
    args = [RASA, "run", "actions", "--actions", "actions", "--port", str(port)]
    server = Server(_spawn(args, workdir / f"actions-{port}.log", env), port, workdir / f"actions-{port}.log")
    _wait_until_up(server, "/health")
    return server


def start_rasa_server(
    model: Path,
    endpoints: Path,
    workdir: Path,
    credentials: Optional[Path] = None,
    extra_args: Optional[List[str]] = None,
    env: Optional[Dict[str, str]] = None,
    port: Optional[int] = None,
) -> Server:
    """`rasa run` on ``port`` (a free one if None: pass the old port to restart a server)."""
    port = port or free_port()
    args = [
        RASA, "run", "--model", str(model), "--endpoints", str(endpoints),
        "--port", str(port), "--interface", "127.0.0.1",
        "--credentials", str(credentials or PROJECT_ROOT / "credentials.yml"),
        *(extra_args or []),
    ]
    log_path = workdir / f"rasa-{port}.log"
    server = Server(_spawn(args, log_path, {SECRET_ENV: SENDER_SECRET, **(env or {})}), port, log_path)
    _wait_until_up(server, "/webhooks/rest/")
    return server


@contextmanager
def running(*servers: Server) -> Iterator[None]:
    """Stop the given servers however the block ends."""
    try:
        yield
    finally:
        for server in servers:
            server.stop()


def say(server: Server, sender: str, text: str, timeout: float = 60) -> List[Dict]:
    """Send one message over the REST channel as ``sender`` (with its signed token)
    and return the bot's replies; the conversation is ``rest_conversation(sender)``."""
    response = requests.post(
        server.url + "/webhooks/rest/webhook",
        json={"sender": TOKENS.sign(sender), "message": text},
        timeout=timeout,
    )
    response.raise_for_status()
    return response.json()


def rest_conversation(sender: str) -> str:
    """The conversation id Rasa keeps a REST sender's conversation under."""
    return conversation_id("rest", sender)


def socketio_conversation(session_id: str) -> str:
    """The conversation id Rasa keeps a confirmed socket.io session under."""
    sender = TOKENS.sender_of(session_id)
    assert sender is not None, f"{session_id!r} is not a session id the test servers issued"
    return conversation_id("socketio", sender)
