#!/usr/bin/env bash
# Reruns the figures of docs/RESULTS.md.
#
#   scripts/reproduce.sh [shipped|all] [MNIST.npz] [USPS.npz]
#
#   shipped  (the default) measures the shipped model: device/models/digits_int8.tflite and its Keras source
#            train/models/reader.keras. Part 1 below has one command per row of RESULTS.md's table, in its
#            order (row 20, device info, first), each under a comment naming its row. About 10 minutes on
#            a 2-core CPU (2026-12-08), most of it the real scans read with 8 looks and the scene sets.
#   all      (or train) part 1, then part 2: the trainings and conversions of the dated log's history
#            (docs/log/2026-12.md). A few minutes on a GPU, 6 to 9 hours on a 2-core CPU.
#
# MNIST.npz and USPS.npz default to ../shared/data/mnist.npz and ../shared/data/usps/usps.npz. A first argument
# that is not a mode is taken as MNIST.npz (mode shipped), as the script was called before.
# Outputs go to runs/ (runs/shipped, runs/scenes-SEED, ...) and the whole transcript is appended to
# runs/reproduce.log. Nothing in the repository changes.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=shipped
case "${1:-}" in
  shipped|all) mode="$1"; shift ;;
  train) mode=all; shift ;;
  -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
esac
mnist="${1:-../shared/data/mnist.npz}"
usps="${2:-../shared/data/usps/usps.npz}"
for f in "$mnist" "$usps"; do
  [ -e "$f" ] || { echo "reproduce.sh: $f: no such file" \
    "(usage: scripts/reproduce.sh [shipped|all] [MNIST.npz] [USPS.npz])" >&2; exit 2; }
done
py=.venv/bin/python
[ -x "$py" ] || scripts/setup.sh train,device,dev
mkdir -p runs/shipped
exec > >(tee -a runs/reproduce.log) 2>&1

row() { echo; echo "== $*"; }
# One scene set: generate 500 scenes with seed $1 (other arguments go to the generator) into runs/scenes-SEED,
# then score them with the bundled model.
scenes() {
  local seed="$1"; shift
  "$py" scripts/make_scenes.py --count 500 --seed "$seed" "$@" --out "runs/scenes-$seed"
  "$py" scripts/eval_scenes.py "runs/scenes-$seed"
}

echo "reproduce.sh $mode: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m)," \
  "$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p'), MNIST $mnist, USPS $usps"

# ---- Part 1: the shipped model, one command per row of RESULTS.md's table ------------------------------

# Row 20, "the metadata inside the model file": what the model file says it is, and the metadata's size.
row "model"
"$py" -m device info device/models/digits_int8.tflite

# Row 1, "MNIST test, int8": the bundled model, as device eval reads it.
row "MNIST test, int8"
"$py" -m device eval --npz "$mnist"

# Row 2, "MNIST test, Keras source and its int8 network": converts the Keras model again (the same weights as the
# bundled file; the metadata inside differs by its creation time) and prints both accuracies.
row "MNIST test, Keras source, converted again"
"$py" -m convert --int8 train/models/reader.keras --data "$mnist" --recipe reader-real \
  -o runs/shipped/digits_int8.tflite --quiet

# Row 3, "USPS": real handwriting the model never trained on.
row "USPS, int8"
"$py" -m device eval --npz "$usps"

# Rows 4 to 9, real cheque scans (ORAND-CAR-A, development half): the boxed digits (row 4), then whole numbers
# as scanned (rows 5, 6) and framed (row 7), with device read's 3 looks, one look (row 8, as device live reads a
# frame) and 8 looks (row 9). Skipped when the research data is not beside the clone. Row 10 (photos) has no
# labelled set yet.
orand=../shared/data/orand_car_a_dev
if [ -f "$orand/labels.csv" ]; then
  row "ORAND-CAR boxed digits"; "$py" -m device eval --boxes "$orand"
  row "ORAND-CAR whole numbers, as scanned"; "$py" -m device eval --strings "$orand"
  row "ORAND-CAR whole numbers, framed"; "$py" -m device eval --strings "$orand" --framed
  row "ORAND-CAR whole numbers, one look (as device live reads a frame)"
  "$py" -m device eval --strings "$orand" --looks 1
  "$py" -m device eval --strings "$orand" --framed --looks 1
  row "ORAND-CAR whole numbers, eight looks (--looks 8, for tight scans)"
  "$py" -m device eval --strings "$orand" --looks 8
  "$py" -m device eval --strings "$orand" --framed --looks 8
else
  row "ORAND-CAR: $orand not here, skipped"
fi

# Rows 11 to 15, generated camera-like scenes of MNIST test digits, seeds 2024, 9090, 6060, 7070 and 4048.
row "scenes 2024"; scenes 2024 --mnist-range 5000:10000
row "scenes 9090"; scenes 9090 --mnist-range 5000:10000
row "scenes 6060"; scenes 6060 --mnist-range 5000:10000
row "scenes 7070"; scenes 7070 --mnist-range 5000:10000
row "scenes 4048"; scenes 4048

# Rows 16 and 17, "a whole frame" and "memory": the bundled 640x480 sample with six digits.
row "device bench"
"$py" -m device bench --frames 200

# Row 18, "one digit, inference only".
row "bench_inference"
"$py" scripts/bench_inference.py device/models/digits_int8.tflite --threads 1

# Row 19, "file size".
row "model sizes"
ls -l device/models/digits_int8.tflite train/models/reader.keras

