"""The LoRA intent/emotion component through Rasa's own graph-component API."""
from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any, Dict

import pytest
import torch
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import EMOTIONS
from models_custom.lora_intent_emotion_classifier import LoraIntentEmotionClassifier

GREETINGS = ["hi", "hello there", "hey", "good morning", "hiya", "heya friend", "howdy", "yo"]
FAREWELLS = ["bye", "goodbye", "see you later", "talk soon", "bye bye", "cya", "later!", "good night"]
FEELINGS = {
    "sadness": ["i feel so sad", "i'm heartbroken", "everything feels hopeless", "i miss her so much"],
    "joy": ["i'm so happy today", "this is the best day ever", "i feel great", "i got the job!"],
}
# Small and fast: no external corpus, few epochs.
TINY = {"epochs": 6, "learning_rate": 2e-3, "emotion_corpus": None, "batch_size": 8, "noise_augmentation": 0.0}


def _training_data() -> TrainingData:
    messages = [Message.build(t, "greet") for t in GREETINGS]
    messages += [Message.build(t, "goodbye") for t in FAREWELLS]
    for emotion, texts in FEELINGS.items():
        messages += [Message.build(t, "share_feeling", example_metadata={"emotion": emotion}) for t in texts]
    return TrainingData(messages)


def _component(tmp_path: Path, config: Dict[str, Any], load: bool = False) -> LoraIntentEmotionClassifier:
    (tmp_path / "storage").mkdir(parents=True, exist_ok=True)
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource("lora_nlu")
    context = ExecutionContext(GraphSchema({}), "test")
    full = {**LoraIntentEmotionClassifier.get_default_config(), **config}
    if load:
        return LoraIntentEmotionClassifier.load(full, storage, resource, context)
    return LoraIntentEmotionClassifier.create(full, storage, resource, context)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple:
    tmp_path = tmp_path_factory.mktemp("nlu")
    component = _component(tmp_path, TINY)
    component.train(_training_data())
    return tmp_path, component


def _parse(component, text: str) -> Message:
    message = Message.build(text)
    component.process([message])
    return message


def test_training_learns_intents_and_sets_rasa_keys(trained):
    _, component = trained
    message = _parse(component, "hello")
    assert message.get("intent")["name"] == "greet"
    ranking = message.get("intent_ranking")
    assert {r["name"] for r in ranking} == {"greet", "goodbye", "share_feeling"}
    assert ranking == sorted(ranking, key=lambda r: -r["confidence"])
    # Prototype confidences (the default) sum to the similarity to the nearest prototype.
    assert 0 < sum(r["confidence"] for r in ranking) <= 1 + 1e-4
    assert "intent" in message.as_dict(only_output_properties=True)


def test_emotion_is_an_entity_over_the_whole_message_and_in_the_parse_result(trained):
    _, component = trained
    text = "i feel so sad and hopeless"
    message = _parse(component, text)
    [entity] = [e for e in message.get("entities") if e["entity"] == "emotion"]
    assert entity["value"] in EMOTIONS
    assert (entity["start"], entity["end"]) == (0, len(text))
    output = message.as_dict(only_output_properties=True)
    assert output["emotion"]["name"] == entity["value"]
    assert len(output["emotion"]["ranking"]) == len(EMOTIONS)


def test_persisted_model_loads_and_predicts_the_same(trained):
    tmp_path, component = trained
    loaded = _component(tmp_path, TINY, load=True)
    for text in ["hey there", "see you tomorrow", "i'm so happy"]:
        before, after = _parse(component, text), _parse(loaded, text)
        assert before.get("intent")["name"] == after.get("intent")["name"]
        assert before.get("intent")["confidence"] == pytest.approx(after.get("intent")["confidence"], abs=1e-5)
        assert before.get("emotion") == pytest.approx(after.get("emotion")) or (
            before.get("emotion")["name"] == after.get("emotion")["name"]
        )


