"""`python -m benchmarks.load`: the served generator idle, beside a CPU-bound process, and
with four users at once; writes ``under_load`` in benchmarks/results/streaming.json.

    python -m benchmarks.load [--turns 80] [--set KEY=VALUE ...] [--rasa-model models/x.tar.gz]

Held-out chit-chat contexts (the corpus' held-out split, drawn as ``bot.bench generation``
draws them), the adapter and settings the trained Rasa model serves (``config.yml``).
Targets: at least 95% of turns answered with generated text under load, p95 of the full
reply at most 3 s under load and 1.5 s idle. Results are kept per CPU kind (read-modify-
write: other keys of the file and other CPUs' entries are left alone).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import yaml

from benchmarks.load.background import FOREIGN_LIMIT, busy_snapshot, foreign_cores, wait_until_quiet
from benchmarks.load.scenarios import (
    THINK_S, TurnResult, project_config, run_sequential, run_users, served_generator, summarise,
)
from bot.bench.generation import newest_rasa_model
from bot.generation.corpus import chitchat_examples
from bot.generation.precision import native_bfloat16, resolve
from bot.generation.threads import usable_cores
from bot.paths import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "streaming.json"
PLOT = PROJECT_ROOT / "benchmarks" / "results" / "plots" / "generation_under_load.png"
SCENARIOS = ("idle", "background_process", "four_users")


def cpu_kind() -> Dict:
    """The CPU as /proc/cpuinfo names it, with what tells two "AMD EPYC"s apart."""
    info: Dict[str, str] = {}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if not line.strip():
            break  # first processor only
        key, _, value = line.partition(":")
        info[key.strip()] = value.strip()
    return {"cpu": info.get("model name", "unknown"), "cpu_family": info.get("cpu family"),
            "cpu_model": info.get("model"), "cores": usable_cores(), "native_bfloat16": native_bfloat16()}


def undisturbed(run: Callable[[], List[TurnResult]], meter, attempts: int = 3) -> Tuple[List[TurnResult], float]:
    """``run()`` on a quiet machine; repeated (up to ``attempts`` times) while other people's
    jobs used ``FOREIGN_LIMIT`` cores or more during it. Returns the results and that use."""
    for _ in range(attempts):
        wait_until_quiet(meter)
        before = busy_snapshot()
        results = run()
        foreign = foreign_cores(before, busy_snapshot())
        if foreign < FOREIGN_LIMIT:
            break
        print(f"  other people's jobs used {foreign:.2f} cores meanwhile: again", flush=True)
    return results, foreign


def print_table(entry: Dict) -> None:
    print(f"\nCPU: {entry['cpu']} (family {entry['cpu_family']} model {entry['cpu_model']}), {entry['cores']} cores, "
          f"precision {entry['precision']}, OMP_WAIT_POLICY={entry['settings']['omp_wait_policy']}")
    print("| scenario | turns | answered | full reply p50 / p95 / max (s) | fallback reasons | queue wait (s) "
          "| new tokens | threads used | others' cores (foreign) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in [n for n in SCENARIOS if n in entry]:
        s = entry[name]
        reasons = ", ".join(f"{k}: {v}" for k, v in s["fallback_reasons"].items()) or "-"
        threads = ", ".join(f"{k}: {v}" for k, v in s["threads_used"].items())
        r = s["full_reply_s"]
        print(f"| {name} | {s['turns']} | {s['answered_share']:.1%} | {r['p50']:.2f} / {r['p95']:.2f} / {r['max']:.2f} "
              f"| {reasons} | {s['queue_wait_s_mean']:.2f} | {s['new_tokens_mean']} | {threads} "
              f"| {s['others_busy_cores_mean']:.2f} ({s['foreign_cores']:.2f}) |")


def plot(results: Dict[str, List[TurnResult]], entry: Dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    data = [[r.full_reply_s for r in results[name]] for name in SCENARIOS]
    ax.boxplot(data, whis=(5, 95), showfliers=True)
    ax.set_xticks(range(1, len(SCENARIOS) + 1),
                  [f"{n}\nanswered {entry[n]['answered_share']:.0%}" for n in SCENARIOS])
    ax.axhline(1.5, color="tab:green", linestyle="--", linewidth=1, label="idle target p95 1.5 s")
    ax.axhline(3.0, color="tab:red", linestyle="--", linewidth=1, label="under-load target p95 3 s")
    ax.set_ylabel("full reply (s)")
    ax.set_title(f"Generated replies under load: {entry['cpu']}, {entry['cores']} cores, {entry['precision']}")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save(entry: Dict, out: Path) -> None:
    data = json.loads(out.read_text()) if out.exists() else {}
    key = f"{entry['cpu']} (family {entry['cpu_family']} model {entry['cpu_model']}), {entry['cores']} cores"
    data.setdefault("under_load", {})[key] = entry
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=80, help="turns in each scenario")
    parser.add_argument("--users", type=int, default=4, help="users chatting at once in four_users")
    parser.add_argument("--seed", type=int, default=38)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="override generator settings of config.yml (values read as YAML)")
    parser.add_argument("--rasa-model", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--plot", type=Path, default=PLOT)
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS),
                        help="run only these (for comparisons: the results file wants all three)")
    parser.add_argument("--details", type=Path, default=None, help="also write every turn here (JSON lines)")
    args = parser.parse_args(argv)

    overrides = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    config = project_config(**overrides)
    rasa_model = args.rasa_model or newest_rasa_model()
    if rasa_model is None:
        print("No trained model in models/: run `make train` first.")
        return 1
    generator = served_generator(rasa_model, config)
    contexts = [e.context for e in chitchat_examples(True, args.turns, config.max_history_turns, seed=7)]
    generator.warm_up()
    print(f"model {rasa_model.name}; {len(contexts)} held-out contexts per scenario")

    runs = {
        "idle": lambda: run_sequential(generator, contexts, "idle", background=0),
        "background_process": lambda: run_sequential(generator, contexts, "background_process", background=1),
        "four_users": lambda: run_users(generator, contexts, args.users, args.seed),
    }
    results, foreign = {}, {}
    for name in args.scenarios:
        results[name], foreign[name] = undisturbed(runs[name], generator.worker.meter)
        print(f"{name} done (other people's jobs used {foreign[name]:.2f} cores meanwhile)", flush=True)

    entry = {
        **cpu_kind(), "precision": resolve(config.inference_precision),
        "date": datetime.date.today().isoformat(), "rasa_model": rasa_model.name,
        "settings": {"time_budget_s": config.time_budget_s, "max_new_tokens": config.max_new_tokens,
                     "max_prompt_tokens": config.max_prompt_tokens, "num_threads": config.num_threads,
                     "decode_threads": config.decode_threads,
                     "max_waiting_replies": config.max_waiting_replies,
                     "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
                     "users": args.users, "think_s": list(THINK_S)},
        **{name: {**summarise(results[name]), "foreign_cores": round(foreign[name], 2)} for name in results},
    }
    print_table(entry)
    if args.details:
        with args.details.open("w") as handle:
            for name in results:
                for r in results[name]:
                    handle.write(json.dumps({"scenario": name, "user": r.user, "full_reply_s": round(r.full_reply_s, 3),
                                             "others_busy": round(r.others_busy, 2), **r.reply.diagnostics(),
                                             "text": r.reply.text}) + "\n")
    if set(results) != set(SCENARIOS):
        print("Not all scenarios ran: nothing saved.")
        return 0
    plot(results, entry, args.plot)
    save(entry, args.out)
    print(f"wrote {args.out} and {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
