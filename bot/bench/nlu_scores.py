"""Out-of-scope scores compared on one trained model: which confidence separates best.

    python -m bot.bench.nlu_scores clinc150_full benchmarks/runs/nlu-full/clinc150_full/ours/models/M.tar.gz

Takes our component's classifier from a trained Rasa model (or a directory written by
``save_pretrained``), embeds the scenario's training, validation and test messages once
and scores every candidate confidence as the bench scores a side: the threshold that
maximises validation macro-F1, test metrics at it, and on full data the noisy drop. The
intent is always the head's; only the confidence that the threshold reads differs. The
last column is the best test macro-F1 over all thresholds: hindsight, not a result, but it
shows how much is lost to calibrating on validation.
"""
from __future__ import annotations

import argparse
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from sklearn.covariance import LedoitWolf

from bot.bench import clinc, metrics
from bot.bench.metrics import Predictions
from bot.bench.nlu import OUR_SETTINGS, evaluation_sets, training_rows
from bot.nlu.model import META_FILE, IntentEmotionModel

QUANTILES = np.linspace(0.0, 0.5, 201)  # thresholds: up to half the messages out of scope


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.bench.nlu_scores", description=__doc__.split("\n")[0])
    parser.add_argument("scenario", choices=list(OUR_SETTINGS))
    parser.add_argument("model", type=Path, help="a trained Rasa model (.tar.gz) or a saved classifier directory")
    args = parser.parse_args(argv)
    model = load_classifier(args.model)
    splits = clinc.load_clinc(None)
    train, evals = training_rows(splits, args.scenario), evaluation_sets(splits, args.scenario)
    # Typos are corrected as in serving, except in the training data the corrector learned from.
    embeddings = {
        name: model.sentence_embeddings([text for text, _ in rows], correct_typos=name != "train", batch_size=128)
        for name, rows in {"train": train, **evals}.items()
    }
    candidates = _Scores(model, embeddings["train"], [intent for _, intent in train])
    gold = {name: [intent for _, intent in rows] for name, rows in evals.items()}
    print("| confidence | val macro-F1 | in-scope acc | macro-F1 | OOS recall | noisy drop | hindsight macro-F1 |")
    print("|---|---|---|---|---|---|---|")
    scored = {name: candidates(embeddings[name]) for name in evals}
    for score in scored["val"][1]:
        print(_row(score, gold, {name: list(zip(intents, scores[score])) for name, (intents, scores) in scored.items()}))
    return 0


def load_classifier(model: Path) -> IntentEmotionModel:
    """Our classifier from a trained Rasa model (.tar.gz) or a saved classifier directory."""
    with tempfile.TemporaryDirectory() as scratch:
        return IntentEmotionModel.from_pretrained(classifier_dir(model, Path(scratch)))


def classifier_dir(model: Path, scratch: Path) -> Path:
    """The directory holding our classifier: the model itself, or found inside a Rasa model."""
    if model.is_dir():
        return model
    with tarfile.open(model) as archive:
        archive.extractall(scratch, filter="data")
    [meta] = scratch.rglob(META_FILE)
    return meta.parent


class _Scores:
    """Every candidate confidence of a batch of embeddings; higher means more in scope."""

    def __init__(self, model: IntentEmotionModel, train: torch.Tensor, intents: List[str]) -> None:
        self.model = model
        labels = np.array([model.intents.index(intent) for intent in intents])
        in_scope = np.array([intent != metrics.OOS for intent in intents])
        self.train_unit = torch.nn.functional.normalize(train[torch.from_numpy(in_scope)], dim=-1)
        features = train.numpy()
        classes = np.unique(labels[in_scope])
        self.means = np.stack([features[labels == c].mean(0) for c in classes])
        centred = features[in_scope] - self.means[np.searchsorted(classes, labels[in_scope])]
        self.precision = LedoitWolf().fit(centred).precision_

    @torch.inference_mode()
    def __call__(self, embeddings: torch.Tensor) -> Tuple[List[str], Dict[str, np.ndarray]]:
        logits = self.model.intent_head(embeddings)
        softmax, best = logits.softmax(-1).max(-1)
        unit = torch.nn.functional.normalize(embeddings, dim=-1)
        prototype = self.model.prototype_similarity(embeddings)
        scores = {
            "softmax": softmax,
            "prototype (default)": softmax * prototype,
            "prototype cosine": prototype,
            "max logit": logits.max(-1).values,
            "energy": logits.logsumexp(-1),
            "Mahalanobis": torch.from_numpy(-self._mahalanobis(embeddings.numpy())),
            "3 nearest examples": (unit @ self.train_unit.T).topk(3, -1).values.mean(-1),
        }
        return [self.model.intents[i] for i in best.tolist()], {k: v.numpy() for k, v in scores.items()}

    def _mahalanobis(self, features: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance to the nearest in-scope intent (shared covariance)."""
        # (x - m)ᵀP(x - m) expanded, so no (messages × intents × dimensions) array is built.
        projected = features @ self.precision
        distances = (
            (projected * features).sum(1, keepdims=True)
            - 2 * projected @ self.means.T
            + ((self.means @ self.precision) * self.means).sum(1)
        )
        return distances.min(1)


def _row(score: str, gold: Dict[str, List[str]], predicted: Dict[str, Predictions]) -> str:
    def at(split: str, threshold: float) -> Dict[str, float]:
        return metrics.intent_metrics(gold[split], metrics.with_threshold(predicted[split], threshold))

    def quantiles(split: str) -> np.ndarray:
        return np.quantile([confidence for _, confidence in predicted[split]], QUANTILES)

    threshold = metrics.calibrate_threshold(gold["val"], predicted["val"], quantiles("val"))
    test = at("test", threshold)
    drop = f"{100 * (test['accuracy'] - at('noisy', threshold)['accuracy']):.1f}" if "noisy" in gold else ""
    hindsight = max(at("test", t)["macro_f1"] for t in quantiles("test"))
    return (f"| {score} | {at('val', threshold)['macro_f1']:.3f} | {test['accuracy']:.3f} | {test['macro_f1']:.3f} | "
            f"{test['oos_recall']:.3f} | {drop} | {hindsight:.3f} |")

if __name__ == "__main__":
    sys.exit(main())
