"""The consistency loss: noisy copies pulled towards their originals, which share their batch."""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest
import torch

from bot.nlu import EMOTIONS
from bot.nlu.config import ClassifierConfig
from bot.nlu.model import IntentEmotionModel
from bot.nlu.training import Example, _epoch_batches, _epoch_examples, _step, consistency_loss, train

EXAMPLES = [Example(f"please book message {i} about {intent}", intent) for intent in "abcdefg" for i in range(5)]
REPLAY = [Example(f"a feeling {i}", emotions=("joy",)) for i in range(20)]


def test_loss_is_one_minus_the_cosine_of_each_copy_to_its_original():
    batch = [Example("hello", "a"), Example("helo", "a", clean="hello"), Example("bye", "b"), Example("by", "b", clean="bye")]
    pooled = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0], [0.0, 5.0]])
    # copy 1 is 45 degrees from its original (1 - 0.707), copy 3 points the same way (0).
    assert consistency_loss(batch, pooled).item() == pytest.approx((1 - 2**-0.5) / 2)


def test_only_the_copy_moves_towards_its_original():
    batch = [Example("hello", "a"), Example("helo", "a", clean="hello")]
    pooled = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    consistency_loss(batch, pooled).backward()
    assert pooled.grad[0].abs().sum() == 0 and pooled.grad[1].abs().sum() > 0


def test_a_batch_without_pairs_costs_nothing():
    batch = [Example("hello", "a"), Example("helo", "a", clean="somewhere else")]
    assert consistency_loss(batch, torch.randn(2, 4)).item() == 0


@pytest.mark.parametrize("batch_size", [4, 7, 32])
def test_with_the_loss_every_noisy_copy_shares_a_batch_with_its_original(batch_size):
    config = ClassifierConfig(emotion_corpus=None, batch_size=batch_size, consistency_weight=1.0)
    batches = _epoch_batches(EXAMPLES, REPLAY, 1.0, 1.0, config, random.Random(0))
    assert all(len(batch) <= batch_size for batch in batches)
    copies = 0
    for batch in batches:
        texts = {e.text for e in batch if e.clean is None}
        for example in batch:
            if example.clean is not None:
                copies += 1
                assert example.clean in texts
    assert copies == len(EXAMPLES)
    # Nothing added or lost: the same epoch as without pairing, regrouped.
    plain = _epoch_examples(EXAMPLES, REPLAY, 1.0, 1.0, random.Random(0))
    assert Counter(e for batch in batches for e in batch) == Counter(plain)


def test_the_weighted_consistency_loss_is_added_to_each_step():
    batch = [EXAMPLES[0], Example("plese book mesage 0 about a", "a", clean=EXAMPLES[0].text), *EXAMPLES[5:8]]
    model = IntentEmotionModel.create(sorted({e.intent for e in batch}), EMOTIONS, ClassifierConfig(emotion_corpus=None))
    model.eval()  # no dropout: both steps see the same embeddings
    plain = _step(model, batch, torch.device("cpu"), None)
    model.config = replace(model.config, consistency_weight=3.0)
    with_consistency = _step(model, batch, torch.device("cpu"), None)
    tokens = model.tokenize([e.text for e in batch[:2]])
    pooled = model.embed(tokens["input_ids"], tokens["attention_mask"])
    expected = 3.0 * (1 - torch.nn.functional.cosine_similarity(pooled[1], pooled[0], dim=0))
    assert expected.item() > 0
    assert (with_consistency - plain).item() == pytest.approx(expected.item(), rel=1e-4)


def _typo_distance(consistency_weight: float) -> float:
    """Mean 1 - cosine between messages and fixed misspellings of them, after a short fit."""
    config = ClassifierConfig(emotion_corpus=None, epochs=4, consistency_weight=consistency_weight)
    torch.manual_seed(0)
    model = IntentEmotionModel.create(sorted({e.intent for e in EXAMPLES}), EMOTIONS, config)
    train(model, EXAMPLES, config.epochs, noise_augmentation=1.0, desc="test")
    clean = [e.text for e in EXAMPLES]
    noisy = [text.replace("please", "plaese").replace("message", "mesage") for text in clean]
    with torch.no_grad():
        a, b = (model.sentence_embeddings(texts, correct_typos=False) for texts in (clean, noisy))
    return (1 - torch.nn.functional.cosine_similarity(a, b, dim=-1)).mean().item()


def test_training_with_the_loss_keeps_misspelt_messages_closer_to_their_originals():
    assert _typo_distance(5.0) < 0.8 * _typo_distance(0.0)
