"""Train and evaluate one side of the NLU benchmark in its own process.

Run by ``bot.bench.nlu`` as a subprocess so that peak memory belongs to one side only:

    python -m bot.bench.nlu_side rasa   WORKDIR   # WORKDIR/config.yml, train.yml, eval.json
    python -m bot.bench.nlu_side frozen WORKDIR   # WORKDIR/train.json, eval.json[, frozen.json]
    python -m bot.bench.nlu_side rasa WORKDIR --latency-only   # re-time a trained side

Writes WORKDIR/result.json: train_s, model_mb, peak_rss_mb, p50_ms, p95_ms and, per
evaluation set, the top intent and its confidence for every message ("predictions") and
the five most likely intents ("rankings", for analysing out-of-scope rules offline).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import resource
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np
from threadpoolctl import threadpool_limits

LATENCY_MESSAGES = 300
FALLBACK_INTENT = "nlu_fallback"
LOGREG_FILE = "logreg.pkl"
FROZEN_SETTINGS_FILE = "frozen.json"  # {"base_model": ...}: the encoder ours fine-tunes
RANKING_LENGTH = 5
Ranking = List[Tuple[str, float]]  # the most likely intents first, with their confidences
Predictor = Callable[[str], Ranking]


def main(argv: List[str]) -> int:
    kind, workdir = argv[0], Path(argv[1])
    evals: Dict[str, List[List[str]]] = json.loads((workdir / "eval.json").read_text())
    latency_texts = [t for t, _ in evals["test"][:LATENCY_MESSAGES]]
    if "--latency-only" in argv:
        result = json.loads((workdir / "result.json").read_text())
        result.update(latency(LOADERS[kind](workdir), latency_texts))
        result["load_avg"]["latency_remeasured"] = os.getloadavg()[0]
        (workdir / "result.json").write_text(json.dumps(result))
        return 0
    start = time.perf_counter()
    model_path = TRAINERS[kind](workdir)
    # Timings depend on what else the machine runs: keep the 1-minute load with them.
    result = {
        "train_s": time.perf_counter() - start,
        "model_mb": model_path.stat().st_size / 2**20,
        "load_avg": {"after_train": os.getloadavg()[0]},
        "machine": _machine(),
    }
    predict_one = LOADERS[kind](workdir)
    result.update(latency(predict_one, latency_texts))
    rankings = {name: [predict_one(t) for t, _ in rows] for name, rows in evals.items()}
    result["predictions"] = {name: [r[0] for r in ranked] for name, ranked in rankings.items()}
    result["rankings"] = rankings
    result["load_avg"]["after_predict"] = os.getloadavg()[0]
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (workdir / "result.json").write_text(json.dumps(result))
    return 0


def latency(predict_one: Predictor, texts: List[str]) -> Dict[str, float]:
    """One message at a time through the whole pipeline, after a warm-up."""
    for text in texts[:10]:
        predict_one(text)
    times = []
    for text in texts:
        start = time.perf_counter()
        predict_one(text)
        times.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95))}


def _machine() -> Dict[str, str]:
    """Where and when this side ran: a long run in parts may span machines."""
    cpu_lines = [line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")]
    return {
        "cpu": cpu_lines[0].split(":", 1)[1].strip() if cpu_lines else "unknown",
        "cores": str(os.cpu_count()),
        "date": time.strftime("%Y-%m-%d"),
    }


def _train_rasa(workdir: Path) -> Path:
    """Rasa's own training, as `rasa train nlu` does it."""
    from rasa.model_training import train_nlu

    _quiet_rasa()
    return Path(train_nlu(str(workdir / "config.yml"), str(workdir / "train.yml"), str(workdir / "models")))


def _load_rasa(workdir: Path) -> Predictor:
    """Rasa's own parsing of one message (what `rasa test nlu` and /model/parse use)."""
    from rasa.core.agent import Agent

    _quiet_rasa()
    [model] = sorted((workdir / "models").glob("*.tar.gz"))
    agent = Agent.load(str(model))
    loop = asyncio.new_event_loop()

    def predict_one(text: str) -> Ranking:
        parsed = loop.run_until_complete(agent.parse_message(text))
        # FallbackClassifier puts nlu_fallback on top; thresholds are compared separately.
        ranking = [r for r in parsed.get("intent_ranking", []) if r["name"] != FALLBACK_INTENT]
        ranking = ranking or [parsed["intent"]]
        return [(r["name"], float(r["confidence"])) for r in ranking[:RANKING_LENGTH]]

    return predict_one


def _quiet_rasa() -> None:
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    # Rasa logs every parse at debug level otherwise: thousands of lines per side.
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)


def _encoder(workdir: Path):
    """The frozen side's encoder: the one ours fine-tunes in the same run (frozen.json), so that
    ``--set base_model=...`` compares both on the same base model, as the baseline means."""
    from sentence_transformers import SentenceTransformer

    from bot.assets import resolve_model_path

    settings_file = workdir / FROZEN_SETTINGS_FILE
    settings = json.loads(settings_file.read_text()) if settings_file.exists() else {}
    # Folders written before frozen.json existed all used the default encoder.
    return SentenceTransformer(str(resolve_model_path(settings.get("base_model", "all-MiniLM-L6-v2"))), device="cpu")


def _train_frozen(workdir: Path) -> Path:
    """The ten-line baseline: frozen sentence embeddings into LogisticRegression."""
    from sklearn.linear_model import LogisticRegression

    rows = json.loads((workdir / "train.json").read_text())
    features = _encoder(workdir).encode([t for t, _ in rows], batch_size=64, show_progress_bar=True)
    classifier = LogisticRegression(C=10, max_iter=2000).fit(features, [i for _, i in rows])
    (workdir / LOGREG_FILE).write_bytes(pickle.dumps(classifier))
    return workdir / LOGREG_FILE


def _load_frozen(workdir: Path) -> Predictor:
    encoder = _encoder(workdir)
    classifier = pickle.loads((workdir / LOGREG_FILE).read_bytes())

    def predict_one(text: str) -> Ranking:
        embedding = encoder.encode([text], show_progress_bar=False)
        # One tiny matrix product: OpenBLAS threads gain nothing here, and competing with
        # torch's still-spinning OpenMP threads for 2 cores made 1 call in 10 take 60-120 ms.
        with threadpool_limits(limits=1, user_api="blas"):
            probs = classifier.predict_proba(embedding)[0]
        best = np.argsort(-probs)[:RANKING_LENGTH]
        return [(str(classifier.classes_[i]), float(probs[i])) for i in best]

    return predict_one


TRAINERS = {"rasa": _train_rasa, "frozen": _train_frozen}
LOADERS = {"rasa": _load_rasa, "frozen": _load_frozen}

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