# Rows 23 and 24, "held-out writers": the writers of the real training sets that the model never trained on.
real=../shared/data
if [ -f "$real/unipen_1a/unipen_1a.tar.xz" ]; then
  row "real training sets, held-out writers"
  "$py" scripts/eval_real_sets.py --model device/models/digits_int8.tflite --real-data "$real"
else
  row "real training sets: $real not here, skipped"
fi

# Row 21, "emulated arm64": needs root and the network (a Debian mirror, PyPI) and a few minutes, so it is
# not run here; its last transcript is docs/arm64-check.txt. To rerun it:
row "emulated arm64: not run here; run: sudo nice -n 10 scripts/check-arm64.sh --envs 'litert tflite'"

if [ "$mode" != all ]; then
  echo; echo "done: $(date -u '+%Y-%m-%d %H:%M UTC')"
  exit 0
fi

# ---- Part 2: the history (docs/log/2026-12.md) ---------------------------------------------------
# Not rerun: the first and previous robust recipes (made at older commits; no longer in the tree) and the
# superseded 14-epoch `paper` run. The shipped robust model was trained with KERAS_BACKEND=jax on a GPU; here
# the default backend (TensorFlow) is used, as in the CPU reproduction of 2026-11-27.

# 1. Training.
row "train paper"
"$py" -m train --config paper --data "$mnist" --out runs/paper --quiet
row "train paper-plain"
"$py" -m train --config paper-plain --data "$mnist" --out runs/paper-plain --quiet
row "train paper-plain + USPS (experiment 2)"
"$py" -m train --config paper-plain --epochs 8 --data "$mnist" --extra "$usps" --out runs/paper_usps --quiet
row "train robust"
"$py" -m train --config robust --data "$mnist" --out runs/robust --quiet
# Not rerun: "fine-tuning the shipped model with USPS" (2026-11-27) used --config robust with USPS, which the
# data rule (train/data_rules.py) now refuses; scripts/personal_finetune.py measures fine-tuning with USPS.
# The shipped model's chain from it: styles, then the reader recipe five times (its first run, on 2026-12-02, drew
# touching digits that could overlap two 1s into one stroke, since changed; and the stages before the last two
# drew fewer writing styles than train/styles.py has now: a rerun differs a little).
row "train styles (robust + 6 epochs)"
"$py" -m train --config styles --init runs/robust/model.keras --epochs 6 --learning-rate 2e-4 --data "$mnist" \
  --out runs/styles-ft2 --quiet
row "train reader (styles + 7 epochs, then 6 more)"
"$py" -m train --config reader --init runs/styles-ft2/model.keras --epochs 7 --learning-rate 3e-4 --data "$mnist" \
  --out runs/reader --quiet
"$py" -m train --config reader --init runs/reader/model.keras --epochs 6 --learning-rate 1.5e-4 --data "$mnist" \
  --out runs/reader2 --quiet
row "train reader with the third set of styles (6 epochs, then 6 more, then 6 more)"
"$py" -m train --config reader --init runs/reader2/model.keras --epochs 6 --learning-rate 1.5e-4 --data "$mnist" \
  --out runs/glyphs3 --quiet
"$py" -m train --config reader --init runs/glyphs3/model.keras --epochs 6 --learning-rate 1e-4 --data "$mnist" \
  --out runs/glyphs3b --quiet
"$py" -m train --config reader --init runs/glyphs3b/model.keras --epochs 6 --learning-rate 1e-4 --data "$mnist" \
  --out runs/glyphs5 --quiet
"$py" -m convert --int8 runs/glyphs5/model.keras --data "$mnist" -o runs/glyphs5/digits_int8.tflite --quiet
if [ -f "$orand/labels.csv" ]; then
  "$py" -m device eval --strings "$orand" --model runs/glyphs5/digits_int8.tflite
fi
# The shipped model (2026-12-08): the one above (then train/models/reader.keras) + 1,500 steps of reader-real,
# which adds the real handwriting sets (needs them under ../shared/data, or downloads them: docs/train.md).
row "train reader-real (glyphs5 + 1,500 steps with real handwriting)"
"$py" -m train --config reader-real --init runs/glyphs5/model.keras --data "$mnist" --real-data ../shared/data \
  --steps 1500 --learning-rate 3e-4 --out runs/reader-real --quiet
"$py" -m convert --int8 runs/reader-real/model.keras --data "$mnist" -o runs/reader-real/digits_int8.tflite --quiet

# 2. Conversion of the new robust model.
row "convert robust"
"$py" -m convert --int8 runs/robust/model.keras --data "$mnist" -o runs/robust/digits_int8.tflite --quiet
"$py" -m convert --float runs/robust/model.keras --data "$mnist" -o runs/robust/digits_float.tflite --quiet
"$py" -m device eval --npz "$mnist" --model runs/robust/digits_int8.tflite
"$py" -m device eval --npz "$usps" --model runs/robust/digits_int8.tflite

# 3. Scenes with the new model (the sets of part 1 are scored again, not regenerated).
for seed in 2024 9090 6060 7070 4048; do
  row "scenes $seed, new robust model"
  "$py" scripts/eval_scenes.py "runs/scenes-$seed" --model runs/robust/digits_int8.tflite
done

# 4. Speed of the new model, int8 against float32.
row "speed, new robust model"
"$py" -m device bench --model runs/robust/digits_int8.tflite --frames 200
"$py" scripts/bench_inference.py runs/robust/digits_int8.tflite runs/robust/digits_float.tflite --threads 1

echo; echo "done: $(date -u '+%Y-%m-%d %H:%M UTC')"
