"""Recommend something from the catalogue using the stored preferences."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.profile_actions import CATEGORY_WORDS
from actions.profile_client import call_store, identity, lookup, report_unavailable
from bot.catalogue import Recommendation, recommend
from bot.profiles import CATEGORIES, ProfileStoreUnavailable


def phrase(recommendation: Optional[Recommendation]) -> str:
    """The recommendation in plain words, saying why (or that we know nothing yet)."""
    if recommendation is None:
        return (
            "I don't know your tastes yet, so I can't pick something for you. Tell me what "
            "you like, for example \"I love jazz\" or \"my favourite food is ramen\"."
        )
    item = recommendation.item
    if recommendation.because:
        return f"Since you like {recommendation.because}, how about {item.title}?"
    return (
        f"I don't know your taste in {CATEGORY_WORDS[item.category]} yet, so here's one I like: "
        f"{item.title}. Tell me what you enjoy and I'll tailor the next one."
    )


class ActionRecommend(Action):
    def name(self) -> Text:
        return "action_recommend"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        # The category of this message ("recommend a book"), not one left from earlier turns.
        category = next(tracker.get_latest_entity_values("category"), None)
        if category not in CATEGORIES:
            category = None
        try:
            profile = await call_store(lookup, identity(tracker))
        except ProfileStoreUnavailable as error:
            report_unavailable(dispatcher, self.name(), error)
            return []
        preferences = profile.preferences if profile else {}
        dispatcher.utter_message(text=phrase(recommend(preferences, category)))
        return []
