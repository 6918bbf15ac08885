"""Which second look helps: a TFLite model's accuracy on digit sets when each digit is also read in variants
(thicker / thinner strokes, narrower / wider, shifts, rotations, a smaller scale) and the probabilities
averaged.

    python scripts/second_look_variants.py [--model M] [--mnist FILE] [--usps FILE] [--orand DIR]

Prints, per set, the accuracy of each variant alone, of a few combinations, and of the combination of
``device/recognition/ensemble.py`` (as written, thicker, thinner, narrower, wider) applied only under its
confidence threshold:
the figures behind "The second look" in docs/log/2026-12.md. Every variant is made from the MNIST-style image and
then goes through the paper's preprocessing like any crop. Sets that are not there are skipped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from device.data.digitsets import DataError, DigitSet, load_digits
from device.data.stringsets import digit_crops, load_string_set
from device.recognition.decision import best_digits, decided_classes
from device.recognition.ensemble import PROPORTIONS, UNSURE_BELOW, proportion_variants, second_look, stroke_variants
from device.recognition.preprocess import prepare_mnist
from device.recognition.runtime import DEFAULT_MODEL_PATH, TFLiteModel

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
COMBINATIONS = [
    ("as written", "thicker", "thinner"),
    ("as written", f"width x{PROPORTIONS[0]:g}", f"width x{PROPORTIONS[1]:g}"),
    ("as written", "thicker", "thinner", f"width x{PROPORTIONS[0]:g}", f"width x{PROPORTIONS[1]:g}"),
    ("as written", "right", "left", "up", "down"),
    ("as written", "rotated -8", "rotated +8"),
    ("as written", "thicker", "thinner", "rotated -8", "rotated +8", "scaled 0.9"),
]


def _warp(images: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return np.stack([cv2.warpAffine(image, matrix, (28, 28)) for image in images])


def variants(images: np.ndarray) -> dict[str, np.ndarray]:
    """Each MNIST-style digit as written and in the variants compared here (the stroke widths and proportions
    are the ones ``device/recognition/ensemble.py`` reads)."""
    widths = stroke_variants(images)
    out = {"as written": images, "thicker": widths[: len(images)], "thinner": widths[len(images) :]}
    proportions = proportion_variants(images)
    for k, factor in enumerate(PROPORTIONS):
        out[f"width x{factor:g}"] = proportions[k * len(images) : (k + 1) * len(images)]
    for name, (dx, dy) in {"right": (1, 0), "left": (-1, 0), "down": (0, 1), "up": (0, -1)}.items():
        out[name] = _warp(images, np.float32([[1, 0, dx], [0, 1, dy]]))
    for angle in (-8, 8):
        out[f"rotated {angle:+d}"] = _warp(images, cv2.getRotationMatrix2D((14, 14), angle, 1.0))
    out["scaled 0.9"] = _warp(images, cv2.getRotationMatrix2D((14, 14), 0, 0.9))
    return out


def compare(model: TFLiteModel, name: str, digits: DigitSet) -> None:
    probabilities = {k: model.predict(prepare_mnist(v)) for k, v in variants(digits.x).items()}

    def accuracy(p: np.ndarray) -> str:
        return f"{100 * float(np.mean(decided_classes(p) == digits.y)):.2f} %"

    print(f"{name} ({len(digits):,} digits)")
    print("  alone: " + ", ".join(f"{k} {accuracy(p)}" for k, p in probabilities.items()))
    for combination in COMBINATIONS:
        print(f"  {' + '.join(combination)}: {accuracy(np.mean([probabilities[k] for k in combination], axis=0))}")
    written = probabilities["as written"]
    unsure = best_digits(written)[1] < UNSURE_BELOW
    looked = second_look(model.predict, digits.x, written)  # what the device does
    print(f"  the second look (under {UNSURE_BELOW:g}: {100 * unsure.mean():.1f} % of the digits): {accuracy(looked)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--mnist", type=Path, default=SHARED / "mnist.npz")
    parser.add_argument("--usps", type=Path, default=SHARED / "usps" / "usps.npz")
    parser.add_argument("--orand", type=Path, default=SHARED / "orand_car_a_dev")
    args = parser.parse_args()
    model = TFLiteModel(args.model)
    for name, load in (("MNIST test", lambda: load_digits(args.mnist, part="test")),
                       ("USPS", lambda: load_digits(args.usps, part="test")),
                       ("ORAND dev digits", lambda: digit_crops(load_string_set(args.orand)).digits)):
        try:
            digits = load()
        except DataError as err:
            print(f"{name}: skipped ({err})")
            continue
        compare(model, name, digits)
    return 0


if __name__ == "__main__":
    sys.exit(main())
