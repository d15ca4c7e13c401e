"""Would averaging ours with the frozen baseline help? Scored from saved predictions only.

Each bench side's result.json keeps its top-5 intents with their confidences for every
validation and test message. This mixes two sides' scores per intent, alpha x ours +
(1 - alpha) x frozen (an intent outside a side's top 5 counts 0 there), takes the best
intent and its mixed score as the confidence, and scores it as the bench does (threshold
calibrated on validation). No model is run: it only says whether an output-space ensemble
with the frozen encoder's logistic regression is worth building. From the repository root:

    PYTHONPATH=. python benchmarks/runs/nlu-ensemble-check/ensemble.py result_outliers_contrastive_probe.json

Run 2026-12-04 for ``result.json`` (then the defaults; renamed ``result_no_frozen_probe.json``
when the frozen probe became the default) and ``result_outliers_contrastive_probe.json``
(synthetic outliers, contrastive loss, linear probe); re-run 2026-12-05 with the noisy
column: output in ensemble.txt beside this file.
On full data the last column is the noisy split's accuracy drop (points) at the same threshold.
"""
import json
import sys

from bot.bench import clinc, metrics
from bot.bench.nlu import evaluation_sets

ALPHAS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.0)


def mix(ours, frozen, alpha):
    """(intent, score) per message: the best intent under alpha x ours + (1 - alpha) x frozen."""
    mixed = []
    for ranked_ours, ranked_frozen in zip(ours, frozen):
        scores = {}
        for intent, score in ranked_ours:
            scores[intent] = scores.get(intent, 0.0) + alpha * score
        for intent, score in ranked_frozen:
            scores[intent] = scores.get(intent, 0.0) + (1 - alpha) * score
        best = max(scores, key=scores.get)
        mixed.append((best, scores[best]))
    return mixed


def main(ours_file: str) -> None:
    splits = clinc.load_clinc(None)
    for scenario in ("clinc150_full", "clinc150_10shot"):
        gold = {name: [intent for _, intent in rows] for name, rows in evaluation_sets(splits, scenario).items()}
        ours = json.load(open(f"benchmarks/runs/nlu-full/{scenario}/ours/{ours_file}"))["rankings"]
        frozen = json.load(open(f"benchmarks/runs/nlu-full/{scenario}/frozen/result.json"))["rankings"]
        for alpha in ALPHAS:
            predictions = {name: mix(ours[name], frozen[name], alpha) for name in gold}
            threshold = metrics.calibrate_threshold(gold["val"], predictions["val"])
            val = metrics.intent_metrics(gold["val"], metrics.with_threshold(predictions["val"], threshold))
            test = metrics.intent_metrics(gold["test"], metrics.with_threshold(predictions["test"], threshold))
            drop = ""
            if "noisy" in gold:
                noisy = metrics.intent_metrics(gold["noisy"], metrics.with_threshold(predictions["noisy"], threshold))
                drop = f" {100 * (test['accuracy'] - noisy['accuracy']):.2f} |"
            print(f"| {scenario} | {ours_file} | {alpha} | {val['macro_f1']:.4f} | {test['accuracy']:.4f} | "
                  f"{test['macro_f1']:.4f} | {test['oos_recall']:.3f} | {threshold:.3f} |{drop}")


if __name__ == "__main__":
    main(sys.argv[1])
