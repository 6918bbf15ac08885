"""Which real handwriting sets (and neighbour-digit crops) move the real cheque digits: each on and off, one table.

    python scripts/ablate_real_sets.py --data ../shared/data/mnist.npz --real-data ../shared/data \\
        --boxes ../shared/data/orand_car_a_dev --init train/models/reader.keras --steps 1500 \\
        --out runs/ablate-real all none no-unipen no-uji no-optdigits no-pendigits neighbours=0

Every VARIANT is a change to the ``reader-real`` recipe: ``all`` (as it is), ``none`` (no real set), ``no-SET``
(all but that set), ``SET=W`` (that set's weight), ``neighbours=P`` (the share of camera-like digits given a
neighbouring digit's piece); several joined by ``+``. Each fine-tunes the starting model for the same number of
steps, same seed and data, then is measured the way the device reads (the second look, the non-digit decision:
``device.recognition.ensemble``, on the Keras model): the cut-out real cheque digits (research data: measured,
never trained on), MNIST test, and each set's held-out writers. One markdown table at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from train.realsets import REAL_SETS
from train.recipes import Recipe, get_recipe


def apply_variant(text: str, base: Recipe) -> Recipe:
    """``base`` with the ``+``-joined changes of ``text`` (see the module docstring)."""
    recipe, sets = base, dict(base.real_sets)
    for change in [] if text == "all" else text.split("+"):
        if change == "none":
            sets = {}
        elif change.startswith("no-") and change[3:] in REAL_SETS:
            sets.pop(change[3:], None)
        elif "=" in change:
            field, _, raw = change.partition("=")
            try:
                value = float(raw)
            except ValueError:
                raise SystemExit(f"ablate_real_sets: error: {change!r}: {field} needs a number") from None
            if field in REAL_SETS:
                sets[field] = value
            elif field == "neighbours":
                recipe = dataclasses.replace(recipe, neighbour_digit_prob=value)
            else:
                raise SystemExit(f"ablate_real_sets: error: unknown setting {field!r}")
        else:
            raise SystemExit(f"ablate_real_sets: error: unknown variant {change!r}")
    return dataclasses.replace(recipe, real_sets=tuple((k, v) for k, v in sets.items() if v > 0))


def device_accuracy(model, images: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Accuracy of a Keras model on MNIST-style digits as the device reads them, and each digit's share right."""
    from device.recognition.decision import decided_classes
    from device.recognition.ensemble import read_probabilities

    predicted = decided_classes(read_probabilities(lambda x: model.predict(x, batch_size=512, verbose=0), images))
    right = predicted == labels
    per_class = np.array([right[labels == d].mean() if (labels == d).any() else np.nan for d in range(10)])
    return float(right.mean()), per_class


def measure(model_path: Path, boxes: tuple[np.ndarray, np.ndarray], mnist_test: tuple[np.ndarray, np.ndarray],
            held_out: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict:
    import keras

    model = keras.saving.load_model(model_path, compile=False)
    orand, per_class = device_accuracy(model, *boxes)
    figures = {"orand_boxes": orand, "orand_worst_class": float(np.nanmin(per_class)),
               "orand_per_class": [round(float(v), 4) for v in per_class],
               "mnist_test": device_accuracy(model, *mnist_test)[0]}
    for name, (x, y) in held_out.items():
        figures[f"held_out_{name}"] = device_accuracy(model, x, y)[0]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="+", help="all, none, no-SET, SET=W, neighbours=P (joined by +)")
    parser.add_argument("--data", type=Path, required=True, help="MNIST .npz")
    parser.add_argument("--real-data", type=Path, required=True, help="root of the real sets (../shared/data)")
    parser.add_argument("--boxes", type=Path, required=True, help="a strings folder with digit_boxes.csv")
    parser.add_argument("--init", type=Path, default=Path("train/models/reader.keras"))
    parser.add_argument("--steps", type=int, default=1500, help="training steps of each variant")
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="each run in OUT/VARIANT; OUT/results.jsonl")
    args = parser.parse_args()
    base = get_recipe("reader-real", learning_rate=args.learning_rate)
    recipes = {v: apply_variant(v, base) for v in args.variants}  # a typo fails now, not after the first run

    from device.data.stringsets import digit_crops, load_string_set
    from train.data import load_mnist
    from train.realsets import load_real_set
    from train.trainer import RunOptions, run_training

    crops = digit_crops(load_string_set(args.boxes)).digits
    mnist = load_mnist(args.data)
    held_out = {}
    for name in REAL_SETS:
        real = load_real_set(name, args.real_data, args.seed)
        if real.held_out.any():
            held_out[name] = real.part(held_out=True)
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for variant, recipe in recipes.items():
        out_dir = args.out / variant.replace("+", "_").replace("=", "_")
        model_path = out_dir / "model.keras"
        started = time.monotonic()
        if not model_path.is_file():
            run_training(RunOptions(recipe=recipe, out_dir=out_dir, data=args.data, init=args.init,
                                    steps=args.steps, seed=args.seed, verbose=2, real_data=args.real_data,
                                    command=f"ablate_real_sets {variant}"))
        row = {"variant": variant, "real_sets": dict(recipe.real_sets),
               "neighbours": recipe.neighbour_digit_prob, "minutes": (time.monotonic() - started) / 60,
               **measure(model_path, (crops.x, crops.y), (mnist.test.x, mnist.test.y), held_out)}
        results.append(row)
        with (args.out / "results.jsonl").open("a") as log:
            log.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)
    starting = measure(args.init, (crops.x, crops.y), (mnist.test.x, mnist.test.y), held_out)
    names = list(held_out)
    print(f"\n{args.steps} steps from {args.init} (learning rate {args.learning_rate:g}, seed {args.seed}); "
          "Keras model read as the device reads:\n")
    print("| variant | ORAND boxed digits | worst digit | MNIST test | "
          + " | ".join(f"{n} held-out writers" for n in names) + " |")
    print("|---" * (4 + len(names)) + "|")
    for row in [{"variant": f"starting model ({args.init.name})", **starting}, *results]:
        print(f"| {row['variant']} | {100 * row['orand_boxes']:.2f} % | {100 * row['orand_worst_class']:.1f} % | "
              f"{100 * row['mnist_test']:.2f} % | "
              + " | ".join(f"{100 * row[f'held_out_{n}']:.2f} %" for n in names) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
