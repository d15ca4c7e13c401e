"""Why the 10-shot model answers slower than the full-data one: the typo corrector's share.

    PYTHONPATH=. python benchmarks/runs/nlu-latency-refresh/typo_cost.py SIDE_DIR...

For each bench side folder (``models/`` with the trained Rasa model, ``eval.json``): loads our
classifier as serving does, counts the latency messages in which the corrector changes a word,
and times ``predict`` on the bench's latency messages with the corrector and without it
(alternating, two rounds).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from bot.bench.nlu_scores import load_classifier
from bot.bench.nlu_side import LATENCY_MESSAGES, latency

ROUNDS = 2


def main(side: Path) -> None:
    [rasa_model] = sorted((side / "models").glob("*.tar.gz"))
    model = load_classifier(rasa_model)
    timed = [text for text, _ in json.loads((side / "eval.json").read_text())["test"][:LATENCY_MESSAGES]]
    corrector = model.typo_corrector
    changed = sum(corrector.correct(text) != text for text in timed)
    print(f"{side}: the corrector changes {changed} of {len(timed)} latency messages")
    for round_ in range(1, ROUNDS + 1):
        for name, typos in (("with typo correction", corrector), ("without", None)):
            model.typo_corrector = typos
            times = latency(lambda text: model.predict([text]), timed)
            print(f"  round {round_}, {name}: p50 / p95 {times['p50_ms']:.1f} / {times['p95_ms']:.1f} ms")


if __name__ == "__main__":
    for folder in sys.argv[1:]:
        main(Path(folder))
