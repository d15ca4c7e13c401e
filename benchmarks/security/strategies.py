"""What a client may send to each public endpoint, as hypothesis strategies.

Each ``*_cases`` function returns a strategy of requests for one endpoint. Most
requests are well formed where it matters to get past the door (a signed sender,
a valid Slack signature, the Telegram secret header, the API token), so the
payload reaches the parser, the NLU, the dialogue and the actions; the rest are
wrong in one place (a forged token, a body of another shape, bytes that are not
JSON). Names the assistant knows (intents, actions, slots, event types) are read
from domain.yml and Rasa, so the fuzzer reaches the code behind them.

Conversations come from small pools of senders, so later requests continue the
conversations that earlier ones started (stateful bugs need a history), plus
arbitrary ids.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import quote, urlencode

import yaml
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses

from bot.paths import PROJECT_ROOT
from bot.scale.bad_input import INJECTIONS, UNICODE
from bot.sender_tokens import SenderTokens, is_valid_sender

JSON = "application/json"
DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
INTENTS: List[str] = DOMAIN["intents"]
ACTIONS: List[str] = DOMAIN["actions"] + list(DOMAIN["responses"])
SLOTS: List[str] = list(DOMAIN["slots"])
ENTITIES: List[str] = [next(iter(e)) if isinstance(e, dict) else e for e in DOMAIN["entities"]]
EVENT_TYPES: List[str] = sorted({c.type_name for c in all_subclasses(Event) if getattr(c, "type_name", None)})
# What people say to the assistant, so that stories, rules and actions run too; the
# templates put fuzzed words where the entity extractor looks for names and tastes.
UTTERANCES = (
    "hi", "hello there", "bye", "yes", "no", "thanks", "are you a bot?", "I feel really down today",
    "I am so happy today", "what do you know about me?", "what can you recommend? a movie maybe",
    "recommend a book", "forget me", "/restart", "/greet", "/forget_me", "/affirm",
)
TEMPLATES = ("my name is {}", "call me {}", "I love {} music", "I like {} movies", "recommend a {}", "{} {}")


@dataclass(frozen=True)
class Keys:
    """The secrets a legitimate client or platform holds; the fuzzer signs with them."""

    sender_tokens: SenderTokens
    api_token: str
    slack_signing_secret: str
    telegram_secret_token: str


@dataclass(frozen=True)
class HttpCase:
    """One HTTP request; ``endpoint`` names it in the counts, ``server`` is rasa or actions."""

    endpoint: str
    method: str
    path: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    server: str = "rasa"


@dataclass(frozen=True)
class SocketCase:
    """One socket.io event: its name and arguments (usually one payload).

    ``new_connection``: sent first thing on a new connection that asked for no session.
    """

    event: str
    args: Tuple[Any, ...]
    new_connection: bool = False


def weighted(*options: Tuple[int, SearchStrategy]) -> SearchStrategy:
    """One of the strategies, each drawn about ``weight`` times as often as weight 1.

    (``st.one_of`` cannot weight: it draws each distinct strategy about equally often,
    a strategy listed twice included.)
    """
    choices = [strategy for weight, strategy in options for _ in range(weight)]
    return st.sampled_from(choices).flatmap(lambda strategy: strategy)


def mostly(good: SearchStrategy, bad: Optional[SearchStrategy] = None) -> SearchStrategy:
    """``good`` six times in seven, else any JSON (or ``bad``): one field wrong at a time
    is what gets a request past the checks before it."""
    return weighted((6, good), (1, bad if bad is not None else json_values))


# --- Building blocks -----------------------------------------------------------------

# Any code point, lone surrogates included: JSON escapes them, and they must not crash.
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
printable_word = st.text(st.characters(exclude_categories=("C", "Z")), min_size=1, max_size=24)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | any_text
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(any_text, json_values, max_size=5)
raw_bytes = st.binary(max_size=300)


def messages() -> SearchStrategy[str]:
    """User text: what people say, templates with fuzzed words, and anything at all."""
    return weighted(
        (3, st.sampled_from(UTTERANCES)),
        (3, st.builds(lambda template, a, b: template.format(a, b), st.sampled_from(TEMPLATES),
                      printable_word | any_text, printable_word)),
        (3, any_text),
        (2, st.sampled_from(INJECTIONS + UNICODE)),
        (1, st.text(min_size=4090, max_size=4100)),  # both sides of channels.guard's limit
    )


def dumps(value: Any) -> bytes:
    """JSON as a client sends it (NaN and lone surrogates escaped the way Python does)."""
    return json.dumps(value).encode()


# --- REST channel --------------------------------------------------------------------

SENDER_POOL = [f"fuzz{i}" for i in range(6)]
senders = st.sampled_from(SENDER_POOL) | printable_word.filter(is_valid_sender)
forged_signature = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=43, max_size=43)


def sender_fields(keys: Keys) -> SearchStrategy[Any]:
    """A ``sender``: mostly a signed token, else forged, unsigned or not a string."""
    signed = st.builds(keys.sender_tokens.sign, senders)
    return weighted(
        (12, signed),
        (1, st.builds("{}.{}".format, senders, forged_signature)),
        (1, signed.map(lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"))),
        (1, senders),
        (1, json_values),
    )


def rest_cases(keys: Keys) -> SearchStrategy[HttpCase]:
    """POST /webhooks/rest/webhook (and now and then /session)."""
    message = st.fixed_dictionaries(
        {"sender": sender_fields(keys), "message": messages()},
        optional={"metadata": mostly(json_objects), "input_channel": any_text, "extra": json_values},
    )
    body = weighted((8, message.map(dumps)), (1, json_values.map(dumps)), (1, raw_bytes))
    content_type = weighted((8, st.just(JSON)), (1, st.sampled_from(["text/plain", "", "text/xml"])), (1, any_text))
    webhook = st.builds(
        lambda body, kind: HttpCase("rest webhook", "POST", "/webhooks/rest/webhook", body, _content_type(kind)),
        body, content_type,
    )
    session = st.builds(lambda body: HttpCase("rest session", "POST", "/webhooks/rest/session", body), raw_bytes)
    return weighted((9, webhook), (1, session))


def _content_type(value: str) -> Dict[str, str]:
    return {"Content-Type": header_value(value)}


def header_value(value: str) -> str:
    """``value`` as an HTTP client can send it: Latin-1, no line breaks (requests refuses
    the rest, and no server would ever see it)."""
    return "".join(ch for ch in value if ch.isprintable() and ord(ch) < 256)


# --- socket.io -----------------------------------------------------------------------

def socket_cases(keys: Keys) -> SearchStrategy[SocketCase]:
    """session_request and user_uttered events as a web page sends them, and others."""
    session_id = weighted(
        (3, st.none()), (3, st.builds(keys.sender_tokens.sign, senders)),
        (1, st.builds("{}.{}".format, senders, forged_signature)), (1, json_values),
    )
    session = st.fixed_dictionaries({}, optional={"session_id": session_id, "extra": json_values})
    utterance = st.fixed_dictionaries(
        {"message": weighted((6, messages()), (1, json_values))},
        optional={"session_id": session_id, "metadata": mostly(json_objects, json_values | any_text), "customData": json_values},
    )
    one = lambda payload: (payload,)  # noqa: E731 (an event with one argument)
    event_and_args = weighted(
        (2, st.tuples(st.just("session_request"), session.map(one) | json_values.map(one))),
        (6, st.tuples(st.just("user_uttered"), utterance.map(one))),
        (1, st.tuples(st.just("user_uttered"), (json_values | raw_bytes).map(one))),
        # Several arguments, or none: Rasa's handlers take exactly one.
        (1, st.tuples(st.sampled_from(["user_uttered", "session_request"]), st.lists(json_values, max_size=3).map(tuple))),
        (1, st.tuples(any_text, st.lists(json_values, max_size=2).map(tuple))),
    )
    new_connection = weighted((6, st.just(False)), (1, st.just(True)))
    return st.builds(lambda pair, new: SocketCase(*pair, new_connection=new), event_and_args, new_connection)


# --- Slack ---------------------------------------------------------------------------

SLACK_USERS = ["U0FUZZ1", "U0FUZZ2", "U0FUZZ3"]


def slack_cases(keys: Keys) -> SearchStrategy[HttpCase]:
    """Events API envelopes and interactive payloads, signed as Slack signs them."""
    event = st.fixed_dictionaries(
        {
            "type": weighted((6, st.sampled_from(["message", "app_mention"])), (1, json_values)),
            "text": weighted((6, messages()), (1, json_values)),
            "user": weighted((6, st.sampled_from(SLACK_USERS)), (1, json_values)),
            "channel": weighted((6, st.sampled_from(["D0FUZZDM", "C0FUZZ"])), (1, json_values)),
        },
        optional={"channel_type": mostly(st.sampled_from(["im", "channel"])),
                  "ts": mostly(st.floats(0, 2e9).map(str)), "thread_ts": json_values,
                  "bot_id": json_values, "subtype": json_values, "blocks": json_values},
    )
    envelope = st.fixed_dictionaries(
        {"type": st.just("event_callback"), "event_id": st.text("0123456789ABCDEF", min_size=1, max_size=8),
         "event": weighted((8, event), (1, json_values))},
        optional={"authorizations": mostly(st.just([{"user_id": "U0KAIBOT"}])),
                  "authed_users": json_values, "challenge": json_values},
    )
    interactive = st.fixed_dictionaries(
        {"type": mostly(st.sampled_from(["block_actions", "interactive_message"])),
         "user": mostly(st.fixed_dictionaries({"id": st.sampled_from(SLACK_USERS)})),
         "actions": mostly(st.lists(mostly(st.fixed_dictionaries({"type": st.sampled_from(["button", "static_select"]),
                                                                  "value": messages()})), max_size=2))},
        optional={"channel": json_values, "container": json_values},
    )
    form = weighted(
        (3, interactive.map(lambda payload: urlencode({"payload": json.dumps(payload)}))),
        (1, st.dictionaries(printable_word, any_text, max_size=3).map(urlencode)),
    ).map(str.encode)
    signed = weighted(
        (6, st.tuples(envelope.map(dumps), st.just(JSON))),
        (1, st.tuples(json_values.map(dumps), st.just(JSON))),
        (2, st.tuples(form, st.just("application/x-www-form-urlencoded"))),
        (1, st.tuples(raw_bytes, st.sampled_from([JSON, "application/x-www-form-urlencoded", "text/plain"]))),
    )
    retry = st.sampled_from([{}, {}, {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}])
    return st.builds(
        lambda body_and_type, extra: _signed_slack(keys, *body_and_type, extra), signed, retry
    )


def _signed_slack(keys: Keys, body: bytes, content_type: str, extra: Dict[str, str]) -> HttpCase:
    # Signed when drawn and sent right away, well inside Slack's five-minute window.
    timestamp = str(int(time.time()))
    digest = hmac.new(keys.slack_signing_secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp,
               "X-Slack-Signature": f"v0={digest.hexdigest()}", **extra}
    return HttpCase("slack webhook", "POST", "/webhooks/slack/webhook", body, headers)


# --- Telegram ------------------------------------------------------------------------

TELEGRAM_CHATS = [910000001, 910000002, 910000003]


def telegram_cases(keys: Keys) -> SearchStrategy[HttpCase]:
    """Bot API updates with the webhook's secret header, as Telegram sends them."""
    user = st.fixed_dictionaries({"id": st.integers(1, 2**40), "is_bot": st.booleans(), "first_name": any_text})
    chat = st.fixed_dictionaries(
        {"id": weighted((6, st.sampled_from(TELEGRAM_CHATS)), (1, st.integers())),
         "type": st.sampled_from(["private", "group", "channel"])},
        optional={"title": any_text, "username": any_text},
    )
    message = st.fixed_dictionaries(
        {"message_id": st.integers(0, 2**31), "date": st.integers(0, 2**32), "chat": chat},
        optional={
            "text": weighted((6, messages()), (1, json_values)),
            "from": mostly(user),
            "location": mostly(st.fixed_dictionaries({"longitude": st.floats(), "latitude": st.floats()})),
            "entities": json_values, "reply_to_message": json_values, "sticker": json_values,
        },
    )
    query = st.fixed_dictionaries(
        {"id": any_text, "from": user, "message": message, "data": weighted((4, messages()), (1, json_values))}
    )
    update = st.fixed_dictionaries(
        {"update_id": weighted((8, st.integers(0, 2**31)), (1, json_values))},
        optional={"message": message, "edited_message": message, "callback_query": query,
                  "channel_post": mostly(message), "my_chat_member": json_values},
    )
    body = weighted((8, update.map(dumps)), (1, json_values.map(dumps)), (1, raw_bytes))
    secret = weighted((9, st.just(keys.telegram_secret_token)), (1, st.text("abcdef0123456789", max_size=64)))
    return st.builds(
        lambda body, token: HttpCase("telegram webhook", "POST", "/webhooks/telegram/webhook", body,
                                     {"Content-Type": JSON, "X-Telegram-Bot-Api-Secret-Token": token}),
        body, secret,
    )


