#!/usr/bin/env bash
# Through Rasa, in a fresh process each time (the bench's `nlu_side rasa DIR --latency-only`),
# on copies of trained bench sides, so the committed result.json keeps the bench's own timing.
#   bash benchmarks/runs/nlu-latency-refresh/rasa_fresh.sh SIDE_DIR...
set -euo pipefail
root=$(git rev-parse --show-toplevel) scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
source "$root/scripts/env.sh"
for round in 1 2 3; do
  for side in "$@"; do
    copy="$scratch/$(basename "$(dirname "$side")")"
    [ -d "$copy" ] || { mkdir "$copy" && cp -r "$side"/{models,eval.json,result.json} "$copy/"; }
    "$root/.venv/bin/python" -m bot.bench.nlu_side rasa "$copy" --latency-only 2>/dev/null
    "$root/.venv/bin/python" -c "import json; r = json.load(open('$copy/result.json'))
print(f\"round $round, $side: p50 / p95 {r['p50_ms']:.1f} / {r['p95_ms']:.1f} ms (load {r['load_avg']['latency_remeasured']:.2f})\")"
  done
done
