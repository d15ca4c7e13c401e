"""Rasa NLU component: a LoRA-fine-tuned transformer that predicts intent and emotion.

Sets on every message:
* ``intent`` and ``intent_ranking``, like any Rasa intent classifier, so the
  FallbackClassifier, ``rasa test nlu`` and ``/model/parse`` work unchanged;
* an entity ``emotion`` spanning the whole message, which fills the ``emotion`` slot
  through an ordinary ``from_entity`` slot mapping, so stories and rules branch on it;
* ``emotion`` (name, confidence and ranking) in the parse result.

Emotion labels are read from training-example metadata in the NLU data::

    - intent: share_feeling
      examples:
      - text: I feel so lonely tonight
        metadata:
          emotion: sadness
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import (
    ENTITIES, INTENT, METADATA, METADATA_EXAMPLE, METADATA_INTENT, TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.assets import AssetError
from bot.code_fingerprint import package_fingerprint
from bot.nlu import EMOTIONS
from bot.nlu.classifier import Prediction, fit, predict
from bot.nlu.config import ClassifierConfig, ConfigError
from bot.nlu.emotion_corpus import pretraining_fingerprint
from bot.nlu.model import IntentEmotionModel
from bot.nlu.training import Example

logger = logging.getLogger(__name__)

EMOTION = "emotion"  # entity type, slot name, parse-result key and metadata key
RANKING_LENGTH = "ranking_length"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LoraIntentEmotionClassifier(IntentClassifier, GraphComponent):
    """Intent and emotion from one LoRA-adapted encoder with two heads."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Defaults; every key is documented on ``bot.nlu.config.ClassifierConfig``."""
        return {
            **ClassifierConfig().to_dict(),
            # Intents listed in `intent_ranking`; 0 lists all.
            RANKING_LENGTH: 10,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["torch", "transformers", "peft"]

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[IntentEmotionModel] = None,
    ) -> None:
        self.component_config = config
        try:
            self.settings = ClassifierConfig.from_dict(config)
        except ConfigError as error:
            raise InvalidConfigException(f"{type(self).__name__}: {error}") from None
        self._model_storage = model_storage
        self._resource = resource
        self.model = model

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "LoraIntentEmotionClassifier":
        return cls(config, model_storage, resource)

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        """What Rasa cannot see change: the code in ``bot.nlu`` this class delegates to
        (Rasa fingerprints only this class's source), and the emotion corpus, read from
        disk rather than given by the graph (the cached pre-training's fingerprint:
        corpus file, base model, settings). Either retrains this component."""
        try:
            pretraining = pretraining_fingerprint(ClassifierConfig.from_dict(config))
        except (AssetError, ConfigError, FileNotFoundError):
            pretraining = None  # train() reports a bad setting with a clear error
        return f"{package_fingerprint('bot.nlu')}:{pretraining}"

    def train(self, training_data: TrainingData) -> Resource:
        examples = [_to_example(m) for m in training_data.intent_examples]
        if len({e.intent for e in examples}) < 2:
            logger.warning(f"{type(self).__name__} needs at least two intents; skipping training.")
            return self._resource
        try:
            self.model = fit(examples, self.settings)
        except (AssetError, FileNotFoundError, ValueError) as error:
            raise InvalidConfigException(f"{type(self).__name__}: {error}") from None
        self.persist()
        return self._resource

    def persist(self) -> None:
        if self.model is None:
            return
        with self._model_storage.write_to(self._resource) as directory:
            self.model.save_pretrained(directory)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "LoraIntentEmotionClassifier":
        try:
            with model_storage.read_from(resource) as directory:
                model = IntentEmotionModel.from_pretrained(directory)
        except (ValueError, FileNotFoundError):
            logger.warning(f"{cls.__name__}: no trained model found; it will predict nothing.")
            model = None
        return cls(config, model_storage, resource, model)

    def process(self, messages: List[Message]) -> List[Message]:
        if self.model is None:
            return messages
        texts = [m.get(TEXT) or "" for m in messages]
        for message, prediction in zip(messages, predict(self.model, texts)):
            self._set_intent(message, prediction)
            self._set_emotion(message, prediction)
        return messages

    def _set_intent(self, message: Message, prediction: Prediction) -> None:
        ranking = [{"name": name, "confidence": score} for name, score in prediction.intents]
        length = self.component_config[RANKING_LENGTH]
        message.set(INTENT, ranking[0], add_to_output=True)
        message.set("intent_ranking", ranking[:length] if length > 0 else ranking, add_to_output=True)

    def _set_emotion(self, message: Message, prediction: Prediction) -> None:
        name, confidence = prediction.emotions[0]
        text = message.get(TEXT) or ""
        entity = {
            "entity": EMOTION,
            "value": name,
            "start": 0,
            "end": len(text),
            "confidence_entity": confidence,
            "extractor": type(self).__name__,
        }
        others = [e for e in message.get(ENTITIES, []) if e.get("entity") != EMOTION]
        message.set(ENTITIES, others + [entity], add_to_output=True)
        ranking = [{"name": n, "confidence": c} for n, c in prediction.emotions]
        message.set(EMOTION, {"name": name, "confidence": confidence, "ranking": ranking}, add_to_output=True)


def _to_example(message: Message) -> Example:
    """An intent example, with its emotion when the NLU data annotates one."""
    metadata = message.get(METADATA) or {}
    emotion = None
    for level in (METADATA_EXAMPLE, METADATA_INTENT):
        if isinstance(metadata.get(level), dict) and EMOTION in metadata[level]:
            emotion = metadata[level][EMOTION]
            break
    if emotion is not None and emotion not in EMOTIONS:
        raise InvalidConfigException(
            f"Unknown emotion '{emotion}' on example '{message.get(TEXT)}': use one of {', '.join(EMOTIONS)}."
        )
    return Example(message.get(TEXT), message.get(INTENT), (emotion,) if emotion else None)
