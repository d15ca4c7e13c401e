"""Synthetic outliers: mixtures of two intents' examples, trained towards no intent."""
from __future__ import annotations

import math

import pytest
import torch

from bot.nlu import EMOTIONS
from bot.nlu.classifier import fit
from bot.nlu.config import ClassifierConfig
from bot.nlu.model import IntentEmotionModel
from bot.nlu.training import Example

HIDDEN = 384  # all-MiniLM-L6-v2
TARGETS = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])


def _model(intent_logits) -> IntentEmotionModel:
    """A model whose linear intent head gives ``intent_logits`` whatever the embedding;
    two synthetic outliers per example."""
    intents = [f"intent_{i}" for i in range(len(intent_logits))]
    config = ClassifierConfig(emotion_corpus=None, synthetic_outliers=2.0)
    model = IntentEmotionModel.create(intents, EMOTIONS, config)
    with torch.no_grad():
        model.intent_head.weight.zero_()
        model.intent_head.bias.copy_(torch.tensor(intent_logits))
    return model


def test_mixtures_are_trained_towards_no_intent_in_particular():
    undecided = _model([0.0, 0.0, 0.0]).synthetic_outlier_loss(torch.randn(8, HIDDEN), TARGETS)
    assert undecided.item() == pytest.approx(math.log(3))  # cross-entropy to the uniform distribution
    sure = _model([8.0, 0.0, 0.0]).synthetic_outlier_loss(torch.randn(8, HIDDEN), TARGETS)
    assert sure.item() > 2 * math.log(3)


def test_examples_of_one_intent_are_not_mixed():
    model = _model([8.0, 0.0, 0.0])
    assert model.synthetic_outlier_loss(torch.randn(4, HIDDEN), torch.tensor([1, 1, 1, 1])).item() == 0


def test_synthetic_outliers_join_the_training_loss():
    examples = [Example("hello there", "greet"), Example("good morning", "greet"),
                Example("will it rain", "weather"), Example("is it cold out", "weather")]
    config = dict(epochs=1, emotion_corpus=None, noise_augmentation=0.0, typo_correction=False)
    plain = fit(examples, ClassifierConfig(**config))
    mixed = fit(examples, ClassifierConfig(**config, synthetic_outliers=1.0))
    assert not torch.equal(plain.intent_head.weight, mixed.intent_head.weight)
