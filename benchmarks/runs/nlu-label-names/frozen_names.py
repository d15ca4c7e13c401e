"""Does a humanised intent name as one more training example help the 10-shot frozen probe?

Frozen all-MiniLM-L6-v2 embeddings into LogisticRegression(C=10), as the bench's frozen side,
trained on the bench's 10-shot sample (seed 0) with and without one extra example per in-scope
intent: its name with underscores as spaces. Scored as the bench scores a side (``metrics.operating_point``).
"""
from sklearn.linear_model import LogisticRegression

from bot.bench import metrics
from bot.bench.clinc import OOS, few_shot, load_clinc
from bot.bench.nlu_side import _encoder

splits = load_clinc()
train = few_shot(splits.train, 10, seed=0)
encoder = _encoder()
embed = lambda texts: encoder.encode(texts, batch_size=64, normalize_embeddings=False)
val_x, test_x = embed([t for t, _ in splits.val]), embed([t for t, _ in splits.test])
gold = {"val": [i for _, i in splits.val], "test": [i for _, i in splits.test]}
names = sorted({i for _, i in train if i != OOS})
variants = {
    "10 examples": train,
    "10 examples + name": train + [(n.replace("_", " "), n) for n in names],
    "10 examples + name x3": train + [(n.replace("_", " "), n) for n in names] * 3,
}
print("| training data | val macro-F1 | test in-scope acc | test macro-F1 | OOS recall | raw acc | raw macro-F1 |")
print("|---|---|---|---|---|---|---|")
for label, rows in variants.items():
    clf = LogisticRegression(C=10, max_iter=2000).fit(embed([t for t, _ in rows]), [i for _, i in rows])
    predicted = {}
    for split, x in (("val", val_x), ("test", test_x)):
        probs = clf.predict_proba(x)
        predicted[split] = [(str(clf.classes_[k]), float(p[k])) for p, k in zip(probs, probs.argmax(1))]
    test = metrics.operating_point(gold, predicted)
    val = metrics.intent_metrics(gold["val"], metrics.with_threshold(predicted["val"], test["threshold"]))
    print(f"| {label} | {val['macro_f1']:.4f} | {test['accuracy']:.4f} | {test['macro_f1']:.4f} | "
          f"{test['oos_recall']:.3f} | {test['accuracy_no_threshold']:.4f} | {test['macro_f1_no_threshold']:.4f} |",
          flush=True)
