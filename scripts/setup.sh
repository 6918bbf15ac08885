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
# pip's and setuptools' chatter goes to a log, shown only when the install fails.
log=.venv/install.log
if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e ".[${extras}]"; } \
    >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "setup: installing .[${extras}] failed; the whole log is in $log" >&2
  exit 1
fi
echo "installed .[${extras}] into .venv"
