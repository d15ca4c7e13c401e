"""Rasa policy: answer turns no story or rule covers with a LoRA-tuned small LM.

How a generated reply reaches the user, and why this way
--------------------------------------------------------
Every policy predicts on every turn, and the ensemble only afterwards picks the
winner, so generating inside ``predict_action_probabilities`` would waste a forward
pass whenever a rule or story wins. Instead:

1. ``predict_action_probabilities`` makes a cheap decision (is the last user intent
   one we handle?) and, if so, predicts the response action ``utter_generated``
   with the configured confidence. It attaches, as an *optional* event, a
   :class:`DeferredReplySet`: a ``SlotSet`` of the ``generated_reply`` slot whose
   value is computed the first time it is read.
2. The ensemble keeps optional events of the winning policy only
   (``DefaultPolicyPredictionEnsemble._pick_best_policy``), and the processor applies
   them just before running the predicted action (``MessageProcessor._run_action``).
   So the model runs exactly when this policy won, once.
3. ``utter_generated`` is an ordinary domain response, ``text: "{generated_reply}"``:
   Rasa's templated NLG renders the slot, and the text becomes a normal ``BotUttered``
   event: in the history, the tracker store, ``rasa shell`` and every channel.

The alternatives were worse: an NLG endpoint (custom NLG class) runs on the right
path too, but lives outside the trained model, so it would need a process-global
registry to find this policy's adapter and would have to be configured separately
in every ``endpoints.yml``; a custom action runs in the action server, which does not
hold the Rasa model's adapter.

Generation diagnostics (fallback reason, seconds, tokens, queue wait, threads) go into
the prediction's ``action_metadata``, which Rasa stores on the ``ActionExecuted`` event.
"""
from __future__ import annotations

import copy
import json
import logging
import random
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Text

from rasa.core.featurizers.tracker_featurizers import TrackerFeaturizer
from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.graph_components.providers.responses_provider import Responses
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException

from bot.assets import AssetError
from bot.code_fingerprint import package_fingerprint
from bot.generation.config import ConfigError, GeneratorConfig
from bot.generation.corpus import Example
from bot.generation.generator import Reply, ReplyGenerator
from bot.generation.model import adapted_for_inference, load_tokenizer
from bot.generation.prompt import ASSISTANT, USER, DialogueContext, ProfileFacts, ProfileLeakError, Turn
from bot.generation.training import adapt, corpus_adapter, corpus_fingerprint, corpus_training_examples
from bot.identity import identity_of

logger = logging.getLogger(__name__)

ADAPTER_DIR = "adapter"
META_FILE = "generative_policy.json"

# Config keys of the Rasa side (the model's own keys are GeneratorConfig's fields).
PRIORITY = "priority"
CONFIDENCE = "confidence"
INTENTS = "intents"
ACTION = "action"
REPLY_SLOT = "reply_slot"
EMOTION_SLOT = "emotion_slot"
NAME_SLOT = "name_slot"
PREFERENCES_SLOT = "preferences_slot"
OWNER_SLOT = "owner_slot"


