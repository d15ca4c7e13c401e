"""A transformer encoder with LoRA adapters and two heads: intent and emotion.

Hugging Face conventions: ``from_pretrained`` / ``save_pretrained``; only what was
trained is saved (the peft adapter, the two heads and the label maps), never the base
encoder, which is loaded once per process from its local directory.
"""
from __future__ import annotations

import copy
import json
import threading
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from sklearn.linear_model import LogisticRegression
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedTokenizerBase

from bot.assets import resolve_model_path
from bot.nlu.config import COSINE, LINEAR, PROTOTYPE, ClassifierConfig
from bot.nlu.paired_encoder import pair_encoders, paired_hidden_states
from bot.nlu.typos import TypoCorrector

ADAPTER_DIR = "adapter"
HEADS_FILE = "heads.safetensors"
META_FILE = "classifier.json"

# Range of the first example's share in a synthetic outlier (see ``synthetic_outlier_loss``).
MIXTURE_SHARES = (0.3, 0.7)

_base_lock = threading.Lock()


@lru_cache(maxsize=4)
def _pristine_encoder(base_model: str) -> nn.Module:
    # Keyed by name like the tokenizer, so the frozen probe's pass on every message does
    # not resolve the asset again. fp32 whatever dtype the checkpoint was saved in:
    # transformers 5 keeps the stored dtype, and fp16 weights would meet our fp32 heads.
    return AutoModel.from_pretrained(str(resolve_model_path(base_model)), dtype=torch.float32).eval()


@lru_cache(maxsize=4)
def load_tokenizer(base_model: str) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(str(resolve_model_path(base_model)))


def load_base_encoder(base_model: str) -> nn.Module:
    """A fresh copy of the base encoder; the weights are read from disk once per process.

    Each adapted model gets its own copy because peft injects adapters in place.
    """
    with _base_lock:
        return copy.deepcopy(_pristine_encoder(base_model))


