"""Metrics for the NLU benchmark: intents with out-of-scope detection, and emotions."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from sklearn.metrics import f1_score

OOS = "out_of_scope"
Predictions = List[Tuple[str, float]]  # (top intent, its confidence) per message


def with_threshold(predictions: Predictions, threshold: float) -> List[str]:
    """Below ``threshold`` confidence the message counts as out of scope."""
    return [intent if confidence >= threshold else OOS for intent, confidence in predictions]


def calibrate_threshold(gold: Sequence[str], predictions: Predictions, candidates: Optional[np.ndarray] = None) -> float:
    """The threshold that maximises macro-F1 over every label (out_of_scope included) on ``gold``.

    Calibrated on the validation split for the metric the benchmark reports. (An earlier
    rule, the mean of in-scope accuracy and OOS recall, gave CLINC's 100 validation OOS
    messages the weight of its 3,000 in-scope ones and so bought OOS recall with a large
    share of correct answers.)
    """
    if candidates is None:  # confidences are probabilities: a 0.005 grid
        candidates = np.linspace(0.0, 1.0, 201)
    scores = [intent_metrics(gold, with_threshold(predictions, t))["macro_f1"] for t in candidates]
    return float(candidates[int(np.argmax(scores))])


def operating_point(gold: Dict[str, List[str]], predictions: Dict[str, Predictions]) -> Dict[str, float]:
    """Test-split metrics at the threshold calibrated on the validation split, and raw
    (``*_no_threshold``); ``gold`` and ``predictions`` are keyed by split name."""
    threshold = calibrate_threshold(gold["val"], predictions["val"])
    scored = intent_metrics(gold["test"], with_threshold(predictions["test"], threshold))
    raw = intent_metrics(gold["test"], [intent for intent, _ in predictions["test"]])
    scored.update({f"{k}_no_threshold": v for k, v in raw.items()})
    scored["threshold"] = threshold
    return scored


def intent_metrics(gold: Sequence[str], predicted: Sequence[str]) -> Dict[str, float]:
    """In-scope accuracy, macro-F1 over every gold label (out_of_scope included), OOS recall."""
    gold_a, pred_a = np.array(gold), np.array(predicted)
    in_scope = gold_a != OOS
    labels = sorted(set(gold))
    return {
        "accuracy": float((pred_a[in_scope] == gold_a[in_scope]).mean()),
        "macro_f1": float(f1_score(gold_a, pred_a, labels=labels, average="macro", zero_division=0)),
        "oos_recall": float((pred_a[~in_scope] == OOS).mean()) if (~in_scope).any() else float("nan"),
    }


def per_label_f1(gold: Sequence[str], predicted: Sequence[str]) -> Dict[str, float]:
    labels = sorted(set(gold))
    scores = f1_score(gold, predicted, labels=labels, average=None, zero_division=0)
    return dict(zip(labels, map(float, scores)))


def multilabel_predictions(probs: np.ndarray, threshold: float) -> np.ndarray:
    """The most likely emotion plus every other emotion at or above ``threshold``."""
    chosen = probs >= threshold
    chosen[np.arange(len(probs)), probs.argmax(1)] = True
    return chosen.astype(int)


def calibrate_emotion_threshold(gold: np.ndarray, probs: np.ndarray) -> float:
    candidates = np.linspace(0.05, 0.95, 91)
    scores = [f1_score(gold, multilabel_predictions(probs, t), average="macro", zero_division=0) for t in candidates]
    return float(candidates[int(np.argmax(scores))])


def emotion_metrics(gold: np.ndarray, probs: np.ndarray, labels: Sequence[str], threshold: float) -> Dict:
    """Macro and per-class F1, multi-label (GoEmotions' own protocol) and top-1."""
    multi = multilabel_predictions(probs, threshold)
    top1 = np.zeros_like(gold)
    top1[np.arange(len(probs)), probs.argmax(1)] = 1
    per_class = f1_score(gold, multi, average=None, zero_division=0)
    return {
        "macro_f1": float(f1_score(gold, multi, average="macro", zero_division=0)),
        "per_class_f1": {label: float(s) for label, s in zip(labels, per_class)},
        "macro_f1_top1": float(f1_score(gold, top1, average="macro", zero_division=0)),
        "threshold": threshold,
    }
