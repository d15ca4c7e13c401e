"""Property-based fuzzing of every public endpoint: a seeded, small run of the benchmark's fuzzer.

The same code as ``python -m benchmarks.security`` (the full run, >= 1,000 requests
plus the bad-input corpus), with ``REQUESTS`` drawn requests under a fixed seed,
against the shared channel stack: the REST webhook, socket.io, Slack and Telegram
(signed, so payloads reach the parsers), Rasa's HTTP API with its token, and the
action server's /webhook. It fails on any 5xx, any request left without an answer,
a dead server, an internal error (an ERROR record or traceback in a server's log,
or an apology sent to a user) whose cause is not in ``ACCEPTED_CAUSES``, or memory
growing past ``MAX_RSS_GROWTH_PCT``.

The first tests check the counting itself on fixed inputs, so that a clean run
means the servers were clean, not that the counting was blind.
"""
from __future__ import annotations

from pathlib import Path

from benchmarks.security.fuzz import PLAN, FuzzResult, Outcome
from benchmarks.security.server_logs import findings
from benchmarks.security.stack import fuzz_section
from channels.http_api import events_problem, message_problem, parse_problem, replace_events_problem

REQUESTS = 150
SEED = 35
# Causes of internal errors that must stay polite replies, each with its reason.
# Empty: every cause the fuzzer found so far was fixed.
ACCEPTED_CAUSES: dict = {}
MAX_RSS_GROWTH_PCT = 15
ROOT = Path("/srv/kai")

TRACEBACK_LOG = f"""\
2026-12-07 12:00:00 INFO     rasa.core.processor  - something fine
2026-12-07 12:00:01 ERROR    channels.guard  - Failed to answer a rest message
Traceback (most recent call last):
  File "{ROOT}/.venv/lib/python3.11/site-packages/rasa/core/agent.py", line 10, in handle_message
    return await self.processor.handle_message(message)
  File "{ROOT}/actions/profile_actions.py", line 125, in run
    category = guess_category(value)
  File "{ROOT}/bot/catalogue.py", line 57, in matches
    wanted = preference.lower().strip()
AttributeError: 'dict' object has no attribute 'lower'
2026-12-07 12:00:02 ERROR    rasa_sdk.endpoint  - No registered action found for name 'nope'.
2026-12-07 12:00:03 ERROR    rasa.core.channels.telegram  - Exception when trying to handle message.'int' object
"""


def test_a_traceback_is_counted_once_under_its_exception_and_innermost_project_frame():
    found = findings(TRACEBACK_LOG, ROOT)

    assert found.causes == {
        "AttributeError at bot/catalogue.py:matches ('…' object has no attribute '…')": 1,
        "rasa.core.channels.telegram: Exception when trying to handle message.'…' object": 1,
    }
    assert found.not_internal == {"rasa_sdk logs an unknown action name at ERROR and answers 404": 1}


def test_a_5xx_or_an_unanswered_request_is_a_failure_and_an_apology_is_counted():
    result = FuzzResult()
    result.add(Outcome("api", "200"))
    result.add(Outcome("api", "500", failed=True, sent="POST /model/parse"))
    result.add(Outcome("socket.io", "user_uttered -> nothing", failed=True))
    result.add(Outcome("rest webhook", "200", apology=True))

    summary = result.summary()
    assert (summary["requests"], summary["status_5xx"], summary["failed_requests"], summary["apologies"]) == (4, 1, 2, 1)
    assert summary["failures"][0] == "api -> 500: POST /model/parse"


def test_fuzzing_every_endpoint_gets_no_5xx_no_internal_error_and_no_dead_server(channel_stack):
    section = fuzz_section(channel_stack, REQUESTS, SEED, corpus=False)

    assert section["requests"] >= REQUESTS * 0.95, "hypothesis drew fewer requests than asked"
    reached = {name.split()[0] for name in section["endpoints"]}
    assert {"rest", "socket.io", "slack", "telegram", "api", "actions"} <= reached, section["endpoints"]
    assert len(PLAN) == 6  # a new endpoint in PLAN must be added to the line above
    assert section["status_5xx"] == 0, section["failures"]
    assert section["failed_requests"] == 0, section["failures"]
    assert not section["server_died"], section["dead_servers"]
    unexplained = {cause: n for cause, n in section["causes"].items() if cause not in ACCEPTED_CAUSES}
    assert unexplained == {}, f"internal errors, by cause: {unexplained}"
    assert section["apologies"] <= section["internal_errors"], "an apology with no error in the log"
    assert section["rss_growth_pct"] < MAX_RSS_GROWTH_PCT, section["rss_mb"]


def test_the_http_api_checks_refuse_what_rasa_would_answer_with_a_500():
    # Each body made Rasa's handler fail with a 500 in a fuzz run.
    assert parse_problem({"text": 28}) == "'text' must be a string"
    assert parse_problem({"text": ["hi"]}) is None  # Rasa takes a list of texts too
    assert "surrogate" in parse_problem({"text": "hi \ud800"})
    assert message_problem({"text": "hi", "sender": "user", "parse_data": {"intent": 5}}) is not None
    assert events_problem([]) is not None and events_problem({"event": "no-such-event"}) is not None
    assert events_problem({"event": "slot", "name": "emotion", "value": "joy"}) is None
    assert replace_events_problem({"event": "restart"}) == "the body must be a list of events"
