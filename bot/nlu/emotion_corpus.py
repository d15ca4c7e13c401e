"""The external emotion corpus and the emotion pre-training cached across `rasa train` runs.

By default the corpus is GoEmotions grouped into Ekman's emotions plus neutral, so a
bot with no emotion annotations in its NLU data still recognises emotion. Pre-training
on it is the expensive part, so it runs once per (base model, corpus, settings)
fingerprint and is cached on disk.
"""
from __future__ import annotations

import hashlib
import json
import logging
import random
from pathlib import Path
from typing import List, Optional

from bot.assets import cache_dir, resolve_model_path
from bot.nlu import EMOTIONS
from bot.nlu.config import ClassifierConfig
from bot.nlu.model import IntentEmotionModel
from bot.nlu.training import Example, seed_everything, train
from bot.paths import datasets_dir

logger = logging.getLogger(__name__)

COMPLETE_MARKER = ".complete"
# Settings of the intent fine-tuning and of inference: changing them keeps the cache.
SETTINGS_AFTER_PRETRAINING = (
    "epochs", "noise_augmentation", "emotion_replay", "emotion_loss_weight", "intent_confidence", "typo_correction",
    "intent_head", "cosine_scale", "cosine_margin", "synthetic_outliers", "contrastive_weight",
    "contrastive_temperature", "linear_probe", "refit_intent_head", "frozen_probe_weight",
)


def corpus_dir(name: str) -> Path:
    """A corpus folder from a dataset name under the datasets dir or a path."""
    path = Path(name).expanduser()
    folder = path if path.is_dir() else datasets_dir() / name
    if not (folder / "train.tsv").is_file():
        raise FileNotFoundError(
            f"Emotion corpus '{name}' not found (looked for {folder}/train.tsv): set `emotion_corpus` "
            f"to a folder with train.tsv and labels.txt, or to null to learn emotions from nlu.yml only."
        )
    return folder


def load_emotion_corpus(name: str, split: str = "train") -> List[Example]:
    """Rows of ``text<TAB>label ids<TAB>id``; label ids index the folder's labels.txt."""
    folder = corpus_dir(name)
    labels = (folder / "labels.txt").read_text().split()
    unknown = set(labels) - set(EMOTIONS)
    if unknown:
        raise ValueError(f"Emotion corpus '{name}' has labels outside {EMOTIONS}: {sorted(unknown)}")
    examples = []
    for line in (folder / f"{split}.tsv").read_text(encoding="utf-8").splitlines():
        text, ids, *_ = line.split("\t")
        examples.append(Example(text, emotions=tuple(labels[int(i)] for i in ids.split(","))))
    return examples


def pretrained_emotion_model(config: ClassifierConfig) -> Optional[IntentEmotionModel]:
    """The encoder adapter and emotion head trained on the corpus: from cache, or trained now."""
    fingerprint = pretraining_fingerprint(config)
    if fingerprint is None:
        return None
    directory = cache_dir() / "emotion-pretraining" / fingerprint
    if (directory / COMPLETE_MARKER).exists():
        logger.info("Reusing cached emotion pre-training from %s", directory)
        return IntentEmotionModel.from_pretrained(directory, config, trainable=True)
    seed_everything(config.seed)
    corpus = corpus_sample(config)
    model = IntentEmotionModel.create([], EMOTIONS, config)
    train(model, corpus, config.emotion_corpus_epochs, desc="Emotion pre-training (cached once)")
    model.save_pretrained(directory)
    (directory / COMPLETE_MARKER).touch()
    return model


def corpus_sample(config: ClassifierConfig) -> List[Example]:
    corpus = load_emotion_corpus(config.emotion_corpus)
    rng = random.Random(config.seed)
    return rng.sample(corpus, min(len(corpus), config.emotion_corpus_max_examples))


def pretraining_fingerprint(config: ClassifierConfig) -> Optional[str]:
    """Changes whenever anything that shapes the pre-trained weights changes (None: no pre-training)."""
    if not config.emotion_corpus or config.emotion_corpus_max_examples == 0:
        return None
    base = resolve_model_path(config.base_model)
    corpus_file = corpus_dir(config.emotion_corpus) / "train.tsv"
    relevant = {
        key: value
        for key, value in config.to_dict().items()
        if key not in SETTINGS_AFTER_PRETRAINING
    }
    relevant["base_config"] = _sha256((base / "config.json").read_bytes())
    relevant["corpus"] = _sha256(corpus_file.read_bytes())
    return _sha256(json.dumps(relevant, sort_keys=True).encode())[:16]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
