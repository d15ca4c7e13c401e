"""The channels' pure helpers, without a server."""
from __future__ import annotations

from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from channels.emotion import latest_emotion
from channels.guard import EMPTY_REPLY, MAX_MESSAGE_CHARS, polite_reply_for
from channels.slack import RecentIds
from channels.socketio import is_readable


def test_polite_reply_for_empty_blank_and_overlong_text_only():
    assert polite_reply_for(None) == polite_reply_for("") == polite_reply_for(" \n\t") == EMPTY_REPLY
    assert polite_reply_for("x" * MAX_MESSAGE_CHARS) is None
    assert "4,097 characters" in polite_reply_for("x" * (MAX_MESSAGE_CHARS + 1))


def test_recent_ids_forget_the_oldest_first():
    seen = RecentIds(capacity=2)
    assert [seen.seen_before(i) for i in ("a", "b", "a", "c")] == [False, False, True, False]
    assert seen.seen_before("b") is True  # still among the last two
    assert seen.seen_before("a") is False  # evicted when "c" came


def tracker_with(message_id: str, entities: list) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        "u1", [UserUttered("I got the job!", {"name": "share_feeling"}, entities, message_id=message_id)]
    )


def test_latest_emotion_is_the_entity_of_that_very_message():
    emotion = {"entity": "emotion", "value": "joy", "start": 0, "end": 14, "confidence_entity": 0.91}
    tracker = tracker_with("m1", [{"entity": "category", "value": "movie"}, emotion])
    assert latest_emotion(tracker) == {"emotion": "joy", "confidence": 0.91}
    assert latest_emotion(tracker, "m1") == {"emotion": "joy", "confidence": 0.91}
    assert latest_emotion(tracker, "another message") is None  # not passed to the NLU
    assert latest_emotion(tracker_with("m2", [])) is None
    assert latest_emotion(None) is None


def test_is_readable_accepts_what_rasa_widgets_send():
    assert is_readable({"message": "hi", "session_id": "s"})
    assert is_readable({"message": "hi", "metadata": '{"page": "/"}'})
    assert is_readable({"message": "hi", "customData": {"language": "en"}}, metadata_key="customData")
    assert not is_readable("hi")
    assert not is_readable({"message": ["hi"]})
    assert not is_readable({"message": "hi", "metadata": "{oops"})
    assert not is_readable({"message": "hi", "metadata": [1]})
