"""`python -m bot.bench generation`: base model vs. LoRA model vs. retrieval baseline.

Held-out data only: chitchat conversations of the corpus' held-out split (see
``bot.generation.corpus.is_held_out``) and the scenarios in
``bot/generation/scenarios.yml``, written for this project and never trained on.

Systems: the base model without adapter; our LoRA model as the assistant serves it (the
adapter inside the trained Rasa model: the cached corpus adapter, adapted to the stories),
or the corpus adapter alone when there is no trained model; and a retrieval baseline.

Metrics per system:
* perplexity of the reference replies (language models only);
* ROUGE-L F1 and sacreBLEU of generated replies against the references;
* profile grounding: share of recommendation requests whose reply uses the stated preference;
* emotion fit: share of replies to sad, angry or afraid users that the project's own
  emotion classifier (the trained Rasa model's NLU) reads as a negative-affect emotion
  (sadness, anger, fear or disgust), i.e. the reply acknowledges the feeling instead of
  being joyful or neutral chit-chat; a fallback reply never fits;
* latency p50/p95 per reply and tokens per second, on ``--threads`` CPU threads.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
import yaml
from tqdm.auto import tqdm

from bot.assets import resolve_model_path
from bot.generation.config import GeneratorConfig
from bot.generation.corpus import Example, chitchat_examples
from bot.generation.generator import Reply, ReplyGenerator
from bot.generation.model import adapted_for_inference, base_for_inference, load_tokenizer
from bot.generation.precision import AUTO, PRECISIONS, resolve as resolve_precision
from bot.generation.prompt import ASSISTANT, USER, DialogueContext, ProfileFacts, Turn
from bot.generation.training import collate, corpus_adapter, corpus_training_examples, encode_example
from bot.paths import PROJECT_ROOT

SCENARIOS = Path(__file__).resolve().parents[1] / "generation" / "scenarios.yml"
RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "generation.json"
FALLBACK = "Sorry, I didn't quite get that. Could you rephrase?"
SUPPORTIVE = {"sadness", "anger", "fear", "disgust"}

Responder = Callable[[DialogueContext], Reply]


def perplexity(model, tokenizer, examples: List[Example], config: GeneratorConfig, batch: int = 8) -> float:
    """exp(mean negative log-likelihood per reply token)."""
    total, tokens = 0.0, 0
    with torch.inference_mode():
        for start in tqdm(range(0, len(examples), batch), desc="perplexity", unit="batch"):
            encoded = [encode_example(tokenizer, e, config) for e in examples[start : start + batch]]
            inputs = collate(encoded, tokenizer.pad_token_id)
            logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits.float()
            labels = inputs["labels"][:, 1:]
            loss = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100, reduction="sum"
            )
            total += loss.item()
            tokens += int((labels != -100).sum())
    return math.exp(total / tokens)


def retrieval_responder(config: GeneratorConfig) -> Responder:
    """Nearest training reply to the user's last message, by MiniLM sentence embedding."""
    from sentence_transformers import SentenceTransformer

    encoder = SentenceTransformer(str(resolve_model_path("all-MiniLM-L6-v2")), device="cpu")
    replies = sorted({e.reply for e in corpus_training_examples(config)})
    bank = encoder.encode(replies, normalize_embeddings=True, batch_size=64, show_progress_bar=True)

    def respond(context: DialogueContext) -> Reply:
        start = time.perf_counter()
        query = encoder.encode([context.turns[-1].text], normalize_embeddings=True)[0]
        text = replies[int(np.argmax(bank @ query))]
        return Reply(text, None, time.perf_counter() - start, 0)

    return respond


def profile_contexts(scenarios: List[Dict]) -> List[DialogueContext]:
    contexts = []
    for i, s in enumerate(scenarios):
        sender = f"eval-profile-{i}"
        turns = [Turn(USER, f"I really love {s['value']}."), Turn(ASSISTANT, "Good to know, I'll remember that!"),
                 Turn(USER, s["text"])]
        facts = ProfileFacts(sender, name=s["name"], preferences={s["category"]: s["value"]})
        contexts.append(DialogueContext(sender, turns, emotion="neutral", profile=facts))
    return contexts


def emotion_contexts(scenarios: List[Dict]) -> List[DialogueContext]:
    return [DialogueContext(f"eval-emotion-{i}", [Turn(USER, s["text"])], emotion=s["emotion"])
            for i, s in enumerate(scenarios)]


def emotion_reader(rasa_model: Optional[Path]) -> Optional[Callable[[List[str]], List[str]]]:
    """The project's emotion classifier, as served by the trained Rasa model's NLU."""
    if rasa_model is None:
        return None
    from rasa.core.agent import Agent

    agent = Agent.load(str(rasa_model))

    def read(texts: List[str]) -> List[str]:
        async def parse_all() -> List[str]:
            results = [await agent.parse_message(t) for t in texts]
            return [(r.get("emotion") or {}).get("name") or _emotion_entity(r) for r in results]

        return asyncio.run(parse_all())

    return read


def _emotion_entity(parse: Dict) -> str:
    return next((e["value"] for e in parse.get("entities", []) if e.get("entity") == "emotion"), "neutral")


