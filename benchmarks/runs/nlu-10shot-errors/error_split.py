"""Where the 10-shot errors are: wrong intent, in-scope sent to out_of_scope, out_of_scope given
an intent; and what macro-F1 would be with each kind removed (oracles, not results).

    PYTHONPATH=. python benchmarks/runs/nlu-10shot-errors/error_split.py [RESULT_JSON]

Also the most confused intent pairs, and how often the four intents about names confuse each
other. Reads a bench side's result.json or an ``nlu_direct`` output (default: the bench's 10-shot
ours side) at its validation-calibrated threshold, exactly as the bench scores it.
"""
import json
import sys
from collections import Counter

from bot.bench import metrics
from bot.bench.clinc import OOS, load_clinc

path = sys.argv[1] if len(sys.argv) > 1 else "benchmarks/runs/nlu-full/clinc150_10shot/ours/result.json"
raw = {k: v for k, v in json.load(open(path))["predictions"].items() if k in ("val", "test")}
splits = load_clinc()
gold = {"val": [i for _, i in splits.val], "test": [i for _, i in splits.test]}
scored = metrics.operating_point(gold, {k: [tuple(p) for p in v] for k, v in raw.items()})
predicted = metrics.with_threshold([tuple(p) for p in raw["test"]], scored["threshold"])
pairs = list(zip(gold["test"], predicted))
confused = Counter((g, p) for g, p in pairs if g != OOS and p not in (g, OOS))
print(f"threshold {scored['threshold']:.3f} (calibrated on validation)")
print(f"in-scope given the wrong intent: {sum(confused.values())}")
print(f"in-scope sent to out_of_scope: {sum(g != OOS and p == OOS for g, p in pairs)}")
print(f"out_of_scope given an intent: {sum(g == OOS and p != OOS for g, p in pairs)}")
oracles = {
    "as measured": predicted,
    "every out_of_scope message caught": [OOS if g == OOS else p for g, p in pairs],
    "no in-scope message given a wrong intent": [g if g != OOS and p != OOS else p for g, p in pairs],
}
for name, answers in oracles.items():
    print(f"test macro-F1, {name}: {metrics.intent_metrics(gold['test'], answers)['macro_f1']:.3f}")

NAME_INTENTS = {"change_user_name", "change_ai_name", "user_name", "what_is_your_name"}
for (g, p), n in confused.most_common(5):
    print(f"  {n} {g} -> {p}")
print(f"among the four name intents: {sum(n for (g, p), n in confused.items() if {g, p} <= NAME_INTENTS)}")
