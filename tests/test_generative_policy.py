"""GenerativeResponsePolicy in Rasa: training, persistence round trip, deferred generation, privacy."""
from __future__ import annotations

from pathlib import Path
from typing import List

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.graph_components.providers.domain_for_core_training_provider import DomainForCoreTrainingProvider
from rasa.graph_components.providers.responses_provider import Responses
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from models_custom.generative_policy import (
    DeferredReplySet, GenerativeResponsePolicy, dialogue_context, dialogue_examples,
)

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, chitchat, share_feeling]
slots:
  emotion: {type: categorical, values: [neutral, sadness, joy], influence_conversation: false, mappings: [{type: custom}]}
  user_name: {type: text, influence_conversation: false, mappings: [{type: custom}]}
  preferences: {type: any, influence_conversation: false, mappings: [{type: custom}]}
  profile_owner: {type: text, influence_conversation: false, mappings: [{type: custom}]}
  generated_reply: {type: text, influence_conversation: false, mappings: [{type: custom}]}
responses:
  utter_greet:
    - condition: [{type: slot, name: user_name, value: null}]
      text: "Hi! I'm Kai."
    - text: "Hi {user_name}, good to see you!"
  utter_empathy_sadness: [{text: "I'm sorry you're feeling down."}]
  utter_default: [{text: "Sorry, I didn't quite get that."}]
  utter_generated: [{text: "{generated_reply}"}]
