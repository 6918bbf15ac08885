#!/usr/bin/env bash
# The quick start: install the device runtime and read the digits in the bundled sample photos
# with the bundled int8 model. Annotated copies go to out/annotated/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh device
exec .venv/bin/device read device/samples/*.jpg --save-annotated out/annotated "$@"
