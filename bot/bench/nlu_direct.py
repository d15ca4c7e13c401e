"""A quick NLU experiment: our classifier fitted directly, without Rasa, scored like the bench.

    python -m bot.bench.nlu_direct clinc150_10shot OUT.json --set synthetic_outliers=1.0 [--save DIR]

Same splits, seeds and per-scenario settings as ``python -m bot.bench nlu`` and the same
``bot.nlu.classifier.fit`` the Rasa component calls, but no Rasa model, so no latency,
memory or model-size columns: for trying a setting before a full benchmark run. Writes
every prediction and the metrics (at the validation-calibrated threshold and raw) to OUT.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

from bot.bench import clinc, metrics
from bot.bench.nlu import OUR_SETTINGS, evaluation_sets, parse_setting, training_rows
from bot.nlu.classifier import fit
from bot.nlu.config import ClassifierConfig
from bot.nlu.training import Example


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.bench.nlu_direct", description=__doc__.split("\n")[0])
    parser.add_argument("scenario", choices=list(OUR_SETTINGS))
    parser.add_argument("out")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="override a setting (YAML value)")
    parser.add_argument("--save", type=Path, metavar="DIR", help="also save the fitted classifier (for nlu_scores)")
    args = parser.parse_args(argv)
    settings = {**OUR_SETTINGS[args.scenario], **dict(parse_setting(item, parser) for item in args.set)}
    splits = clinc.load_clinc(None)
    train_rows, evals = training_rows(splits, args.scenario), evaluation_sets(splits, args.scenario)
    start = time.perf_counter()
    model = fit([Example(text, intent) for text, intent in train_rows], ClassifierConfig.from_dict(settings))
    train_s = time.perf_counter() - start
    if args.save:
        model.save_pretrained(args.save)
    predictions = {name: _top_intents(model, [text for text, _ in rows]) for name, rows in evals.items()}
    gold = {name: [intent for _, intent in rows] for name, rows in evals.items()}
    result = {"scenario": args.scenario, "settings": settings, "train_s": train_s, "metrics": scenario_metrics(gold, predictions), "predictions": predictions}
    print(json.dumps(result["metrics"], indent=2))
    with open(args.out, "w") as out:
        json.dump(result, out)
    return 0


def _top_intents(model, texts: List[str]) -> List[List]:
    probabilities, _ = model.predict(texts)
    confidence, best = probabilities.max(-1)
    return [[model.intents[i], c] for i, c in zip(best.tolist(), confidence.tolist())]


def scenario_metrics(gold: Dict[str, List[str]], predictions: Dict[str, List[List]]) -> Dict[str, float]:
    """As the bench scores a side: at the validation-calibrated threshold, raw, and noisy drop."""
    scored = metrics.operating_point(gold, predictions)
    if "noisy" in predictions:
        noisy = metrics.intent_metrics(gold["noisy"], metrics.with_threshold(predictions["noisy"], scored["threshold"]))
        raw_noisy = metrics.intent_metrics(gold["noisy"], [intent for intent, _ in predictions["noisy"]])
        scored["noisy_accuracy_drop"] = scored["accuracy"] - noisy["accuracy"]
        scored["noisy_accuracy_drop_no_threshold"] = scored["accuracy_no_threshold"] - raw_noisy["accuracy"]
    return scored


if __name__ == "__main__":
    sys.exit(main())
