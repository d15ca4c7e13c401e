#!/usr/bin/env bash
# Start the assistant: the action server, then `rasa run` with every channel of
# credentials.yml (web page, REST, socket.io, Slack and Telegram when their secrets
# are set), and print the chat page's address once it answers. Ctrl-C stops both.
#
#   PORT=5005        the Rasa server's port (the page is served there too)
#   INTERFACE=0.0.0.0   where it listens (127.0.0.1 keeps it to this machine)
#   MODEL=models     a model file, or a folder whose newest model is used
#   ENDPOINTS=endpoints.yml, ACTIONS_PORT=5055 (the port its action_endpoint names)
#   ACTIONS_INTERFACE=127.0.0.1   where the action server listens: only Rasa may call it
#                    (it runs any action for any conversation a caller names)
# Logs: var/rasa.log and var/actions.log.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

PORT=${PORT:-5005}
INTERFACE=${INTERFACE:-0.0.0.0}
MODEL=${MODEL:-models}
ENDPOINTS=${ENDPOINTS:-endpoints.yml}
ACTIONS_PORT=${ACTIONS_PORT:-5055}
ACTIONS_INTERFACE=${ACTIONS_INTERFACE:-127.0.0.1}
STARTUP_TIMEOUT_S=${STARTUP_TIMEOUT_S:-300}
PAGE="http://localhost:${PORT}/webhooks/webchat/"

if [ -d "$MODEL" ] && ! ls "$MODEL"/*.tar.gz >/dev/null 2>&1; then
  echo "serve: no trained model in $MODEL/: run \`make train\` first." >&2
  exit 1
fi

mkdir -p var
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# Answers with any HTTP status below 500 (the servers are up), else fails.
answers() {
  .venv/bin/python - "$1" <<'EOF'
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError as error:
    sys.exit(error.code >= 500)
except Exception:
    sys.exit(1)
EOF
}

wait_until_up() {  # name, pid, url, log
  local deadline=$((SECONDS + STARTUP_TIMEOUT_S))
  until answers "$3"; do
    if ! kill -0 "$2" 2>/dev/null; then
      echo "serve: the $1 stopped while starting; the end of $4:" >&2
      tail -n 30 "$4" >&2
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "serve: the $1 did not answer within ${STARTUP_TIMEOUT_S}s; see $4" >&2
      exit 1
    fi
    sleep 1
  done
}

echo "serve: starting the action server (port $ACTIONS_PORT) and Rasa (port $PORT); logs in var/"
# rasa_sdk reads its interface from SANIC_HOST (it has no --interface flag).
SANIC_HOST="$ACTIONS_INTERFACE" .venv/bin/rasa run actions --actions actions --port "$ACTIONS_PORT" > var/actions.log 2>&1 &
pids+=($!)
.venv/bin/rasa run --model "$MODEL" --endpoints "$ENDPOINTS" --credentials credentials.yml \
  --interface "$INTERFACE" --port "$PORT" > var/rasa.log 2>&1 &
pids+=($!)

wait_until_up "action server" "${pids[0]}" "http://localhost:${ACTIONS_PORT}/health" var/actions.log
wait_until_up "Rasa server" "${pids[1]}" "http://localhost:${PORT}/webhooks/rest/" var/rasa.log

grep -h "left out\|webhook not set" var/rasa.log | sed 's/^/serve: /' || true
echo
echo "  Kai is running. Chat in your browser: $PAGE"
echo "  REST: POST http://localhost:${PORT}/webhooks/rest/webhook   Ctrl-C stops."
echo

# Keep running until either server exits (or Ctrl-C).
wait -n "${pids[@]}"
echo "serve: a server stopped; the end of var/rasa.log:" >&2
tail -n 20 var/rasa.log >&2
exit 1