def test_only_adapters_and_heads_are_persisted(trained):
    tmp_path, _ = trained
    files = [p for p in (tmp_path / "storage").rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 8 * 1024 * 1024
    assert not any(p.name in ("model.safetensors", "pytorch_model.bin") for p in files)


def test_prototype_confidence_is_low_for_messages_unlike_any_intent(tmp_path):
    """``intent_confidence: prototype``: the ranking sums to the message's similarity to
    the nearest intent prototype, which is high for a greeting and low for biology,
    and the prototypes are persisted with the heads."""
    settings = {**TINY, "intent_confidence": "prototype"}
    component = _component(tmp_path, settings)
    component.train(_training_data())
    loaded = _component(tmp_path, settings, load=True)
    in_scope = _parse(loaded, "hello there friend").get("intent_ranking")
    unrelated = _parse(loaded, "the mitochondria is the powerhouse of the cell").get("intent_ranking")
    assert in_scope[0]["name"] == "greet"
    similarity = {name: sum(r["confidence"] for r in ranking) for name, ranking in
                  [("in_scope", in_scope), ("unrelated", unrelated)]}
    assert 0 < similarity["unrelated"] < similarity["in_scope"] <= 1 + 1e-6
    assert in_scope[0]["confidence"] == pytest.approx(
        _parse(component, "hello there friend").get("intent")["confidence"], abs=1e-5
    )


def test_cosine_head_trains_and_round_trips(tmp_path):
    settings = {**TINY, "intent_head": "cosine"}
    component = _component(tmp_path, settings)
    component.train(_training_data())
    loaded = _component(tmp_path, settings, load=True)
    assert type(loaded.model.intent_head).__name__ == "CosineHead"
    for text in ["hello there", "see you tomorrow"]:
        before, after = _parse(component, text), _parse(loaded, text)
        assert before.get("intent")["name"] == after.get("intent")["name"]
        assert before.get("intent")["confidence"] == pytest.approx(after.get("intent")["confidence"], abs=1e-5)
    assert _parse(loaded, "hello there").get("intent")["name"] == "greet"


def test_a_model_saved_before_the_intent_head_setting_loads_as_linear(tmp_path):
    """A model persisted before ``intent_head`` existed (no such key in its saved config)
    is read as the linear head it has, whatever the current default."""
    settings = {**TINY, "intent_head": "linear"}
    component = _component(tmp_path, settings)
    component.train(_training_data())
    [meta_file] = (tmp_path / "storage").rglob("classifier.json")
    meta = json.loads(meta_file.read_text())
    del meta["config"]["intent_head"]
    meta_file.write_text(json.dumps(meta))
    loaded = _component(tmp_path, settings, load=True)
    assert isinstance(loaded.model.intent_head, torch.nn.Linear)
    before, after = _parse(component, "hello there"), _parse(loaded, "hello there")
    assert before.get("intent")["name"] == after.get("intent")["name"] == "greet"
    assert before.get("intent")["confidence"] == pytest.approx(after.get("intent")["confidence"], abs=1e-5)


def test_typos_are_corrected_for_the_classifier_but_not_in_the_message(trained):
    """``typo_correction`` (default): "goodbey" is classified as "goodbye" would be, by the
    model loaded back from storage too, while the message keeps what the user typed."""
    tmp_path, component = trained
    loaded = _component(tmp_path, TINY, load=True)
    for model in (component, loaded):
        typo, right = _parse(model, "goodbey"), _parse(model, "goodbye")
        assert typo.get("text") == "goodbey"
        assert typo.get("intent")["name"] == right.get("intent")["name"] == "goodbye"
        assert typo.get("intent")["confidence"] == pytest.approx(right.get("intent")["confidence"], abs=1e-5)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "x" * 10_000, "😀😀😀🎉", "Привет, как дела? 你好 مرحبا hello", "\u200b\n\t", "<script>alert(1)</script>"],
)
def test_bad_input_gives_a_prediction_not_a_crash(trained, text):
    _, component = trained
    message = _parse(component, text)
    assert message.get("intent")["name"] in {"greet", "goodbye", "share_feeling"}
    assert message.get("emotion")["name"] in EMOTIONS


