"""Property-based fuzzing of every public endpoint of running servers, and what came back.

``run_fuzz(targets, requests, seed)`` draws requests with hypothesis
(``benchmarks.security.strategies``) for the REST webhook, socket.io, the Slack
and Telegram webhooks, Rasa's HTTP API and the action server's ``/webhook``, in
the shares of ``PLAN``, sends each one as it is drawn, and then the fixed corpus
of ``bot.scale.bad_input``. The same seed draws the same requests.

The property each request must hold: an answer, and no 5xx. Hypothesis's shrinking
is off on purpose: a failing request does not stop the run (every request is
counted), and shrinking would replay requests against a server whose state the
run has changed. Each failure is kept with what was sent, to reproduce it.

Failures that end in a polite reply are counted too: a channel's apology
(``channels.guard.FAILURE_REPLY``), and every ERROR record or traceback in the
servers' logs (``server_logs``), by cause.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import requests
import socketio
from hypothesis import HealthCheck, Phase, given, seed as hypothesis_seed, settings
from hypothesis.strategies import SearchStrategy
from socketio.exceptions import DisconnectedError, SocketIOError
from socketio.exceptions import TimeoutError as SocketTimeout

from benchmarks.security.server_logs import LogCursor, LogFindings, findings
from benchmarks.security.strategies import (
    HttpCase, Keys, SocketCase, action_cases, api_cases, rest_cases, slack_cases, socket_cases, telegram_cases,
)
from bot.paths import PROJECT_ROOT
from bot.scale.bad_input import run_bad_input
from channels.guard import FAILURE_REPLY

# The share of the drawn requests each endpoint gets; the corpus comes on top.
PLAN: Dict[str, float] = {
    "rest": 0.18, "socketio": 0.14, "slack": 0.13, "telegram": 0.13, "api": 0.27, "actions": 0.15,
}
REQUEST_TIMEOUT_S = 90  # a turn can wait for Rasa's lock (60 s) behind a slow one
TURN_TIMEOUT_S = 90  # socket.io: how long an answer that is due may take
QUIET_WAIT_S = 1.0  # socket.io: how long to watch for a reply that is not due
LOG_SETTLE_S = 2.0  # lets the servers finish writing the last requests' log lines


@dataclass(frozen=True)
class Targets:
    """Running servers to fuzz, the secrets to get past their doors, and where they log."""

    rasa_url: str
    actions_url: str
    keys: Keys
    logs: Sequence[Path]
    # Loopback Slack and Telegram APIs (tests.standin_apis.StandIn): replies sent
    # through those channels land there, apologies included.
    platforms: Sequence[Any] = ()


@dataclass(frozen=True)
class Outcome:
    """What one request got: an HTTP status, or the socket.io event that answered it."""

    endpoint: str
    label: str
    failed: bool = False  # a 5xx, no response, or no answer where one was due
    apology: bool = False
    sent: str = ""  # the request, kept for a failure


@dataclass
class FuzzResult:
    """Counts over a run; ``logs`` holds the internal errors read off the servers' logs."""

    requests: int = 0
    status_5xx: int = 0
    failed: int = 0
    apologies: int = 0
    endpoints: Dict[str, Counter] = field(default_factory=dict)
    failures: List[str] = field(default_factory=list)
    logs: LogFindings = field(default_factory=LogFindings)

    @property
    def internal_errors(self) -> int:
        return self.logs.internal_errors

    def add(self, outcome: Outcome) -> None:
        self.requests += 1
        self.endpoints.setdefault(outcome.endpoint, Counter())[outcome.label] += 1
        self.status_5xx += outcome.label.isdigit() and int(outcome.label) >= 500
        self.apologies += outcome.apology
        if outcome.failed:
            self.failed += 1
            self.failures.append(f"{outcome.endpoint} -> {outcome.label}: {outcome.sent[:300]}")

    def summary(self) -> Dict[str, Any]:
        """The counts as the results file keeps them."""
        return {
            "requests": self.requests,
            "status_5xx": self.status_5xx,
            "failed_requests": self.failed,
            "internal_errors": self.internal_errors,
            "causes": dict(self.logs.causes.most_common()),
            "apologies": self.apologies,
            "error_lines_not_internal": dict(self.logs.not_internal),
            "endpoints": {name: dict(sorted(counts.items())) for name, counts in sorted(self.endpoints.items())},
            "failures": self.failures[:50],
        }


def run_fuzz(targets: Targets, requests: int, seed: int, corpus: bool = True) -> FuzzResult:
    """Fuzz every endpoint with about ``requests`` drawn requests (plus the corpus)."""
    result = FuzzResult()
    log_cursors = [LogCursor(path) for path in targets.logs]
    apologies_before = platform_apologies(targets.platforms)
    http = HttpSender(targets)
    page = SocketPage(targets.rasa_url)
    keys = targets.keys
    endpoints: Dict[str, Any] = {
        "rest": (rest_cases(keys), http.send),
        "socketio": (socket_cases(keys), page.send),
        "slack": (slack_cases(keys), http.send),
        "telegram": (telegram_cases(keys), http.send),
        "api": (api_cases(keys), http.send),
        "actions": (action_cases(), http.send),
    }
    try:
        for name, share in PLAN.items():
            strategy, send = endpoints[name]
            explore(strategy, max(1, round(requests * share)), seed, lambda case: result.add(send(case)))
    finally:
        page.close()
    if corpus:
        _add_corpus(result, targets)
    result.apologies += platform_apologies(targets.platforms) - apologies_before
    time.sleep(LOG_SETTLE_S)
    for cursor in log_cursors:
        result.logs.merge(findings(cursor.new_text(), PROJECT_ROOT))
    return result


