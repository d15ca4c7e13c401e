"""Can any client speak as, read or steer another user? Every way we know of, tried for real.

Two victims tell the assistant who they are through their platforms: one on
Telegram, one on Slack (through the loopback stand-ins, signed as the platforms
sign). Then clients of the other doors try to reach them, naming each victim's
platform id, its namespaced conversation id, or a forged token:

* REST: a plain sender, a namespaced one, a forged token, a forged JWT (each must
  get 401), and valid tokens that happen to carry the victim's ids (must get none
  of their data);
* socket.io: a session request naming the victim (refused), and a confirmed
  session whose messages name the victim's session (answered in its own);
* Rasa's HTTP API without its token (refused).

A case *leaks* when a request that must be refused is not, when a reply contains
a victim's name or preference, or when a victim's conversation gained an event.
``run_isolation`` returns ``{"cases": n, "leaks": k, "failures": [...]}``.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import jwt
import requests
import socketio

from bot.identity import conversation_id
from bot.sender_tokens import SenderTokens
from channels.socketio import REFUSED_EVENT
from tests.channel_stack import API_TOKEN, ChannelStack
from tests.platform_clients import new_chat_id, slack_say, telegram_say
from tests.servers import TOKENS

TIMEOUT_S = 60
PROFILE_QUESTION = "what do you know about me?"
# Signed with a secret the server does not have: what a forger can make.
FORGER = SenderTokens(b"a-secret-the-server-never-had-0123")


@dataclass(eq=False)
class Victim:
    """A user on one platform and the private things they told the assistant."""

    channel: str
    platform_id: str
    secrets: List[str]
    say: Callable[[str], str]  # a message through their platform -> the bot's reply

    @property
    def conversation(self) -> str:
        return conversation_id(self.channel, self.platform_id)


@dataclass
class IsolationResult:
    cases: int = 0
    failures: List[str] = field(default_factory=list)

    def record(self, case: str, failure: Optional[str]) -> None:
        self.cases += 1
        if failure:
            self.failures.append(f"{case}: {failure}")

    def as_dict(self) -> Dict[str, object]:
        return {"cases": self.cases, "leaks": len(self.failures), "failures": self.failures}


def victims(stack: ChannelStack) -> List[Victim]:
    """A Telegram and a Slack user who stored a name and a preference."""
    chat_id, slack_user = new_chat_id(), f"U{uuid.uuid4().hex[:9].upper()}"
    told = {
        Victim("telegram", str(chat_id), ["Zephyrine", "reggae"], lambda text: telegram_say(stack, chat_id, text)):
            ("my name is Zephyrine", "I love reggae music"),
        Victim("slack", slack_user, ["Quillon", "tacos"], lambda text: slack_say(stack, slack_user, text)):
            ("my name is Quillon", "I love tacos food"),
    }
    for victim, statements in told.items():
        for text in statements:
            victim.say(text)
        known = victim.say(PROFILE_QUESTION)
        missing = [s for s in victim.secrets if s not in known]
        if missing:  # the setup itself failed: nothing below would mean anything
            raise RuntimeError(f"The {victim.channel} victim's profile was not stored ({missing} missing): {known!r}")
    return list(told)


def run_isolation(stack: ChannelStack) -> Dict[str, object]:
    """Every case against both victims (see the module docstring)."""
    result = IsolationResult()
    for victim in victims(stack):
        before = _user_turns(stack, victim)
        _rest_cases(stack, victim, result)
        _socketio_cases(stack, victim, result)
        _http_api_cases(stack, victim, result)
        after = _user_turns(stack, victim)
        result.record(f"{victim.channel} victim's conversation untouched", None if after == before else f"{before} -> {after}")
    return result.as_dict()


# ------------------------------------------------------------------------ REST
def _rest_cases(stack: ChannelStack, victim: Victim, result: IsolationResult) -> None:
    webhook = f"{stack.rasa.url}/webhooks/rest/webhook"
    forged_jwt = jwt.encode({"user": {"username": victim.platform_id, "role": "user"}}, "not-the-jwt-secret-of-this-server-0123456789")
    refused = [  # (case, sender, headers)
        ("platform id as plain sender", victim.platform_id, {}),
        ("conversation id as plain sender", victim.conversation, {}),
        ("forged token for the platform id", FORGER.sign(victim.platform_id), {}),
        ("forged JWT naming the platform id", victim.platform_id, {"Authorization": f"Bearer {forged_jwt}"}),
    ]
    for case, sender, headers in refused:
        body = {"sender": sender, "message": PROFILE_QUESTION}
        response = requests.post(webhook, json=body, headers=headers, timeout=TIMEOUT_S)
        failure = None if response.status_code == 401 else f"status {response.status_code}: {response.text[:200]}"
        result.record(f"REST {victim.channel}: {case}", failure or _leak(response.text, victim))
    # A backend's own user whose id happens to equal the victim's: a different person.
    for case, sender in {"token for the platform id": victim.platform_id, "token for the conversation id": victim.conversation}.items():
        replies = []
        for text in ("hi", PROFILE_QUESTION, "recommend me something"):
            response = requests.post(webhook, json={"sender": TOKENS.sign(sender), "message": text}, timeout=TIMEOUT_S)
            replies.append(response.text if response.ok else f"status {response.status_code}")
        result.record(f"REST {victim.channel}: {case}", _leak(" ".join(replies), victim))


# ------------------------------------------------------------------- socket.io
def _socketio_cases(stack: ChannelStack, victim: Victim, result: IsolationResult) -> None:
    for case, session_id in {
        "platform id as session id": victim.platform_id,
        "conversation id as session id": victim.conversation,
        "forged token as session id": FORGER.sign(victim.platform_id),
    }.items():
        with _socket(stack) as client:
            client.emit("session_request", {"session_id": session_id})
            event, data = client.receive(timeout=TIMEOUT_S)
            failure = None if event == REFUSED_EVENT else f"got {event} {data!r}"
            result.record(f"socket.io {victim.channel}: {case}", failure)
    with _socket(stack) as client:
        client.emit("session_request", {"session_id": None})
        client.receive(timeout=TIMEOUT_S)  # session_confirm: this socket's own session
        for claimed in (victim.platform_id, victim.conversation):
            texts = _socket_turn(client, {"message": PROFILE_QUESTION, "session_id": claimed})
            result.record(f"socket.io {victim.channel}: message naming {claimed!r}", _leak(" ".join(texts), victim))


class _socket:
    """A python-socketio client (the protocol of the page and Rasa's widgets)."""

    def __init__(self, stack: ChannelStack) -> None:
        self.client = socketio.SimpleClient()
        self.url = stack.rasa.url

    def __enter__(self) -> socketio.SimpleClient:
        self.client.connect(self.url, socketio_path="/socket.io", transports=["polling"])
        return self.client

    def __exit__(self, *_: object) -> None:
        self.client.client.eio.disconnect(abort=True)  # no 25 s wait for the long-poll


def _socket_turn(client: socketio.SimpleClient, payload: Dict[str, object]) -> List[str]:
    client.emit("user_uttered", payload)
    texts = []
    while True:
        event, data = client.receive(timeout=TIMEOUT_S)
        if event == "turn_end":
            return texts
        texts.append(str(data))


# -------------------------------------------------------------------- HTTP API
def _http_api_cases(stack: ChannelStack, victim: Victim, result: IsolationResult) -> None:
    base = f"{stack.rasa.url}/conversations/{victim.conversation}"
    attempts: Dict[str, Callable[[], requests.Response]] = {
        "tracker without token": lambda: requests.get(f"{base}/tracker", timeout=TIMEOUT_S),
        "tracker with a wrong token": lambda: requests.get(f"{base}/tracker", params={"token": "guess"}, timeout=TIMEOUT_S),
        "message without token": lambda: requests.post(
            f"{base}/messages", json={"text": "forget me", "sender": "user"}, timeout=TIMEOUT_S
        ),
    }
    for case, attempt in attempts.items():
        response = attempt()
        failure = None if response.status_code in (401, 403) else f"status {response.status_code}"
        result.record(f"HTTP API {victim.channel}: {case}", failure or _leak(response.text, victim))


def _user_turns(stack: ChannelStack, victim: Victim) -> List[str]:
    """What the victim's conversation holds as said by the user (read with the API token)."""
    response = requests.get(
        f"{stack.rasa.url}/conversations/{victim.conversation}/tracker", params={"token": API_TOKEN}, timeout=TIMEOUT_S
    )
    response.raise_for_status()
    return [e["text"] for e in response.json()["events"] if e["event"] == "user"]


def _leak(text: str, victim: Victim) -> Optional[str]:
    found = [s for s in victim.secrets if s.lower() in text.lower()]
    return f"reply contains {found}: {text[:200]!r}" if found else None
