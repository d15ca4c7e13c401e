"""Would ``refit_intent_head`` help? One saved model (``python -m bot.bench.nlu_direct SCENARIO
OUT.json --save DIR``, the defaults), its trained intent head against logistic regressions with
inverse regularisation C refitted on its tuned embeddings of the training examples, every
confidence formed as ``predict`` forms it (times the prototype similarity, 0.3 frozen probe) and
scored like the bench (threshold calibrated on validation). From the repository root:

    PYTHONPATH=. python benchmarks/runs/nlu-refit-head/refit.py DIR clinc150_10shot 0.01 0.02 0.05

Run on 2026-12-05 (Intel Xeon, 2 cores) on the two models nlu_direct saved with the defaults at
85be9b1: clinc150_full.txt and clinc150_10shot.txt here.
"""
import sys
import numpy as np, torch
from torch import nn
from sklearn.linear_model import LogisticRegression
from bot.bench import clinc, metrics
from bot.bench.nlu import training_rows, evaluation_sets
from bot.nlu.model import IntentEmotionModel

torch.set_num_threads(2)
model = IntentEmotionModel.from_pretrained(sys.argv[1])
scenario = sys.argv[2]
Cs = [float(c) for c in sys.argv[3:]]
splits = clinc.load_clinc()
rows = {"train": training_rows(splits, scenario), **evaluation_sets(splits, scenario)}
gold = {k: [i for _, i in r] for k, r in rows.items()}
texts = {k: [t for t, _ in r] for k, r in rows.items()}
cor = {k: (v if k == "train" else list(model._corrected(v))) for k, v in texts.items()}
evals = [k for k in rows if k != "train"]
with torch.inference_mode():
    ft = {k: model.sentence_embeddings(v, correct_typos=False) for k, v in cor.items()}
    fr = {k: model.frozen_embeddings(v) for k in evals for v in [cor[k]]}
    p_head = {k: model.intent_head(ft[k]).softmax(-1).numpy() for k in evals}
    p_fr = {k: model.frozen_probe(fr[k]).softmax(-1).numpy() for k in evals}
intents = model.intents
ytr = np.array([intents.index(i) for i in gold["train"]])
unit = {k: nn.functional.normalize(v, dim=-1).numpy() for k, v in ft.items()}
proto = model.intent_prototypes.numpy()
psim = {k: np.clip((unit[k] @ proto.T).max(1, keepdims=True), 0, 1) for k in evals}
print("embedded", flush=True)

def score(p_intent):
    p = {k: 0.7 * p_intent[k] * psim[k] + 0.3 * p_fr[k] for k in evals}
    preds = {k: [(intents[b], float(p[k][i, b])) for i, b in enumerate(p[k].argmax(1))] for k in evals}
    r = metrics.operating_point({k: gold[k] for k in ("val", "test")}, {k: preds[k] for k in ("val", "test")})
    val = metrics.intent_metrics(gold["val"], metrics.with_threshold(preds["val"], r["threshold"]))["macro_f1"]
    out = f"val {val:.4f} | test acc {r['accuracy']:.4f} f1 {r['macro_f1']:.4f} oos {r['oos_recall']:.3f} thr {r['threshold']:.3f} | raw {r['accuracy_no_threshold']:.4f}/{r['macro_f1_no_threshold']:.4f}"
    if "noisy" in preds:
        n = metrics.intent_metrics(gold["noisy"], metrics.with_threshold(preds["noisy"], r["threshold"]))
        out += f" | noisy drop {100 * (r['accuracy'] - n['accuracy']):.2f}"
    low = np.mean([c < 0.3 for (i, c), g in zip(preds["test"], gold["test"]) if i == g and g != "out_of_scope"])
    return out + f" | correct in-scope below 0.3: {100 * low:.1f}%"

print("trained head", score(p_head), flush=True)
for C in Cs:
    clf = LogisticRegression(C=C, max_iter=3000).fit(ft["train"].numpy(), ytr)
    print("refit C", C, score({k: clf.predict_proba(ft[k].numpy()) for k in evals}), flush=True)
