"""The multi-task training loop: intent cross-entropy plus emotion binary cross-entropy
(and, when configured, the synthetic-outlier and contrastive terms).

An example may carry an intent, emotions, or both; a missing label simply adds no
loss for that head, so the assistant's NLU data and an emotion corpus train together.
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from bot.nlu.config import ClassifierConfig
from bot.nlu.model import IntentEmotionModel, supervised_contrastive_loss
from bot.nlu.noise import corrupt

IGNORE = -100
MAX_POS_WEIGHT = 10.0


@dataclass(frozen=True)
class Example:
    """A training message: an intent, a set of emotions, or both may be unknown (None)."""

    text: str
    intent: Optional[str] = None
    emotions: Optional[Sequence[str]] = None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def training_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train(
    model: IntentEmotionModel,
    examples: Sequence[Example],
    epochs: int,
    replay: Sequence[Example] = (),
    replay_per_example: float = 0.0,
    noise_augmentation: float = 0.0,
    desc: str = "Fine-tuning",
) -> List[float]:
    """Fine-tune adapters and heads in place; return the mean loss of each epoch."""
    config = model.config
    rng = random.Random(config.seed)
    device = training_device()
    model.to(device).train()
    # Every epoch is drawn up front (the same draws, in the same order, as one at a time)
    # so the learning-rate schedule knows the exact number of steps.
    plan = [
        _epoch_batches(examples, replay, replay_per_example, noise_augmentation, config, rng) for _ in range(epochs)
    ]
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=config.learning_rate, weight_decay=0.01
    )
    total = sum(len(batches) for batches in plan)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.06 * total), total)
    pos_weight = None
    if config.balance_emotions:
        pos_weight = emotion_pos_weight(list(examples) + list(replay), model.emotions).to(device)
    losses = []
    with tqdm(total=total, desc=desc, unit="step") as bar:
        for batches in plan:
            epoch_losses = []
            for batch in batches:
                loss = _step(model, batch, device, pos_weight)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                epoch_losses.append(loss.item())
                bar.update()
                bar.set_postfix(loss=f"{np.mean(epoch_losses[-20:]):.3f}")
            losses.append(float(np.mean(epoch_losses)))
    model.cpu().eval()
    return losses


def _epoch_batches(
    examples: Sequence[Example],
    replay: Sequence[Example],
    replay_per_example: float,
    noise_augmentation: float,
    config: ClassifierConfig,
    rng: random.Random,
) -> List[List[Example]]:
    """One epoch's batches; with the contrastive loss, same-intent pairs share a batch."""
    epoch = _epoch_examples(examples, replay, replay_per_example, noise_augmentation, rng)
    if not config.contrastive_weight:
        return [epoch[start : start + config.batch_size] for start in range(0, len(epoch), config.batch_size)]
    return _pack(_same_intent_groups(epoch, rng), config.batch_size)


def _epoch_examples(
    examples: Sequence[Example],
    replay: Sequence[Example],
    replay_per_example: float,
    noise_augmentation: float,
    rng: random.Random,
) -> List[Example]:
    """The assistant's examples, a fresh replay sample and fresh noisy copies, shuffled."""
    n_replay = min(len(replay), int(len(examples) * replay_per_example))
    epoch = list(examples) + rng.sample(list(replay), n_replay)
    noisy = rng.sample(list(examples), int(len(examples) * noise_augmentation))
    epoch += [Example(corrupt(e.text, rng), e.intent, e.emotions) for e in noisy]
    rng.shuffle(epoch)
    return epoch


def _same_intent_groups(epoch: Sequence[Example], rng: random.Random) -> List[List[Example]]:
    """The epoch cut into pairs of examples of one intent and emotion (a triple where a
    count is odd), in random order; examples without an intent, and a lone example,
    stand alone. A contrastive loss needs every anchor's partner in its batch."""
    groups = [[e] for e in epoch if e.intent is None]
    by_label: Dict[tuple, List[Example]] = defaultdict(list)
    for example in epoch:
        if example.intent is not None:
            by_label[(example.intent, _stated_emotion(example))].append(example)
    for same in by_label.values():
        pairs = [same[i : i + 2] for i in range(0, len(same) - 1, 2)]
        if len(same) % 2 and pairs:
            pairs[-1].append(same[-1])  # the odd one out makes the last pair a triple
        groups += pairs or [same]
    rng.shuffle(groups)
    return groups


def _pack(groups: Sequence[List[Example]], batch_size: int) -> List[List[Example]]:
    """Consecutive groups into batches of at most ``batch_size``, never splitting a group
    (a group larger than a batch gets a batch of its own)."""
    batches: List[List[Example]] = [[]]
    for group in groups:
        if batches[-1] and len(batches[-1]) + len(group) > batch_size:
            batches.append([])
        batches[-1].extend(group)
    return [batch for batch in batches if batch]


def emotion_pos_weight(examples: Sequence[Example], emotions: Sequence[str]) -> torch.Tensor:
    """Per-emotion weight of positive labels: negatives per positive, capped.

    Emotion labels are heavily skewed (most messages are neutral), and without it
    the head settles on the most common non-neutral emotion for every feeling.
    """
    labelled = [e.emotions for e in examples if e.emotions]
    positives = torch.tensor([sum(emotion in labels for labels in labelled) for emotion in emotions], dtype=torch.float)
    return ((len(labelled) - positives) / positives.clamp(min=1)).clamp(1.0, MAX_POS_WEIGHT)


def _step(
    model: IntentEmotionModel, batch: Sequence[Example], device: torch.device, pos_weight: Optional[torch.Tensor]
) -> torch.Tensor:
    tokens = model.tokenize([e.text for e in batch])
    pooled, intent_logits, emotion_logits = model(tokens["input_ids"], tokens["attention_mask"])
    loss = torch.zeros((), device=device)
    intent_targets = torch.tensor(
        [model.intents.index(e.intent) if e.intent is not None else IGNORE for e in batch], device=device
    )
    known = intent_targets != IGNORE
    if known.any():
        loss = loss + model.intent_loss(intent_logits[known], intent_targets[known])
        if model.config.synthetic_outliers:
            loss = loss + model.synthetic_outlier_loss(pooled[known], intent_targets[known])
        if model.config.contrastive_weight:
            emotions = torch.tensor([_single_emotion(e, model.emotions) for e in batch], device=device)
            contrastive = supervised_contrastive_loss(
                pooled[known], intent_targets[known], model.config.contrastive_temperature, emotions[known]
            )
            loss = loss + model.config.contrastive_weight * contrastive
    labelled = [i for i, e in enumerate(batch) if e.emotions]
    if labelled:
        targets = torch.zeros(len(labelled), len(model.emotions), device=device)
        for row, i in enumerate(labelled):
            for emotion in batch[i].emotions:
                targets[row, model.emotions.index(emotion)] = 1.0
        emotion_loss = nn.functional.binary_cross_entropy_with_logits(
            emotion_logits[labelled], targets, pos_weight=pos_weight
        )
        loss = loss + model.config.emotion_loss_weight * emotion_loss
    return loss


def _stated_emotion(example: Example) -> Optional[str]:
    """The one emotion an example states; None if it states none, or several. Pairing and
    the contrastive loss's partner mask both go by it."""
    if example.emotions is None or len(example.emotions) != 1:
        return None
    return example.emotions[0]


def _single_emotion(example: Example, emotions: Sequence[str]) -> int:
    """The index of ``_stated_emotion``, or -1 where there is none."""
    emotion = _stated_emotion(example)
    return -1 if emotion is None else emotions.index(emotion)