class DeferredReplySet(SlotSet):
    """``SlotSet(reply_slot, <generated text>)`` whose text is generated on first read.

    Rasa reads ``value`` only when it applies the event, which it does only for the
    winning policy's prediction; after that the event is an ordinary ``SlotSet``
    (same ``type_name``, same serialisation), and copies are plain ``SlotSet`` s.
    """

    def __init__(self, key: Text, produce: Callable[[], Text], **kwargs: Any) -> None:
        self._produce: Optional[Callable[[], Text]] = produce
        self._value: Optional[Text] = None
        super().__init__(key, value=None, **kwargs)

    @property
    def value(self) -> Optional[Text]:
        if self._produce is not None:
            produce, self._produce = self._produce, None  # drop the model reference
            self._value = produce()
        return self._value

    @value.setter
    def value(self, value: Optional[Text]) -> None:
        self._value = value  # SlotSet.__init__ assigns the placeholder here

    def __deepcopy__(self, memo: Dict) -> SlotSet:
        return SlotSet(self.key, self.value, self.timestamp, copy.deepcopy(self.metadata, memo))

    def __reduce__(self) -> Any:
        return SlotSet, (self.key, self.value, self.timestamp, self.metadata)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class GenerativeResponsePolicy(Policy):
    """Generated replies for chitchat, out-of-scope and NLU-fallback turns."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Rasa-side keys here; the model's keys are documented on ``GeneratorConfig``."""
        return {
            **GeneratorConfig().to_dict(),
            # Ties on confidence go to the higher priority: 2 beats TED (1) but loses
            # to Memoization (3) and RulePolicy (6), so stories and rules win where
            # they apply.
            PRIORITY: 2,
            # Confidence of a generated-reply prediction.
            CONFIDENCE: 1.0,
            # Last user intents this policy answers.
            INTENTS: ["chitchat", "out_of_scope", "nlu_fallback"],
            # Response action that renders the generated text, and the slot it renders.
            ACTION: "utter_generated",
            REPLY_SLOT: "generated_reply",
            # Slots that condition the reply (missing slots are simply not used).
            EMOTION_SLOT: "emotion",
            NAME_SLOT: "user_name",
            PREFERENCES_SLOT: "preferences",
            # The identity the profile slots were read for (set with them by the
            # actions): a profile owned by anyone but this conversation is not used.
            OWNER_SLOT: "profile_owner",
        }

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        """What Rasa cannot see change: the code in ``bot.generation`` this policy
        delegates to (Rasa fingerprints only this class's source), and the cached corpus
        adapter, built from files outside the graph (the corpus, the skill material, the
        base weights). Either retrains this policy."""
        try:
            adapter = corpus_fingerprint(GeneratorConfig.from_dict(config))
        except (AssetError, ConfigError, FileNotFoundError, ValueError):
            adapter = None  # __init__ reports a bad setting with a clear error
        return f"{package_fingerprint('bot.generation')}:{adapter}"

    @staticmethod
    def supported_data() -> SupportedData:
        # Rules are dialogues too: their responses teach Kai's voice.
        return SupportedData.ML_AND_RULE_DATA

    @staticmethod
    def required_packages() -> List[Text]:
        return ["torch", "transformers", "peft"]

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Optional[TrackerFeaturizer] = None,
        generator: Optional[ReplyGenerator] = None,
        known_personal: Optional[List[Text]] = None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        try:
            self.settings = GeneratorConfig.from_dict(config)
        except ConfigError as error:
            raise InvalidConfigException(f"{type(self).__name__}: {error}") from None
        if not 0 < float(config[CONFIDENCE]) <= 1:
            raise InvalidConfigException(
                f"{type(self).__name__}: Invalid value for '{CONFIDENCE}': expected a float in (0, 1]."
            )
        self.generator = generator
        self.known_personal = known_personal or []

    # ------------------------------------------------------------------ training
    def train(
        self,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        responses: Optional[Responses] = None,
        **kwargs: Any,
    ) -> Resource:
        """Adapt the cached corpus adapter to the dialogues of the stories and rules.

        Rasa gives policies a domain stripped of response texts (so that editing a
        text does not retrain dialogue policies). Ours learns from those texts, so it
        asks for them by name: the recipe wires a ``responses`` argument to Rasa's
        ``ResponsesProvider``, whose fingerprint retrains this policy when they change.
        """
        self._check_domain(domain)
        texts = responses.data if responses is not None else domain.responses
        # Augmented trackers glue random stories together: no dialogue anyone would have.
        stories = [t for t in training_trackers if not getattr(t, "is_augmented", False)]
        examples = dialogue_examples(stories, texts, self.config)
        start = corpus_adapter(self.settings)
        replay = self._replay_sample(len(examples))
        logger.info(f"{type(self).__name__}: {len(examples)} story/rule replies, {len(replay)} corpus replays.")
        model = adapt(start, examples, self.settings, replay)
        known = sorted({v for t in training_trackers for v in _profile_values(t, self.config)})
        self._persist(model, known)
        return self._resource

    def _replay_sample(self, count: int) -> List[Example]:
        wanted = int(count * self.settings.corpus_replay)
        if not self.settings.corpus or wanted == 0:
            return []
        pool = corpus_training_examples(self.settings)
        return random.Random(self.settings.seed).sample(pool, min(wanted, len(pool)))

    def _persist(self, model: Any, known_personal: List[Text]) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            model.save_pretrained(str(Path(directory) / ADAPTER_DIR))
            meta = {"known_personal": known_personal, "config": self.settings.to_dict()}
            (Path(directory) / META_FILE).write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "GenerativeResponsePolicy":
        """Merge the persisted adapter into a warm base model, ready to answer."""
        try:
            with model_storage.read_from(resource) as directory:
                meta = json.loads((Path(directory) / META_FILE).read_text())
                settings = GeneratorConfig.from_dict(config)
                model = adapted_for_inference(Path(directory) / ADAPTER_DIR, settings)
        except (ValueError, FileNotFoundError) as error:
            logger.warning(f"{cls.__name__}: no trained adapter ({error}); it will not predict.")
            return cls(config, model_storage, resource, execution_context)
        domain = kwargs.get("domain")
        fallback = _response_text(domain.responses if domain else {}, settings.fallback_response)
        generator = ReplyGenerator(
            model, load_tokenizer(settings.base_model), settings, fallback or "", meta["known_personal"]
        )
        generator.warm_up()
        return cls(
            config, model_storage, resource, execution_context,
            generator=generator, known_personal=meta["known_personal"],
        )

    # ---------------------------------------------------------------- prediction
    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Cheap: decide whether to answer; the reply is generated only if we win."""
        probabilities = self._default_predictions(domain)
        if self.generator is None or self.config[ACTION] not in domain.action_names_or_texts:
            return self._prediction(probabilities)
        if tracker.latest_action_name == self.config[ACTION]:
            # Our reply is out: listen, or TED would guess an action after an unseen one.
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = self.config[CONFIDENCE]
            return self._prediction(probabilities)
        if not self._should_answer(tracker):
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(self.config[ACTION])] = self.config[CONFIDENCE]
        metadata: Dict[Text, Any] = {"generation": {"model": self.settings.base_model}}
        context = dialogue_context(tracker, self.config, self.settings.max_history_turns)
        fallback = _response_text(domain.responses, self.settings.fallback_response) or self.generator.fallback_text
        reply = DeferredReplySet(
            self.config[REPLY_SLOT], lambda: self._generate(context, fallback, metadata)
        )
        return self._prediction(probabilities, optional_events=[reply], action_metadata=metadata)

    def _should_answer(self, tracker: DialogueStateTracker) -> bool:
        if tracker.latest_action_name != ACTION_LISTEN_NAME:
            return False
        intent = (tracker.latest_message.intent or {}).get("name") if tracker.latest_message else None
        return intent in self.config[INTENTS]

    def _generate(self, context: DialogueContext, fallback: Text, metadata: Dict[Text, Any]) -> Text:
        """Runs when Rasa applies the winning prediction's events: exactly once per reply."""
        self.generator.fallback_text = fallback
        reply: Reply = self.generator.reply(context)
        metadata["generation"].update(reply.diagnostics())
        return reply.text

    def _check_domain(self, domain: Domain) -> None:
        missing = []
        if self.config[ACTION] not in domain.responses:
            missing.append(f"response '{self.config[ACTION]}' with text '{{{self.config[REPLY_SLOT]}}}'")
        if self.config[REPLY_SLOT] not in [s.name for s in domain.slots]:
            missing.append(f"slot '{self.config[REPLY_SLOT]}' (type text, custom mapping)")
        if missing:
            raise InvalidConfigException(f"{type(self).__name__} needs in domain.yml: {'; '.join(missing)}.")


