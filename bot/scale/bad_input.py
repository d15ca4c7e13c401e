"""A fixed corpus of nasty requests against the public endpoints; no 5xx, no crash.

    python -m bot.scale.bad_input http://127.0.0.1:8080 [http://127.0.0.1:PORT ...]

Oversized bodies, invalid UTF-8, deeply nested JSON, unicode edge cases, injection
strings, wrong shapes, content types and methods, sent to each given base URL
(the balancer, and one Rasa server directly so that nginx's body limit does not
hide Rasa's own handling). Every request must get an HTTP response below 500.
The corpus is fixed, so two runs send the same bytes; ``rounds`` repeats it so
that memory growth per round can be seen.

The REST channel answers a well-formed message whose sender is not a signed token
(``bot.sender_tokens``) with 401, before Rasa sees it. Given the servers' ``tokens``
(on the command line: ``KAI_SENDER_SECRET``, else ``var/sender_secret``), the corpus
signs its senders, so that its messages reach Rasa's parsing, NLU and dialogue behind
that check; the injection strings sent *as* the sender stay unsigned on purpose.
"""
from __future__ import annotations

import argparse
import json
import uuid
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import requests
from tqdm import tqdm

from bot.scale.loadgen import FAILURE_REPLY_START
from bot.sender_tokens import SenderTokens

WEBHOOK = "/webhooks/rest/webhook"
REQUEST_TIMEOUT_S = 60
NESTING_DEPTH = 100_000

# Strings that have broken chat back ends: template engines, SQL, shells, logs, parsers.
INJECTIONS = (
    "'; DROP TABLE events; --", "\" OR 1=1 --", "{{7*7}}", "{user_name}", "{generated_reply}",
    "${jndi:ldap://127.0.0.1/a}", "<script>alert(1)</script>", "../../../../etc/passwd",
    "%s%s%s%s%n", "\r\nX-Injected: 1", "$(reboot)", "`id`", "/restart", "/forget_me",
    "/greet{\"emotion\": \"joy\"}", "/nlu_fallback", "EXTERNAL: action_restart",
)
UNICODE = (
    "\u0000", "nul\u0000inside", "\ud800", "\udfff lone low surrogate", "\ufeffBOM first",
    "\u202eright-to-left override", "👩‍👩‍👧‍👦" * 500, "Z" + "\u0336\u0321" * 1500, "\uffff\ufffe",
    "\u2028line\u2029separators", "ｆｕｌｌｗｉｄｔｈ", "\U0010ffff", "🙂" * 4096, "\t\n\r ",
    "𝕳𝖊𝖑𝖑𝖔", "ß" * 4097,
)


@dataclass(frozen=True)
class NastyRequest:
    name: str
    method: str
    path: str
    body: Optional[bytes] = None
    headers: Dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


@dataclass
class BadInputResult:
    requests: int = 0
    status_5xx: int = 0
    no_response: int = 0
    # 200s carrying channels/guard.py's apology: Rasa failed inside the turn (and said so).
    apologies: int = 0
    by_status: Dict[int, int] = field(default_factory=dict)
    failures: List[str] = field(default_factory=list)

    def add(self, request: NastyRequest, base_url: str, status: int, apology: bool = False) -> None:
        self.requests += 1
        self.apologies += apology
        self.by_status[status] = self.by_status.get(status, 0) + 1
        if status == 0:
            self.no_response += 1
        if status >= 500:
            self.status_5xx += 1
        if status == 0 or status >= 500:
            self.failures.append(f"{status} {request.method} {base_url}{request.path} ({request.name})")


def _json(obj: object) -> bytes:
    # ensure_ascii: lone surrogates travel as \\ud800 escapes, as a JSON client may send them
    return json.dumps(obj).encode()


def _message(sender: str, text: object, **extra: object) -> bytes:
    return _json({"sender": sender, "message": text, **extra})


