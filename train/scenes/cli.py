"""Generate realistic camera frames of handwritten MNIST test digits on paper, with ground truth.

    python -m train.scenes --count 500 --seed 2024 --mnist-range 5000:10000 --out runs/scenes-eval
    python -m train.scenes --preset strings --count 300 --seed 7 --mnist-range 5000:10000 --out runs/strings-eval
    python -m train.scenes --preset strings --mnist-part train --count 5000 --out runs/strings-train
    python -m train.scenes --video clip.mp4 --seed 11 --frames 30

(``scripts/make_scenes.py`` runs this same ``main``.) Problems the user can fix (unreadable MNIST, an
unwritable output) end in one line on standard error and exit code 2, as argparse's own errors do.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from device.common.argtypes import frame_size
from device.common.errors import first_line, os_error_text
from device.data.digitsets import DataError
from train.scenes.generate import default_mnist, load_mnist_part, mnist_for_scenes, write_clip, write_scene_set
from train.scenes.page import SceneError
from train.scenes.settings import PRESETS

PROG = "make_scenes"  # the prefix of this command's own error lines, as the scripts and docs call it


def parse_size(text: str) -> tuple[int, int]:
    """``WxH`` within 160x120 .. 4096x4096: smaller frames leave no room for eight digits."""
    w, h = frame_size(text)
    if not (160 <= w <= 4096 and 120 <= h <= 4096):
        raise argparse.ArgumentTypeError(f"size {w}x{h} is out of range (160x120 .. 4096x4096)")
    return w, h


def parse_range(text: str) -> tuple[int, int]:
    """``A:B``, a half-open range of MNIST test indices (keeps tuning and scoring digits apart)."""
    try:
        a, b = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"range must look like 0:5000, got {text!r}") from None
    return a, b


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command line; the default MNIST shown in --help is looked up now (it follows $MNIST_NPZ)."""
    parser = argparse.ArgumentParser(prog=prog, description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100, help="number of scenes (default 100)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (required without --video)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--size", type=parse_size, default=(640, 480), help="frame size WxH (default 640x480)")
    parser.add_argument(
        "--mnist",
        type=Path,
        default=None,
        help=f"Keras-layout MNIST .npz or folder of IDX files (default {default_mnist()}, else the test subset)",
    )
    parser.add_argument(
        "--mnist-range",
        type=parse_range,
        default=None,
        metavar="A:B",
        help="use only MNIST test images A..B-1 (e.g. 0:5000 for a tuning set, 5000:10000 to score)",
    )
    parser.add_argument(
        "--mnist-part", choices=["test", "train"], default="test",
        help="draw MNIST test digits (default: to measure a reader) or training digits (to train a model)",
    )
    parser.add_argument(
        "--preset", choices=sorted(PRESETS), default="camera",
        help="camera: separated digits, the sets of docs/RESULTS.md (default); strings: numbers as people "
        "write them (touching digits, separators, patterned paper, scans)",
    )
    parser.add_argument("--max-digits", type=int, default=None, help="longest string (default 8; strings: 7)")
    parser.add_argument(
        "--video",
        type=Path,
        default=None,
        metavar="OUT",
        help="instead of scenes, write one sheet filmed by a drifting camera (.mp4 or .avi) "
        "and its ground truth as OUT.json",
    )
    parser.add_argument("--frames", type=int, default=30, help="frames of --video (default 30, at 10 per second)")
    return parser


def fail(message: str) -> int:
    """Print a one-line error the way the generator always has; returns the exit code 2."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Write a scene set (``--out``) or a clip (``--video``); 0 on success, 2 on a usage or data problem.

    ``prog`` names the command in usage lines (default: the script's file name, as argparse does).
    """
    parser = build_parser(prog)
    args = parser.parse_args(argv)

    mnist_path = mnist_for_scenes(args.mnist)
    try:
        images, labels = load_mnist_part(mnist_path, args.mnist_part)
    except DataError as exc:
        return fail(f"cannot read MNIST {args.mnist_part} images: {first_line(exc)}")
    if args.out is None and args.video is None:
        parser.error("--out DIR is required")
    lo, hi = args.mnist_range or (0, len(images))
    pool = np.arange(max(0, lo), min(hi, len(images)))
    preset = PRESETS[args.preset]
    max_digits = preset.max_digits if args.max_digits is None else args.max_digits
    if args.count < 1 or not 1 <= max_digits <= 8 or pool.size < max_digits:
        return fail("need --count >= 1, 1 <= --max-digits <= 8 and enough MNIST images")
    settings = replace(preset, max_digits=max_digits, min_digits=min(preset.min_digits, max_digits))

    target = args.video if args.video is not None else args.out
    try:
        if args.video is not None:
            meta = write_clip(args.video, args.seed, max(2, args.frames), args.size, images, labels, pool, settings)
            print(f"wrote {args.video} ({meta['frames']} frames): {meta['text']}")
        else:
            write_scene_set(args.out, args.seed, args.count, args.size, images, labels, pool, settings, mnist_path,
                            args.mnist_part)
            print(f"wrote {args.count} scenes to {args.out}")
    except SceneError as exc:
        return fail(first_line(exc))
    except OSError as exc:
        return fail(f"cannot write {target}: {os_error_text(exc)}")
    return 0
