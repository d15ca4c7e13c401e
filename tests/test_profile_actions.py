"""The profile actions with real trackers, dispatchers and databases, and over HTTP."""
from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests
import sqlalchemy as sa
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import profile_client
from actions.profile_actions import (
    ActionForgetMe,
    ActionSessionStart,
    ActionShowProfile,
    ActionStorePreference,
)
from actions.recommend_action import ActionRecommend
from bot.identity import conversation_id
from bot.profiles import ProfileSettings, ProfileStore
from tests.servers import running, start_action_server


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProfileStore]:
    url = f"sqlite:///{tmp_path / 'profiles.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = ProfileStore.from_url(url)
    profile_client.use_store(store)
    yield store
    profile_client.use_store(None)
    store.close()


def user_says(
    text: str, intent: str, entities: Dict[str, str] = {}, channel: Optional[str] = "rest"
) -> Dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "input_channel": channel,
        "parse_data": {
            "text": text,
            "intent": {"name": intent, "confidence": 1.0},
            "entities": [{"entity": k, "value": v} for k, v in entities.items()],
        },
    }


def tracker_for(sender: str, *events: Dict[str, Any], slots: Optional[Dict[str, Any]] = None) -> Tracker:
    """The tracker of REST sender ``sender``'s conversation, as the REST channel names it."""
    latest = next((e["parse_data"] for e in reversed(events) if e["event"] == "user"), {})
    return Tracker(conversation_id("rest", sender), slots or {}, latest, list(events), False, None, {}, None)