def corpus(run_id: str, tokens: Optional[SenderTokens] = None) -> Iterator[NastyRequest]:
    """The requests, in a fixed order; senders are unique to ``run_id``, signed with ``tokens``."""
    def signed(name: str) -> str:
        return tokens.sign(name) if tokens is not None else name

    def sender(i: int) -> str:
        return signed(f"bad-{run_id}-{i}")

    post = lambda name, body, **kw: NastyRequest(name, "POST", WEBHOOK, body, **kw)  # noqa: E731
    yield post("message of 2 MB", _message(sender(0), "a" * 2_000_000))
    yield post("body of 20 MB", _message(sender(1), "b " * 10_000_000))
    yield post("metadata with 200,000 keys", _message(sender(2), "hi", metadata={str(i): i for i in range(200_000)}))
    yield post("invalid UTF-8", b'{"sender": "%s", "message": "\xff\xfe\xc3\x28 hi"}' % signed("bad-utf8").encode())
    yield post("invalid UTF-8 in sender", b'{"sender": "\xc0\xaf", "message": "hi"}')
    yield post("Latin-1 body", f'{{"sender": "{signed("latin")}", "message": "café"}}'.encode("latin-1"))
    nested = "{" + '"a": {' * NESTING_DEPTH + "}" * NESTING_DEPTH + "}"
    yield post("JSON nested 100,000 deep in metadata",
               f'{{"sender": "{sender(3)}", "message": "hi", "metadata": {nested}}}'.encode())
    yield post("JSON array nested 100,000 deep", ("[" * NESTING_DEPTH + "]" * NESTING_DEPTH).encode())
    yield post("message nested in lists", _message(sender(4), [[["hi"]]]))
    for i, text in enumerate(UNICODE):
        yield post(f"unicode {i}: {text[:12]!r}", _message(sender(100 + i), text))
    for i, text in enumerate(INJECTIONS):
        yield post(f"injection in message {text[:20]!r}", _message(sender(200 + i), text))
        yield post(f"injection as sender {text[:20]!r}", _message(text, "hello"))
    for name, body in (
        ("empty body", b""), ("null", b"null"), ("a list", b"[]"), ("a string", b'"hi"'),
        ("message is a number", _message(sender(5), 5)), ("message is an object", _message(sender(6), {"a": 1})),
        ("message missing", _json({"sender": sender(7)})), ("sender is a list", _json({"sender": [], "message": "hi"})),
        ("sender of 10,000 chars", _message("s" * 10_000, "hi")),
        ("sender a 5,000-digit number", ('{"sender": ' + "9" * 5000 + ', "message": "hi"}').encode()),
        ("NaN and Infinity", _message(signed("nan"), "hi", metadata={"a": float("nan"), "b": float("-inf")})),
        ("metadata is a list", _message(sender(8), "hi", metadata=[1, 2])),
        ("duplicate keys", b'{"sender": "%s", "message": "hi", "message": "again"}' % signed("dup").encode()),
        ("truncated JSON", b'{"sender": "%s", "message": "hi' % signed("trunc").encode()),
        ("trailing garbage", b'{"sender": "%s", "message": "hi"} xyz' % signed("trail").encode()),
        ("input_channel claims slack", _message(sender(9), "hi", input_channel="slack")),
    ):
        yield post(name, body)
    for content_type in ("text/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded",
                         "application/json; charset=utf-16"):
        yield post(f"Content-Type {content_type}", _message(sender(10), "hi"), headers={"Content-Type": content_type})
    for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"):
        yield NastyRequest(f"{method} on the webhook", method, WEBHOOK, _message(sender(11), "hi"))
    for path in ("/", "/webhooks/rest/", "/webhooks/webchat/", "/webhooks/webchat/../../etc/passwd",
                 "/webhooks/rest/webhook?a=%ff%fe%00", "/%00", "/" + "x" * 6000,
                 "/socket.io/?EIO=4&transport=polling", "/socket.io/?EIO=4&transport=polling&sid=nope",
                 "/webhooks/slack/webhook", "/webhooks/telegram/webhook"):
        yield NastyRequest(f"GET {path[:40]}", "GET", path)
    yield NastyRequest("socket.io garbage", "POST", "/socket.io/?EIO=4&transport=polling", b"\x00\xff garbage",
                       headers={"Content-Type": "text/plain"})
    # The HTTP API must not answer without the token (Rasa runs with --auth-token).
    for path in ("/status", "/version", "/conversations/x/tracker", "/model/parse", "/conversations/x/messages"):
        yield NastyRequest(f"API {path} without token", "GET" if "parse" not in path else "POST", path, b'{"text": "hi"}')
        yield NastyRequest(f"API {path} with a wrong token", "GET", path + "?token=wrong")


def send(base_url: str, request: NastyRequest) -> Tuple[int, bool]:
    """The HTTP status of the response (0 when none came back) and whether it apologised."""
    try:
        response = requests.request(request.method, base_url + request.path, data=request.body,
                                    headers=request.headers, timeout=REQUEST_TIMEOUT_S)
    except requests.RequestException:
        return 0, False
    return response.status_code, FAILURE_REPLY_START in response.text


def run_bad_input(
    base_urls: Sequence[str], rounds: int = 1, after_round: Optional[Callable[[int], None]] = None,
    *, tokens: Optional[SenderTokens] = None,
) -> BadInputResult:
    """Send the corpus ``rounds`` times to every URL; ``after_round(i)`` runs after each round.

    ``tokens`` (the servers' secret) signs the senders; without it every well-formed
    message stops at the REST channel's 401.
    """
    result = BadInputResult()
    run_id = uuid.uuid4().hex[:8]
    requests_per_round = list(corpus(run_id, tokens))
    for round_index in range(rounds):
        for base_url in base_urls:
            for request in tqdm(requests_per_round, desc=f"bad input {round_index + 1}/{rounds} {base_url}",
                                leave=False):
                result.add(request, base_url, *send(base_url, request))
        if after_round is not None:
            after_round(round_index)
    return result


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.scale.bad_input", description=__doc__.split("\n")[0])
    parser.add_argument("urls", nargs="+", help="base URLs, e.g. http://127.0.0.1:8080")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--unsigned", action="store_true", help="send plain senders (the servers' 401 path)")
    args = parser.parse_args(argv)
    result = run_bad_input(args.urls, args.rounds, tokens=None if args.unsigned else SenderTokens.from_environment())
    print(json.dumps({"requests": result.requests, "status_5xx": result.status_5xx,
                      "no_response": result.no_response, "apologies": result.apologies, "by_status": result.by_status}, indent=2))
    for failure in result.failures:
        print("  " + failure)
    return 1 if result.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