"""
)
# Tiny and fast: no corpus, one adaptation step, short replies.
CONFIG = {
    **GenerativeResponsePolicy.get_default_config(),
    "corpus": None, "batch_size": 4, "adaptation_epochs": 1, "max_new_tokens": 8, "time_budget_s": 60.0,
}


def _story(sender: str, name: str = None) -> DialogueStateTracker:
    events = [ActionExecuted(ACTION_LISTEN_NAME)]
    if name:
        events.append(SlotSet("user_name", name))
    events += [
        UserUttered("hello", intent={"name": "greet"}), ActionExecuted("utter_greet"),
        ActionExecuted(ACTION_LISTEN_NAME),
        UserUttered(None, intent={"name": "share_feeling"}), SlotSet("emotion", "sadness"),
        ActionExecuted("utter_empathy_sadness"), ActionExecuted(ACTION_LISTEN_NAME),
    ]
    return DialogueStateTracker.from_events(sender, events, DOMAIN.slots)


def _chitchat(sender: str, text: str, **slots) -> DialogueStateTracker:
    events = [ActionExecuted(ACTION_LISTEN_NAME)] + [SlotSet(k, v) for k, v in slots.items()]
    events += [UserUttered(text, intent={"name": "chitchat"})]
    return DialogueStateTracker.from_events(sender, events, DOMAIN.slots)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple:
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    resource = Resource("generative_policy")
    context = ExecutionContext(GraphSchema({}), "test")
    policy = GenerativeResponsePolicy.create(dict(CONFIG), storage, resource, context)
    # As `rasa train` calls it: a domain without response texts, the texts on their own.
    core_domain = DomainForCoreTrainingProvider.create_pruned_version(DOMAIN)
    policy.train([_story("s1", "Zed"), _story("s2")], core_domain, Responses(DOMAIN.responses))
    loaded = GenerativeResponsePolicy.load(dict(CONFIG), storage, resource, context)
    return storage, resource, loaded


def test_story_dialogues_render_responses_with_slots() -> None:
    examples = dialogue_examples([_story("s1", "Zed")], DOMAIN.responses, CONFIG)
    replies = [e.reply for e in examples]
    assert replies == ["Hi Zed, good to see you!", "I'm sorry you're feeling down."]
    assert examples[1].context.emotion == "sadness"
    assert examples[1].context.turns[-1].text == "(share feeling)"


def test_rasa_train_hands_the_policy_the_response_texts() -> None:
    """Rasa's recipe strips texts from the policies' domain; ours gets them through `responses`."""
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.shared.utils.io import read_config_file

    from tests.servers import PROJECT_ROOT

    config = read_config_file(PROJECT_ROOT / "config.yml")
    schema = DefaultV1Recipe().graph_config_for_recipe(config, {}).train_schema
    [node] = [n for n in schema.nodes.values() if n.uses is GenerativeResponsePolicy]
    assert node.needs["responses"] == "responses_provider"
    assert node.needs["domain"] == "domain_for_core_training_provider"


def test_a_new_corpus_adapter_changes_the_rasa_fingerprint(monkeypatch, tmp_path) -> None:
    from bot.generation import training

    config = GenerativeResponsePolicy.get_default_config()
    before = GenerativeResponsePolicy.fingerprint_addon(config)
    edited = tmp_path / "skills.yml"
    edited.write_text(training.SKILLS_FILE.read_text() + "\n# edited\n")
    monkeypatch.setattr(training, "SKILLS_FILE", edited)
    assert before is not None and GenerativeResponsePolicy.fingerprint_addon(config) != before
    assert GenerativeResponsePolicy.fingerprint_addon({**config, "skill_examples": 0}) != before


def test_persistence_round_trip(trained) -> None:
    storage, resource, loaded = trained
    with storage.read_from(resource) as directory:
        saved = sorted(p.name for p in Path(directory, "adapter").iterdir())
    assert "adapter_model.safetensors" in saved and "config.json" not in saved  # adapter only
    assert loaded.generator is not None and loaded.known_personal == ["Zed"]


def test_generation_is_deferred_until_the_prediction_is_applied(trained) -> None:
    loaded: GenerativeResponsePolicy = trained[2]
    calls: List[str] = []
    original = loaded.generator.reply
    loaded.generator.reply = lambda context: calls.append(context.sender_id) or original(context)
    try:
        tracker = _chitchat("rest:u1", "What's your favourite colour?")
        prediction = loaded.predict_action_probabilities(tracker, DOMAIN)
        assert DOMAIN.action_names_or_texts[prediction.max_confidence_index] == "utter_generated"
        assert calls == []  # nothing generated yet: another policy might still win
        (event,) = prediction.optional_events
        assert isinstance(event, DeferredReplySet)
        tracker.update(event)
        tracker.update(event)  # applied twice by Rasa (temporary tracker, then the real one)
        reply = tracker.get_slot("generated_reply")
        assert calls == ["rest:u1"] and reply
        assert prediction.action_metadata["generation"]["seconds"] > 0
    finally:
        loaded.generator.reply = original


def test_no_prediction_for_turns_stories_own(trained) -> None:
    loaded: GenerativeResponsePolicy = trained[2]
    tracker = DialogueStateTracker.from_events(
        "u2", [ActionExecuted(ACTION_LISTEN_NAME), UserUttered("hi", intent={"name": "greet"})], DOMAIN.slots
    )
    prediction = loaded.predict_action_probabilities(tracker, DOMAIN)
    assert max(prediction.probabilities) == 0 and not prediction.optional_events


def test_listens_after_its_own_reply(trained) -> None:
    tracker = _chitchat("u3", "lol")
    tracker.update(ActionExecuted("utter_generated"))
    prediction = trained[2].predict_action_probabilities(tracker, DOMAIN)
    assert DOMAIN.action_names_or_texts[prediction.max_confidence_index] == ACTION_LISTEN_NAME


def test_only_the_senders_profile_reaches_the_prompt() -> None:
    """Each conversation's prompt holds its own profile (the owner slot says whose it is;
    tests/test_profile_owner.py covers a profile read for someone else)."""
    alice = _chitchat("rest:alice", "Any plans?", user_name="Alice", preferences={"movie": "Amelie"},
                      profile_owner="rest:alice")
    bob = _chitchat("slack:bob", "Any plans?", user_name="Bob", preferences={"book": "Dune"}, profile_owner="slack:bob")
    context = dialogue_context(bob, CONFIG, max_turns=6)
    assert context.sender_id == "slack:bob" and context.profile.owner == "slack:bob"
    from bot.generation.prompt import build_messages

    prompt = str(build_messages(context, CONFIG["persona"], 6))
    assert "Bob" in prompt and "Dune" in prompt
    assert "Alice" not in prompt and "Amelie" not in prompt
    assert dialogue_context(alice, CONFIG, 6).profile.name == "Alice"


def test_missing_domain_entries_fail_clearly(tmp_path) -> None:
    policy = GenerativeResponsePolicy.create(
        dict(CONFIG), LocalModelStorage(tmp_path), Resource("p"), ExecutionContext(GraphSchema({}), "t")
    )
    with pytest.raises(Exception, match="utter_generated"):
        policy.train([], Domain.from_yaml('version: "3.1"\nintents: [greet]'))