def evaluate(
    respond: Responder, chitchat: List[Example], profile: List[Dict], emotion: List[Dict],
    read_emotions: Optional[Callable[[List[str]], List[str]]], name: str,
) -> Dict:
    from rouge_score import rouge_scorer
    import sacrebleu

    replies = [respond(e.context) for e in tqdm(chitchat, desc=f"{name}: chitchat")]
    references = [e.reply for e in chitchat]
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    rouge = statistics.mean(scorer.score(ref, r.text)["rougeL"].fmeasure for ref, r in zip(references, replies))
    bleu = sacrebleu.corpus_bleu([r.text for r in replies], [references]).score
    grounded_replies = [respond(c) for c in tqdm(profile_contexts(profile), desc=f"{name}: profile")]
    grounded = [s["keyword"].lower() in r.text.lower() and r.generated for s, r in zip(profile, grounded_replies)]
    emotional = [respond(c) for c in tqdm(emotion_contexts(emotion), desc=f"{name}: emotion")]
    fit = None
    if read_emotions is not None:
        labels = read_emotions([r.text for r in emotional])
        fit = statistics.mean(lab in SUPPORTIVE and r.generated for lab, r in zip(labels, emotional))
    timed = replies + grounded_replies + emotional
    seconds = [r.seconds for r in timed]
    new_tokens = sum(r.new_tokens for r in timed)
    return {
        "rouge_l": round(rouge, 4), "bleu": round(bleu, 3),
        "profile_grounding": round(statistics.mean(grounded), 3),
        "emotion_fit": None if fit is None else round(fit, 3),
        "p50_s": round(float(np.percentile(seconds, 50)), 4), "p95_s": round(float(np.percentile(seconds, 95)), 4),
        "tokens_per_s": round(new_tokens / sum(seconds), 2) if new_tokens else None,
        "fallbacks": sum(not r.generated for r in timed),
        "samples": {"chitchat": [[e.context.turns[-1].text, r.text] for e, r in list(zip(chitchat, replies))[:5]],
                    "profile": [r.text for r in grounded_replies[:5]],
                    "emotion": [r.text for r in emotional[:5]]},
    }


def served_adapter(rasa_model: Path, into: Path) -> Optional[Path]:
    """Unpack the generative policy's adapter from a trained Rasa model; None if it has none."""
    with tarfile.open(rasa_model) as archive:
        members = [m for m in archive.getmembers() if "GenerativeResponsePolicy" in m.name and "/adapter/" in m.name]
        archive.extractall(into, members=members, filter="data")
    found = sorted(into.glob("**/adapter/adapter_config.json"))
    return found[0].parent if found else None


def newest_rasa_model() -> Optional[Path]:
    models = sorted((PROJECT_ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.bench generation", description=__doc__.split("\n")[0])
    parser.add_argument("--chitchat", type=int, default=30, help="held-out chitchat replies to generate")
    parser.add_argument("--perplexity", type=int, default=200, help="held-out replies scored for perplexity")
    parser.add_argument(
        "--corpus-steps", type=int, default=None,
        help="optimisation steps of the corpus adapter (default: the policy's); its examples stay the same",
    )
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (the target machine has 2 cores)")
    parser.add_argument(
        "--precision", choices=PRECISIONS, default=AUTO,
        help="serving precision of both language models (default: the policy's, auto)",
    )
    parser.add_argument("--rasa-model", type=Path, default=None, help="trained model whose NLU reads emotions")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    overrides = {"num_threads": args.threads, "time_budget_s": 60.0,  # measure, do not cut
                 "inference_precision": args.precision}
    if args.corpus_steps is not None:
        overrides.update(corpus_steps=args.corpus_steps)
    config = GeneratorConfig(**overrides)
    torch.set_num_threads(args.threads)
    scenarios = yaml.safe_load(SCENARIOS.read_text())
    held_out = chitchat_examples(True, max(args.chitchat, args.perplexity), config.max_history_turns, seed=7)
    tokenizer = load_tokenizer(config.base_model)
    rasa_model = args.rasa_model or newest_rasa_model()
    unpacked = tempfile.TemporaryDirectory(prefix="kai-adapter-")  # removed at exit
    served = served_adapter(rasa_model, Path(unpacked.name)) if rasa_model else None
    adapter = served or corpus_adapter(config)
    print(f"LoRA model: base + {adapter}")
    read_emotions = emotion_reader(rasa_model)
    if read_emotions is None:
        print("No trained Rasa model (run `make train`): emotion_fit is left null.")

    results: Dict[str, Dict] = {}
    for name, load in [("base", lambda: base_for_inference(config)),
                       ("lora", lambda: adapted_for_inference(adapter, config))]:
        model = load()
        generator = ReplyGenerator(model, tokenizer, config, FALLBACK)
        ppl = perplexity(model, tokenizer, held_out[: args.perplexity], config)
        results[name] = {"perplexity": round(ppl, 3), **evaluate(
            generator.reply, held_out[: args.chitchat], scenarios["profile"], scenarios["emotion"], read_emotions, name)}
    results["retrieval"] = {"perplexity": None, **evaluate(
        retrieval_responder(config), held_out[: args.chitchat], scenarios["profile"], scenarios["emotion"],
        read_emotions, "retrieval")}
    results["run"] = {"lora_adapter": "rasa model" if served else "corpus adapter",
                      "rasa_model": rasa_model.name if rasa_model else None, "threads": args.threads,
                      "precision": resolve_precision(config.inference_precision),
                      "load_average_1m": os.getloadavg()[0], "corpus_steps": config.corpus_steps,
                      "skill_examples": config.skill_examples,
                      "chitchat": args.chitchat, "perplexity_replies": args.perplexity}
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


def print_table(results: Dict[str, Dict]) -> None:
    columns = ["perplexity", "rouge_l", "bleu", "profile_grounding", "emotion_fit", "p50_s", "p95_s", "tokens_per_s"]
    print("| system | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name in ("base", "lora", "retrieval"):
        row = results[name]
        print(f"| {name} | " + " | ".join("-" if row.get(c) is None else str(row[c]) for c in columns) + " |")
