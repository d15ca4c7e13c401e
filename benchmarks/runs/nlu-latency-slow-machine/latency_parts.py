"""Where one message's NLU latency goes, on this machine (ours, full-data model)."""
# Needs a bench run's trained model in benchmarks/runs/nlu-full/clinc150_full/ours/models (not committed).
import json, sys, tarfile, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import numpy as np, torch
from bot.nlu.model import META_FILE, IntentEmotionModel

model_tar = sorted(Path("benchmarks/runs/nlu-full/clinc150_full/ours/models").glob("*.tar.gz"))[0]
texts = [t for t, _ in json.loads(Path("benchmarks/runs/nlu-full/clinc150_full/ours/eval.json").read_text())["test"][:300]]
scratch = tempfile.mkdtemp()
tarfile.open(model_tar).extractall(scratch, filter="data")
[meta] = Path(scratch).rglob(META_FILE)
model = IntentEmotionModel.from_pretrained(meta.parent).eval()

def timed(name, fn):
    for t in texts[:10]: fn(t)
    ms = []
    for t in texts:
        s = time.perf_counter(); fn(t); ms.append((time.perf_counter() - s) * 1000)
    print(f"{name:45s} p50 {np.percentile(ms,50):6.1f}  p95 {np.percentile(ms,95):6.1f}", flush=True)

pool = ThreadPoolExecutor(1)
def both_threaded(t):
    f = pool.submit(model.frozen_embeddings, [t])
    model.sentence_embeddings([t], correct_typos=False)
    f.result()

for threads in (2, 1):
    torch.set_num_threads(threads)
    print(f"-- torch threads {threads}")
    timed("predict (whole model)", lambda t: model.predict([t]))
    timed("typo correction", lambda t: model._corrected([t]))
    timed("tuned pass (no typo)", lambda t: model.sentence_embeddings([t], correct_typos=False))
    timed("frozen pass", lambda t: model.frozen_embeddings([t]))
    timed("tokenize", lambda t: model.tokenize([t]))
    timed("both passes in two threads", both_threaded)
