"""Fit and apply the intent/emotion classifier: the logic behind the Rasa component."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

from bot.nlu import EMOTIONS
from bot.nlu.config import COSINE, LINEAR, PROTOTYPE, ClassifierConfig
from bot.nlu.emotion_corpus import corpus_sample, pretrained_emotion_model
from bot.nlu.model import IntentEmotionModel
from bot.nlu.training import Example, seed_everything, train
from bot.nlu.typos import TypoCorrector


@dataclass(frozen=True)
class Prediction:
    """Ranked intents and emotions for one message, most likely first."""

    intents: List[Tuple[str, float]]
    emotions: List[Tuple[str, float]]


def fit(examples: Sequence[Example], config: ClassifierConfig) -> IntentEmotionModel:
    """Start from the cached emotion pre-training (if any), then learn the intents."""
    intents = sorted({e.intent for e in examples if e.intent is not None})
    if not intents:
        raise ValueError("No intent examples to train on: add intents to the NLU data.")
    pretrained = pretrained_emotion_model(config)
    seed_everything(config.seed)
    if pretrained is None:
        model = IntentEmotionModel.create(intents, EMOTIONS, config)
        replay: List[Example] = []
    else:
        model = pretrained.with_intents(intents)
        replay = corpus_sample(config)
    texts, labels = zip(*[(e.text, e.intent) for e in examples if e.intent is not None])
    if config.intent_head == COSINE:
        model.imprint_intent_head(texts, labels)
    elif config.linear_probe:
        model.fit_linear_probe(texts, labels)
    train(
        model,
        examples,
        config.epochs,
        replay=replay,
        replay_per_example=config.emotion_replay,
        noise_augmentation=config.noise_augmentation,
        desc="Fine-tuning intents and emotions",
    )
    refit = config.refit_intent_head and config.intent_head == LINEAR
    prototypes = config.intent_confidence == PROTOTYPE
    # Both read the tuned encoder's embeddings of the training examples: compute them once.
    tuned = model.sentence_embeddings(texts, correct_typos=False) if refit or prototypes else None
    if refit:
        model.fit_linear_probe(texts, labels, inverse_regularisation=config.refit_intent_head, embeddings=tuned)
    if prototypes:
        model.fit_prototypes(texts, labels, embeddings=tuned)
    if config.frozen_probe_weight:
        model.fit_frozen_probe(texts, labels)
    if config.typo_correction:
        model.typo_corrector = TypoCorrector.from_texts(texts)
    return model


def predict(model: IntentEmotionModel, texts: List[str]) -> List[Prediction]:
    intent_probs, emotion_probs = model.predict(texts)
    return [
        Prediction(_ranked(model.intents, i.tolist()), _ranked(model.emotions, e.tolist()))
        for i, e in zip(intent_probs, emotion_probs)
    ]


def _ranked(labels: Sequence[str], scores: Sequence[float]) -> List[Tuple[str, float]]:
    return sorted(zip(labels, scores), key=lambda pair: pair[1], reverse=True)
