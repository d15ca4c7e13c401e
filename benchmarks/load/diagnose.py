"""`python -m benchmarks.load.diagnose`: why one token takes seconds on a shared CPU.

Times the served language model's prefill and decoding for every combination of
CPU threads (1, 2), OpenMP wait policy (unset, ACTIVE, PASSIVE) and machine load
(idle, one CPU-bound background process), each in a fresh subprocess because the
OpenMP runtime reads ``OMP_WAIT_POLICY`` only when torch is imported. Then the same
for four replies generated at once on four Python threads, as the generator did
before it had a worker. Prints a markdown table (kept in docs/generation-under-load.md).

Per configuration: prefill seconds of a typical and of a ``max_prompt_tokens`` prompt,
and decoding milliseconds per token (median and 90th percentile over 32 tokens x 3).
On a shared machine, other people's jobs are counted (cores they used while a
configuration ran) and a configuration they disturbed is timed again.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional

from benchmarks.load.background import FOREIGN_LIMIT, busy_snapshot, cpu_hogs, foreign_cores, wait_until_quiet

DECODE_TOKENS = 32
REPEATS = 3
WAIT_POLICIES = ("unset", "ACTIVE", "PASSIVE")  # or "GOMP_SPINCOUNT=N" (libgomp: spin N rounds, then sleep)
ATTEMPTS = 4  # a configuration timed while others' jobs used FOREIGN_LIMIT cores or more is timed again


def _prompt_ids(tokenizer, length: int):
    """A chat prompt of exactly ``length`` tokens (held-out-like prose, repeated)."""
    import torch

    text = ("I went hiking last weekend and the view from the top was amazing, "
            "do you like the outdoors or do you prefer staying in with a good book? ") * 40
    messages = [{"role": "system", "content": "You are Kai, a warm and caring AI companion."},
                {"role": "user", "content": text}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)["input_ids"]
    return torch.cat([ids[:, : length - 5], ids[:, -5:]], dim=1)


def _child(threads: int, lengths: List[int], concurrent: int) -> Dict:
    """Runs in the fresh subprocess: load the model, time it, return the numbers."""
    import torch
    from transformers import StoppingCriteria

    from bot.generation.config import GeneratorConfig
    from bot.generation.model import base_for_inference, load_tokenizer

    config = GeneratorConfig(num_threads=threads)
    model = base_for_inference(config)
    tokenizer = load_tokenizer(config.base_model)

    class Stamps(StoppingCriteria):
        def __init__(self) -> None:
            self.times = [time.perf_counter()]

        def __call__(self, input_ids, scores, **kwargs):
            self.times.append(time.perf_counter())
            return torch.zeros(input_ids.shape[0], dtype=torch.bool)

    def one_reply(ids) -> Dict:
        torch.set_num_threads(threads)  # per calling thread (OpenMP)
        stamps = Stamps()
        with torch.inference_mode():
            model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=DECODE_TOKENS,
                           min_new_tokens=DECODE_TOKENS, do_sample=False, stopping_criteria=[stamps],
                           temperature=None, top_p=None, top_k=None)
        gaps = [b - a for a, b in zip(stamps.times[1:], stamps.times[2:])]
        return {"first_token_s": stamps.times[1] - stamps.times[0], "token_s": gaps,
                "total_s": stamps.times[-1] - stamps.times[0]}

    one_reply(_prompt_ids(tokenizer, 32))  # first-use setup
    result: Dict = {"threads": threads}
    for length in lengths:
        ids = _prompt_ids(tokenizer, length)
        runs = [one_reply(ids) for _ in range(REPEATS)]
        result[f"prefill_{length}_s"] = statistics.median(r["first_token_s"] for r in runs)
        tokens = sorted(t for r in runs for t in r["token_s"])
        result[f"token_ms_{length}"] = 1000 * statistics.median(tokens)
        result[f"token_p90_ms_{length}"] = 1000 * tokens[int(0.9 * (len(tokens) - 1))]
    if concurrent > 1:
        ids = _prompt_ids(tokenizer, lengths[0])
        out: List[Dict] = []
        workers = [threading.Thread(target=lambda: out.append(one_reply(ids))) for _ in range(concurrent)]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        result["concurrent"] = concurrent
        result["concurrent_wall_s"] = time.perf_counter() - start
        result["concurrent_reply_s"] = statistics.median(r["total_s"] for r in out)
        result["concurrent_token_ms"] = 1000 * statistics.median(t for r in out for t in r["token_s"])
    return result


def run_config(threads: int, policy: str, hogs: int, lengths: List[int], concurrent: int = 1) -> Dict:
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    env.pop("GOMP_SPINCOUNT", None)
    if policy.startswith("GOMP_SPINCOUNT="):
        env["GOMP_SPINCOUNT"] = policy.split("=", 1)[1]
    elif policy != "unset":
        env["OMP_WAIT_POLICY"] = policy
    command = [sys.executable, "-m", "benchmarks.load.diagnose", "--child", "--threads", str(threads),
               "--lengths", *map(str, lengths), "--concurrent", str(concurrent)]
    for attempt in range(1, ATTEMPTS + 1):
        wait_until_quiet()
        before = busy_snapshot()
        with cpu_hogs(hogs):
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        foreign = foreign_cores(before, busy_snapshot())
        if foreign < FOREIGN_LIMIT:
            break
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row.update(policy=policy, background=hogs, foreign_load=round(foreign, 2), attempts=attempt)
    return row


def print_table(rows: List[Dict], lengths: List[int]) -> None:
    short, long_ = lengths
    print(f"| threads | OMP_WAIT_POLICY | background processes (others' cores) | prefill {short} tok (s) | prefill {long_} tok (s) "
          f"| ms/token (median / p90) | 4 replies at once: ms/token, s per reply |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        concurrent = (f"{r['concurrent_token_ms']:.0f}, {r['concurrent_reply_s']:.1f}"
                      if "concurrent" in r else "-")
        print(f"| {r['threads']} | {r['policy']} | {r['background']} ({r['foreign_load']:.2f}) | {r[f'prefill_{short}_s']:.2f} "
              f"| {r[f'prefill_{long_}_s']:.2f} | {r[f'token_ms_{short}']:.0f} / {r[f'token_p90_ms_{short}']:.0f} "
              f"| {concurrent} |")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load.diagnose", description=__doc__.split("\n")[0])
    parser.add_argument("--lengths", type=int, nargs=2, default=[128, 384],
                        help="prompt lengths in tokens: a typical chit-chat prompt and the cap")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--concurrent", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.threads, args.lengths, args.concurrent)))
        return 0
    rows = []
    for policy in WAIT_POLICIES:
        for threads in (1, 2):
            for hogs in (0, 1):
                rows.append(run_config(threads, policy, hogs, args.lengths))
                print(json.dumps(rows[-1]), flush=True)
    for policy, threads in (("unset", 2), ("PASSIVE", 2), ("PASSIVE", 1)):
        rows.append(run_config(threads, policy, 0, args.lengths, concurrent=4))
        print(json.dumps(rows[-1]), flush=True)
    print_table(rows, args.lengths)
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(rows, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
