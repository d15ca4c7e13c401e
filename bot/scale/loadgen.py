"""Bounded load: C concurrent multi-turn conversations against a Rasa REST endpoint.

    python -m bot.scale.loadgen http://127.0.0.1:8080 --concurrency 8 --duration 60

Each of C workers plays one scripted conversation after another, with a fresh
sender id each time, sending the next message as soon as the bot has answered
(closed loop, no think time: the server's capacity, not the users', sets the pace).
Every message carries ``{"sender": ..., "seq": n}`` in its metadata; Rasa stores
metadata on the ``user`` event, which is how ``bot.scale.check`` finds each one
in the tracker store afterwards. Loopback only; time, message count and the
per-request timeout are all capped.

The REST channel only accepts signed senders (``bot.sender_tokens``), so the load
generator does what a backend with its own users does: it signs each sender with
the servers' secret (``KAI_SENDER_SECRET``; from the command line, the same secret
a server started here uses). The conversation id Rasa stores is then
``rest:<sender>`` (``bot.identity``); ``SentMessage.sender`` is the plain sender.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional
from urllib.parse import urlparse

import aiohttp

from bot.identity import conversation_id
from bot.sender_tokens import SECRET_ENV, SECRET_FILE, SenderTokens

WEBHOOK = "/webhooks/rest/webhook"
CHANNEL = "rest"  # the channel whose webhook this is: its conversation ids are rest:<sender>
MAX_DURATION_S = 600
MAX_MESSAGES = 100_000
REQUEST_TIMEOUT_S = 90  # above Rasa's 60 s lock lifetime: a turn stuck behind a dead server's lock still ends
# What channels/guard.py answers when a turn failed inside Rasa (nothing was stored).
FAILURE_REPLY_START = "Sorry, something went wrong on my side"

# Conversations as users have them with this assistant (see data/stories.yml).
SCRIPTS = (
    ("hi there", "I feel really down today", "yes please", "thanks, that helps", "bye"),
    ("hello", "my name is Sam", "I love jazz music", "can you recommend something to listen to", "thank you", "goodbye"),
    ("hey", "what do you know about me", "I'm so angry at my boss right now", "no thanks", "see you"),
    ("good morning", "are you a bot?", "I really like science fiction movies", "recommend me a movie", "great, thanks", "bye bye"),
    ("hi", "I'm scared about my exam tomorrow", "I'd like to talk about it", "thanks", "good night"),
)


@dataclass
class SentMessage:
    """One message as the client saw it; times are ``time.monotonic()`` seconds."""

    sender: str  # the plain sender the client signed (also its metadata's "sender")
    seq: int
    text: str
    sent_at: float
    done_at: float
    status: int  # HTTP status, 0 when no response came back
    ok: bool  # a 200 with the bot's replies (possibly none), not the guard's apology

    @property
    def latency_ms(self) -> float:
        return (self.done_at - self.sent_at) * 1000

    @property
    def conversation_id(self) -> str:
        """The id Rasa keeps this conversation under (tracker store, HTTP API)."""
        return conversation_id(CHANNEL, self.sender)


@dataclass
class LoadResult:
    concurrency: int
    elapsed_s: float
    messages: List[SentMessage]

    def summary(self) -> Dict[str, float]:
        """Throughput of answered messages and latency percentiles over them."""
        latencies = sorted(m.latency_ms for m in self.messages if m.ok)
        cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
        return {
            "concurrency": self.concurrency,
            "messages": len(self.messages),
            "failed": sum(not m.ok for m in self.messages),
            "throughput_msg_s": round(len(latencies) / self.elapsed_s, 2) if self.elapsed_s else 0.0,
            "p50_ms": round(cuts[49], 1) if cuts else None,
            "p95_ms": round(cuts[94], 1) if cuts else None,
            "p99_ms": round(cuts[98], 1) if cuts else None,
        }


async def run_load(
    url: str,
    concurrency: int,
    duration_s: float,
    max_messages: int = MAX_MESSAGES,
    burst: bool = False,
    run_id: Optional[str] = None,
    *,
    tokens: SenderTokens,
) -> LoadResult:
    """Play conversations for ``duration_s`` (then finish the messages in flight).

    ``tokens`` signs each sender; it must hold the servers' secret (``Cluster.tokens``),
    or every message gets a 401.
    ``burst=True`` sends the third and fourth message of every conversation at once,
    as a user typing fast does: they reach different servers through the balancer,
    and only the Redis lock keeps their turns apart.
    """
    _check_bounds(url, concurrency, duration_s, max_messages)
    run_id = run_id or uuid.uuid4().hex[:8]
    messages: List[SentMessage] = []
    start = time.monotonic()
    deadline = start + duration_s
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(url, timeout=timeout, connector=connector) as session:

        def budget_left() -> bool:
            return time.monotonic() < deadline and len(messages) < max_messages

        async def worker(index: int) -> None:
            conversation = 0
            while budget_left():
                script = SCRIPTS[(index + conversation) % len(SCRIPTS)]
                sender = f"scale-{run_id}-{index}-{conversation}"
                await _play(session, sender, tokens.sign(sender), script, burst, messages, budget_left)
                conversation += 1

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return LoadResult(concurrency, time.monotonic() - start, messages)


async def _play(session, sender, token, script, burst, messages, budget_left) -> None:
    seq = 0
    while seq < len(script) and budget_left():
        batch = [seq, seq + 1] if burst and seq == 2 and seq + 1 < len(script) else [seq]
        results = await asyncio.gather(*(_send(session, sender, token, s, script[s]) for s in batch))
        messages.extend(results)
        seq += len(batch)


async def _send(session: aiohttp.ClientSession, sender: str, token: str, seq: int, text: str) -> SentMessage:
    body = {"sender": token, "message": text, "metadata": {"sender": sender, "seq": seq}}
    sent_at = time.monotonic()
    status, ok = 0, False
    try:
        async with session.post(WEBHOOK, json=body) as response:
            status = response.status
            replies = await response.json(content_type=None) if status == 200 else None
            ok = isinstance(replies, list) and not any(
                str(r.get("text", "")).startswith(FAILURE_REPLY_START) for r in replies
            )
    except (aiohttp.ClientError, asyncio.TimeoutError, json.JSONDecodeError):
        pass  # counted as failed: the client got no usable answer
    return SentMessage(sender, seq, text, sent_at, time.monotonic(), status, ok)


def _check_bounds(url: str, concurrency: int, duration_s: float, max_messages: int) -> None:
    if urlparse(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"the load generator only talks to loopback addresses, not {url}")
    if not 1 <= concurrency <= 256:
        raise ValueError(f"concurrency must be between 1 and 256, got {concurrency}")
    if not 0 < duration_s <= MAX_DURATION_S:
        raise ValueError(f"duration must be in (0, {MAX_DURATION_S}] seconds, got {duration_s}")
    if not 0 < max_messages <= MAX_MESSAGES:
        raise ValueError(f"max_messages must be in (0, {MAX_MESSAGES}], got {max_messages}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.scale.loadgen", description=__doc__.split("\n")[0])
    parser.add_argument("url", help="the balancer or one Rasa server, e.g. http://127.0.0.1:8080")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--duration", type=float, default=60, help="seconds")
    parser.add_argument("--max-messages", type=int, default=MAX_MESSAGES)
    parser.add_argument("--burst", action="store_true", help="send two messages of each conversation at once")
    parser.add_argument("--dump", help="write every message as JSON lines to this file")
    args = parser.parse_args(argv)
    # KAI_SENDER_SECRET, else var/sender_secret: what a server started from this project signs with.
    if not os.environ.get(SECRET_ENV, "").strip() and not SECRET_FILE.exists():
        parser.error(f"set {SECRET_ENV} to the servers' sender-token secret (the REST channel rejects unsigned senders)")
    try:
        tokens = SenderTokens.from_environment()
        result = asyncio.run(run_load(args.url, args.concurrency, args.duration, args.max_messages, args.burst,
                                      tokens=tokens))
    except ValueError as error:
        parser.error(str(error))
    print(json.dumps(result.summary(), indent=2))
    if result.messages and all(m.status == 401 for m in result.messages):
        print(f"every message got 401: the servers sign with another secret than this {SECRET_ENV}", file=sys.stderr)
    if args.dump:
        with open(args.dump, "w") as out:
            for message in result.messages:
                out.write(json.dumps(asdict(message)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
