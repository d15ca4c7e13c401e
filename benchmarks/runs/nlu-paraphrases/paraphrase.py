"""10-shot experiment: paraphrases from the offline generator as extra training examples.

    PYTHONPATH=. python benchmarks/runs/nlu-paraphrases/paraphrase.py generate paraphrases.json [--limit N]
    PYTHONPATH=. python benchmarks/runs/nlu-paraphrases/paraphrase.py fit paraphrases.json OUT.json [--min-cosine 0.8] [--set KEY=VALUE ...]

`generate` asks SmolLM2-135M-Instruct (the policy's base model, the only generator available
offline) for paraphrases of every 10-shot training example; `fit` trains our classifier on the
10-shot rows plus the kept paraphrases with the bench's settings and scores it as
`bot.bench.nlu_direct` does. A throwaway experiment, not product code.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import List

import torch
from tqdm import tqdm

from bot.assets import resolve_model_path
from bot.bench import clinc
from bot.bench.nlu import OUR_SETTINGS, evaluation_sets, parse_setting, training_rows
from bot.bench.nlu_direct import _top_intents, scenario_metrics
from bot.generation.config import GeneratorConfig
from bot.generation.model import load_base_model, load_tokenizer
from bot.nlu.classifier import fit
from bot.nlu.config import ClassifierConfig
from bot.nlu.training import Example

SCENARIO = "clinc150_10shot"
# Few-shot completion, not a chat turn: asked in a chat turn, this 135M model mostly comments on
# the request or answers it (chat_prompt.json); a pattern to continue keeps it on task more often.
PROMPT = (
    "Each request is followed by the same request in other words.\n\n"
    "Request: what will the weather be like tomorrow\nOther words: how is the weather going to be tomorrow\n\n"
    "Request: please add milk to my shopping list\nOther words: put milk on my shopping list\n\n"
    "Request: how do i get to the airport from here\nOther words: what is the way to the airport from where i am\n\n"
    "Request: {text}\nOther words:"
)


def generate(out: str, limit: int, samples: int, batch_size: int) -> None:
    rows = training_rows(clinc.load_clinc(None), SCENARIO)[:limit]
    base_model = GeneratorConfig().base_model
    tokenizer, model = load_tokenizer(base_model), load_base_model(base_model)
    tokenizer.padding_side = "left"
    torch.manual_seed(0)
    samples_out = []
    for start in tqdm(range(0, len(rows), batch_size), desc="Paraphrasing"):
        batch = rows[start : start + batch_size]
        prompts = [PROMPT.format(text=text) for text, _ in batch]
        inputs = tokenizer(prompts, return_tensors="pt", padding=True)
        with torch.inference_mode():
            output = model.generate(
                **inputs, do_sample=True, temperature=0.7, top_p=0.9, max_new_tokens=32, num_return_sequences=samples,
                stop_strings=["\n"], tokenizer=tokenizer,  # one line is all `clean` keeps
            )
        texts = tokenizer.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        for i, generated in enumerate(texts):
            source, intent = batch[i // samples]
            samples_out.append({"source": source, "intent": intent, "raw": generated, "text": clean(generated, source)})
    _add_similarity(samples_out)
    with open(out, "w") as handle:
        json.dump(samples_out, handle, indent=1)
    usable = [p for p in samples_out if p["text"]]
    print(f"{len(usable)} of {len(samples_out)} samples usable after cleaning")


def clean(generated: str, source: str) -> str:
    """The first line, lower-cased without quotes or trailing punctuation like CLINC's text;
    empty when it repeats the source or runs far longer than it."""
    line = generated.strip().split("\n")[0]
    line = line.strip(" \"'").rstrip(".!").lower()
    if not line or line == source or len(line.split()) > 3 * len(source.split()) + 3:
        return ""
    return line


def _add_similarity(paraphrases: List[dict]) -> None:
    """Cosine between each paraphrase and its source under the untuned encoder, to filter on:
    many samples drift to another request (often the prompt's own examples)."""
    from sentence_transformers import SentenceTransformer

    encoder = SentenceTransformer(str(resolve_model_path("all-MiniLM-L6-v2")), device="cpu")
    usable = [p for p in paraphrases if p["text"]]
    sources = encoder.encode([p["source"] for p in usable], normalize_embeddings=True)
    texts = encoder.encode([p["text"] for p in usable], normalize_embeddings=True)
    for p, cosine in zip(usable, (sources * texts).sum(1).tolist()):
        p["cosine"] = cosine


def fit_and_score(paraphrases: str, out: str, overrides: List[str], min_cosine: float) -> None:
    settings = {**OUR_SETTINGS[SCENARIO], **dict(parse_setting(item, argparse.ArgumentParser()) for item in overrides)}
    splits = clinc.load_clinc(None)
    rows, evals = training_rows(splits, SCENARIO), evaluation_sets(splits, SCENARIO)
    extra = [(p["text"], p["intent"]) for p in json.load(open(paraphrases)) if p["text"] and p["cosine"] >= min_cosine]
    start = time.perf_counter()
    model = fit([Example(text, intent) for text, intent in rows + extra], ClassifierConfig.from_dict(settings))
    train_s = time.perf_counter() - start
    predictions = {name: _top_intents(model, [text for text, _ in eval_rows]) for name, eval_rows in evals.items()}
    gold = {name: [intent for _, intent in eval_rows] for name, eval_rows in evals.items()}
    result = {"settings": settings, "min_cosine": min_cosine, "extra_examples": len(extra), "train_s": train_s, "metrics": scenario_metrics(gold, predictions), "predictions": predictions}
    print(json.dumps(result["metrics"], indent=2))
    with open(out, "w") as handle:
        json.dump(result, handle)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate")
    gen.add_argument("out")
    gen.add_argument("--limit", type=int, default=None)
    gen.add_argument("--samples", type=int, default=2)
    gen.add_argument("--batch-size", type=int, default=16)
    fitting = commands.add_parser("fit")
    fitting.add_argument("paraphrases")
    fitting.add_argument("out")
    fitting.add_argument("--set", nargs="+", default=[])
    fitting.add_argument("--min-cosine", type=float, default=0.8, help="keep paraphrases this close to their source")
    args = parser.parse_args()
    if args.command == "generate":
        generate(args.out, args.limit, args.samples, args.batch_size)
    else:
        fit_and_score(args.paraphrases, args.out, args.set, args.min_cosine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
