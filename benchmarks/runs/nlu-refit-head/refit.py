"""Would ``refit_intent_head`` help? One saved model (``python -m bot.bench.nlu_direct SCENARIO
OUT.json --save DIR``, the defaults), its trained intent head against logistic regressions with
inverse regularisation C refitted on its tuned embeddings of the training examples, every
confidence formed as ``predict`` forms it (times the prototype similarity, 0.3 frozen probe) and
scored like the bench (threshold calibrated on validation). From the repository root:

    PYTHONPATH=. python benchmarks/runs/nlu-refit-head/refit.py DIR clinc150_10shot 0.01 0.02 0.05

Run on 2026-12-05 (Intel Xeon, 2 cores) on the two models nlu_direct saved with the defaults at
85be9b1: clinc150_full.txt and clinc150_10shot.txt here. And on the best opt-in 10-shot
combination (``--set synthetic_outliers=1.0 contrastive_weight=1.0 contrastive_temperature=0.05
linear_probe=true learning_rate=5e-4``, same machine, 2026-12-05, its predictions in
../nlu-direct/clinc150_10shot_synthetic_outliers_contrastive_linear_probe_lr5e-4_cpu.json):
clinc150_10shot_best_combination.txt.
"""
import sys

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from bot.bench import clinc, metrics
from bot.bench.nlu import evaluation_sets, training_rows
from bot.bench.nlu_direct import scenario_metrics
from bot.nlu.model import IntentEmotionModel

torch.set_num_threads(2)
model = IntentEmotionModel.from_pretrained(sys.argv[1])
scenario = sys.argv[2]
Cs = [float(c) for c in sys.argv[3:]]
splits = clinc.load_clinc()
rows = {"train": training_rows(splits, scenario), **evaluation_sets(splits, scenario)}
gold = {k: [i for _, i in r] for k, r in rows.items()}
evals = [k for k in rows if k != "train"]
# Corrected like predict() corrects; the training examples are not (the corrector learnt from them).
texts = {k: [t for t, _ in r] if k == "train" else list(model._corrected([t for t, _ in r])) for k, r in rows.items()}
# The embeddings are computed once; each candidate head only reads them.
with torch.inference_mode():
    tuned = {k: model.sentence_embeddings(v, correct_typos=False) for k, v in texts.items()}
    similarity = {k: model.prototype_similarity(tuned[k]).unsqueeze(-1).numpy() for k in evals}
    frozen = {k: model.frozen_probe(model.frozen_embeddings(texts[k])).softmax(-1).numpy() for k in evals}
    trained = {k: model.intent_head(tuned[k]).softmax(-1).numpy() for k in evals}
labels = np.array([model.intents.index(i) for i in gold["train"]])
weight = model.config.frozen_probe_weight
print("embedded", flush=True)


def score(head_probabilities):
    """Confidences as ``IntentEmotionModel.predict`` forms them, scored as nlu_direct scores them."""
    p = {k: (1 - weight) * head_probabilities[k] * similarity[k] + weight * frozen[k] for k in evals}
    preds = {k: [(model.intents[b], float(p[k][i, b])) for i, b in enumerate(p[k].argmax(1))] for k in evals}
    r = scenario_metrics(gold, preds)
    val = metrics.intent_metrics(gold["val"], metrics.with_threshold(preds["val"], r["threshold"]))["macro_f1"]
    out = f"val {val:.4f} | test acc {r['accuracy']:.4f} f1 {r['macro_f1']:.4f} oos {r['oos_recall']:.3f} thr {r['threshold']:.3f} | raw {r['accuracy_no_threshold']:.4f}/{r['macro_f1_no_threshold']:.4f}"
    if "noisy_accuracy_drop" in r:
        out += f" | noisy drop {100 * r['noisy_accuracy_drop']:.2f}"
    low = np.mean([c < 0.3 for (i, c), g in zip(preds["test"], gold["test"]) if i == g and g != clinc.OOS])
    return out + f" | correct in-scope below 0.3: {100 * low:.1f}%"


print("trained head", score(trained), flush=True)
for C in Cs:
    refit = LogisticRegression(C=C, max_iter=3000).fit(tuned["train"].numpy(), labels)
    print("refit C", C, score({k: refit.predict_proba(tuned[k].numpy()) for k in evals}), flush=True)
