"""The ceiling experiment (never shipped): does the network or the data limit the real cheque digits?

    python scripts/ceiling_orand.py --data ../shared/data/mnist.npz --strings ../shared/data/orand_car_a_dev \\
        --real-data ../shared/data --init train/models/reader.keras --steps 1500 --out runs/ceiling \\
        --compare train/models/reader.keras runs/reader-real/model.keras

The paper's second experiment on the real scans: the cheques of the development half are split in two by
image (a cheque's digits stay together, as a writer's do), the digits cut out by their boxes of one half are
mixed into a fine-tune (``--weight`` copies per epoch, with the recipe's other data), and the other half's digits
measure it, read as the device reads them. The models of ``--compare`` (trained without ORAND) are measured on
the same half. ORAND-CAR is research data: the model this writes is for this measurement only (its
config.json says so) and must never ship.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="MNIST .npz")
    parser.add_argument("--strings", type=Path, required=True, help="a strings folder with digit_boxes.csv")
    parser.add_argument("--real-data", type=Path, default=None, help="root of the real sets (../shared/data)")
    parser.add_argument("--recipe", default="reader-real")
    parser.add_argument("--init", type=Path, default=Path("train/models/reader.keras"))
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--weight", type=float, default=5.0, help="copies of the ORAND half per epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--compare", type=Path, nargs="*", default=[], help="Keras models measured beside it")
    args = parser.parse_args()

    import keras

    from device.data.stringsets import digit_crops, load_string_set, split_by_image
    from train.recipes import get_recipe
    from train.trainer import RunOptions, run_training

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ablate_real_sets import device_accuracy

    strings = load_string_set(args.strings)
    train_idx, test_idx = split_by_image(len(strings), 0.5, args.seed)
    train_crops, test_crops = digit_crops(strings, train_idx).digits, digit_crops(strings, test_idx).digits
    print(f"ORAND cheques: {len(train_idx)} ({len(train_crops)} digits) mixed in, "
          f"{len(test_idx)} ({len(test_crops)} digits) held out", flush=True)
    model_path = args.out / "model.keras"
    with tempfile.TemporaryDirectory(prefix="ceiling-") as temp:
        # the file names say ORAND, so that the run's config.json records research data (train/provenance.py)
        train_npz, test_npz = Path(temp) / "orand_half_train.npz", Path(temp) / "orand_half_test.npz"
        np.savez(train_npz, x=train_crops.x, y=train_crops.y)
        np.savez(test_npz, x=test_crops.x, y=test_crops.y)
        if not model_path.is_file():
            recipe = get_recipe(args.recipe, learning_rate=args.learning_rate)
            run_training(RunOptions(recipe=recipe, out_dir=args.out, data=args.data, init=args.init,
                                    steps=args.steps, seed=args.seed, verbose=2, real_data=args.real_data,
                                    extra=train_npz, extra_held_out=test_npz, extra_weight=args.weight,
                                    command="ceiling_orand (research data mixed in: never ship)"))
    print(f"\nORAND development digits of the held-out half of the cheques ({len(test_crops)} digits, "
          f"{len(test_idx)} cheques), read as the device reads:\n")
    print("| model | accuracy | worst digit |\n|---|---|---|")
    for path, name in [*((p, str(p)) for p in args.compare),
                       (model_path, f"ceiling: {args.recipe} + the other half x{args.weight:g} ({model_path})")]:
        accuracy, per_class = device_accuracy(keras.saving.load_model(path, compile=False), test_crops.x,
                                              test_crops.y)
        print(f"| {name} | {100 * accuracy:.2f} % | {100 * np.nanmin(per_class):.1f} % |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
