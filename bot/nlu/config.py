"""Hyper-parameters of the intent/emotion classifier, validated in one place."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Dict, List, Optional

# Ways to turn the intent head's output into Rasa's intent confidences.
SOFTMAX = "softmax"
PROTOTYPE = "prototype"
INTENT_CONFIDENCES = (PROTOTYPE, SOFTMAX)
# Kinds of intent head.
COSINE = "cosine"
LINEAR = "linear"
INTENT_HEADS = (COSINE, LINEAR)


@dataclass
class ClassifierConfig:
    """Training and inference settings; defaults suit a 2-core CPU."""

    base_model: str = field(default="all-MiniLM-L6-v2", metadata={"help": "Encoder name or local directory."})
    epochs: int = field(default=8, metadata={"help": "Passes over the assistant's NLU data."})
    learning_rate: float = field(default=1e-3, metadata={"help": "AdamW learning rate for adapters and heads (2e-3 diverged on the reference data)."})
    batch_size: int = field(default=32, metadata={"help": "Examples per optimisation step."})
    max_length: int = field(default=64, metadata={"help": "Tokens kept per message; longer text is truncated."})
    lora_rank: int = field(default=16, metadata={"help": "LoRA rank r."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling alpha."})
    lora_dropout: float = field(default=0.1, metadata={"help": "Dropout inside LoRA layers."})
    lora_targets: List[str] = field(
        default_factory=lambda: ["query", "key", "value", "dense"],
        metadata={"help": "Names of the encoder's linear layers that get adapters."},
    )
    emotion_loss_weight: float = field(default=1.0, metadata={"help": "Weight of the emotion loss."})
    balance_emotions: bool = field(
        default=True, metadata={"help": "Weight rare emotions up (most messages are neutral)."}
    )
    noise_augmentation: float = field(
        default=1.0,
        metadata={"help": "Share of training examples added again with realistic typos (1.0: each one, "
                          "freshly corrupted every epoch); keeps intent accuracy on typed chat text."},
    )
    intent_head: str = field(
        default=LINEAR,
        metadata={"help": "'linear': a plain linear layer; or 'cosine': scaled cosine similarity to one learned "
                          "direction per intent, trained with a margin (large margin cosine loss) and started from "
                          "the intents' mean embeddings (better with few examples per intent, see the README)."},
    )
    linear_probe: bool = field(
        default=False,
        metadata={"help": "Linear head: before fine-tuning, fit it by logistic regression on the untuned encoder's "
                          "embeddings, so fine-tuning starts from the frozen-encoder baseline instead of a random "
                          "head and bends the pre-trained features less (LP-FT, Kumar et al., ICLR 2022)."},
    )
    refit_intent_head: float = field(
        default=0.02,
        metadata={"help": "Linear head: after fine-tuning, replace the trained head by a logistic regression with this "
                          "inverse regularisation strength C, fitted on the tuned encoder's embeddings of the training "
                          "examples. The trained head ends near zero loss and is sure of itself everywhere; the "
                          "regularised one leaves messages unlike every intent with lower confidence (better "
                          "out-of-scope detection, most with few examples per intent; see the README). Smaller C "
                          "lowers every confidence: mind a FallbackClassifier threshold. 0: keep the trained head. "
                          "The cosine head keeps its trained head."},
    )
    cosine_scale: float = field(default=30.0, metadata={"help": "Cosine head: logits are scale x cosine."})
    cosine_margin: float = field(
        default=0.35, metadata={"help": "Cosine head: how much closer than any other intent the true one must be."}
    )
    synthetic_outliers: float = field(
        default=0.0,
        metadata={"help": "Made-up out-of-scope examples per intent example in each batch: mixtures of two "
                          "messages of different intents, trained towards no intent, so that messages between "
                          "intents get low confidence (better out-of-scope detection, see the README). 0: off. Use it "
                          "with the linear intent head: a margin-trained cosine head cannot spread its scores evenly."},
    )
    contrastive_weight: float = field(
        default=0.0,
        metadata={"help": "Weight of a supervised contrastive loss that gathers each intent's messages together "
                          "(batches are built from pairs of examples sharing intent and emotion; messages of one intent that "
                          "state different emotions are not gathered). 0: off."},
    )
    contrastive_temperature: float = field(
        default=0.1, metadata={"help": "Contrastive loss: temperature of the softmax over cosine similarities."}
    )
    frozen_probe_weight: float = field(
        default=0.3,
        metadata={"help": "Share of the intent confidences taken from a logistic regression on the untuned base "
                          "encoder's sentence embeddings (the frozen-encoder baseline); the rest comes from the "
                          "fine-tuned model. The two err on different messages, so the mixture beats both (see the "
                          "README). At serving both encoders run as one batched pass (bot/nlu/paired_encoder.py), "
                          "which holds the base encoder's linear weights beside the tuned ones (about 81 MB). 0: off."},
    )
    intent_confidence: str = field(
        default=PROTOTYPE,
        metadata={"help": "'prototype': the softmax times the cosine similarity to the nearest intent prototype "
                          "(mean training embedding), so out-of-scope messages get low confidence; or 'softmax'."},
    )
    typo_correction: bool = field(
        default=True,
        metadata={"help": "Before classifying, replace each word that is neither in the training data nor common "
                          "English by its most probable intended word within 1-2 edits (keyboard-aware typing cost, "
                          "word frequency, training-data word bigrams); the message text itself is unchanged."},
    )
    emotion_corpus: Optional[str] = field(
        default="goemotions-ekman",
        metadata={"help": "External emotion corpus (name or folder with train.tsv); null for none."},
    )
    emotion_corpus_max_examples: int = field(
        default=4000, metadata={"help": "Corpus sentences used to pre-train the emotion head (cached)."}
    )
    emotion_corpus_epochs: int = field(default=1, metadata={"help": "Passes over the emotion corpus."})
    emotion_replay: float = field(
        default=0.25,
        metadata={"help": "Corpus sentences mixed into each epoch, per NLU example, so emotion is not forgotten."},
    )
    seed: int = field(default=42, metadata={"help": "Seed for sampling, initialisation and shuffling."})

    def __post_init__(self) -> None:
        _require(lambda: self.epochs >= 1, "epochs", "an integer >= 1")
        _require(lambda: 0 < self.learning_rate < 1, "learning_rate", "a float in (0, 1)")
        _require(lambda: self.batch_size >= 1, "batch_size", "an integer >= 1")
        _require(lambda: 8 <= self.max_length <= 512, "max_length", "an integer in [8, 512]")
        _require(lambda: self.lora_rank >= 1, "lora_rank", "an integer >= 1")
        _require(lambda: self.lora_alpha >= 1, "lora_alpha", "an integer >= 1")
        _require(lambda: 0 <= self.lora_dropout < 1, "lora_dropout", "a float in [0, 1)")
        _require(lambda: bool(self.lora_targets), "lora_targets", "a non-empty list of layer names")
        _require(lambda: self.emotion_loss_weight >= 0, "emotion_loss_weight", "a float >= 0")
        _require(lambda: 0 <= self.noise_augmentation <= 1, "noise_augmentation", "a float in [0, 1]")
        _require(lambda: self.intent_head in INTENT_HEADS, "intent_head", " or ".join(map(repr, INTENT_HEADS)))
        _require(lambda: isinstance(self.linear_probe, bool), "linear_probe", "true or false")
        _require(
            lambda: not self.linear_probe or self.intent_head == LINEAR,
            "linear_probe",
            "false with the cosine intent head (which starts from the intents' mean embeddings instead)",
        )
        _require(lambda: self.refit_intent_head >= 0, "refit_intent_head", "a float >= 0")
        _require(lambda: self.cosine_scale > 0, "cosine_scale", "a float > 0")
        _require(lambda: 0 <= self.cosine_margin < 1, "cosine_margin", "a float in [0, 1)")
        _require(lambda: self.synthetic_outliers >= 0, "synthetic_outliers", "a float >= 0")
        _require(lambda: self.contrastive_weight >= 0, "contrastive_weight", "a float >= 0")
        _require(lambda: 0 < self.contrastive_temperature <= 1, "contrastive_temperature", "a float in (0, 1]")
        _require(lambda: 0 <= self.frozen_probe_weight < 1, "frozen_probe_weight", "a float in [0, 1)")
        _require(lambda: self.intent_confidence in INTENT_CONFIDENCES, "intent_confidence", " or ".join(map(repr, INTENT_CONFIDENCES)))
        _require(lambda: isinstance(self.typo_correction, bool), "typo_correction", "true or false")
        _require(lambda: self.emotion_corpus_max_examples >= 0, "emotion_corpus_max_examples", "an integer >= 0")
        _require(lambda: self.emotion_corpus_epochs >= 1, "emotion_corpus_epochs", "an integer >= 1")
        _require(lambda: self.emotion_replay >= 0, "emotion_replay", "a float >= 0")

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "ClassifierConfig":
        """Build from a Rasa component config, ignoring Rasa's own keys."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


class ConfigError(ValueError):
    """An invalid hyper-parameter; the message names the key and what is allowed."""


def _require(check: Callable[[], bool], key: str, allowed: str) -> None:
    try:
        ok = check()
    except TypeError:  # e.g. a string where a number belongs
        ok = False
    if not ok:
        raise ConfigError(f"Invalid value for '{key}': expected {allowed}.")