async def run(action: Any, tracker: Tracker) -> tuple[List[str], List[Dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    texts = [m.get("text") or m.get("response") for m in dispatcher.messages]
    return texts, events


def slot_events(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def new_sender() -> str:
    return f"s-{uuid.uuid4().hex[:10]}"


@pytest.mark.asyncio
async def test_store_then_show_then_correct(store: ProfileStore) -> None:
    sid = new_sender()
    texts, events = await run(ActionStorePreference(), tracker_for(
        sid, user_says("I love sci-fi movies", "tell_preference", {"preference": "sci-fi", "category": "movie"})))
    assert texts == ["Noted: for movies you like sci-fi."]
    assert slot_events(events) == {"user_name": None, "preferences": {"movie": "sci-fi"}, "profile_owner": f"rest:{sid}"}

    texts, events = await run(ActionStorePreference(), tracker_for(
        sid, user_says("I am Zoë 🎬", "tell_preference", {"name": "I"})))
    assert texts[0].startswith("I didn't catch")  # a pronoun is not a name
    texts, events = await run(ActionStorePreference(), tracker_for(
        sid, user_says("call me Zoë 🎬", "tell_preference", {"name": "Zoë 🎬"})))
    assert texts == ["Nice to meet you, Zoë 🎬! I'll remember your name."]

    texts, _ = await run(ActionStorePreference(), tracker_for(
        sid, user_says("actually comedies", "tell_preference", {"preference": "comedy", "category": "movie"})))
    assert texts == ["Okay, I've changed your movies preference from sci-fi to comedy."]

    texts, events = await run(ActionShowProfile(), tracker_for(sid, user_says("what do you know", "ask_profile")))
    assert "your name is Zoë 🎬" in texts[0] and "for movies you like comedy" in texts[0]
    assert slot_events(events) == {"user_name": "Zoë 🎬", "preferences": {"movie": "comedy"}, "profile_owner": f"rest:{sid}"}


@pytest.mark.asyncio
async def test_category_is_guessed_from_the_catalogue_or_asked_for(store: ProfileStore) -> None:
    sid = new_sender()
    texts, _ = await run(ActionStorePreference(), tracker_for(
        sid, user_says("I like jazz", "tell_preference", {"preference": "jazz"})))
    assert texts == ["Noted: for music you like jazz."]
    texts, events = await run(ActionStorePreference(), tracker_for(
        sid, user_says("I like Zorblax", "tell_preference", {"preference": "Zorblax"})))
    assert "Is Zorblax a movie, book, music, food or activity?" in texts[0] and events == []


@pytest.mark.parametrize(
    "entities, reply",
    [
        ({"name": "A" * 5000}, "Sorry, I can't remember that: That name is 5000 characters long"),
        ({"preference": "history", "category": "podcast"}, "not 'podcast'"),
        ({}, "I didn't catch what to remember"),
        # Nothing is half-stored: the valid name is not kept when the preference is refused.
        ({"name": "Ana", "preference": "history", "category": "podcast"}, "not 'podcast'"),
        ({"preference": "z" * 5000}, "Is " + "z" * 40 + "... a movie"),
        # Entities typed as "/tell_preference{...}" can be any JSON (found by the fuzzer).
        ({"preference": {"genre": "jazz"}}, "That preference isn't text"),
        ({"name": ["Ana"]}, "That name isn't text"),
    ],
)
@pytest.mark.asyncio
async def test_bad_input_is_refused_with_a_clear_reply(
    store: ProfileStore, entities: Dict[str, str], reply: str
) -> None:
    sid = new_sender()
    texts, events = await run(ActionStorePreference(), tracker_for(sid, user_says("...", "tell_preference", entities)))
    assert reply in texts[0] and events == []
    assert store.get("rest", sid) is None


@pytest.mark.asyncio
async def test_sql_in_entities_is_just_text(store: ProfileStore) -> None:
    sid = new_sender()
    value = "x'); DROP TABLE preferences; --"
    await run(ActionStorePreference(), tracker_for(
        sid, user_says(value, "tell_preference", {"preference": value, "category": "book"})))
    texts, _ = await run(ActionShowProfile(), tracker_for(sid, user_says("?", "ask_profile")))
    assert f"for books you like {value}" in texts[0]


@pytest.mark.asyncio
async def test_session_start_loads_the_profile_and_never_creates_one(store: ProfileStore) -> None:
    sid = new_sender()
    # Returning after the session expired: the slots carry over, there is no profile.
    earlier = user_says("hi", "greet")
    _, events = await run(ActionSessionStart(), tracker_for(sid, earlier, slots={"emotion": "joy"}))
    assert store.get("rest", sid) is None  # a look-up creates nothing (see forget-me below)
    assert events[0]["event"] == "session_started" and events[-1]["name"] == "action_listen"
    assert slot_events(events) == {"emotion": "joy", "user_name": None, "preferences": None, "profile_owner": None}

    store.set_name("rest", sid, "Ana")
    store.set_preference("rest", sid, "food", "ramen")
    _, events = await run(ActionSessionStart(), tracker_for(sid))  # brand-new tracker: the id names the channel
    assert slot_events(events) == {"user_name": "Ana", "preferences": {"food": "ramen"}, "profile_owner": f"rest:{sid}"}


@pytest.mark.asyncio
async def test_session_start_never_loads_another_channels_profile(store: ProfileStore) -> None:
    """Caught on the old main: a new conversation with no channel yet was looked up by
    sender id alone, so a REST client naming a Telegram chat id got that user's profile."""
    chat_id = new_sender()
    store.set_name("telegram", chat_id, "Ana")
    for conversation in (chat_id, f"rest:{chat_id}", f"rest:telegram:{chat_id}"):
        tracker = Tracker(conversation, {}, {}, [], False, None, {}, None)
        _, events = await run(ActionSessionStart(), tracker)
        assert slot_events(events)["user_name"] is None, conversation
    # A Telegram id arriving through the REST channel is no Telegram identity either.
    posing = Tracker(f"telegram:{chat_id}", {}, {}, [user_says("hi", "greet", channel="rest")], False, None, {}, None)
    texts, _ = await run(ActionShowProfile(), posing)
    assert texts[0].startswith("I don't know anything about you yet")


@pytest.mark.asyncio
async def test_recommendation_uses_preferences_or_says_nothing_is_known(store: ProfileStore) -> None:
    sid = new_sender()
    texts, _ = await run(ActionRecommend(), tracker_for(sid, user_says("recommend something", "ask_recommendation")))
    assert texts[0].startswith("I don't know your tastes yet")
    texts, _ = await run(ActionRecommend(), tracker_for(
        sid, user_says("a book?", "ask_recommendation", {"category": "book"})))
    assert texts[0].startswith("I don't know your taste in books yet")
    store.set_preference("rest", sid, "music", "jazz")
    texts, _ = await run(ActionRecommend(), tracker_for(sid, user_says("recommend something", "ask_recommendation")))
    assert texts[0].startswith("Since you like jazz, how about") and ("Miles Davis" in texts[0] or "Coltrane" in texts[0])


@pytest.mark.asyncio
async def test_forget_me_deletes_the_profile_and_restarts(store: ProfileStore) -> None:
    sid, bystander = new_sender(), new_sender()
    store.set_name("rest", sid, "Ana")
    store.set_preference("rest", bystander, "food", "pizza")
    texts, events = await run(ActionForgetMe(), tracker_for(sid, user_says("yes", "affirm")))
    assert "deleted everything" in texts[0]
    assert events == [{"event": "restart", "timestamp": None}]
    assert store.get("rest", sid) is None and store.changes("rest", sid) == []
    assert store.get("rest", bystander) is not None
    # Rasa runs action_session_start right after the restart: it must not re-create the profile.
    after_restart = tracker_for(sid, user_says("yes", "affirm"), {"event": "action", "name": "action_forget_me"},
                                {"event": "restart"})
    _, events = await run(ActionSessionStart(), after_restart)
    assert slot_events(events) == {"user_name": None, "preferences": None, "profile_owner": None}
    assert store.get("rest", sid) is None
    texts, _ = await run(ActionShowProfile(), tracker_for(sid, user_says("?", "ask_profile")))
    assert texts[0].startswith("I don't know anything about you yet")


@pytest.mark.asyncio
async def test_database_down_gives_a_polite_reply_and_an_error_log(caplog: pytest.LogCaptureFixture) -> None:
    # Nothing listens on port 1: every connection is refused, as when the server is down.
    down = ProfileSettings(url="postgresql+psycopg2://postgres@127.0.0.1:1/kai", retry_attempts=2, retry_backoff_s=0.01)
    store = ProfileStore(down, run_migrations=False)
    profile_client.use_store(store)
    try:
        for action, intent, entities in [
            (ActionStorePreference(), "tell_preference", {"preference": "jazz", "category": "music"}),
            (ActionShowProfile(), "ask_profile", {}),
            (ActionRecommend(), "ask_recommendation", {}),
            (ActionForgetMe(), "affirm", {}),
        ]:
            caplog.clear()
            with caplog.at_level(logging.ERROR):
                texts, events = await run(action, tracker_for("s", user_says("x", intent, entities)))
            assert texts == ["utter_profile_unavailable"] and events == []  # forget-me: no Restarted
            assert "profile store unavailable" in caplog.text
        _, events = await run(ActionSessionStart(), tracker_for("s", slots={"user_name": "Ana"}))
        assert slot_events(events) == {"user_name": "Ana"}  # keeps what it had
    finally:
        profile_client.use_store(None)


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("actions")
    server = start_action_server(workdir, env={"PROFILE_DB_URL": f"sqlite:///{workdir / 'profiles.db'}"})
    with running(server):
        yield server.url


@pytest.mark.parametrize(
    "body, status",
    [
        (b"{not json", 400),
        (b"[]", 400),
        (b'{"next_action": "action_show_profile"}', 400),
        (b'{"next_action": "action_show_profile", "tracker": {"events": []}}', 400),
        (b'{"next_action": "action_show_profile", "tracker": {"sender_id": "a", "events": {}}}', 400),
        (b'{"next_action": "action_does_not_exist", "tracker": {"sender_id": "a"}}', 404),
    ],
)
def test_action_server_answers_malformed_requests_with_4xx(action_server: str, body: bytes, status: int) -> None:
    response = requests.post(action_server + "/webhook", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert requests.get(action_server + "/health").status_code == 200  # still up


def test_action_server_runs_a_well_formed_call(action_server: str) -> None:
    call = {
        "next_action": "action_store_preference",
        "sender_id": "http-user",
        "tracker": {
            "sender_id": "http-user",
            "slots": {},
            "latest_message": user_says("I love 'jazz' 🎷", "tell_preference", {"preference": "'jazz' 🎷", "category": "music"})["parse_data"],
            "events": [user_says("I love 'jazz' 🎷", "tell_preference")],
        },
        "domain": {},
    }
    response = requests.post(action_server + "/webhook", json=call)
    assert response.status_code == 200, response.text
    assert response.json()["responses"][0]["text"] == "Noted: for music you like 'jazz' 🎷."


# -- forget-me in Rasa's tracker store -------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    from rasa.shared.core.domain import Domain

    from bot.tracker_store import ForgetfulSQLTrackerStore
    from tests.servers import PROJECT_ROOT

    domain = Domain.load(PROJECT_ROOT / "domain.yml")
    if request.param == "sqlite":
        store = ForgetfulSQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "var" / "tracker.db"))
    else:
        url = sa.engine.make_url(request.getfixturevalue("postgres_url"))
        store = ForgetfulSQLTrackerStore(
            domain, dialect="postgresql", host=url.host, port=url.port, db=url.database, username=url.username
        )
    yield store
    store.engine.dispose()


def stored_events(store: Any, sender: str) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": sender}).scalar_one()


@pytest.mark.asyncio
async def test_tracker_store_deletes_history_when_forget_me_succeeded(tracker_store: Any) -> None:
    from rasa.shared.core.events import ActionExecuted, BotUttered, Restarted, SessionStarted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    sid, bystander = new_sender(), new_sender()
    for sender in (sid, bystander):
        tracker = DialogueStateTracker(sender, tracker_store.domain.slots)
        for event in (SessionStarted(), ActionExecuted("action_listen"), UserUttered("I love jazz"),
                      ActionExecuted("action_store_preference"), BotUttered("Noted"), ActionExecuted("action_listen")):
            tracker.update(event)
        await tracker_store.save(tracker)
    assert stored_events(tracker_store, sid) == 6

    # A restart alone (the /restart intent) is not a request to be forgotten.
    tracker = await tracker_store.retrieve(sid)
    tracker.update(ActionExecuted("action_restart"))
    tracker.update(Restarted())
    await tracker_store.save(tracker)
    assert stored_events(tracker_store, sid) == 8

    # The turn in which action_forget_me returned Restarted: every row goes, none is written.
    tracker = await tracker_store.retrieve(sid)
    for event in (UserUttered("yes"), ActionExecuted("action_forget_me"), BotUttered("Done"),
                  Restarted(), ActionExecuted("action_listen")):
        tracker.update(event)
    await tracker_store.save(tracker)
    assert stored_events(tracker_store, sid) == 0
    assert await tracker_store.retrieve(sid) is None
    assert stored_events(tracker_store, bystander) == 6

    # The next conversation is stored normally, from scratch.
    tracker = DialogueStateTracker(sid, tracker_store.domain.slots)
    tracker.update(SessionStarted())
    await tracker_store.save(tracker)
    assert stored_events(tracker_store, sid) == 1