def _encode(encoder: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """An encoder's mean-pooled sentence embedding."""
    hidden = encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    return mean_pool(hidden, attention_mask)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sentence embedding as all-MiniLM-L6-v2 was trained to give it."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


class CosineHead(nn.Module):
    """Logits are ``scale`` times the cosine between the embedding and one direction per class.

    Trained with a margin (``margin_loss``) every intent's messages gather tightly around
    its direction, which suits few examples and leaves messages unlike every intent with a
    low cosine (large margin cosine loss for unknown intent detection, Lin & Xu, ACL 2019).
    """

    def __init__(self, hidden: int, classes: int, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.weight = nn.Parameter(torch.randn(classes, hidden) * 0.02)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        cosine = nn.functional.normalize(pooled, dim=-1) @ nn.functional.normalize(self.weight, dim=-1).T
        return self.scale * cosine


def margin_loss(logits: torch.Tensor, targets: torch.Tensor, scale: float, margin: float) -> torch.Tensor:
    """Cross-entropy after lowering the true class's cosine by ``margin`` (CosFace)."""
    penalty = scale * margin * nn.functional.one_hot(targets, logits.shape[-1]).to(logits.dtype)
    return nn.functional.cross_entropy(logits - penalty, targets)


def supervised_contrastive_loss(
    embeddings: torch.Tensor, labels: torch.Tensor, temperature: float, emotions: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """Pull each embedding towards the others of its intent in the batch and away from the rest.

    The supervised contrastive loss (Khosla et al., NeurIPS 2020) on unit embeddings:
    for every anchor with at least one same-intent partner in the batch, the mean
    log-probability of its partners under a softmax over cosine / ``temperature`` to
    every other message. Cross-entropy only asks that each intent be separable from the
    others; this also gathers an intent's messages together, which is what a few
    examples per intent and the prototype confidence need.

    ``emotions`` (one index per message, -1 where unknown) keeps two messages of one
    intent that state different emotions apart: the emotion head reads the same
    embedding, and gathering all of ``share_feeling`` into one point erased the
    emotion it carries.
    """
    unit = nn.functional.normalize(embeddings, dim=-1)
    itself = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    log_prob = (unit @ unit.T / temperature).masked_fill(itself, float("-inf")).log_softmax(-1)
    partners = (labels[:, None] == labels[None, :]) & ~itself
    if emotions is not None:
        unknown = emotions < 0
        partners &= (emotions[:, None] == emotions[None, :]) | unknown[:, None] | unknown[None, :]
    anchors = partners.any(-1)
    if not anchors.any():
        return embeddings.new_zeros(())
    mean_log_prob = log_prob.masked_fill(~partners, 0.0).sum(-1)[anchors] / partners.sum(-1)[anchors]
    return -mean_log_prob.mean()


class IntentEmotionModel(nn.Module):
    """Shared LoRA-adapted encoder, mean pooling, one head per task."""

    def __init__(
        self,
        encoder: nn.Module,
        intents: Sequence[str],
        emotions: Sequence[str],
        config: ClassifierConfig,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.intents = list(intents)
        self.emotions = list(emotions)
        self.config = config
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(0.1)
        classes = max(len(self.intents), 1)
        if config.intent_head == COSINE:
            self.intent_head: nn.Module = CosineHead(hidden, classes, config.cosine_scale)
        else:
            self.intent_head = nn.Linear(hidden, classes)
        self.emotion_head = nn.Linear(hidden, len(self.emotions))
        # Unit-length mean embedding of each intent's training examples, once trained
        # (see ``fit_prototypes``); None until then.
        self.intent_prototypes: Optional[torch.Tensor] = None
        # Set by ``classifier.fit`` with ``typo_correction``; applied in ``predict``.
        self.typo_corrector: Optional[TypoCorrector] = None
        # Set by ``fit_frozen_probe`` with ``frozen_probe_weight``; mixed in by ``predict``.
        self.frozen_probe: Optional[nn.Linear] = None
        # Serving only: the base and the merged encoder as one (``bot.nlu.paired_encoder``),
        # so the frozen probe costs no second pass; set by ``from_pretrained``.
        self.paired_encoder: Optional[nn.Module] = None

    @classmethod
    def create(
        cls, intents: Sequence[str], emotions: Sequence[str], config: ClassifierConfig
    ) -> "IntentEmotionModel":
        """A new model with freshly initialised adapters and heads."""
        lora = LoraConfig(
            r=config.lora_rank,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=list(config.lora_targets),
        )
        try:
            encoder = get_peft_model(load_base_encoder(config.base_model), lora)
        except ValueError as error:  # peft: target modules not found in the base model
            raise ValueError(f"Invalid value for 'lora_targets': {error}") from None
        return cls(encoder, intents, emotions, config)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The mean-pooled sentence embedding both heads read."""
        return _encode(self.encoder, input_ids, attention_mask)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The (dropped-out) sentence embedding, intent logits and emotion logits."""
        pooled = self.dropout(self.embed(input_ids, attention_mask))
        return pooled, self.intent_head(pooled), self.emotion_head(pooled)

    def intent_loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy; a cosine head must also win by ``cosine_margin``."""
        if isinstance(self.intent_head, CosineHead):
            return margin_loss(logits, targets, self.intent_head.scale, self.config.cosine_margin)
        return nn.functional.cross_entropy(logits, targets)

    def synthetic_outlier_loss(self, pooled: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Loss on ``synthetic_outliers`` made-up out-of-scope messages per example: mixtures
        of two examples of different intents.

        Real out-of-scope examples are few and cannot cover everything users say; the
        space between two intents can be covered for free (pseudo outliers from convex
        combinations of in-scope embeddings, Zhan et al., ACL 2021). They are trained
        towards no intent in particular (cross-entropy to the uniform distribution, as in
        outlier exposure, Hendrycks et al., 2019), so their confidence is low and the
        confidence threshold decides: training them as the intent ``out_of_scope`` instead
        cost 3 points of in-scope accuracy at 10 examples per intent (see the README).
        """
        count = round(self.config.synthetic_outliers * len(targets))
        first, second = torch.randint(len(targets), (2, count), device=targets.device)
        keep = targets[first] != targets[second]
        if not keep.any():
            return pooled.new_zeros(())
        # Mid-way mixtures only: a point next to an example of an intent is that intent.
        share = torch.empty(int(keep.sum()), 1, device=pooled.device).uniform_(*MIXTURE_SHARES)
        mixed = share * pooled[first[keep]] + (1 - share) * pooled[second[keep]]
        return -self.intent_head(mixed).log_softmax(-1).mean()

    def fit_prototypes(
        self, texts: Sequence[str], intents: Sequence[str], embeddings: Optional[torch.Tensor] = None
    ) -> None:
        """Store each intent's prototype: the normalised mean embedding of its examples
        (``embeddings``: the current encoder's embeddings of ``texts``, if already computed)."""
        self.intent_prototypes = self._mean_embeddings(texts, intents, embeddings)

    def imprint_intent_head(self, texts: Sequence[str], intents: Sequence[str]) -> None:
        """Start a cosine head at the intents' mean embeddings rather than at random:
        with a handful of examples per intent the encoder's own geometry is the best
        first guess (weight imprinting, Qi et al., 2018)."""
        with torch.no_grad():
            self.intent_head.weight.copy_(self._mean_embeddings(texts, intents))

    def fit_linear_probe(
        self,
        texts: Sequence[str],
        intents: Sequence[str],
        inverse_regularisation: float = 10.0,
        embeddings: Optional[torch.Tensor] = None,
    ) -> None:
        """Set a linear head to a logistic regression fitted on the current encoder's
        embeddings (multinomial, as the softmax reads it).

        Before fine-tuning (``linear_probe``): fine-tuning from a random head first spends
        its large early gradients bending the encoder towards that head; from a fitted one
        it starts at the frozen-encoder baseline (LP-FT, Kumar et al., 2022). After it
        (``refit_intent_head``): a regularised head on the tuned features, less sure of
        itself away from the training examples than the head trained to near-zero loss.
        ``embeddings``: the current encoder's embeddings of ``texts``, if already computed."""
        if len(self.intents) < 2:
            return  # one intent: the softmax is 1 whatever the head says
        features = self.sentence_embeddings(texts, correct_typos=False) if embeddings is None else embeddings
        probe = _logistic_regression(features, [self.intents.index(i) for i in intents], inverse_regularisation)
        self.intent_head.load_state_dict(probe.state_dict())

    def fit_frozen_probe(self, texts: Sequence[str], intents: Sequence[str], inverse_regularisation: float = 10.0) -> None:
        """Fit the frozen-encoder baseline that ``predict`` mixes in: a logistic regression
        on the untuned base encoder's unit sentence embeddings (what sentence-transformers
        gives for all-MiniLM-L6-v2). Fine-tuning moves the encoder towards the training
        examples' wording; the untouched one still places paraphrases where pre-training
        put them, so the two classifiers make different mistakes."""
        if len(self.intents) < 2:
            return
        features = self.frozen_embeddings(texts)
        self.frozen_probe = _logistic_regression(features, [self.intents.index(i) for i in intents], inverse_regularisation)

    @torch.inference_mode()
    def frozen_embeddings(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Unit mean-pooled embeddings from the untuned base encoder, on CPU.

        The base encoder is the one already in memory for ``load_base_encoder``: no
        second copy of the weights, one more forward pass per message."""
        encoder = _pristine_encoder(self.config.base_model)
        return nn.functional.normalize(self._pooled(encoder, texts, batch_size), dim=-1).cpu()

    @torch.inference_mode()
    def _mean_embeddings(
        self, texts: Sequence[str], intents: Sequence[str], embeddings: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """Per intent, the normalised mean of its examples' unit embeddings."""
        if embeddings is None:
            embeddings = self.sentence_embeddings(texts, correct_typos=False)
        embeddings = nn.functional.normalize(embeddings, dim=-1).cpu()
        labels = torch.tensor([self.intents.index(intent) for intent in intents])
        sums = torch.zeros(len(self.intents), embeddings.shape[1]).index_add_(0, labels, embeddings)
        return nn.functional.normalize(sums, dim=-1)

    def save_pretrained(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(directory / ADAPTER_DIR)
        heads = {f"intent.{k}": v for k, v in self.intent_head.state_dict().items()}
        heads.update({f"emotion.{k}": v for k, v in self.emotion_head.state_dict().items()})
        if self.intent_prototypes is not None:
            heads["intent.prototypes"] = self.intent_prototypes
        if self.frozen_probe is not None:
            heads.update({f"frozen.{k}": v for k, v in self.frozen_probe.state_dict().items()})
        save_file({k: v.contiguous() for k, v in heads.items()}, directory / HEADS_FILE)
        if self.typo_corrector is not None:
            self.typo_corrector.save(directory)
        meta = {"intents": self.intents, "emotions": self.emotions, "config": self.config.to_dict()}
        (directory / META_FILE).write_text(json.dumps(meta, indent=2))

    @classmethod
    def from_pretrained(
        cls, directory: Path, config: Optional[ClassifierConfig] = None, trainable: bool = False
    ) -> "IntentEmotionModel":
        """Load adapters and heads saved by ``save_pretrained`` onto the base encoder.

        ``trainable=False`` (serving) merges the adapters into the encoder's weights.
        """
        directory = Path(directory)
        meta = json.loads((directory / META_FILE).read_text())
        # Models saved before ``intent_head`` existed have a linear head.
        config = config or ClassifierConfig.from_dict({"intent_head": LINEAR, **meta["config"]})
        encoder = PeftModel.from_pretrained(
            load_base_encoder(config.base_model), directory / ADAPTER_DIR, is_trainable=trainable
        )
        if not trainable:
            # For serving, fold the adapters into the weights: the same function without
            # the extra low-rank matmuls in every adapted layer.
            encoder = encoder.merge_and_unload()
        model = cls(encoder, meta["intents"], meta["emotions"], config)
        heads = load_file(directory / HEADS_FILE)
        model.emotion_head.load_state_dict(_prefixed(heads, "emotion."))
        if len(model.intents) == heads["intent.weight"].shape[0]:
            model.intent_prototypes = heads.pop("intent.prototypes", None)
            model.intent_head.load_state_dict(_prefixed(heads, "intent."))
            if "frozen.weight" in heads:
                model.frozen_probe = nn.Linear(*heads["frozen.weight"].shape[::-1])
                model.frozen_probe.load_state_dict(_prefixed(heads, "frozen."))
        if config.typo_correction:
            model.typo_corrector = TypoCorrector.load(directory)
        if model.frozen_probe is not None and not trainable:
            model.paired_encoder = pair_encoders(_pristine_encoder(config.base_model), model.encoder)
        return model

    def with_intents(self, intents: Sequence[str]) -> "IntentEmotionModel":
        """The same encoder and emotion head with a new, untrained intent head."""
        model = IntentEmotionModel(self.encoder, intents, self.emotions, self.config)
        model.emotion_head.load_state_dict(self.emotion_head.state_dict())
        return model

    @torch.inference_mode()
    def predict(self, texts: List[str], batch_size: int = 64) -> Tuple[torch.Tensor, torch.Tensor]:
        """Intent confidences and emotion probabilities (sigmoid) per text, on CPU.

        Intent confidences are the softmax, or with ``intent_confidence: prototype`` the
        softmax times the message's cosine similarity to the nearest intent prototype:
        the softmax only says which intent fits best, the similarity says whether any fits
        (nearest-neighbour out-of-distribution scoring, Sun et al., 2022). With a frozen
        probe, ``frozen_probe_weight`` of every confidence is its probability instead. With
        a typo corrector the texts are corrected first (``bot.nlu.typos``).
        """
        texts = self._corrected(texts)
        pooled, frozen = self._tuned_and_frozen_embeddings(texts, batch_size)
        probabilities = self.intent_head(pooled).softmax(-1)
        if self.config.intent_confidence == PROTOTYPE and self.intent_prototypes is not None:
            probabilities = probabilities * self.prototype_similarity(pooled).unsqueeze(-1)
        probabilities = probabilities.cpu()
        if frozen is not None:
            weight = self.config.frozen_probe_weight
            probabilities = (1 - weight) * probabilities + weight * self.frozen_probe(frozen).softmax(-1)
        return probabilities, self.emotion_head(pooled).sigmoid().cpu()

    def _tuned_and_frozen_embeddings(
        self, texts: Sequence[str], batch_size: int
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The pooled embeddings both heads read and, with a frozen probe, the untuned base
        encoder's unit ones on CPU (else None); in one batched pass where the encoders are
        paired (serving), in two otherwise."""
        self._evaluating()
        if self.frozen_probe is None:
            return self._pooled(self.encoder, texts, batch_size), None
        if self.paired_encoder is None:
            return self._pooled(self.encoder, texts, batch_size), self.frozen_embeddings(texts, batch_size)
        frozen, tuned = self._pooled(self.paired_encoder, texts, batch_size)
        return tuned, nn.functional.normalize(frozen, dim=-1).cpu()

    @torch.inference_mode()
    def sentence_embeddings(self, texts: Sequence[str], correct_typos: bool = True, batch_size: int = 64) -> torch.Tensor:
        """The pooled embedding both heads read, one row per text, on the model's device.

        With a typo corrector the texts are corrected first, unless ``correct_typos`` is
        False (the training examples, which the corrector learned its words from).
        """
        self._evaluating()
        return self._pooled(self.encoder, self._corrected(texts) if correct_typos else texts, batch_size)

    def _evaluating(self) -> None:
        """Dropout off. ``eval()`` walks every submodule, about 1 ms per message on 2 cores,
        so only when the model is still in training mode."""
        if self.training:
            self.eval()

    def _corrected(self, texts: Sequence[str]) -> Sequence[str]:
        """The texts after typo correction, or as they are without a corrector."""
        if self.typo_corrector is None:
            return texts
        return [self.typo_corrector.correct(text) for text in texts]

    def _pooled(self, encoder: nn.Module, texts: Sequence[str], batch_size: int) -> torch.Tensor:
        """Mean-pooled embeddings of ``texts`` from ``encoder``, in batches: one row per text from
        the adapted encoder or the base; from the paired one (2, texts, hidden), the base's first."""
        rows = []
        for start in range(0, len(texts), batch_size):
            batch = self.tokenize(texts[start : start + batch_size]).to(encoder.device)
            ids, mask = batch["input_ids"], batch["attention_mask"]
            if encoder is self.paired_encoder:
                rows.append(torch.stack([mean_pool(h, mask) for h in paired_hidden_states(encoder, ids, mask)]))
            else:
                rows.append(_encode(encoder, ids, mask))
        return torch.cat(rows, dim=-2)

    def prototype_similarity(self, pooled: torch.Tensor) -> torch.Tensor:
        """Per embedding, its cosine similarity to the nearest intent prototype, in [0, 1]."""
        similarity = nn.functional.normalize(pooled, dim=-1) @ self.intent_prototypes.to(pooled.device).T
        return similarity.max(-1).values.clamp(0.0, 1.0)

    def tokenize(self, texts: Sequence[str]) -> Dict[str, torch.Tensor]:
        """Padded, truncated token ids and attention mask, on the model's device."""
        return load_tokenizer(self.config.base_model)(
            list(texts), padding=True, truncation=True, max_length=self.config.max_length, return_tensors="pt",
        ).to(next(self.parameters()).device)


def _logistic_regression(features: torch.Tensor, labels: Sequence[int], inverse_regularisation: float) -> nn.Linear:
    """A linear layer whose softmax gives scikit-learn's multinomial logistic regression's
    probabilities (at least two classes)."""
    fitted = LogisticRegression(C=inverse_regularisation, max_iter=2000).fit(features.cpu().numpy(), labels)
    weight, bias = torch.from_numpy(fitted.coef_).float(), torch.from_numpy(fitted.intercept_).float()
    if len(fitted.classes_) == 2:  # one logit for class 1; the same softmax from two halves
        weight, bias = torch.cat([-weight, weight]) / 2, torch.cat([-bias, bias]) / 2
    layer = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(bias)
    return layer


def _prefixed(tensors: Dict[str, torch.Tensor], prefix: str) -> Dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
