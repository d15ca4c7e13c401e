"""The supervised contrastive loss, and the batches that give every anchor a partner."""
from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import replace

import pytest
import torch

from bot.nlu import EMOTIONS
from bot.nlu.config import ClassifierConfig
from bot.nlu.model import IntentEmotionModel, supervised_contrastive_loss
from bot.nlu.training import Example, _epoch_batches, _epoch_examples, _step

EXAMPLES = [Example(f"message {i} of {intent}", intent) for intent in "abcdefg" for i in range(5)]
REPLAY = [Example(f"a feeling {i}", emotions=("joy",)) for i in range(20)]


def test_loss_is_the_mean_log_probability_of_each_anchors_partners():
    embeddings = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 1])
    # Anchors 0 and 1 each have one partner at cosine 1 and one stranger at cosine 0;
    # anchor 2 has no partner and adds nothing.
    expected = -math.log(math.exp(1 / 0.5) / (math.exp(1 / 0.5) + 1))
    assert supervised_contrastive_loss(embeddings, labels, 0.5).item() == pytest.approx(expected)


def test_gathered_intents_cost_less_than_scattered_ones():
    labels = torch.tensor([0, 0, 1, 1])
    gathered = torch.tensor([[1.0, 0.1], [1.0, -0.1], [-1.0, 0.1], [-1.0, -0.1]])
    scattered = gathered[[0, 2, 1, 3]]
    assert supervised_contrastive_loss(gathered, labels, 0.1) < supervised_contrastive_loss(scattered, labels, 0.1)


def test_messages_of_one_intent_that_state_different_emotions_are_not_partners():
    # share_feeling with joy and with sadness: gathering them would erase the emotion the
    # other head reads from the same embedding. An unknown emotion (-1) agrees with any.
    embeddings = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.6, 0.8]])
    labels = torch.tensor([0, 0, 0, 0])
    emotions = torch.tensor([EMOTIONS.index("joy"), EMOTIONS.index("sadness"), EMOTIONS.index("joy"), -1])
    unit = torch.nn.functional.normalize(embeddings, dim=-1)
    log_prob = (unit @ unit.T / 0.5).fill_diagonal_(float("-inf")).log_softmax(-1)
    partners = {0: [2, 3], 1: [3], 2: [0, 3], 3: [0, 1, 2]}
    expected = -sum(log_prob[a, p].mean() for a, p in partners.items()) / len(partners)
    assert supervised_contrastive_loss(embeddings, labels, 0.5, emotions).item() == pytest.approx(expected.item())
    # Without emotions, all four are one intent's partners.
    assert supervised_contrastive_loss(embeddings, labels, 0.5).item() != pytest.approx(expected.item())


def test_a_batch_without_partners_costs_nothing():
    assert supervised_contrastive_loss(torch.randn(3, 8), torch.tensor([0, 1, 2]), 0.1).item() == 0


@pytest.mark.parametrize("batch_size", [4, 7, 32])
def test_with_the_loss_every_intent_example_finds_a_partner_in_its_batch(batch_size):
    config = ClassifierConfig(emotion_corpus=None, batch_size=batch_size, contrastive_weight=1.0)
    batches = _epoch_batches(EXAMPLES, REPLAY, 1.0, 0.4, config, random.Random(0))
    assert all(len(batch) <= batch_size for batch in batches)
    for batch in batches:
        intents = Counter(e.intent for e in batch if e.intent is not None)
        assert all(count >= 2 for count in intents.values()), intents
    # Nothing added or lost: the same epoch as without pairing, regrouped.
    plain = _epoch_examples(EXAMPLES, REPLAY, 1.0, 0.4, random.Random(0))
    assert Counter(e for batch in batches for e in batch) == Counter(plain)


def test_pairs_share_their_emotion_too():
    feelings = [Example(f"feeling {i}", "share_feeling", (emotion,)) for i, emotion in enumerate(["joy", "sadness"] * 6)]
    config = ClassifierConfig(emotion_corpus=None, batch_size=4, contrastive_weight=1.0)
    for batch in _epoch_batches(feelings, [], 0.0, 0.0, config, random.Random(0)):
        assert all(count >= 2 for count in Counter(e.emotions for e in batch).values()), batch


def test_without_the_loss_batches_are_the_shuffled_epoch_in_order():
    config = ClassifierConfig(emotion_corpus=None, batch_size=8)
    batches = _epoch_batches(EXAMPLES, REPLAY, 1.0, 1.0, config, random.Random(0))
    assert [e for batch in batches for e in batch] == _epoch_examples(EXAMPLES, REPLAY, 1.0, 1.0, random.Random(0))
    assert [len(batch) for batch in batches[:-1]] == [8] * (len(batches) - 1)


def test_the_weighted_contrastive_loss_is_added_to_each_step():
    batch = EXAMPLES[:10]
    model = IntentEmotionModel.create(sorted({e.intent for e in batch}), EMOTIONS, ClassifierConfig(emotion_corpus=None))
    model.eval()  # no dropout: both steps see the same embeddings
    plain = _step(model, batch, torch.device("cpu"), None)
    model.config = replace(model.config, contrastive_weight=2.0, contrastive_temperature=0.2)
    with_contrastive = _step(model, batch, torch.device("cpu"), None)
    tokens = model.tokenize([e.text for e in batch])
    labels = torch.tensor([model.intents.index(e.intent) for e in batch])
    expected = 2.0 * supervised_contrastive_loss(model.embed(tokens["input_ids"], tokens["attention_mask"]), labels, 0.2)
    assert expected.item() > 0
    assert (with_contrastive - plain).item() == pytest.approx(expected.item(), rel=1e-4)
