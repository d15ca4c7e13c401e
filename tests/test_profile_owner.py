"""Serving uses a profile only in the conversation of the identity it was read for.

The profile slots (``user_name``, ``preferences``) come with ``profile_owner``, the
identity the actions read them for; ``dialogue_context``, which builds every served
prompt, drops them in any other conversation. Uses the project's own domain.yml, so
a domain without the owner slot fails here too.
"""
from __future__ import annotations

import logging
from typing import Optional

import pytest
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.generation.prompt import build_messages
from models_custom.generative_policy import GenerativeResponsePolicy, dialogue_context
from tests.servers import PROJECT_ROOT

DOMAIN = Domain.load(str(PROJECT_ROOT / "domain.yml"))
CONFIG = GenerativeResponsePolicy.get_default_config()
SECRET_NAME, SECRET_TASTE = "Quilla", "Nightjar noir films"


def _tracker(sender: str, owner: Optional[str], channel: str = "rest") -> DialogueStateTracker:
    events = [
        ActionExecuted(ACTION_LISTEN_NAME),
        SlotSet("user_name", SECRET_NAME),
        SlotSet("preferences", {"movie": SECRET_TASTE}),
        SlotSet("profile_owner", owner),
        UserUttered("what should I watch tonight?", intent={"name": "chitchat"}, input_channel=channel),
    ]
    return DialogueStateTracker.from_events(sender, events, DOMAIN.slots)


def test_a_profile_read_for_another_identity_stays_out_of_the_prompt(caplog) -> None:
    with caplog.at_level(logging.ERROR, logger="models_custom.generative_policy"):
        context = dialogue_context(_tracker("rest:123", owner="telegram:123"), CONFIG, 5)
    assert context.sender_id == "rest:123" and context.profile is None
    prompt = str(build_messages(context, CONFIG["persona"], 5))
    assert SECRET_NAME not in prompt and SECRET_TASTE not in prompt
    assert "telegram:123" in caplog.text  # the mismatch is logged, not silent


def test_the_owners_own_profile_is_kept() -> None:
    context = dialogue_context(_tracker("rest:123", owner="rest:123"), CONFIG, 5)
    assert context.profile is not None and context.profile.owner == "rest:123"
    assert context.profile.name == SECRET_NAME and context.profile.preferences == {"movie": SECRET_TASTE}
    prompt = build_messages(context, CONFIG["persona"], 5)[0]["content"]
    assert SECRET_NAME in prompt and SECRET_TASTE in prompt


@pytest.mark.parametrize(
    "sender, owner, channel",
    [
        ("rest:123", None, "rest"),  # slots without an owner
        ("rest:123", "123", "rest"),  # a bare sender id, no channel
        ("rest:123", "rest:1234", "rest"),  # a prefix of another identity
        ("rest:123", "rest:123", "telegram"),  # a rest id that came in over another channel
    ],
)
def test_anything_but_an_exact_owner_drops_the_profile(sender: str, owner: Optional[str], channel: str) -> None:
    assert dialogue_context(_tracker(sender, owner, channel), CONFIG, 5).profile is None
