#!/usr/bin/env bash
# How well a TFLite digit model reads everyone's handwriting: MNIST test, USPS (all 9,298) and the boxed
# digits of orand_car_a_dev (real cheque amounts, cut and normalised as camera crops), each with its
# per-class table, through device/'s runtime (the figures of docs/log/2026-12.md, "Everyone's handwriting").
# USPS and ORAND are research data: they measure, they are never trained on for the bundled model.
#
#   scripts/eval_handwriting.sh                              # the bundled model
#   scripts/eval_handwriting.sh runs/styles/digits_int8.tflite
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
model=${1:-device/models/digits_int8.tflite}
shared=${SHARED:-../shared/data}

echo "== MNIST test"
"$py" -m device eval --model "$model" --npz "$shared/mnist.npz"
if [[ -f "$shared/usps/usps.npz" ]]; then
  echo "== USPS, all 9,298 (research data: measured, never trained on)"
  "$py" -m device eval --model "$model" --npz "$shared/usps/usps.npz"
else
  echo "== USPS: skipped ($shared/usps/usps.npz is absent)"
fi
if [[ -d "$shared/orand_car_a_dev" ]]; then
  echo "== orand_car_a_dev, boxed digits (research data: measured, never trained on)"
  "$py" -m device eval --model "$model" --boxes "$shared/orand_car_a_dev"
else
  echo "== orand_car_a_dev: skipped ($shared/orand_car_a_dev is absent)"
fi
