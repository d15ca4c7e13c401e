"""Would a frozen probe fitted on typo'd copies too keep the noisy drop under 3 points?

Loads the bench's trained full-data model (defaults, frozen probe 0.3), computes once the
fine-tuned model's own confidences and the untuned encoder's embeddings for the validation,
test and noisy splits (both on typo-corrected text, as serving does), then refits only the
frozen probe in variants and scores each mixture as the bench does (threshold calibrated on
validation). From the repository root:

    PYTHONPATH=. python benchmarks/runs/nlu-frozen-probe-noise/check.py MODEL_DIR > check.txt

MODEL_DIR: the LoraIntentEmotionClassifier folder unpacked from the bench's model tar.gz.
"""
import random
import sys

import torch

from bot.bench import clinc, metrics
from bot.bench.nlu import evaluation_sets, training_rows
from bot.nlu.model import IntentEmotionModel, _logistic_regression
from bot.nlu.noise import corrupt

WEIGHTS = (0.0, 0.2, 0.3, 0.4)


def own_and_frozen(model, texts):
    """Ours alone (probe off) and the frozen embeddings, both after typo correction."""
    probe, model.frozen_probe = model.frozen_probe, None
    own, _ = model.predict(texts)
    model.frozen_probe = probe
    corrected = [model.typo_corrector.correct(t) for t in texts]
    return own, model.frozen_embeddings(corrected)


def score(intents, gold, own, frozen, probe, weight):
    mixed = {n: (1 - weight) * own[n] + weight * probe(frozen[n]).softmax(-1) for n in gold}
    return score_confidences(intents, gold, mixed)


def score_confidences(intents, gold, probabilities):
    """Test metrics, noisy drop (points) and threshold, as the bench scores a side."""
    predictions = {}
    for name, p in probabilities.items():
        confidence, best = p.max(-1)
        predictions[name] = [(intents[i], c) for i, c in zip(best.tolist(), confidence.tolist())]
    threshold = metrics.calibrate_threshold(gold["val"], predictions["val"])
    test = metrics.intent_metrics(gold["test"], metrics.with_threshold(predictions["test"], threshold))
    noisy = metrics.intent_metrics(gold["noisy"], metrics.with_threshold(predictions["noisy"], threshold))
    return test, 100 * (test["accuracy"] - noisy["accuracy"]), threshold


if __name__ == "__main__":
    model = IntentEmotionModel.from_pretrained(sys.argv[1])
    splits = clinc.load_clinc(None)
    evals = evaluation_sets(splits, "clinc150_full")
    gold = {n: [i for _, i in rows] for n, rows in evals.items()}
    own, frozen = {}, {}
    with torch.inference_mode():
        for name, rows in evals.items():
            own[name], frozen[name] = own_and_frozen(model, [t for t, _ in rows])
        train = training_rows(splits, "clinc150_full")
        rng = random.Random(0)
        clean = [t for t, _ in train]
        typod = [model.typo_corrector.correct(corrupt(t, rng)) for t in clean]
        labels = [model.intents.index(i) for _, i in train]
        probes = {
            "clean": _logistic_regression(model.frozen_embeddings(clean), labels, 10.0),
            "clean + typo'd copies": _logistic_regression(
                model.frozen_embeddings(clean + typod), labels + labels, 10.0
            ),
        }
        print("| probe fitted on | weight | test in-scope acc | test macro-F1 | test OOS recall | threshold | noisy drop |")
        print("|---|---|---|---|---|---|---|")
        for name, probe in probes.items():
            for weight in WEIGHTS:
                test, drop, threshold = score(model.intents, gold, own, frozen, probe, weight)
                print(f"| {name} | {weight} | {test['accuracy']:.4f} | {test['macro_f1']:.4f} | "
                      f"{test['oos_recall']:.3f} | {threshold:.3f} | {drop:.2f} |", flush=True)
