"""Where one message's NLU latency goes, on this machine (ours, full-data model).

Needs a bench run's trained model in benchmarks/runs/nlu-full/clinc150_full/ours/models
(not committed). Each part is timed as the bench times a side (``nlu_side.latency``).
"""
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from bot.bench.nlu_scores import load_classifier
from bot.bench.nlu_side import LATENCY_MESSAGES, latency

SIDE = Path("benchmarks/runs/nlu-full/clinc150_full/ours")
[model_tar] = sorted((SIDE / "models").glob("*.tar.gz"))
texts = [t for t, _ in json.loads((SIDE / "eval.json").read_text())["test"][:LATENCY_MESSAGES]]
model = load_classifier(model_tar)
pool = ThreadPoolExecutor(1)


def both_threaded(text: str) -> None:
    frozen = pool.submit(model.frozen_embeddings, [text])
    model.sentence_embeddings([text], correct_typos=False)
    frozen.result()


parts = {
    "predict (whole model)": lambda t: model.predict([t]),
    "typo correction": lambda t: model._corrected([t]),
    "tuned pass (no typo)": lambda t: model.sentence_embeddings([t], correct_typos=False),
    "frozen pass": lambda t: model.frozen_embeddings([t]),
    "tokenize": lambda t: model.tokenize([t]),
    "both passes in two threads": both_threaded,
}
for threads in (2, 1):
    torch.set_num_threads(threads)
    print(f"-- torch threads {threads}")
    for name, part in parts.items():
        ms = latency(part, texts)
        print(f"{name:45s} p50 {ms['p50_ms']:6.1f}  p95 {ms['p95_ms']:6.1f}", flush=True)
