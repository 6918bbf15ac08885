#!/usr/bin/env bash
# Install everything the tests need into .venv, then run the whole test suite (pytest).
# Extra arguments go to pytest, e.g. scripts/test.sh -k preprocess
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh train,device,dev
exec .venv/bin/python -m pytest "$@"
