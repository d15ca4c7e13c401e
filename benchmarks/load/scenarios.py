"""The assistant's generator as it serves, and the three load scenarios it is timed in.

* ``idle``: one user, turns one after the other, nothing else running;
* ``background_process``: the same with one CPU-bound process running beside it (the
  issue's setting: half of a 2-core machine taken);
* ``four_users``: four users chatting at once, each a thread calling the same
  generator (so the process's one generation worker serves them all), each turn
  after a think time (reading the reply, typing the next message) drawn uniformly
  from ``THINK_S``; each user starts after a random part of one think time.

A turn's ``full_reply_s`` is the wall-clock time of ``ReplyGenerator.reply`` seen by
its caller: queue wait, prompt, decoding and guards.
"""
from __future__ import annotations

import random
import statistics
import tarfile
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
import yaml

from benchmarks.load.background import cpu_hogs
from bot.bench.generation import served_adapter
from bot.generation.config import GeneratorConfig
from bot.generation.generator import Reply, ReplyGenerator
from bot.generation.model import adapted_for_inference, load_tokenizer
from bot.generation.prompt import DialogueContext
from bot.paths import PROJECT_ROOT

POLICY = "GenerativeResponsePolicy"
META_FILE = "generative_policy.json"  # models_custom.generative_policy.META_FILE (not imported: no Rasa here)
THINK_S = (3.0, 8.0)
SETTLE_S = 3.0  # the load meter averages the last 2 s: let it see a new background process


@dataclass(frozen=True)
class TurnResult:
    scenario: str
    user: int
    full_reply_s: float
    reply: Reply
    others_busy: float  # cores other processes used when the turn started, as the generator saw it


def project_config(**overrides) -> GeneratorConfig:
    """The generator settings of the project's ``config.yml``, plus ``overrides``."""
    policies = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text())["policies"]
    entry = next(p for p in policies if p["name"].endswith(POLICY))
    return GeneratorConfig.from_dict({**entry, **overrides})


def fallback_text(name: str) -> str:
    responses = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())["responses"]
    return responses[name][0]["text"]


def served_generator(rasa_model: Path, config: GeneratorConfig) -> ReplyGenerator:
    """The generator the trained Rasa model serves: its adapter merged, its known names."""
    import json

    with tempfile.TemporaryDirectory(prefix="kai-load-") as tmp:
        adapter = served_adapter(rasa_model, Path(tmp))
        if adapter is None:
            raise SystemExit(f"{rasa_model} has no {POLICY} adapter: run `make train`.")
        model = adapted_for_inference(adapter, config)
        with tarfile.open(rasa_model) as archive:
            meta = next(m for m in archive.getmembers() if POLICY in m.name and m.name.endswith(META_FILE))
            known = json.loads(archive.extractfile(meta).read())["known_personal"]
    return ReplyGenerator(model, load_tokenizer(config.base_model), config,
                          fallback_text(config.fallback_response), known)


def _turn(generator: ReplyGenerator, scenario: str, user: int, context: DialogueContext) -> TurnResult:
    generator.worker.meter.sample()
    others = generator.worker.meter.others_busy()
    start = time.monotonic()
    reply = generator.reply(context)
    return TurnResult(scenario, user, time.monotonic() - start, reply, others)


def run_sequential(generator: ReplyGenerator, contexts: Sequence[DialogueContext], scenario: str,
                   background: int) -> List[TurnResult]:
    with cpu_hogs(background, settle_s=SETTLE_S if background else 0.0):
        return [_turn(generator, scenario, 0, c) for c in contexts]


def run_users(generator: ReplyGenerator, contexts: Sequence[DialogueContext], users: int,
              seed: int) -> List[TurnResult]:
    """``users`` threads, each answering its share of ``contexts`` with think times between."""
    results: List[TurnResult] = []
    lock = threading.Lock()

    def chat(user: int) -> None:
        rng = random.Random(seed * 100 + user)
        time.sleep(rng.uniform(0, THINK_S[1]))
        for index, context in enumerate(contexts[user::users]):
            if index:
                time.sleep(rng.uniform(*THINK_S))
            result = _turn(generator, "four_users", user, context)
            with lock:
                results.append(result)

    threads = [threading.Thread(target=chat, args=(u,)) for u in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def summarise(results: List[TurnResult]) -> Dict:
    """The streaming.json entry of one scenario."""
    seconds = [r.full_reply_s for r in results]
    answered = [r for r in results if r.reply.generated]
    threads = Counter(r.reply.threads for r in results if r.reply.threads)
    return {
        "turns": len(results),
        "answered_share": round(len(answered) / len(results), 3),
        "full_reply_s": {"p50": round(float(np.percentile(seconds, 50)), 3),
                         "p95": round(float(np.percentile(seconds, 95)), 3),
                         "max": round(max(seconds), 3)},
        "fallback_reasons": dict(Counter(r.reply.fallback_reason for r in results if not r.reply.generated)),
        "queue_wait_s_mean": round(statistics.mean(r.reply.waited_s for r in results), 3),
        "new_tokens_mean": round(statistics.mean(r.reply.new_tokens for r in answered), 1) if answered else 0,
        "threads_used": {str(k): v for k, v in sorted(threads.items())},
        "others_busy_cores_mean": round(statistics.mean(r.others_busy for r in results), 2),
    }