# ---------------------------------------------------------------------- helpers
def dialogue_context(tracker: DialogueStateTracker, config: Dict[Text, Any], max_turns: int) -> DialogueContext:
    """The current sender's last turns, emotion and profile, from this tracker only.

    The profile slots come with the identity they were read for; if that is not this
    conversation's identity (a profile read for someone else, or slots without an
    owner), the reply is written without them and the mismatch is logged.
    """
    turns = _turns(tracker.applied_events(), config)[-max_turns:]
    identity = identity_of(tracker.sender_id, tracker.get_latest_input_channel())
    owner = _slot(tracker, config[OWNER_SLOT])
    context = DialogueContext(identity.key, turns, _slot(tracker, config[EMOTION_SLOT]))
    try:
        return replace(context, profile=_profile(tracker, config, owner=str(owner) if owner else None))
    except ProfileLeakError as error:
        logger.error(f"Profile left out of the prompt: {error}")
        return context


def _turns(events: List[Any], config: Dict[Text, Any]) -> List[Turn]:
    turns: List[Turn] = []
    for event in events:
        if isinstance(event, UserUttered) and event.text:
            turns.append(Turn(USER, event.text))
        elif getattr(event, "type_name", None) == "bot" and getattr(event, "text", None):
            turns.append(Turn(ASSISTANT, event.text))
    return turns


