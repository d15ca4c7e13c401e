"""Which setting blurs emotion? Emotion accuracy on the emotion-annotated user lines of
tests/test_stories.yml (none of them is in data/nlu.yml), either of the reference assistant's NLU
fitted with one variant, or of a trained Rasa model. From the repository root:

    PYTHONPATH=. python benchmarks/runs/nlu-emotion-check/check_emotion.py fit NAME '{"contrastive_weight": 1.0}'
    PYTHONPATH=. python benchmarks/runs/nlu-emotion-check/check_emotion.py model models/MODEL.tar.gz

Run on 2026-12-04: `fit` at adb6d2e's code (the defaults), three variants side by side, one
thread each (NAME.json here); `model` on the model CI trained at f610ace, with synthetic
outliers, the contrastive loss and the linear probe as defaults (three_together_rasa_model.json).
Then, at a434142's code (the contrastive loss no longer pairs two messages of one intent that state
different emotions), `fit` of the three settings (three_together_emotion_safe*.json).
"""
import asyncio
import json
import re
import sys
import time
from typing import List, Tuple

EMOTION_LINE = re.compile(r'\[([^\]]+)\]\{"entity": "emotion", "value": "(\w+)"\}')


def held_out_lines() -> List[Tuple[str, str]]:
    """(text, emotion) for every story line annotated with an emotion."""
    return EMOTION_LINE.findall(open("tests/test_stories.yml").read())


def report(held: List[Tuple[str, str]], predicted: List[str], **extra) -> str:
    wrong = [(text, gold, guess) for (text, gold), guess in zip(held, predicted) if guess != gold]
    return json.dumps({**extra, "held_out_lines": len(held),
                       "emotion_accuracy": (len(held) - len(wrong)) / len(held), "wrong": wrong}, indent=1)


def fit_variant(name: str, overrides: dict) -> str:
    from rasa.shared.nlu.training_data.loading import load_data
    from bot.nlu.classifier import fit, predict
    from bot.nlu.config import ClassifierConfig
    from models_custom.lora_intent_emotion_classifier import _to_example

    examples = [_to_example(m) for m in load_data("data/nlu.yml").intent_examples]
    held, train_texts = held_out_lines(), {e.text for e in examples}
    start = time.time()
    model = fit(examples, ClassifierConfig(**overrides))
    predicted = [p.emotions[0][0] for p in predict(model, [text for text, _ in held])]
    return report(held, predicted, variant=name, overrides=overrides, train_s=round(time.time() - start),
                  in_training_data=sum(text in train_texts for text, _ in held))


def score_model(path: str) -> str:
    from rasa.core.agent import Agent

    async def emotions(texts: List[str]) -> List[str]:
        agent = Agent.load(path)
        return [(await agent.parse_message(text))["emotion"]["name"] for text in texts]

    held = held_out_lines()
    return report(held, asyncio.run(emotions([text for text, _ in held])), model=path)


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    print(fit_variant(args[0], json.loads(args[1])) if mode == "fit" else score_model(args[0]))
