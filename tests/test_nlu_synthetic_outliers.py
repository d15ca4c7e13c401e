"""Synthetic outliers: mixtures of two intents' examples, trained as out of scope."""
from __future__ import annotations

import math

import pytest
import torch

from bot.nlu import EMOTIONS
from bot.nlu.config import ClassifierConfig
from bot.nlu.model import IntentEmotionModel

HIDDEN = 384  # all-MiniLM-L6-v2


def _model(intents, intent_logits) -> IntentEmotionModel:
    """A model whose linear intent head gives ``intent_logits`` whatever the embedding."""
    model = IntentEmotionModel.create(intents, EMOTIONS, ClassifierConfig(emotion_corpus=None))
    with torch.no_grad():
        model.intent_head.weight.zero_()
        model.intent_head.bias.copy_(torch.tensor(intent_logits))
    return model


def test_mixtures_are_trained_as_the_out_of_scope_intent():
    pooled, targets = torch.randn(8, HIDDEN), torch.tensor([0, 1] * 4)
    favours_oos = _model(["a", "b", "out_of_scope"], [0.0, 0.0, 5.0])
    expected = -torch.tensor([0.0, 0.0, 5.0]).log_softmax(-1)[2].item()
    assert favours_oos.synthetic_outlier_loss(pooled, targets, 2.0).item() == pytest.approx(expected)
    favours_a = _model(["a", "b", "out_of_scope"], [5.0, 0.0, 0.0])
    assert favours_a.synthetic_outlier_loss(pooled, targets, 2.0) > 5


def test_without_an_out_of_scope_intent_mixtures_are_trained_towards_no_intent():
    model = _model(["a", "b", "c"], [0.0, 0.0, 0.0])
    loss = model.synthetic_outlier_loss(torch.randn(8, HIDDEN), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]), 2.0)
    assert loss.item() == pytest.approx(math.log(3))  # cross-entropy to the uniform distribution


@pytest.mark.parametrize("targets", [[0, 0, 0, 0], [0, 2, 0, 2]], ids=["one intent", "one intent and out of scope"])
def test_nothing_to_mix_means_no_loss(targets):
    model = _model(["a", "b", "out_of_scope"], [5.0, 0.0, 0.0])
    assert model.synthetic_outlier_loss(torch.randn(4, HIDDEN), torch.tensor(targets), 2.0).item() == 0
