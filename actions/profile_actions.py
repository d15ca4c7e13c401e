"""Actions that load, show, change and delete the user's profile."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, Restarted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.profile_client import call_store, get_store, identity, lookup, report_unavailable
from bot.catalogue import guess_category
from bot.identity import Identity
from bot.profiles import CATEGORIES, InvalidProfileValue, Profile, ProfileStoreUnavailable
from bot.profiles.validation import clean_category, clean_name, clean_value

NAME_SLOT = "user_name"
PREFERENCES_SLOT = "preferences"
# Whose profile the two slots hold: the reply generator uses them only in that
# identity's own conversation (models_custom/generative_policy.py).
OWNER_SLOT = "profile_owner"
# Rasa fills this slot itself with the metadata of the message that started the session.
SESSION_METADATA_SLOT = "session_started_metadata"

NOT_NAMES = {"i", "i'm", "im", "me", "my", "myself", "you", "we", "it"}
CATEGORY_WORDS = {"movie": "movies", "book": "books", "music": "music", "food": "food", "activity": "activities"}


def profile_slots(profile: Optional[Profile], owner: Identity) -> List[EventType]:
    """Slot events mirroring ``owner``'s stored profile (all None when there is none)."""
    if profile is None:
        return [SlotSet(NAME_SLOT, None), SlotSet(PREFERENCES_SLOT, None), SlotSet(OWNER_SLOT, None)]
    return [
        SlotSet(NAME_SLOT, profile.name),
        SlotSet(PREFERENCES_SLOT, dict(profile.preferences) or None),
        SlotSet(OWNER_SLOT, owner.key),
    ]


def describe(profile: Optional[Profile]) -> str:
    """The profile in plain words."""
    if profile is None or profile.is_empty:
        return (
            "I don't know anything about you yet. You can tell me your name or "
            "what you like, for example \"I love sci-fi movies\"."
        )
    parts = []
    if profile.name:
        parts.append(f"your name is {profile.name}")
    for category in CATEGORIES:
        if category in profile.preferences:
            parts.append(f"for {CATEGORY_WORDS[category]} you like {profile.preferences[category]}")
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return (
        f"Here's what I know about you: {listed}. You can change any of it, "
        "or say \"forget me\" and I'll delete it all."
    )


class ActionSessionStart(Action):
    """Start a session with the user's stored profile in the slots (see ``lookup``)."""

    def name(self) -> Text:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        events: List[EventType] = [SessionStarted()]
        # Like Rasa's default action: carry the slots over (domain's session_config);
        # the stored profile then overrides the profile slots, unless it is unreachable.
        events += [
            SlotSet(key, value) for key, value in tracker.slots.items()
            if value is not None and key != SESSION_METADATA_SLOT
        ]
        who = identity(tracker)
        try:
            profile = await call_store(lookup, who)
            events += profile_slots(profile, who)
        except ProfileStoreUnavailable as error:
            report_unavailable(dispatcher, self.name(), error)
        return events + [ActionExecuted("action_listen")]


class ActionShowProfile(Action):
    """Tell the user, in plain words, everything stored about them."""

    def name(self) -> Text:
        return "action_show_profile"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        who = identity(tracker)
        try:
            profile = await call_store(lookup, who)
        except ProfileStoreUnavailable as error:
            report_unavailable(dispatcher, self.name(), error)
            return []
        dispatcher.utter_message(text=describe(profile))
        return profile_slots(profile, who)


class ActionStorePreference(Action):
    """Remember a name or a preference from the message's entities, and confirm it."""

    def name(self) -> Text:
        return "action_store_preference"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        who = identity(tracker)
        # "my name is Thandiwe but call me Thandi": the last name given wins. A
        # pronoun tagged as a name ("I love jazz") is an extraction slip, not a name.
        names = [n for n in tracker.get_latest_entity_values("name") if str(n).lower() not in NOT_NAMES]
        name = names[-1] if names else None
        value = next(tracker.get_latest_entity_values("preference"), None)
        category = next(tracker.get_latest_entity_values("category"), None)
        if name is None and value is None:
            dispatcher.utter_message(
                text="I didn't catch what to remember. Try \"My name is Sam\" or \"I love jazz music\"."
            )
            return []
        # Entities can come from anywhere ("/tell_preference{...}" in a message, the HTTP
        # API): a value that is not text is refused below with the reason, not guessed at.
        if isinstance(value, str) and category is None:
            category = guess_category(value)
            if category is None:
                shown = value if len(value) <= 40 else value[:40] + "..."
                dispatcher.utter_message(
                    text=f"Is {shown} a movie, book, music, food or activity? "
                    f"Say it together, for example \"I like {shown} movies\"."
                )
                return []
        try:
            # Everything is checked before anything is written: all of it or none.
            name = clean_name(name) if name is not None else None
            value = clean_value(value) if value is not None else None
            category = clean_category(category) if value is not None else None
            replies = await call_store(self._store, who, name, category, value)
            profile = await call_store(lookup, who)
        except InvalidProfileValue as error:
            dispatcher.utter_message(text=f"Sorry, I can't remember that: {error}")
            return []
        except ProfileStoreUnavailable as error:
            report_unavailable(dispatcher, self.name(), error)
            return []
        dispatcher.utter_message(text=" ".join(replies))
        return profile_slots(profile, who)

    @staticmethod
    def _store(who: Identity, name: Optional[str], category: Optional[str], value: Optional[str]) -> List[str]:
        store = get_store()
        replies = []
        if name is not None:
            change = store.set_name(who.channel, who.sender, name)
            if change.old_value and change.changed:
                replies.append(f"Got it, I'll call you {change.new_value} from now on instead of {change.old_value}.")
            else:
                replies.append(f"Nice to meet you, {change.new_value}! I'll remember your name.")
        if value is not None:
            change = store.set_preference(who.channel, who.sender, category, value)
            words = CATEGORY_WORDS[change.field.split(":", 1)[1]]
            if change.old_value and change.changed:
                replies.append(
                    f"Okay, I've changed your {words} preference from {change.old_value} to {change.new_value}."
                )
            else:
                replies.append(f"Noted: for {words} you like {change.new_value}.")
        return replies


class ActionForgetMe(Action):
    """Delete the profile; the tracker store then deletes the conversation history.

    Runs only after the user confirmed (rules: utter_ask_forget_confirm, affirm).
    The returned ``Restarted`` empties the conversation's slots and is the signal
    for ``bot.tracker_store.ForgetfulSQLTrackerStore`` to delete every stored event
    of this sender instead of saving the turn. It is returned only when the
    profile really was deleted, so a failed attempt keeps both and says so.
    """

    def name(self) -> Text:
        return "action_forget_me"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        who = identity(tracker)
        try:
            await call_store(lambda: get_store().forget(who.channel, who.sender))
        except ProfileStoreUnavailable as error:
            report_unavailable(dispatcher, self.name(), error)
            return []
        dispatcher.utter_message(
            text="Done. I've deleted everything I knew about you and our conversation history. "
            "If you write again, we'll start fresh."
        )
        return [Restarted()]
