"""The linear-probe start of the linear intent head (LP-FT)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from bot.nlu import EMOTIONS
from bot.nlu.classifier import fit
from bot.nlu.config import ClassifierConfig
from bot.nlu.model import IntentEmotionModel
from bot.nlu.training import Example

EXAMPLES = {
    "greet": ["hello there", "hi, how are you", "good morning"],
    "weather": ["will it rain tomorrow", "how hot is it outside", "is it going to snow"],
    "transfer": ["send 50 dollars to my savings", "move money between my accounts", "transfer funds to mom"],
}
TEXTS = [t for texts in EXAMPLES.values() for t in texts]
INTENTS = [i for i, texts in EXAMPLES.items() for _ in texts]


def _model(intents) -> IntentEmotionModel:
    return IntentEmotionModel.create(sorted(set(intents)), EMOTIONS, ClassifierConfig(emotion_corpus=None))


def test_the_probed_head_gives_the_logistic_regressions_probabilities():
    model = _model(INTENTS)
    model.fit_linear_probe(TEXTS, INTENTS)
    features = model.sentence_embeddings(TEXTS, correct_typos=False).numpy()
    labels = [model.intents.index(i) for i in INTENTS]
    expected = LogisticRegression(C=10.0, max_iter=2000).fit(features, labels).predict_proba(features)
    with torch.no_grad():
        probabilities = model.intent_head(torch.from_numpy(features)).softmax(-1).numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    assert [model.intents[i] for i in probabilities.argmax(-1)] == INTENTS


def test_two_intents_get_the_binary_regressions_probabilities():
    texts, intents = TEXTS[:6], INTENTS[:6]
    model = _model(intents)
    model.fit_linear_probe(texts, intents)
    features = model.sentence_embeddings(texts, correct_typos=False).numpy()
    expected = LogisticRegression(C=10.0, max_iter=2000).fit(features, [model.intents.index(i) for i in intents])
    with torch.no_grad():
        probabilities = model.intent_head(torch.from_numpy(features)).softmax(-1).numpy()
    np.testing.assert_allclose(probabilities, expected.predict_proba(features), atol=1e-5)


def test_one_intent_leaves_the_head_alone():
    model = _model(["greet"])
    before = model.intent_head.weight.clone()
    model.fit_linear_probe(TEXTS[:3], INTENTS[:3])
    assert torch.equal(model.intent_head.weight, before)


def test_fit_with_the_probe_learns_its_examples():
    examples = [Example(t, i) for t, i in zip(TEXTS, INTENTS)]
    model = fit(examples, ClassifierConfig(emotion_corpus=None, epochs=2, linear_probe=True, typo_correction=False))
    probabilities, _ = model.predict(TEXTS)
    assert [model.intents[i] for i in probabilities.argmax(-1)] == INTENTS


def test_the_cosine_head_refuses_the_probe():
    with pytest.raises(ValueError, match="linear_probe"):
        ClassifierConfig(intent_head="cosine", linear_probe=True)