# --- Rasa's HTTP API, with a valid token ---------------------------------------------

API_CONVERSATIONS = [f"api-fuzz-{i}" for i in range(4)]
VERBOSITY = ["ALL", "AFTER_RESTART", "APPLIED", "NONE"]


def entities() -> SearchStrategy[Dict[str, Any]]:
    """An entity as the NLU puts it in parse data and events."""
    return st.fixed_dictionaries(
        {"entity": mostly(st.sampled_from(ENTITIES)), "value": mostly(messages())},
        optional={"start": mostly(st.integers(0, 100)), "end": mostly(st.integers(0, 100)),
                  "confidence_entity": json_values, "extractor": json_values},
    )


def parse_data() -> SearchStrategy[Dict[str, Any]]:
    """What the NLU makes of a message (a user event's ``parse_data``)."""
    intent = st.fixed_dictionaries({"name": mostly(st.sampled_from(INTENTS)), "confidence": mostly(st.floats(0, 1))})
    return st.fixed_dictionaries(
        {"intent": mostly(intent), "entities": mostly(st.lists(mostly(entities()), max_size=3))},
        optional={"text": mostly(messages()), "intent_ranking": json_values, "metadata": json_values},
    )


def events() -> SearchStrategy[Dict[str, Any]]:
    """Tracker events as the HTTP API and action calls carry them: the common types well
    formed with fuzzed values, and every type Rasa knows with any fields."""
    when = {"timestamp": mostly(st.floats(0, 2e9))}
    user = st.fixed_dictionaries(
        {"event": st.just("user"), "text": mostly(messages()), "parse_data": mostly(parse_data())},
        optional={"input_channel": mostly(st.sampled_from(["rest", "socketio", "slack", "telegram"])),
                  "metadata": mostly(json_objects), **when},
    )
    slot = st.fixed_dictionaries({"event": st.just("slot"), "name": mostly(st.sampled_from(SLOTS)), "value": json_values},
                                 optional=when)
    action = st.fixed_dictionaries(
        {"event": st.just("action"), "name": mostly(st.sampled_from(ACTIONS + ["action_listen"]))},
        optional={"policy": json_values, "confidence": mostly(st.floats(0, 1)), **when},
    )
    bot = st.fixed_dictionaries({"event": st.just("bot"), "text": mostly(messages())},
                                optional={"data": json_values, "metadata": json_values, **when})
    anything = st.fixed_dictionaries(
        {"event": mostly(st.sampled_from(EVENT_TYPES))},
        optional={
            "name": mostly(st.sampled_from(ACTIONS + INTENTS + SLOTS)), "value": json_values,
            "text": mostly(messages()), "parse_data": mostly(parse_data()), "metadata": json_values,
            "policy": json_values, "confidence": json_values, "intent": json_values, "entities": json_values,
            "date_time": json_values, "kill_on_user_msg": json_values, **when,
        },
    )
    return weighted((2, user), (2, slot), (2, action), (1, bot), (3, anything))


