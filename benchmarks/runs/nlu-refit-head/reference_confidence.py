"""Does ``refit_intent_head`` push the reference assistant's answers under its FallbackClassifier
(threshold 0.3, ambiguity 0.05)? Every user line of tests/test_stories.yml (none of them in
data/nlu.yml) parsed by each trained Rasa model given. From the repository root:

    PYTHONPATH=. python benchmarks/runs/nlu-refit-head/reference_confidence.py models/A.tar.gz models/B.tar.gz

Run on 2026-12-05 (Intel Xeon, 2 cores) on the reference assistant trained by ``rasa train`` with
``refit_intent_head: 0.02`` added to config.yml, before it became the default (``rasa test`` of
the same model: 13/13 stories, 82/82 actions), and on the model CI trained once it was the default
(identical); output in reference_confidence.txt.
"""
import asyncio
import re
import statistics
import sys
from typing import List, Tuple

USER_LINE = re.compile(r'\[([^\]]+)\]\{"entity": "emotion", "value": "\w+"\}\n\s+intent: (\w+)')


def held_out_lines() -> List[Tuple[str, str]]:
    """(text, intent) for every annotated user line of the test stories."""
    return USER_LINE.findall(open("tests/test_stories.yml").read())


async def parse_all(path: str, texts: List[str]) -> List[dict]:
    from rasa.core.agent import Agent

    agent = Agent.load(path)
    return [await agent.parse_message(text) for text in texts]


def summary(path: str, held: List[Tuple[str, str]]) -> str:
    parsed = asyncio.run(parse_all(path, [text for text, _ in held]))
    # The classifier's own confidence for the gold intent, before FallbackClassifier steps in.
    ranking = [{r["name"]: r["confidence"] for r in p["intent_ranking"]} for p in parsed]
    gold = [ranks.get(intent, 0.0) for ranks, (_, intent) in zip(ranking, held)]
    final = [p["intent"]["name"] for p in parsed]
    right = sum(f == intent for f, (_, intent) in zip(final, held))
    return (f"{path}: {len(held)} lines | final intent right {right} | nlu_fallback {final.count('nlu_fallback')} | "
            f"gold-intent confidence min {min(gold):.3f}, median {statistics.median(gold):.3f}, below 0.3: {sum(c < 0.3 for c in gold)}")


if __name__ == "__main__":
    lines = held_out_lines()
    for model_path in sys.argv[1:]:
        print(summary(model_path, lines), flush=True)
