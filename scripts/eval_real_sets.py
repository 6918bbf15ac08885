"""Each real handwriting set's held-out writers (never trained on), read by an int8 model as the device reads.

    python scripts/eval_real_sets.py --model device/models/digits_int8.tflite --real-data ../shared/data

The writers held out are those ``train`` holds out with the same ``--seed`` (train/realsets.py): a fifth of
each set's writers, pendigits' own 14 test writers; optdigits names no writers, so it has none. The digits go
through ``device eval``'s path (the second look and the non-digit decision), as ``Recognizer.classify`` reads.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from device.data.digitsets import DataError, DigitSet
from device.recognition.runtime import ModelError, TFLiteModel
from device.tools.evaluate import evaluate_model
from train.realsets import REAL_SETS, load_real_set


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("device/models/digits_int8.tflite"))
    parser.add_argument("--real-data", type=Path, required=True, help="root of the real sets (../shared/data)")
    parser.add_argument("--sets", nargs="*", default=list(REAL_SETS), choices=list(REAL_SETS))
    parser.add_argument("--seed", type=int, default=0, help="the training run's seed (default 0)")
    args = parser.parse_args()
    try:
        model = TFLiteModel(args.model)
    except ModelError as err:
        print(f"eval_real_sets: error: {err}", file=sys.stderr)
        return 2
    print(f"model: {args.model}\n\n| set | held-out writers | digits | accuracy | worst digit |\n|---|---|---|---|---|")
    for name in args.sets:
        try:
            real = load_real_set(name, args.real_data, args.seed, download=False)
        except DataError as err:
            print(f"eval_real_sets: error: {err}", file=sys.stderr)
            return 2
        x, y = real.part(held_out=True)
        if not len(y):
            print(f"| {name} | none ({real.held_out_note}) | | | |")
            continue
        result = evaluate_model(model, DigitSet(x, y, "mnist"), name)
        print(f"| {name} | {real.held_out_note} | {result.count:,} | {100 * result.accuracy:.2f} % | "
              f"{100 * result.per_class.min():.1f} % |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