def api_cases(keys: Keys) -> SearchStrategy[HttpCase]:
    """The conversation and model endpoints of ``rasa run --enable-api``.

    Left out on purpose: /model/train and /model/test/* (minutes of CPU each) and
    PUT/DELETE /model (they replace or unload the model the other endpoints serve).
    """
    conversation = weighted((6, st.sampled_from(API_CONVERSATIONS)), (1, any_text.filter(bool)))
    params = st.fixed_dictionaries({}, optional={
        "include_events": mostly(st.sampled_from(VERBOSITY), any_text),
        "until": mostly(st.floats(0, 2e9).map(str), any_text | st.floats().map(str)),
        "execute_side_effects": mostly(st.sampled_from(["true", "false"]), any_text), "all_sessions": any_text,
        "output_channel": mostly(st.sampled_from(["latest", "collector", "rest"]), any_text),
    })

    def case(method: str, path: str, body: Any = b"") -> SearchStrategy[HttpCase]:
        return st.builds(
            lambda conversation, params, body: HttpCase(
                f"api {method} {path}", method,
                path.replace("{id}", quote(conversation, safe="")) + "?" + urlencode({"token": keys.api_token, **params}),
                body if isinstance(body, bytes) else dumps(body), {"Content-Type": JSON},
            ),
            conversation, params, body if isinstance(body, SearchStrategy) else st.just(body),
        )

    def shaped(fields: Dict[str, SearchStrategy], optional: Optional[Dict[str, SearchStrategy]] = None) -> SearchStrategy[Any]:
        return mostly(st.fixed_dictionaries(fields, optional=optional), json_values | raw_bytes)

    event_list = st.lists(events(), max_size=4)
    return weighted(
        (5, case("POST", "/model/parse", shaped({"text": mostly(messages())}, {"message_id": mostly(st.uuids().map(str))}))),
        (4, case("POST", "/conversations/{id}/tracker/events", mostly(events() | event_list, json_values | raw_bytes))),
        (1, case("PUT", "/conversations/{id}/tracker/events", mostly(event_list, json_values | raw_bytes))),
        (2, case("POST", "/conversations/{id}/messages", shaped(
            {"text": mostly(messages()), "sender": mostly(st.just("user"))}, {"parse_data": mostly(parse_data())}))),
        (2, case("POST", "/conversations/{id}/trigger_intent", shaped(
            {"name": mostly(st.sampled_from(INTENTS))}, {"entities": mostly(st.lists(entities(), max_size=2))}))),
        (1, case("POST", "/conversations/{id}/execute", shaped(
            {"name": mostly(st.sampled_from(ACTIONS))}, {"policy": json_values, "confidence": json_values}))),
        (1, case("POST", "/conversations/{id}/predict")),
        (2, case("GET", "/conversations/{id}/tracker")),
        (1, case("GET", "/conversations/{id}/story")),
        (1, st.builds(lambda case, accept: HttpCase(case.endpoint, case.method, case.path, case.body, {"Accept": accept}),
                      case("GET", "/domain"), mostly(st.sampled_from(["application/json", "application/x-yml"]), any_text.map(header_value)))),
        (1, case("GET", "/status") | case("GET", "/version")),
    )


