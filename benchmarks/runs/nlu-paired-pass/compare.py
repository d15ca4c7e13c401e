"""The frozen probe's encoder pass and the fine-tuned one as one batched pass, against two passes.

    PYTHONPATH=. python benchmarks/runs/nlu-paired-pass/compare.py SIDE_DIR

SIDE_DIR is a bench side folder (``models/`` with the trained Rasa model, ``eval.json``), e.g.
``benchmarks/runs/nlu-full/clinc150_10shot/ours`` after a run. Loads our classifier from the
Rasa model as serving does (paired), predicts every validation and test message with the
pairing and without it (``paired_encoder = None``: the two passes ``predict`` made before),
and times ``predict`` on the bench's 300 latency messages both ways, alternating, three rounds.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from bot.bench.nlu_scores import load_classifier
from bot.bench.nlu_side import LATENCY_MESSAGES, latency
from bot.nlu.paired_encoder import PairedLinear

ROUNDS = 3


def main(side: Path) -> None:
    [rasa_model] = sorted((side / "models").glob("*.tar.gz"))
    model = load_classifier(rasa_model)
    paired = model.paired_encoder
    stacked = sum(p.numel() * p.element_size() for m in paired.modules() if isinstance(m, PairedLinear) for p in m.parameters())
    print(f"paired encoder: {stacked / 2**20:.0f} MB of stacked linear weights (everything else shared)")
    evals = json.loads((side / "eval.json").read_text())
    texts = [text for rows in evals.values() for text, _ in rows]
    one_pass = model.predict(texts)
    model.paired_encoder = None
    two_passes = model.predict(texts)
    same = (one_pass[0].argmax(-1) == two_passes[0].argmax(-1)).sum().item()
    print(f"{len(texts)} messages: same top intent {same}; largest difference, intents "
          f"{(one_pass[0] - two_passes[0]).abs().max():.1e}, emotions {(one_pass[1] - two_passes[1]).abs().max():.1e}")
    timed = [text for text, _ in evals["test"][:LATENCY_MESSAGES]]
    print(f"predict, one message at a time, {torch.get_num_threads()} threads (p50 / p95 ms):")
    for round_ in range(1, ROUNDS + 1):
        for name, encoder in (("two passes", None), ("one paired pass", paired)):
            model.paired_encoder = encoder
            times = latency(lambda text: model.predict([text]), timed)
            print(f"  round {round_}, {name}: {times['p50_ms']:.1f} / {times['p95_ms']:.1f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
