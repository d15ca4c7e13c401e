"""The servers the security benchmark runs against, and the fuzz run's section of the results.

The stack is the channel tests' (``tests.channel_stack.running_channel_stack``): the action server,
one ``rasa run`` with every channel of credentials.yml and the HTTP API behind a
token, Slack and Telegram through loopback stand-ins. ``fuzz_section`` fuzzes it
(``benchmarks.security.fuzz``) and adds what only the processes can tell: whether
the servers are still alive, and how their memory grew over the run.
"""
from __future__ import annotations

import time
from typing import Any, Dict

import psutil
import requests

from benchmarks.security.fuzz import Targets, run_fuzz
from benchmarks.security.strategies import Keys
from tests.channel_stack import API_TOKEN, SLACK_SIGNING_SECRET, ChannelStack
from tests.platform_clients import new_chat_id, secret_token, slack_say, telegram_say
from tests.servers import TOKENS, Server, say

# Turns that load and exercise everything once (NLU, a rule, an action, the
# generator), so that memory measured afterwards is the serving baseline.
WARM_UP = ("hi", "what do you know about me?", "tell me something about penguins and the sea")
HEALTH_ROUTES = {"rasa": "/", "actions": "/health"}  # "Hello from Rasa", rasa_sdk's health check


def fuzz_targets(stack: ChannelStack) -> Targets:
    """The stack's endpoints, with the secrets its legitimate clients and platforms hold."""
    keys = Keys(TOKENS, API_TOKEN, SLACK_SIGNING_SECRET, secret_token(stack))
    return Targets(
        stack.rasa.url, stack.actions.url, keys,
        logs=[stack.rasa.log_path, stack.actions.log_path], platforms=[stack.slack, stack.telegram],
    )


def fuzz_section(stack: ChannelStack, requests: int, seed: int, corpus: bool = True) -> Dict[str, Any]:
    """Fuzz the stack; the counts, liveness and memory growth as the results file keeps them."""
    warm_up(stack)
    servers = {"rasa": stack.rasa, "actions": stack.actions}
    before = {name: tree_rss(server) for name, server in servers.items()}
    started = time.monotonic()
    result = run_fuzz(fuzz_targets(stack), requests, seed, corpus=corpus)
    seconds = time.monotonic() - started
    dead = [name for name, server in servers.items() if not is_alive(server, HEALTH_ROUTES[name])]
    after = {name: tree_rss(server) if name not in dead else 0 for name, server in servers.items()}
    return {
        **result.summary(),
        "server_died": bool(dead),
        "dead_servers": dead,
        "rss_growth_pct": round(100 * (after["rasa"] - before["rasa"]) / before["rasa"], 1),
        "rss_mb": {name: {"before": _mb(before[name]), "after": _mb(after[name])} for name in servers},
        "seed": seed,
        "drawn_requests": requests,
        "corpus": corpus,
        "seconds": round(seconds),
    }


def warm_up(stack: ChannelStack) -> None:
    """One conversation through REST, Slack and Telegram (see ``WARM_UP``)."""
    for text in WARM_UP:
        say(stack.rasa, "warm-up", text)
    slack_say(stack, "U0WARMUP", WARM_UP[0])
    telegram_say(stack, new_chat_id(), WARM_UP[0])


def tree_rss(server: Server) -> int:
    """Resident memory of the server's process and its children, in bytes."""
    process = psutil.Process(server.process.pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])


def is_alive(server: Server, health_route: str) -> bool:
    """The process runs and its health route answers 200."""
    if server.process.poll() is not None:
        return False
    try:
        return requests.get(server.url + health_route, timeout=30).status_code == 200
    except requests.RequestException:
        return False


def _mb(size: int) -> float:
    return round(size / 2**20, 1)
