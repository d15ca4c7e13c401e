"""Tabulate ``nlu_direct`` run files side by side, with the mean over seeds.

    python -m bot.bench.nlu_runs benchmarks/runs/nlu-direct/clinc150_10shot*.json

One markdown row per file: the settings it changed from its scenario's, the validation
macro-F1 at the calibrated threshold (the number a choice between settings may honestly
rest on), then test in-scope accuracy, macro-F1 and OOS recall at the threshold / raw,
and the noisy drop where the run has a noisy split. Files whose settings differ only in
``seed`` also get a row with their mean and the spread (max - min) of each column: one
seed moves these numbers by a few tenths of a point, so near misses are judged on means.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from bot.bench import clinc, metrics
from bot.bench.nlu import OUR_SETTINGS, evaluation_sets

COLUMNS = ("val macro-F1", "in-scope acc", "macro-F1", "OOS recall", "noisy drop")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.bench.nlu_runs", description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="JSON files written by bot.bench.nlu_direct")
    args = parser.parse_args(argv)
    # Validation, test and noisy splits are the same in every scenario; only training differs.
    gold = {name: [intent for _, intent in rows] for name, rows in evaluation_sets(clinc.load_clinc(None), "clinc150_full").items()}
    print(markdown_table([load_run(path, gold) for path in args.runs]))
    return 0


def load_run(path: Path, gold: Dict[str, List[str]]) -> Dict:
    """A run's label, seed-free settings and scores (each a (threshold, raw) pair or a number)."""
    run = json.loads(path.read_text())
    predictions = run["predictions"]
    scored = metrics.operating_point(gold, predictions)
    val = metrics.intent_metrics(gold["val"], metrics.with_threshold(predictions["val"], scored["threshold"]))
    scores = {
        "val macro-F1": val["macro_f1"],
        "in-scope acc": (scored["accuracy"], scored["accuracy_no_threshold"]),
        "macro-F1": (scored["macro_f1"], scored["macro_f1_no_threshold"]),
        "OOS recall": (scored["oos_recall"], scored["oos_recall_no_threshold"]),
    }
    if "noisy" in predictions:
        noisy = metrics.intent_metrics(gold["noisy"], metrics.with_threshold(predictions["noisy"], scored["threshold"]))
        raw_noisy = metrics.intent_metrics(gold["noisy"], [intent for intent, _ in predictions["noisy"]])
        scores["noisy drop"] = (
            100 * (scored["accuracy"] - noisy["accuracy"]),
            100 * (scored["accuracy_no_threshold"] - raw_noisy["accuracy"]),
        )
    # Only full-data runs have a noisy split (files from before nlu_direct wrote the scenario).
    scenario = run.get("scenario") or ("clinc150_full" if "noisy" in predictions else "clinc150_10shot")
    base = OUR_SETTINGS[scenario]
    changed = {k: v for k, v in run["settings"].items() if k not in base or base[k] != v}
    return {
        "label": f"{scenario}: {_label(changed)}",
        "group": f"{scenario}: {_label({k: v for k, v in changed.items() if k != 'seed'})}",
        "scores": scores,
    }


def markdown_table(runs: Sequence[Dict]) -> str:
    columns = [c for c in COLUMNS if any(c in run["scores"] for run in runs)]
    lines = ["| run | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [_row(run["label"], run["scores"], columns) for run in runs]
    groups: Dict[str, List[Dict]] = defaultdict(list)
    for run in runs:
        groups[run["group"]].append(run)
    for group, members in groups.items():
        if len(members) > 1:
            means, spreads = _mean_and_spread([m["scores"] for m in members])
            lines.append(_row(f"mean of {len(members)} seeds, {group}", means, columns, spreads))
    return "\n".join(lines)


def _label(settings: Dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(settings.items())) or "defaults"


def _mean_and_spread(scores: Sequence[Dict]) -> Tuple[Dict, Dict]:
    """Per column, the mean over the seeds, and the spread (max - min) of its first value."""
    means, spreads = {}, {}
    for column in scores[0]:
        values = np.array([np.atleast_1d(s[column]) for s in scores])
        means[column], spreads[column] = tuple(values.mean(0)), float(np.ptp(values[:, 0]))
    return means, spreads


def _row(label: str, scores: Dict, columns: Sequence[str], spreads: Optional[Dict] = None) -> str:
    cells = []
    for column in columns:
        digits = 1 if column == "noisy drop" else 3
        cell = " / ".join(f"{v:.{digits}f}" for v in np.atleast_1d(scores.get(column, [])))
        if spreads and column in spreads:
            cell += f" (spread {spreads[column]:.{digits}f})"
        cells.append(cell)
    return f"| {label} | " + " | ".join(cells) + " |"


if __name__ == "__main__":
    sys.exit(main())
