"""A settings sweep of bot.bench.nlu_direct on a lent GPU: many settings in parallel processes,
one summary of metrics (summary.json here).

Run once, 2026-12-04, on an NVIDIA H200 machine (Python 3.12, torch 2.11, transformers 5.17,
peft 0.21): `bash run.sh` from the repository root with this folder at gpu/, the base model's
weights carried as float16 (gpu/minilm, restored to float32 there) and CLINC150 at
gpu/datasets. Eight runs at a time, new ones launched for 330 s (10shot_bs16 was not). The
Rasa imports the bench module makes are stubbed: nlu_direct uses none of them. Numbers differ
from the CPU runs of the same settings and seed through GPU arithmetic (10-shot base: 0.899 here,
0.907 on the CPU), so read the spread, not the third decimal.

    python3 gpu/sweep.py OUTDIR                                  # all runs
    SWEEP_SUBSET=5 SWEEP_ONLY=0 SWEEP_EPOCHS=1 python3 gpu/sweep.py OUTDIR   # local smoke
"""
import json
import os
import subprocess
import sys
import time
import types
from concurrent.futures import ThreadPoolExecutor, as_completed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = {"synthetic_outliers": 1.0, "contrastive_weight": 1.0, "contrastive_temperature": 0.05, "linear_probe": True}
RUNS = [
    ("10shot_base", "clinc150_10shot", {}),
    ("full_base", "clinc150_full", {}),
    ("10shot_seed1", "clinc150_10shot", {"seed": 1}),
    ("10shot_ep30", "clinc150_10shot", {"epochs": 30}),
    ("10shot_r32", "clinc150_10shot", {"lora_rank": 32, "lora_alpha": 64}),
    ("10shot_bs64", "clinc150_10shot", {"batch_size": 64}),
    ("10shot_t0.1", "clinc150_10shot", {"contrastive_temperature": 0.1}),
    ("10shot_noise0.5", "clinc150_10shot", {"noise_augmentation": 0.5}),
    ("full_ep4", "clinc150_full", {"epochs": 4}),
    ("full_bs64", "clinc150_full", {"batch_size": 64}),
    ("10shot_drop0", "clinc150_10shot", {"lora_dropout": 0.0}),
    ("10shot_so2", "clinc150_10shot", {"synthetic_outliers": 2.0}),
    ("10shot_cw0.5", "clinc150_10shot", {"contrastive_weight": 0.5}),
    ("10shot_ep40_lr5e-4", "clinc150_10shot", {"epochs": 40, "learning_rate": 5e-4}),
    ("full_r32", "clinc150_full", {"lora_rank": 32, "lora_alpha": 64}),
    ("full_t0.1", "clinc150_full", {"contrastive_temperature": 0.1}),
    ("10shot_r32_ep30", "clinc150_10shot", {"lora_rank": 32, "lora_alpha": 64, "epochs": 30}),
    ("10shot_bs16", "clinc150_10shot", {"batch_size": 16}),
]


def child(scenario: str, out: str, settings: dict) -> int:
    """In a worker process: stub what the bench imports but this run never uses (Rasa),
    keep the model on the GPU after training, then run nlu_direct as the CLI would."""
    for name in ("rasa", "rasa.shared", "rasa.shared.nlu", "rasa.shared.nlu.training_data",
                 "rasa.shared.nlu.training_data.message", "rasa.shared.nlu.training_data.training_data",
                 "ruamel", "ruamel.yaml"):
        module = types.ModuleType(name)
        module.Message = module.TrainingData = module.YAML = None
        sys.modules[name] = module
    import yaml
    sys.modules["ruamel.yaml"].YAML = lambda typ=None: types.SimpleNamespace(load=yaml.safe_load)
    sys.path.insert(0, ROOT)
    import torch
    from bot.bench import clinc, nlu_direct
    from bot.nlu.model import IntentEmotionModel

    if torch.cuda.is_available():
        probe = IntentEmotionModel.fit_linear_probe
        IntentEmotionModel.fit_linear_probe = lambda self, *a, **k: (self.to("cuda"), probe(self, *a, **k))[1]
        IntentEmotionModel.cpu = lambda self: self.to("cuda")
    subset = os.environ.get("SWEEP_SUBSET")
    if subset:
        load = clinc.load_clinc
        clinc.load_clinc = lambda _: load(int(subset))
    args = [scenario, out] + ["--set"] + [f"{k}={json.dumps(v)}" for k, v in settings.items()]
    return nlu_direct.main(args)


def main(outdir: str) -> None:
    os.makedirs(outdir, exist_ok=True)
    only = os.environ.get("SWEEP_ONLY")
    runs = [RUNS[int(i)] for i in only.split(",")] if only else RUNS
    workers = int(os.environ.get("SWEEP_WORKERS", "8"))
    deadline = time.time() + float(os.environ.get("SWEEP_SECONDS", "1e9"))
    summary, log = {}, open(os.path.join(outdir, "sweep.log"), "a")

    def launch(run):
        name, scenario, extra = run
        if time.time() > deadline:
            return name, None, "skipped: past deadline"
        settings = {**BASE, **extra}
        if os.environ.get("SWEEP_BASE_MODEL"):
            settings["base_model"] = os.environ["SWEEP_BASE_MODEL"]
        if os.environ.get("SWEEP_EPOCHS"):
            settings["epochs"] = int(os.environ["SWEEP_EPOCHS"])
        out = f"/tmp/sweep_{name}.json"
        start = time.time()
        proc = subprocess.run([sys.executable, __file__, "--child", scenario, out, json.dumps(settings)],
                              capture_output=True, text=True)
        tail = (proc.stdout + proc.stderr)[-3000:]
        if proc.returncode:
            return name, None, tail
        result = json.load(open(out))
        return name, {"scenario": scenario, "settings": settings, "wall_s": round(time.time() - start),
                      "train_s": round(result["train_s"]), "metrics": result["metrics"]}, ""

    with ThreadPoolExecutor(workers) as pool:
        for future in as_completed([pool.submit(launch, run) for run in runs]):
            name, result, tail = future.result()
            summary[name] = result if result else {"error": tail}
            log.write(f"== {name}\n{tail if not result else json.dumps(result['metrics'])}\n")
            log.flush()
            json.dump(summary, open(os.path.join(outdir, "summary.json"), "w"), indent=1)
            m = result["metrics"] if result else {}
            print(name, {k: round(m[k], 4) for k in ("accuracy", "macro_f1", "oos_recall", "threshold",
                                                      "noisy_accuracy_drop") if k in m} or tail[-500:], flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--child":
        sys.exit(child(sys.argv[2], sys.argv[3], json.loads(sys.argv[4])))
    main(sys.argv[1])