# --- The action server's /webhook ----------------------------------------------------

def action_cases() -> SearchStrategy[HttpCase]:
    """Action calls as Rasa makes them, with fuzzed trackers; some compressed as Rasa can."""
    tracker = st.fixed_dictionaries(
        {"sender_id": mostly(st.sampled_from(["rest:fuzz0", "telegram:910000001", "slack:U0FUZZ1", "api-fuzz-0"]), any_text)},
        optional={
            "slots": mostly(st.dictionaries(mostly(st.sampled_from(SLOTS), any_text), json_values, max_size=4)),
            "latest_message": mostly(parse_data()),
            "events": mostly(st.lists(mostly(events()), max_size=4)),
            "paused": mostly(st.booleans()), "followup_action": json_values,
            "active_loop": mostly(st.just({})), "latest_action_name": json_values,
        },
    )
    call = st.fixed_dictionaries(
        {"next_action": mostly(st.sampled_from(DOMAIN["actions"])), "tracker": mostly(tracker)},
        optional={"domain": mostly(json_objects), "version": mostly(st.just("3.6.21"))},
    )
    plain = st.builds(lambda body: HttpCase("actions webhook", "POST", "/webhook", body, {"Content-Type": JSON}, "actions"),
                      weighted((8, call.map(dumps)), (1, json_values.map(dumps)), (1, raw_bytes)))
    deflated = st.builds(
        lambda body: HttpCase("actions webhook", "POST", "/webhook", body,
                              {"Content-Type": JSON, "Content-Encoding": "deflate"}, "actions"),
        weighted((3, call.map(lambda c: zlib.compress(dumps(c)))), (1, raw_bytes), (1, raw_bytes.map(zlib.compress))),
    )
    return weighted((8, plain), (2, deflated))
