"""The cosine intent head: its margin loss and its start at the intents' mean embeddings."""
from __future__ import annotations

import pytest
import torch

from bot.nlu import EMOTIONS
from bot.nlu.config import ClassifierConfig
from bot.nlu.model import CosineHead, IntentEmotionModel, margin_loss

EXAMPLES = {
    "greet": ["hello there", "hi, how are you", "good morning"],
    "weather": ["will it rain tomorrow", "how hot is it outside", "is it going to snow"],
    "transfer": ["send 50 dollars to my savings", "move money between my accounts", "transfer funds to mom"],
}


def test_margin_loss_is_cross_entropy_with_the_true_class_handicapped():
    logits = torch.tensor([[20.0, 18.0, -5.0], [1.0, 2.0, 3.0]])
    targets = torch.tensor([0, 2])
    plain = torch.nn.functional.cross_entropy(logits, targets)
    assert margin_loss(logits, targets, scale=30.0, margin=0.0) == pytest.approx(plain.item())
    # A margin of 0.35 at scale 30 takes 10.5 off the true logit: 20 no longer beats 18.
    handicapped = torch.tensor([[9.5, 18.0, -5.0], [1.0, 2.0, 3.0 - 10.5]])
    expected = torch.nn.functional.cross_entropy(handicapped, targets)
    assert margin_loss(logits, targets, scale=30.0, margin=0.35) == pytest.approx(expected.item())


def test_cosine_head_logits_are_scaled_cosines():
    head = CosineHead(hidden=4, classes=2, scale=10.0)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 2.0, 0, 0]]))
    logits = head(torch.tensor([[3.0, 3.0, 0, 0]]))
    assert logits[0].tolist() == pytest.approx([10 / 2**0.5, 10 / 2**0.5])


def test_imprinted_head_classifies_its_own_examples_before_any_training():
    config = ClassifierConfig(emotion_corpus=None, intent_head="cosine")
    model = IntentEmotionModel.create(sorted(EXAMPLES), EMOTIONS, config)
    texts = [t for texts in EXAMPLES.values() for t in texts]
    intents = [i for i, texts in EXAMPLES.items() for _ in texts]
    model.imprint_intent_head(texts, intents)
    probabilities, _ = model.predict(texts)
    assert [model.intents[i] for i in probabilities.argmax(-1)] == intents
    assert model.intent_prototypes is None  # imprinting does not set the confidence prototypes
