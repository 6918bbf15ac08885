#!/usr/bin/env bash
# Every figure of docs/RESULTS.md in one go: the four trainings, the int8 conversion of the robust
# model, the scene benchmark and the speed benchmark. On a GPU the trainings take minutes; on a
# 2-core CPU a few hours. Results go to runs/ (and runs/reproduce.log); nothing in the repo changes.
#   scripts/reproduce.sh [MNIST.npz] [USPS.npz]
set -euo pipefail
cd "$(dirname "$0")/.."
mnist="${1:-../shared/data/mnist.npz}"
usps="${2:-../shared/data/usps/usps.npz}"
py=.venv/bin/python
[ -x "$py" ] || scripts/setup.sh train,device,dev
mkdir -p runs
exec > >(tee -a runs/reproduce.log) 2>&1
date
$py -m train --config paper --data "$mnist" --out runs/paper --quiet
$py -m train --config paper-plain --data "$mnist" --out runs/paper-plain --quiet
$py -m train --config paper-plain --epochs 8 --data "$mnist" --extra "$usps" --out runs/paper_usps --quiet
$py -m train --config robust --data "$mnist" --out runs/robust --quiet
$py -m convert --int8 runs/robust/model.keras --data "$mnist" -o runs/robust/digits_int8.tflite
$py -m convert --float runs/robust/model.keras --data "$mnist" -o runs/robust/digits_float.tflite
$py -m device eval --npz "$mnist" --model runs/robust/digits_int8.tflite
$py scripts/make_scenes.py --count 500 --seed 2024 --mnist-range 5000:10000 --out runs/scenes-eval
$py scripts/eval_scenes.py runs/scenes-eval --model runs/robust/digits_int8.tflite
$py scripts/make_scenes.py --count 500 --seed 4048 --out runs/scenes-eval-all
$py scripts/eval_scenes.py runs/scenes-eval-all --model runs/robust/digits_int8.tflite
for seed in 9090 6060 7070; do
  $py scripts/make_scenes.py --count 500 --seed $seed --mnist-range 5000:10000 --out runs/scenes-eval-$seed
  $py scripts/eval_scenes.py runs/scenes-eval-$seed --model runs/robust/digits_int8.tflite
done
$py -m device bench --model runs/robust/digits_int8.tflite --frames 200
$py scripts/bench_inference.py runs/robust/digits_int8.tflite runs/robust/digits_float.tflite --threads 1
date
