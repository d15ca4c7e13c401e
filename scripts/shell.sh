#!/usr/bin/env bash
# Start the action server in the background and chat with the newest model in the
# terminal (`rasa shell`). The action server stops when the shell ends.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
mkdir -p var
.venv/bin/rasa run actions --actions actions > var/actions.log 2>&1 &
actions_pid=$!
trap 'kill $actions_pid 2>/dev/null || true' EXIT
.venv/bin/rasa shell --endpoints endpoints.yml
