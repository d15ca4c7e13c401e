"""Logistic regressions on the encoder's embeddings: the linear-probe start of the
linear intent head (LP-FT, ``linear_probe``), its refit after fine-tuning
(``refit_intent_head``) and the frozen probe mixed into the intent
confidences (``frozen_probe_weight``)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from sklearn.linear_model import LogisticRegression

from bot.assets import resolve_model_path
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


def _head_and_regression(model: IntentEmotionModel, texts, intents, inverse_regularisation: float):
    """The intent head's probabilities on the model's embeddings of ``texts``, and those of
    scikit-learn's logistic regression fitted on the same embeddings."""
    features = model.sentence_embeddings(texts, correct_typos=False).numpy()
    labels = [model.intents.index(i) for i in intents]
    regression = LogisticRegression(C=inverse_regularisation, max_iter=2000).fit(features, labels)
    with torch.no_grad():
        probabilities = model.intent_head(torch.from_numpy(features)).softmax(-1).numpy()
    return probabilities, regression.predict_proba(features)


def test_the_probed_head_gives_the_logistic_regressions_probabilities():
    model = _model(INTENTS)
    model.fit_linear_probe(TEXTS, INTENTS)
    probabilities, expected = _head_and_regression(model, TEXTS, INTENTS, 10.0)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    assert [model.intents[i] for i in probabilities.argmax(-1)] == INTENTS


def test_two_intents_get_the_binary_regressions_probabilities():
    texts, intents = TEXTS[:6], INTENTS[:6]
    model = _model(intents)
    model.fit_linear_probe(texts, intents)
    np.testing.assert_allclose(*_head_and_regression(model, texts, intents, 10.0), atol=1e-5)


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


def test_by_default_the_head_is_refitted_as_the_regression_on_the_tuned_embeddings():
    examples = [Example(t, i) for t, i in zip(TEXTS, INTENTS)]
    config = ClassifierConfig(emotion_corpus=None, epochs=1, typo_correction=False)
    assert config.refit_intent_head == 0.02
    model = fit(examples, config)
    probabilities, expected = _head_and_regression(model, TEXTS, INTENTS, config.refit_intent_head)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    # Strong regularisation: less sure than a head trained to near-zero loss, still right.
    assert probabilities.max(-1).max() < 0.9
    assert [model.intents[i] for i in probabilities.argmax(-1)] == INTENTS
    # fit() embeds the examples once for the refit and the prototypes; the prototypes are
    # what fitting them on their own gives.
    prototypes = model.intent_prototypes.clone()
    model.fit_prototypes(TEXTS, INTENTS)
    torch.testing.assert_close(model.intent_prototypes, prototypes)


def test_a_negative_refit_strength_is_refused():
    with pytest.raises(ValueError, match="refit_intent_head"):
        ClassifierConfig(refit_intent_head=-1.0)


# The frozen probe

UNSEEN = ["hey, good evening", "is it cold out today", "pay my brother 20 euros", "what is the meaning of life"]
WEIGHT = 0.4


def _fit(weight: float) -> IntentEmotionModel:
    settings = ClassifierConfig(emotion_corpus=None, epochs=1, typo_correction=False, frozen_probe_weight=weight)
    return fit([Example(t, i) for t, i in zip(TEXTS, INTENTS)], settings)


@pytest.fixture(scope="module")
def model() -> IntentEmotionModel:
    return _fit(WEIGHT)


def test_frozen_embeddings_are_the_sentence_transformers_embeddings(model):
    """The probe sees what the bench's frozen baseline (and a user's ten lines) sees."""
    expected = SentenceTransformer(str(resolve_model_path("all-MiniLM-L6-v2")), device="cpu").encode(UNSEEN)
    np.testing.assert_allclose(model.frozen_embeddings(UNSEEN).numpy(), expected, atol=1e-5)


def test_confidences_mix_the_fine_tuned_model_and_the_logistic_regression(model):
    mixed, _ = model.predict(UNSEEN)
    probe, model.frozen_probe = model.frozen_probe, None
    try:
        own, _ = model.predict(UNSEEN)
    finally:
        model.frozen_probe = probe
    labels = [model.intents.index(i) for i in INTENTS]
    regression = LogisticRegression(C=10.0, max_iter=2000).fit(model.frozen_embeddings(TEXTS).numpy(), labels)
    expected = (1 - WEIGHT) * own.numpy() + WEIGHT * regression.predict_proba(model.frozen_embeddings(UNSEEN).numpy())
    np.testing.assert_allclose(mixed.numpy(), expected, atol=1e-5)
    assert not np.allclose(mixed.numpy(), own.numpy(), atol=1e-3)


def test_the_probe_round_trips(model, tmp_path):
    model.save_pretrained(tmp_path)
    loaded = IntentEmotionModel.from_pretrained(tmp_path)
    assert loaded.frozen_probe is not None
    np.testing.assert_allclose(loaded.predict(UNSEEN)[0].numpy(), model.predict(UNSEEN)[0].numpy(), atol=1e-5)


def test_weight_zero_fits_no_probe():
    assert _fit(0.0).frozen_probe is None


@pytest.mark.parametrize("weight", [1.0, -0.1, "half"])
def test_weight_must_leave_the_fine_tuned_model_a_share(weight):
    with pytest.raises(ValueError, match="frozen_probe_weight"):
        ClassifierConfig(frozen_probe_weight=weight)


def test_two_intents_work():
    examples = [Example(t, i) for t, i in zip(TEXTS[:6], INTENTS[:6])]
    settings = ClassifierConfig(
        emotion_corpus=None, epochs=1, typo_correction=False, intent_confidence="softmax", frozen_probe_weight=WEIGHT
    )
    probabilities, _ = fit(examples, settings).predict(TEXTS[:6])
    assert probabilities.shape == (6, 2)
    assert torch.allclose(probabilities.sum(-1), torch.ones(6), atol=1e-5)