def explore(strategy: SearchStrategy, examples: int, seed: int, send: Callable[[Any], None]) -> None:
    """Draw ``examples`` values of ``strategy`` with hypothesis under ``seed``; send each one."""

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
        suppress_health_check=list(HealthCheck), print_blob=False,
    )
    @given(strategy)
    def send_each(case: Any) -> None:
        send(case)

    send_each()


class HttpSender:
    """Sends ``HttpCase``s to the Rasa or the action server."""

    def __init__(self, targets: Targets) -> None:
        self.base_urls = {"rasa": targets.rasa_url, "actions": targets.actions_url}
        self.session = requests.Session()

    def send(self, case: HttpCase) -> Outcome:
        sent = f"{case.method} {case.path} {dict(case.headers)} {case.body[:200]!r}"
        try:
            response = self.session.request(
                case.method, self.base_urls[case.server] + case.path, data=case.body,
                headers=dict(case.headers), timeout=REQUEST_TIMEOUT_S,
            )
        except requests.RequestException as error:
            return Outcome(case.endpoint, "no response", failed=True, sent=f"{sent} ({type(error).__name__})")
        status = response.status_code
        # Only the REST webhook answers with the bot's messages; the API's trackers
        # repeat old ones, so an apology found there would be counted twice.
        apology = case.endpoint == "rest webhook" and FAILURE_REPLY in response.text
        return Outcome(case.endpoint, str(status), failed=status >= 500, apology=apology, sent=sent)


class SocketPage:
    """A web page's socket.io connection, with a confirmed session unless a case asks otherwise.

    A case with ``new_connection`` is sent first thing on a new connection that asked
    for no session; the next case gets a connection with a session again, as a page
    that has loaded does.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.client: Optional[socketio.SimpleClient] = None
        self.has_session = False

    def send(self, case: SocketCase) -> Outcome:
        sent = f"{case.event!r} {case.args!r}"
        try:
            client = self._connection(with_session=not case.new_connection)
            client.emit(case.event, case.args)  # a tuple: one socket.io argument per element
        except (SocketIOError, OSError) as error:
            return Outcome("socket.io", "no connection", failed=True, sent=f"{sent} ({type(error).__name__})")
        due = case.event in ("session_request", "user_uttered") and len(case.args) == 1
        answer, apology = _answer(client, TURN_TIMEOUT_S if due else QUIET_WAIT_S)
        if case.new_connection or answer == "session_refused":
            self.has_session = False
        elif answer == "session_confirm":
            self.has_session = True
        label = f"{case.event if case.event in FUZZED_EVENTS else 'another event'} -> {answer or 'nothing'}"
        return Outcome("socket.io", label, failed=due and answer is None, apology=apology, sent=sent)

    def close(self) -> None:
        if self.client is not None and self.client.connected:
            # A polling client's graceful disconnect waits out the server's long poll.
            self.client.client.eio.disconnect(abort=True)
        self.client = None
        self.has_session = False

    def _connection(self, with_session: bool) -> socketio.SimpleClient:
        """The open connection if it fits, else a new one (asking for a session, if wanted)."""
        if with_session and self.has_session and self.client is not None and self.client.connected:
            return self.client
        self.close()
        self.client = socketio.SimpleClient()
        self.client.connect(self.url, socketio_path="/socket.io", transports=["polling"])
        if with_session:  # what the page does on load
            self.client.emit("session_request", ({"session_id": None},))
            self.has_session = _answer(self.client, TURN_TIMEOUT_S)[0] == "session_confirm"
        return self.client


FUZZED_EVENTS = ("session_request", "user_uttered")
# The events that end the server's answer to one client event.
FINAL_EVENTS = ("turn_end", "session_confirm", "session_refused")


def _answer(client: socketio.SimpleClient, timeout: float) -> tuple:
    """The event that ended the server's answer (None if none came), and whether it apologised."""
    deadline = time.monotonic() + timeout
    apology = False
    while time.monotonic() < deadline:
        try:
            event, *data = client.receive(timeout=max(0.01, deadline - time.monotonic()))
        except (SocketTimeout, DisconnectedError):
            return None, apology
        apology = apology or (event == "bot_uttered" and FAILURE_REPLY in str(data))
        if event in FINAL_EVENTS:
            return event, apology
    return None, apology


def platform_apologies(platforms: Sequence[Any]) -> int:
    """Apologies the bot has sent through the Slack and Telegram stand-ins so far."""
    return sum(
        FAILURE_REPLY in str(call.params.get("text", ""))
        for platform in platforms for call in list(platform.calls)
    )


def _add_corpus(result: FuzzResult, targets: Targets) -> None:
    """The fixed corpus of bot.scale.bad_input, counted like the drawn requests."""
    corpus = run_bad_input([targets.rasa_url], tokens=targets.keys.sender_tokens)
    result.requests += corpus.requests
    result.status_5xx += corpus.status_5xx
    result.apologies += corpus.apologies
    result.failed += len(corpus.failures)
    result.failures += [f"bad-input corpus: {failure}" for failure in corpus.failures]
    result.endpoints["bad-input corpus"] = Counter({str(status): n for status, n in corpus.by_status.items()})
