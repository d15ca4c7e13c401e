#!/usr/bin/env bash
# Through Rasa, in a fresh process each time (the bench's `nlu_side rasa DIR --latency-only`):
# the code before the paired pass (BASE, default the commit before it, in a temporary git
# worktree) against this checkout, alternating, three rounds, on copies of one trained side.
#   bash benchmarks/runs/nlu-paired-pass/rasa.sh SIDE_DIR [BASE]
set -euo pipefail
side=$1 base=${2:-$(git log --format=%h -1 -- bot/nlu/paired_encoder.py)~1}
root=$(git rev-parse --show-toplevel) scratch=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$scratch/base"; rm -rf "$scratch"' EXIT
git -C "$root" worktree add --detach "$scratch/base" "$base" >/dev/null 2>&1
ln -s "$root/.venv" "$scratch/base/.venv"
for copy in before after; do
  mkdir "$scratch/$copy" && cp -r "$side"/{models,eval.json,result.json} "$scratch/$copy/"
done
source "$root/scripts/env.sh"
export BOT_DATASETS_DIR=${BOT_DATASETS_DIR:-$root/../shared/datasets}
for round in 1 2 3; do
  for copy in before after; do
    code=$([ $copy = before ] && echo "$scratch/base" || echo "$root")
    (cd "$code" && .venv/bin/python -m bot.bench.nlu_side rasa "$scratch/$copy" --latency-only 2>/dev/null)
    "$root/.venv/bin/python" -c "import json; r = json.load(open('$scratch/$copy/result.json'))
print(f\"round $round, $copy: p50 / p95 {r['p50_ms']:.1f} / {r['p95_ms']:.1f} ms (load {r['load_avg']['latency_remeasured']:.2f})\")"
  done
done