def _slot(tracker: DialogueStateTracker, name: Text) -> Any:
    return tracker.get_slot(name) if name in tracker.slots else None


def _profile(tracker: DialogueStateTracker, config: Dict[Text, Any], owner: Optional[Text]) -> Optional[ProfileFacts]:
    name = _slot(tracker, config[NAME_SLOT])
    preferences = _slot(tracker, config[PREFERENCES_SLOT])
    preferences = {str(k): str(v) for k, v in preferences.items()} if isinstance(preferences, dict) else {}
    if not name and not preferences:
        return None
    return ProfileFacts(owner=owner or "", name=str(name) if name else None, preferences=preferences)


def _profile_values(tracker: DialogueStateTracker, config: Dict[Text, Any]) -> List[Text]:
    """Every name and preference value a training dialogue sets (for the output guard)."""
    values: List[Text] = []
    for event in tracker.events:
        if isinstance(event, SlotSet) and event.value:
            if event.key == config[NAME_SLOT]:
                values.append(str(event.value))
            elif event.key == config[PREFERENCES_SLOT] and isinstance(event.value, dict):
                values += [str(v) for v in event.value.values()]
    return values


def _response_text(
    responses: Dict[Text, List[Dict[Text, Any]]], name: Text, slots: Optional[Dict[Text, Any]] = None
) -> Optional[Text]:
    """The text of the first variation of ``name`` whose conditions hold, slots filled in."""
    slots = slots or {}
    for variation in responses.get(name, []):
        conditions = variation.get("condition", [])
        if all(slots.get(c["name"]) == c["value"] for c in conditions) and variation.get("text"):
            try:
                return variation["text"].format(**{k: v for k, v in slots.items() if v is not None})
            except (KeyError, IndexError, ValueError):
                continue  # a slot it needs is empty here: try the next variation
    return None


def dialogue_examples(
    trackers: List[DialogueStateTracker], responses: Dict[Text, List[Dict[Text, Any]]], config: Dict[Text, Any]
) -> List[Example]:
    """(context, reply) pairs implied by stories and rules: bot turns rendered from domain responses.

    A user turn without text (stories name intents, not words) is written as its
    intent, e.g. ``(share feeling)``; consecutive responses form one reply.
    """
    examples: Dict[tuple, Example] = {}
    for tracker in trackers:
        replay = tracker.init_copy()
        turns: List[Turn] = []
        pending: List[Text] = []
        for event in tracker.events:
            if isinstance(event, UserUttered):
                _flush(replay, turns, pending, config, examples)
                intent = (event.intent or {}).get("name") or "message"
                turns.append(Turn(USER, event.text or f"({intent.replace('_', ' ')})"))
            replay.update(event)
            is_response = isinstance(event, ActionExecuted) and event.action_name in responses
            if is_response and event.action_name != config[ACTION]:
                text = _response_text(responses, event.action_name, replay.current_slot_values())
                if text:
                    pending.append(text)
        _flush(replay, turns, pending, config, examples)
    return list(examples.values())


def _flush(
    tracker: DialogueStateTracker, turns: List[Turn], pending: List[Text], config: Dict[Text, Any], out: Dict
) -> None:
    """Turn the responses since the last user turn into one example and one assistant turn."""
    if not pending:
        return
    reply = " ".join(pending)
    pending.clear()
    if turns and turns[-1].role == USER:
        history = tuple(turns[-int(config["max_history_turns"]) :])
        emotion, profile = _slot(tracker, config[EMOTION_SLOT]), _profile(tracker, config, owner=tracker.sender_id)
        key = (history, emotion, repr(profile), reply)
        out.setdefault(key, Example(DialogueContext(tracker.sender_id, history, emotion, profile), reply))
    turns.append(Turn(ASSISTANT, reply))
