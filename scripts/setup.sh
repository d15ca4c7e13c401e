#!/usr/bin/env bash
# Build .venv from requirements.lock (exact pins, installed with --no-deps) and the
# Debian packages the project needs. Idempotent: a second run takes a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

PYTHON=${PYTHON:-python3.11}
VENV=.venv
STAMP=$VENV/.lock-sha256
APT_PACKAGES=(${APT_PACKAGES:-chromium nginx})

install_apt_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  echo "setup: installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

install_python_packages() {
  local want
  want=$(sha256sum requirements.lock | cut -d' ' -f1)
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    return
  fi
  echo "setup: building $VENV from requirements.lock (a few minutes the first time)"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade "pip==24.3.1"
  # rasa 3.6 declares Requires-Python <3.11 but runs on 3.11 (see README):
  # the flag, not the PIP_IGNORE_REQUIRES_PYTHON variable, which leaks into
  # isolated build environments.
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps \
    --ignore-requires-python -r requirements.lock
  echo "$want" > "$STAMP"
}

install_apt_packages
install_python_packages
"$VENV/bin/rasa" telemetry disable >/dev/null 2>&1 || true
echo "setup: ready ($VENV)"
