"""Does the noisy-channel typo corrector keep the noisy drop under 3 points?

Two checks of the previous corrector (``previous_typos.py``, nearest training word) against
the current one (``bot.nlu.typos``), and the current one without word bigrams:

1. words: on the validation split corrupted with seed 7 (the bench's noisy test split uses
   seed 1234), the share of misspelt words restored to the word typed in the clean text,
   the share of correctly typed words changed, and the share of messages fully restored;
2. the model: the bench's trained full-data model (defaults) with each corrector swapped in,
   scored as the bench scores a side (threshold calibrated on the clean validation split):
   the drop on the corrupted validation split (where the corrector was developed) and on
   the bench's own test / noisy test splits.

From the repository root:

    PYTHONPATH=. python benchmarks/runs/nlu-typo-channel/check.py MODEL_DIR > check.txt

MODEL_DIR: the LoraIntentEmotionClassifier folder unpacked from the bench's model tar.gz.
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
import previous_typos  # noqa: E402

from bot.bench import clinc, metrics  # noqa: E402
from bot.bench.nlu import evaluation_sets  # noqa: E402
from bot.nlu.model import IntentEmotionModel  # noqa: E402
from bot.nlu.typos import WORD, TypoCorrector  # noqa: E402

CORRECTORS = {
    "previous (nearest training word)": previous_typos.TypoCorrector.from_texts,
    "noisy channel, no word bigrams": lambda texts: TypoCorrector(TypoCorrector.from_texts(texts).vocabulary),
    "noisy channel (current default)": TypoCorrector.from_texts,
}


def word_scores(correct, clean_rows, noisy_rows):
    """Restored typos, changed clean words, fully restored messages (same word count only)."""
    typos = restored = clean = changed = whole = messages = 0
    for (text, _), (noisy, _) in zip(clean_rows, noisy_rows):
        words = [WORD.findall(s.replace("'", "")) for s in (text, noisy, correct(noisy))]
        if len({len(w) for w in words}) != 1:
            continue
        messages += 1
        whole += all(c.lower() == k.lower() for c, k in zip(words[0], words[2]))
        for c, n, k in zip(*([w.lower() for w in ws] for ws in words)):
            if c != n:
                typos, restored = typos + 1, restored + (k == c)
            else:
                clean, changed = clean + 1, changed + (k != c)
    return restored / typos, changed / clean, whole / messages


def model_scores(model, evals):
    predictions = {}
    with torch.inference_mode():
        for name, rows in evals.items():
            probabilities, _ = model.predict([text for text, _ in rows])
            confidence, best = probabilities.max(-1)
            predictions[name] = [(model.intents[i], c) for i, c in zip(best.tolist(), confidence.tolist())]
    gold = {name: [intent for _, intent in rows] for name, rows in evals.items()}
    threshold = metrics.calibrate_threshold(gold["val"], predictions["val"])
    at = {n: metrics.intent_metrics(gold[n], metrics.with_threshold(p, threshold)) for n, p in predictions.items()}
    raw = {n: metrics.intent_metrics(gold[n], [i for i, _ in p]) for n, p in predictions.items()}

    def drop(scores, clean, noisy):
        return 100 * (scores[clean]["accuracy"] - scores[noisy]["accuracy"])

    return at, threshold, (drop(at, "val", "val_noisy"), drop(raw, "val", "val_noisy")), (
        drop(at, "test", "noisy"), drop(raw, "test", "noisy"))


if __name__ == "__main__":
    splits = clinc.load_clinc(None)
    training = [text for text, _ in splits.train]
    evals = evaluation_sets(splits, "clinc150_full")
    evals["val_noisy"] = clinc.noisy(splits.val, seed=7)
    correctors = {name: build(training) for name, build in CORRECTORS.items()}

    print("| corrector | misspelt words restored | correct words changed | messages fully restored |")
    print("|---|---|---|---|")
    for name, corrector in correctors.items():
        restored, changed, whole = word_scores(corrector.correct, splits.val, evals["val_noisy"])
        print(f"| {name} | {restored:.3f} | {changed:.4f} | {whole:.3f} |", flush=True)

    model = IntentEmotionModel.from_pretrained(sys.argv[1])
    print("\n| corrector | threshold | validation drop (threshold / raw) | test in-scope acc | test macro-F1 "
          "| test OOS recall | noisy test drop (threshold / raw) |")
    print("|---|---|---|---|---|---|---|")
    for name, corrector in correctors.items():
        model.typo_corrector = corrector
        at, threshold, dev, test = model_scores(model, evals)
        print(f"| {name} | {threshold:.3f} | {dev[0]:.2f} / {dev[1]:.2f} | {at['test']['accuracy']:.4f} | "
              f"{at['test']['macro_f1']:.4f} | {at['test']['oos_recall']:.3f} | {test[0]:.2f} / {test[1]:.2f} |",
              flush=True)
