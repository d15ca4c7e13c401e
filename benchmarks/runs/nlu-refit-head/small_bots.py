"""Does the refitted head (C = 0.02) starve a small bot's confidences? The reference assistant's
NLU cut to a few intents and a few examples each, fitted with ``bot.nlu.classifier.fit`` with and
without the refit, scored on those intents' user lines in tests/test_stories.yml (held out).
From the repository root (examples per intent, number of intents):

    PYTHONPATH=. python benchmarks/runs/nlu-refit-head/small_bots.py 5 3

Run on 2026-12-05 (Intel Xeon, 2 cores) with 5 x 3 and 10 x 6: small_bots.txt.
"""
import statistics
import sys

from rasa.shared.nlu.training_data.loading import load_data
from bot.nlu.classifier import fit, predict
from bot.nlu.config import ClassifierConfig
from models_custom.lora_intent_emotion_classifier import _to_example

sys.path.insert(0, "benchmarks/runs/nlu-refit-head")
from reference_confidence import held_out_lines  # noqa: E402

per, n_int = int(sys.argv[1]), int(sys.argv[2])
examples = [_to_example(m) for m in load_data("data/nlu.yml").intent_examples]
intents = ["greet", "share_feeling", "affirm", "deny", "goodbye", "thank"][:n_int]
picked = []
for i in intents:
    picked += [e for e in examples if e.intent == i][:per]
held = [(t, i) for t, i in held_out_lines() if i in intents]
for C in [0.0, 0.02]:
    model = fit(picked, ClassifierConfig(refit_intent_head=C))
    preds = predict(model, [t for t, _ in held])
    conf = [dict(p.intents).get(i, 0.0) for p, (_, i) in zip(preds, held)]
    top = [p.intents[0][0] for p in preds]
    print(f"{per}/intent x {n_int} intents, refit {C}: right {sum(a==i for a,(_,i) in zip(top,held))}/{len(held)}, gold conf min {min(conf):.3f} median {statistics.median(conf):.3f} below 0.3: {sum(c<0.3 for c in conf)}", flush=True)
