"""Score the device pipeline on generated scenes: how often is the whole string read exactly right?

    python scripts/make_scenes.py --count 500 --seed 2024 --mnist-range 5000:10000 --out runs/scenes-eval
    python scripts/eval_scenes.py runs/scenes-eval [--model M] [--min-confidence C] [--looks N]

Each image goes through exactly what ``device read`` does (``read_image``, ``Recognizer.read``,
``reading_string``) and is compared with the ``text`` column of ``labels.csv``. Prints the
exact-string accuracy, where the misses come from (wrong number of digits, i.e. segmentation, or
right number but a wrong digit, i.e. classification), the per-digit accuracy on correctly
segmented scenes, the time per scene, and the first misses.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's device/, installed or not

from device.common.argtypes import fraction, int_between, positive_int
from device.common.errors import first_line
from device.common.images import ImageError, read_image
from device.common.progress import progress_bar
from device.recognition.options import ReadOptions
from device.recognition.recognizer import DEFAULT_MIN_CONFIDENCE, Recognizer, reading_string
from device.recognition.runtime import ModelError
from device.recognition.views import LOOKS, MAX_LOOKS


def load_truth(folder: Path) -> list[tuple[str, str]]:
    """(file name, expected text) pairs from labels.csv."""
    with open(folder / "labels.csv", newline="") as f:
        return [(row["file"], row["text"]) for row in csv.DictReader(f)]


def shape(text: str | None) -> list[int] | None:
    """Digits per line of a reading ("123 45" -> [3, 2]); None for an unreadable image."""
    return None if text is None else [len(part) for part in text.split(" ")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a folder written by scripts/make_scenes.py (train.scenes)")
    parser.add_argument("--model", default=None, help="TFLite model (default: the bundled one)")
    parser.add_argument("--threads", type=positive_int, default=1)
    parser.add_argument("--min-confidence", type=fraction, default=DEFAULT_MIN_CONFIDENCE)
    parser.add_argument("--looks", type=int_between(1, MAX_LOOKS), default=LOOKS,
                        help="looks per scene, as device read takes them (default %(default)s; 1: as device live)")
    parser.add_argument("--show", type=int, default=15, help="print this many misses (default 15)")
    parser.add_argument("--json", type=Path, default=None, help="also write the per-scene results here")
    args = parser.parse_args(argv)

    try:
        truth = load_truth(args.folder)
        options = ReadOptions(num_threads=args.threads, min_confidence=args.min_confidence, looks=args.looks)
        recognizer = Recognizer(args.model, options=options)
        one_look = Recognizer(recognizer.model, options=replace(options, looks=1))
    except (OSError, KeyError) as exc:
        print(f"eval_scenes: error: cannot read {args.folder / 'labels.csv'}: {first_line(exc)}", file=sys.stderr)
        return 2
    except ModelError as exc:
        print(f"eval_scenes: error: {first_line(exc)}", file=sys.stderr)
        return 2

    results = []
    seconds = []
    for name, expected in progress_bar(truth, desc="scenes", unit="scene"):
        try:
            frame = read_image(args.folder / name)
        except ImageError:
            frame = None  # counted as a miss, as device read would report it and go on
        start = time.perf_counter()
        kept = recognizer.read(frame) if frame is not None else None  # as device read reads it
        seconds.append(time.perf_counter() - start)
        # Everything one look's segmentation found, before the threshold: what segmentation alone gets right.
        found = one_look.read(frame, min_confidence=0.0) if frame is not None else None
        results.append(
            {
                "file": name,
                "expected": expected,
                "got": reading_string(kept) if kept is not None else None,
                "unfiltered": reading_string(found) if found is not None else None,
            }
        )

    n = len(results)
    exact = sum(r["got"] == r["expected"] for r in results)
    same_shape = [r for r in results if shape(r["got"]) == shape(r["expected"])]
    digits_total = sum(len(r["expected"].replace(" ", "")) for r in same_shape)
    digits_right = sum(a == b for r in same_shape for a, b in zip(r["got"], r["expected"], strict=True) if a != " ")
    unfiltered_exact = sum(r["unfiltered"] == r["expected"] for r in results)
    unfiltered_shape = sum(shape(r["unfiltered"]) == shape(r["expected"]) for r in results)
    print(f"model: {recognizer.model.path} ({recognizer.runtime_name}), min confidence {args.min_confidence}, "
          f"{args.looks} look(s)")
    print(f"exact strings: {exact}/{n} = {100.0 * exact / max(1, n):.2f} %")
    print(f"  wrong number of digits or lines (segmentation, threshold): {n - len(same_shape)}")
    print(f"  right number, a wrong digit (classification): {len(same_shape) - exact}")
    print(
        f"digit accuracy where the number was right: {digits_right}/{digits_total} = "
        f"{100.0 * digits_right / max(1, digits_total):.2f} %"
    )
    print(
        f"segmentation alone (no threshold): right number of digits per line {unfiltered_shape}/{n}, "
        f"exact {unfiltered_exact}/{n}"
    )
    print(f"time per scene (read): median {1000 * float(np.median(seconds)):.1f} ms")
    misses = [r for r in results if r["got"] != r["expected"]]
    for r in misses[: args.show]:
        print(f"  {r['file']}: expected {r['expected']!r}, got {r['got']!r}")
    if args.json:
        args.json.write_text(json.dumps({"exact": exact, "count": n, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
