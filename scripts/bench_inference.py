"""Per-digit inference time and size of TFLite digit models, through device.recognition.runtime.TFLiteModel.

    python scripts/bench_inference.py                      # the bundled int8 model
    python scripts/bench_inference.py runs/dev/digits_int8.tflite runs/dev/digits_float.tflite --threads 1

Times ``predict`` on real preprocessed MNIST digits at batch 1 and batch 32 (median of repeated
runs after a warm-up), so the figures include quantization and dequantization as on the Pi.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from device.recognition.preprocess import prepare_mnist  # noqa: E402
from device.recognition.runtime import DEFAULT_MODEL_PATH, ModelError, TFLiteModel  # noqa: E402

SUBSET = REPO / "tests" / "data" / "mnist_subset.npz"


def sample_digits(count: int) -> np.ndarray:
    """``count`` MNIST test digits as network input (repeated when the subset is smaller)."""
    with np.load(SUBSET, allow_pickle=False) as data:
        images = data["x_test"]
    images = np.resize(images, (count, *images.shape[1:]))
    return prepare_mnist(images)


def time_per_digit(model: TFLiteModel, digits: np.ndarray, batch: int, repeats: int) -> float:
    """Median seconds per digit of ``predict`` on batches of ``batch``."""
    batches = [digits[i : i + batch] for i in range(0, len(digits) - batch + 1, batch)]
    model.predict(batches[0])  # warm-up: allocation after resize, caches
    samples = []
    for r in range(repeats):
        x = batches[r % len(batches)]
        start = time.perf_counter()
        model.predict(x)
        samples.append((time.perf_counter() - start) / batch)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, default=[DEFAULT_MODEL_PATH],
                        help="TFLite models to time (default: the bundled int8 model)")
    parser.add_argument("--threads", type=int, default=1, help="interpreter threads (default: 1)")
    parser.add_argument("--repeats", type=int, default=200, help="timed predict calls per batch size")
    args = parser.parse_args(argv)

    digits = sample_digits(32 * 8)
    print(f"{'model':40s} {'kind':8s} {'size KiB':>9s} {'batch 1 ms/digit':>17s} {'batch 32 ms/digit':>18s}")
    for path in args.models:
        try:
            model = TFLiteModel(path, num_threads=args.threads)
        except ModelError as exc:
            print(f"bench_inference: error: {exc}", file=sys.stderr)
            return 2
        one = time_per_digit(model, digits, 1, args.repeats)
        many = time_per_digit(model, digits, 32, max(10, args.repeats // 8))
        kind = model.input_dtype.name
        size = path.stat().st_size / 1024
        print(f"{path!s:40s} {kind:8s} {size:9.0f} {one * 1e3:17.3f} {many * 1e3:18.3f}")
    print(f"runtime {model.runtime_name}, {args.threads} thread(s), {platform.machine()}, "
          f"{os.cpu_count()} cores, {args.repeats} timed calls at batch 1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
