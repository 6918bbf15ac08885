#!/usr/bin/env bash
# Create .venv (Python 3.11 when present) and install the project with the given extras.
#   scripts/setup.sh device            # run the bundled model: numpy, OpenCV, LiteRT
#   scripts/setup.sh train,device,dev  # everything: training, conversion, tests
# Idempotent: a second run only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-device}"
python="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $("$python" --version)"
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[${extras}]"
