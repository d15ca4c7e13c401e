"""Which setting blurs emotion? Fit the reference assistant's NLU with one variant and score
emotion on the annotated user lines of tests/test_stories.yml (held out from training).

    PYTHONPATH=. python benchmarks/runs/nlu-emotion-check/fit_and_score.py NAME '{"contrastive_weight": 1.0}'

Run on 2026-12-04 at commit adb6d2e's code (the defaults), one thread each: NAME.json here."""
import json, re, sys, time
from rasa.shared.nlu.training_data.loading import load_data
from bot.nlu.classifier import fit, predict
from bot.nlu.config import ClassifierConfig
from models_custom.lora_intent_emotion_classifier import _to_example

name, overrides = sys.argv[1], json.loads(sys.argv[2])
data = load_data("data/nlu.yml")
examples = [_to_example(m) for m in data.intent_examples]
stories = open("tests/test_stories.yml").read()
held = re.findall(r'\[([^\]]+)\]\{"entity": "emotion", "value": "(\w+)"\}', stories)
start = time.time()
model = fit(examples, ClassifierConfig(**overrides))
preds = predict(model, [t for t, _ in held])
hits = [p.emotions[0][0] == gold for p, (_, gold) in zip(preds, held)]
train_texts = {e.text for e in examples}
print(json.dumps({"variant": name, "overrides": overrides, "train_s": round(time.time() - start),
    "held_out_lines": len(held), "in_training_data": sum(t in train_texts for t, _ in held),
    "emotion_accuracy": sum(hits) / len(hits),
    "wrong": [(t, g, p.emotions[0][0]) for p, (t, g), h in zip(preds, held, hits) if not h]}, indent=1))
