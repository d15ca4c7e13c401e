"""NLU benchmark: our LoRA pipeline vs Rasa's default pipeline vs a frozen-encoder baseline.

    python -m bot.bench nlu              # the full run (about three hours on 2 cores)
    python -m bot.bench nlu --subset 10  # 10 intents + out_of_scope, a few minutes

Every side trains and predicts in its own process (``bot.bench.nlu_side``), on the same
CLINC150 splits: full data, 10 examples per intent, and the test split with typos.
Out-of-scope is the intent ``out_of_scope`` everywhere; each side's confidence threshold
is calibrated on the validation split (for macro-F1). Emotion is measured on GoEmotions (Ekman).
Writes a markdown table and PNG plots to the run folder and, for a full run,
``benchmarks/results/nlu.json``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import yaml
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from ruamel.yaml import YAML

from bot.bench import clinc, metrics, nlu_plots, nlu_side
from bot.nlu.config import ClassifierConfig
from bot.paths import PROJECT_ROOT

RESULTS_JSON = PROJECT_ROOT / "benchmarks" / "results" / "nlu.json"
OUR_COMPONENT = "models_custom.lora_intent_emotion_classifier.LoraIntentEmotionClassifier"
# Settings per training-set size; the emotion head is measured separately below.
OUR_SETTINGS = {
    "clinc150_full": {"epochs": 3, "learning_rate": 1e-3, "emotion_corpus": None},
    "clinc150_10shot": {"epochs": 20, "learning_rate": 1e-3, "emotion_corpus": None},
}
EMOTION_SETTINGS = {"emotion_corpus_max_examples": 43_410, "emotion_corpus_epochs": 1, "learning_rate": 1e-3}
SIDES = ("ours", "default", "frozen")
SCENARIOS = tuple(OUR_SETTINGS)


def main(argv: Optional[List[str]] = None) -> int:
    args = _parse_args(argv)
    run_dir = Path(args.out or PROJECT_ROOT / "benchmarks" / "runs" / f"nlu-{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir.mkdir(parents=True, exist_ok=True)
    splits = clinc.load_clinc(args.subset)
    results: Dict = {}
    details: Dict = {}
    for scenario in args.scenarios:
        train_rows, evals = training_rows(splits, scenario), evaluation_sets(splits, scenario)
        for side in args.sides:
            print(f"== {scenario}: {side} ({len(train_rows)} training examples)", flush=True)
            workdir = run_dir / scenario / side
            raw = _run_side(side, scenario, train_rows, evals, workdir, args)
            results.setdefault(scenario, {})[side], details[(scenario, side)] = _score(raw, evals)
    if "clinc150_full" in args.scenarios:
        results["clinc150_noisy"] = _noisy_scores(details, args.sides)
    if not args.skip_emotion:
        results["emotion"] = {"ours": _emotion_once(run_dir, args.subset, args.resume)}
    _report(results, details, run_dir)
    full_run = args.subset is None and set(args.sides) == set(SIDES) and set(args.scenarios) == set(SCENARIOS)
    if full_run and not args.set:  # nlu.json describes the defaults
        RESULTS_JSON.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {RESULTS_JSON}")
    return 0


def training_rows(splits: clinc.Splits, scenario: str) -> clinc.Rows:
    """A scenario's training set: all of CLINC150's, or 10 per intent (seed 0)."""
    return splits.train if scenario == "clinc150_full" else clinc.few_shot(splits.train, 10, seed=0)


def evaluation_sets(splits: clinc.Splits, scenario: str) -> Dict[str, clinc.Rows]:
    """Validation (for the threshold) and test; on full data also the test split with typos."""
    evals = {"val": splits.val, "test": splits.test}
    if scenario == "clinc150_full":
        evals["noisy"] = clinc.noisy(splits.test)
    return evals


def _parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.bench nlu", description=__doc__.split("\n")[0])
    parser.add_argument("--subset", type=int, help="keep only N in-scope intents (quick run)")
    parser.add_argument("--sides", nargs="+", default=list(SIDES), choices=SIDES)
    parser.add_argument("--skip-emotion", action="store_true", help="skip the GoEmotions part")
    parser.add_argument("--out", help="run folder (default benchmarks/runs/nlu-TIMESTAMP)")
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS)
    parser.add_argument(
        "--resume", action="store_true", help="reuse sides already finished in --out (a long run in parts)"
    )
    parser.add_argument(
        "--remeasure-latency", action="store_true",
        help="with --resume: time every finished side again now (e.g. once the machine is quiet)",
    )
    parser.add_argument(
        "--set", nargs="+", default=[], metavar="KEY=VALUE",
        help="override a setting of our component (YAML value), e.g. intent_confidence=prototype; "
        "base_model also sets the frozen baseline's encoder",
    )
    args = parser.parse_args(argv)
    args.set = dict(parse_setting(item, parser) for item in args.set)
    return args


def parse_setting(item: str, parser: argparse.ArgumentParser) -> tuple:
    """``KEY=VALUE`` from ``--set`` as a (key, YAML value) pair, read as YAML 1.2 like Rasa
    reads config.yml (so ``5e-4`` is a number, as it would be there)."""
    key, sep, value = item.partition("=")
    if not sep or not key:
        parser.error(f"--set expects KEY=VALUE, got '{item}'")
    return key, YAML(typ="safe").load(value)


def _run_side(side: str, scenario: str, train_rows, evals, workdir: Path, args: argparse.Namespace) -> Dict:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "eval.json").write_text(json.dumps(evals))
    if side == "frozen":
        (workdir / "train.json").write_text(json.dumps(train_rows))
        (workdir / nlu_side.FROZEN_SETTINGS_FILE).write_text(json.dumps(_frozen_settings(scenario, args.set)))
    else:
        messages = [Message.build(text, intent) for text, intent in train_rows]
        (workdir / "train.yml").write_text(TrainingData(messages).nlu_as_yaml())
        (workdir / "config.yml").write_text(yaml.safe_dump(_rasa_config(side, scenario, args.set), sort_keys=False))
    kind = "frozen" if side == "frozen" else "rasa"
    command = [sys.executable, "-m", "bot.bench.nlu_side", kind, str(workdir)]
    if args.resume and (workdir / "result.json").exists():
        print(f"   reusing {workdir / 'result.json'}", flush=True)
        if args.remeasure_latency:
            subprocess.run(command + ["--latency-only"], check=True)
        return json.loads((workdir / "result.json").read_text())
    subprocess.run(command, check=True)
    return json.loads((workdir / "result.json").read_text())


def _frozen_settings(scenario: str, overrides: Dict) -> Dict:
    """The frozen baseline embeds with the encoder ours fine-tunes, also when ``--set`` names
    another: the baseline is meant to be the same encoder, not fine-tuned."""
    return {"base_model": ClassifierConfig.from_dict({**OUR_SETTINGS[scenario], **overrides}).base_model}


def _rasa_config(side: str, scenario: str, overrides: Dict) -> Dict:
    """The Rasa config of a side; ``overrides`` (from ``--set``) apply to ours only (the frozen
    side follows ours's ``base_model``: ``_frozen_settings``)."""
    if side == "default":
        import rasa.engine.recipes

        default = Path(rasa.engine.recipes.__file__).parent / "config_files" / "default_config.yml"
        config = yaml.safe_load(default.read_text())
        config.pop("policies", None)
        return config
    pipeline = [{"name": OUR_COMPONENT, **OUR_SETTINGS[scenario], **overrides}]
    return {"recipe": "default.v1", "assistant_id": "nlu-benchmark", "language": "en", "pipeline": pipeline}


def _score(raw: Dict, evals: Dict) -> tuple:
    """Metrics at the val-calibrated threshold (the operating point) and without one."""
    predictions = {name: [tuple(p) for p in preds] for name, preds in raw["predictions"].items()}
    gold = {name: [intent for _, intent in rows] for name, rows in evals.items()}
    scored = metrics.operating_point(gold, predictions)
    threshold = scored["threshold"]
    test_pred = metrics.with_threshold(predictions["test"], threshold)
    scored.update({k: raw[k] for k in ("train_s", "p50_ms", "p95_ms", "peak_rss_mb", "model_mb", "load_avg")})
    if "machine" in raw:  # sides run before 2026-12-01 did not record it
        scored["machine"] = raw["machine"]
    detail = {"gold": gold, "predictions": predictions, "threshold": threshold, "test_pred": test_pred}
    return scored, detail


def _noisy_scores(details: Dict, sides) -> Dict:
    scores = {}
    for side in sides:
        detail = details[("clinc150_full", side)]
        noisy_pred = metrics.with_threshold(detail["predictions"]["noisy"], detail["threshold"])
        clean = metrics.intent_metrics(detail["gold"]["test"], detail["test_pred"])
        noisy = metrics.intent_metrics(detail["gold"]["noisy"], noisy_pred)
        raw_clean = metrics.intent_metrics(detail["gold"]["test"], [i for i, _ in detail["predictions"]["test"]])
        raw_noisy = metrics.intent_metrics(detail["gold"]["noisy"], [i for i, _ in detail["predictions"]["noisy"]])
        scores[side] = {
            **noisy,
            "accuracy_clean": clean["accuracy"],
            "accuracy_drop": clean["accuracy"] - noisy["accuracy"],
            "accuracy_no_threshold": raw_noisy["accuracy"],
            "accuracy_drop_no_threshold": raw_clean["accuracy"] - raw_noisy["accuracy"],
        }
    return scores


def _emotion_once(run_dir: Path, subset: Optional[int], resume: bool) -> Dict:
    """``_emotion``, or with ``resume`` its result from an earlier part of this run."""
    saved = run_dir / "emotion" / "result.json"
    if resume and saved.exists():
        print(f"   reusing {saved}", flush=True)
        return json.loads(saved.read_text())
    result = _emotion(run_dir, subset)
    saved.parent.mkdir(exist_ok=True)
    saved.write_text(json.dumps(result))
    return result


def _emotion(run_dir: Path, subset: Optional[int]) -> Dict:
    """Our emotion head after (cached) pre-training on GoEmotions train, on its test split."""
    from bot.nlu import EMOTIONS
    from bot.nlu.config import ClassifierConfig
    from bot.nlu.emotion_corpus import load_emotion_corpus, pretrained_emotion_model

    settings = dict(EMOTION_SETTINGS)
    if subset:
        settings["emotion_corpus_max_examples"] = 2000
    model = pretrained_emotion_model(ClassifierConfig(**settings))
    dev, test = (load_emotion_corpus("goemotions-ekman", split) for split in ("dev", "test"))
    if subset:
        dev, test = dev[:500], test[:1000]

    def probs_and_gold(examples):
        probs = model.predict([e.text for e in examples])[1].numpy()
        gold = np.array([[int(label in e.emotions) for label in EMOTIONS] for e in examples])
        return probs, gold

    dev_probs, dev_gold = probs_and_gold(dev)
    test_probs, test_gold = probs_and_gold(test)
    threshold = metrics.calibrate_emotion_threshold(dev_gold, dev_probs)
    result = metrics.emotion_metrics(test_gold, test_probs, EMOTIONS, threshold)
    nlu_plots.emotion_confusion(test_gold, test_probs, EMOTIONS, run_dir / "emotion_confusion.png")
    return result


def _report(results: Dict, details: Dict, run_dir: Path) -> None:
    table = nlu_plots.markdown_table(results)
    print(table)
    (run_dir / "results.md").write_text(table + "\n")
    (run_dir / "results.json").write_text(json.dumps(results, indent=2))
    nlu_plots.per_intent_f1(details, run_dir / "per_intent_f1.png")
    nlu_plots.summary(results, run_dir / "summary.png")
    nlu_plots.oos_tradeoff(details, run_dir / "oos_tradeoff.png")
    print(f"tables and plots in {run_dir}")


if __name__ == "__main__":
    sys.exit(main())