@pytest.mark.parametrize(
    "bad",
    [{"epochs": 0}, {"learning_rate": -1}, {"lora_rank": "eight"}, {"max_length": 100_000}, {"noise_augmentation": 2},
     {"intent_confidence": "energy"}, {"typo_correction": "yes"}, {"intent_head": "quadratic"},
     {"cosine_margin": 1.5}, {"cosine_scale": 0}, {"synthetic_outliers": -0.5}, {"contrastive_weight": -1},
     {"contrastive_temperature": 0}, {"linear_probe": "yes"}, {"frozen_probe_weight": 1.0}],
)
def test_invalid_config_is_a_clear_error(tmp_path, bad):
    with pytest.raises(InvalidConfigException, match=next(iter(bad))):
        _component(tmp_path, {**TINY, **bad})


def test_unknown_base_model_fails_at_train_time_with_one_line(tmp_path):
    component = _component(tmp_path, {**TINY, "base_model": "no-such-org/no-such-model"})
    with pytest.raises(InvalidConfigException, match="no-such-org/no-such-model") as error:
        component.train(_training_data())
    assert "\n" not in str(error.value)


def test_unknown_emotion_annotation_fails_at_train_time(tmp_path):
    data = TrainingData(
        _training_data().training_examples + [Message.build("meh", "share_feeling", example_metadata={"emotion": "meh"})]
    )
    with pytest.raises(InvalidConfigException, match="Unknown emotion 'meh'"):
        _component(tmp_path, TINY).train(data)


def test_emotion_pretraining_is_cached_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_CACHE_DIR", str(tmp_path / "cache"))
    config = {**TINY, "epochs": 1, "emotion_corpus": "goemotions-ekman", "emotion_corpus_max_examples": 64}
    _component(tmp_path / "a", config).train(_training_data())
    [cached] = list((tmp_path / "cache" / "emotion-pretraining").iterdir())
    stamp = (cached / "heads.safetensors").stat().st_mtime_ns
    _component(tmp_path / "b", config).train(_training_data())
    assert (cached / "heads.safetensors").stat().st_mtime_ns == stamp
    assert len(list((tmp_path / "cache" / "emotion-pretraining").iterdir())) == 1


def test_a_changed_emotion_corpus_changes_the_rasa_fingerprint(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "labels.txt").write_text("\n".join(EMOTIONS))
    (corpus / "train.tsv").write_text("what a lovely day\t3\tid1\n")
    config = {**TINY, "emotion_corpus": str(corpus)}
    before = LoraIntentEmotionClassifier.fingerprint_addon(config)
    (corpus / "train.tsv").write_text("what a lovely day\t3\tid1\nso scared\t2\tid2\n")
    assert before is not None and LoraIntentEmotionClassifier.fingerprint_addon(config) != before
    assert LoraIntentEmotionClassifier.fingerprint_addon({**TINY, "emotion_corpus": None}) not in (None, before)
    # Settings that act after the pre-training keep its cache.
    after = LoraIntentEmotionClassifier.fingerprint_addon(config)
    for setting in [{"typo_correction": False}, {"intent_confidence": "softmax"}, {"epochs": 2}]:
        assert LoraIntentEmotionClassifier.fingerprint_addon({**config, **setting}) == after


def test_reference_model_packs_only_a_few_mb_for_the_component(trained_model):
    with tarfile.open(trained_model) as archive:
        ours = [m for m in archive.getmembers() if "LoraIntentEmotionClassifier" in m.name and m.isfile()]
    assert ours, "the reference model does not contain the LoRA NLU component"
    assert sum(m.size for m in ours) < 8 * 1024 * 1024
