"""Push random frames through ``Recognizer.read`` and count what raises: the reader must never crash.

    python scripts/fuzz_read.py                       # 10,000 frames, seed 0: prints the count of exceptions (0)
    python scripts/fuzz_read.py --frames 300 --seed 7 --max-side 4000
    python scripts/fuzz_read.py --frames 1 --start 51    # replay frame 51 of seed 0
    python scripts/fuzz_read.py --looks 3                # as device read reads a still

A frame is any size from 1x1 up (most 16 to 1024 px, one in 50 up to ``--max-side``; odd and even), gray, HxWx1,
BGR or BGRA, uint8 most often but also bool, uint16, int64, float32 and float64 (fractions or grey levels, with
NaN and inf now and then), holding noise, flat grey, gradients, random strokes and blobs, or digits drawn with
OpenCV's fonts at any size. Each frame comes from ``numpy.random.default_rng([seed, index])``, so a failure is
replayed by its index. Exit code 1 when anything raised, with the first few exceptions and how to replay them.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's device/, installed or not

from device.common.argtypes import int_between, positive_int
from device.common.progress import progress_bar
from device.recognition.options import ReadOptions
from device.recognition.recognizer import Recognizer
from device.recognition.views import LOOKS, MAX_LOOKS

CHANNELS = (None, 1, 3, 4)  # None: a 2-D gray frame
DTYPES = ("uint8",) * 6 + ("bool", "uint16", "int64", "float32", "float64")
CONTENTS = ("noise", "flat", "gradient", "strokes", "digits", "digits", "digits")


def frame_size(rng: np.random.Generator, max_side: int) -> tuple[int, int]:
    """(height, width): a third log-uniform from 1 px (tiny and sliver frames), the rest 16 to 1024 px, and
    one in 50 up to ``max_side``."""
    top = max_side if rng.random() < 0.02 else min(max_side, 1024)
    if rng.random() < 0.3:
        sides = [int(np.exp(rng.uniform(0.0, np.log(top + 1)))) for _ in range(2)]
    else:
        sides = [int(rng.integers(min(16, top), top + 1)) for _ in range(2)]
    return max(1, min(top, sides[0])), max(1, min(top, sides[1]))


def draw_content(rng: np.random.Generator, height: int, width: int, kind: str) -> np.ndarray:
    """A uint8 gray page of the given kind."""
    if kind == "noise":
        return rng.integers(0, 256, (height, width), dtype=np.uint8)
    if kind == "flat":
        return np.full((height, width), int(rng.integers(0, 256)), np.uint8)
    if kind == "gradient":
        ramp = np.linspace(rng.uniform(0, 255), rng.uniform(0, 255), width, dtype=np.float32)
        return np.broadcast_to(ramp, (height, width)).astype(np.uint8)
    page = np.full((height, width), int(rng.integers(120, 256)), np.uint8)
    ink = int(rng.integers(0, 120))
    for _ in range(int(rng.integers(1, 12))):
        x, y = int(rng.integers(-10, width + 10)), int(rng.integers(-10, height + 10))
        thickness = int(rng.integers(1, 12))
        if kind == "strokes":
            end = (int(rng.integers(-10, width + 10)), int(rng.integers(-10, height + 10)))
            cv2.line(page, (x, y), end, ink, thickness)
            if rng.random() < 0.3:
                cv2.circle(page, (x, y), int(rng.integers(1, max(2, min(height, width)))), ink, -1)
        else:
            text = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(1, 9))))
            scale = float(np.exp(rng.uniform(np.log(0.2), np.log(max(0.3, height / 25)))))
            cv2.putText(page, text, (x, y), int(rng.integers(0, 8)), scale, ink, thickness)
    return page


def as_frame(rng: np.random.Generator, gray: np.ndarray, channels: int | None, dtype: str) -> np.ndarray:
    """The gray page with the given channel count and dtype (values as that dtype would hold them)."""
    frame = gray if channels is None else np.repeat(gray[:, :, None], channels, axis=2)
    if dtype == "uint8":
        return frame
    if dtype == "bool":
        return frame > 127
    if dtype == "uint16":
        return frame.astype(np.uint16) * 257
    if dtype.startswith("int"):
        return frame.astype(dtype) + int(rng.integers(-50, 50))  # some values outside 0..255
    x = frame.astype(dtype)
    x = x / 255.0 if rng.random() < 0.5 else x
    if rng.random() < 0.2:  # NaN and inf here and there
        flat = x.reshape(-1)
        spots = rng.integers(0, flat.size, max(1, flat.size // 100))
        flat[spots] = rng.choice(np.array([np.nan, np.inf, -np.inf], dtype=dtype), spots.size)
    return x


def random_frame(seed: int, index: int, max_side: int = 4000) -> np.ndarray:
    """Frame ``index`` of ``seed``: a random size, layout, dtype and content (see the module's docstring)."""
    rng = np.random.default_rng([seed, index])
    height, width = frame_size(rng, max_side)
    kind = CONTENTS[int(rng.integers(len(CONTENTS)))]
    channels = CHANNELS[int(rng.integers(len(CHANNELS)))]
    dtype = DTYPES[int(rng.integers(len(DTYPES)))]
    return as_frame(rng, draw_content(rng, height, width, kind), channels, dtype)


def fuzz(
    recognizer: Recognizer, frames: int, seed: int, max_side: int, start: int = 0, progress: bool = True
) -> list[str]:
    """Read frames ``start`` .. ``start + frames - 1``; one line per frame that raised (index, shape, dtype, why)."""
    failures = []
    for index in progress_bar(range(start, start + frames), desc="frames", unit="frame", disable=not progress):
        frame = random_frame(seed, index, max_side)
        try:
            found = recognizer.read(frame)
            assert isinstance(found, list)
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            failures.append(f"frame {index}: {frame.shape} {frame.dtype}: {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''} ({where.filename}:{where.lineno})")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=positive_int, default=10_000, help="how many frames (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--start", type=int, default=0, help="index of the first frame (default 0): replays one")
    parser.add_argument("--max-side", type=positive_int, default=4000, help="largest side of a frame (default 4000)")
    parser.add_argument("--show", type=positive_int, default=10, help="print this many exceptions (default 10)")
    parser.add_argument("--looks", type=int_between(1, MAX_LOOKS), default=1,
                        help=f"looks per frame (1-{MAX_LOOKS}, default 1; device read takes {LOOKS})")
    args = parser.parse_args(argv)

    recognizer = Recognizer(options=ReadOptions(looks=args.looks))
    start = time.perf_counter()
    failures = fuzz(recognizer, args.frames, args.seed, args.max_side, args.start)
    seconds = time.perf_counter() - start
    print(f"{args.frames} random frames (seed {args.seed}, sides up to {args.max_side} px) in {seconds:.0f} s: "
          f"{len(failures)} exception{'s' if len(failures) != 1 else ''}")
    for line in failures[: args.show]:
        print(f"  {line}")
    if failures:
        print(f"replay one: python scripts/fuzz_read.py --seed {args.seed} --max-side {args.max_side} "
              "--frames 1 --start INDEX")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
