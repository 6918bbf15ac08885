"""``device eval`` (digits, boxed digits, whole numbers) and ``device bench``: the measuring subcommands.

The work is done in device/tools/evaluate.py, strings_eval.py and bench.py; this module holds their flags.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from device.cli_options import add_looks, fail, load_recognizer, model_options, reading_options, subcommand
from device.common.argtypes import fraction, positive_int
from device.recognition.options import DEFAULT_MIN_CONFIDENCE


def add_eval_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subcommand(
        subparsers, "eval", run_eval, model_options(), "accuracy of a model on labelled digit images",
        "Accuracy and per-class table of a TFLite model on labelled digits: an .npz (x/y, else the "
        "test part of a Keras-layout file) or a folder of 0/ ... 9/ subfolders of images. Digits that are "
        "not already MNIST-style are normalised as camera crops are. With --strings, whole numbers instead: "
        "each image of a strings folder is read as device read does and compared with its truth.",
    )
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--npz", metavar="FILE", type=Path, help="x/y or Keras-layout .npz")
    data.add_argument("--folder", metavar="DIR", type=Path, help="folder with subfolders 0/ ... 9/ of images")
    data.add_argument("--boxes", metavar="DIR", type=Path,
                      help="the boxed digits of a strings folder (digit_boxes.csv, see --strings), each cut out and "
                           "normalised as a camera crop: how well the classifier reads real handwritten digits")
    data.add_argument("--strings", metavar="DIR", type=Path,
                      help="images of numbers: labels.csv (file,digits_left_to_right or file,text), optionally "
                           "digit_boxes.csv (file,digit,x,y,w,h); or a set made by python -m train.scenes. "
                           "Prints exact strings, right length, digit error rate, box recall, ms per image")
    strings = parser.add_argument_group("with --strings")
    strings.add_argument("--framed", action="store_true",
                         help="place each image, 100 px high, in a 640x480 frame of its paper colour, as a camera "
                              "would see it")
    strings.add_argument("--failures", metavar="DIR", type=Path,
                         help="write a picture of each miss into DIR (created): boxes read and written, truth, "
                              "reading, and whose miss it is")
    strings.add_argument("--json", action="store_true", help="print the figures as JSON")
    add_looks(strings)
    strings.add_argument("--min-confidence", type=fraction, default=DEFAULT_MIN_CONFIDENCE, metavar="C",
                         help="drop detections less sure than this (0-1, default %(default)s)")
    return parser


def run_eval(args: argparse.Namespace) -> int:
    from device.common.progress import progress_bar
    from device.data.digitsets import DataError
    from device.tools.evaluate import evaluate_model, load_eval_set

    if args.strings is not None:
        return run_strings_eval(args)
    used = [flag for flag, on in (("--framed", args.framed), ("--failures", args.failures is not None),
                                  ("--json", args.json)) if on]
    if used:
        return fail(f"{', '.join(used)} only go with --strings DIR")
    try:
        digits = _boxed_digits(args.boxes) if args.boxes is not None else load_eval_set(args.npz or args.folder)
    except DataError as exc:
        return fail(f"--boxes: {exc}" if args.boxes is not None else str(exc))
    recognizer = load_recognizer(args)
    with progress_bar(total=len(digits), desc="eval", unit="digit", disable=len(digits) < 1000) as bar:
        result = evaluate_model(recognizer.model, digits, progress=bar.update)
    print(f"model: {recognizer.model.path}")
    print(result.table())
    return 0


def _boxed_digits(folder: Path):
    """Every boxed digit of a strings folder, normalised as a camera crop (device/data/stringsets.py)."""
    from device.data.stringsets import digit_crops, load_string_set

    return digit_crops(load_string_set(folder)).digits


def run_strings_eval(args: argparse.Namespace) -> int:
    """``device eval --strings DIR``: whole numbers read against their truth (device/tools/strings_eval.py)."""
    from device.common.errors import os_error_text
    from device.common.progress import progress_bar
    from device.data.digitsets import DataError
    from device.tools.strings_eval import evaluate_strings, failure_writer, load_cases

    try:
        cases = load_cases(args.strings)
    except DataError as exc:
        return fail(f"--strings: {exc}")
    on_miss = None
    if args.failures is not None:
        try:
            on_miss = failure_writer(args.failures)
        except OSError as exc:
            return fail(f"--failures {args.failures}: cannot create the folder ({os_error_text(exc)})")
    recognizer = load_recognizer(args)
    try:
        with progress_bar(total=len(cases), desc="strings", unit="image") as bar:
            report = evaluate_strings(recognizer, args.strings, framed=args.framed, on_miss=on_miss,
                                      progress=bar.update, cases=cases)
    except OSError as exc:
        return fail(f"--failures {args.failures}: cannot write a picture ({os_error_text(exc)})")
    if args.json:
        print(json.dumps({"model": str(recognizer.model.path), "min_confidence": args.min_confidence,
                          **report.figures()}, indent=1))
    else:
        print(f"model: {recognizer.model.path}, min confidence {args.min_confidence}")
        print(report.table())
    return 0


# --------------------------------------------------------------------------------------------
# device bench
# --------------------------------------------------------------------------------------------
def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subcommand(
        subparsers, "bench", run_bench_command, reading_options(), "time per stage, FPS, memory, vs. a naive loop",
        "Time the pipeline per stage on one frame (default: the bundled 640x480 sample with six "
        "digits), report FPS and peak memory, and compare with a naive loop that builds a new "
        "interpreter for every frame.",
    )
    parser.add_argument("--image", type=Path, default=None, help="the frame to time (a JPEG or PNG)")
    parser.add_argument("--frames", type=positive_int, default=100, metavar="N",
                        help="frames timed through the pipeline (default %(default)s)")
    parser.add_argument("--naive-frames", type=positive_int, default=20, metavar="N",
                        help="frames timed through the naive loop (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    return parser


def run_bench_command(args: argparse.Namespace) -> int:
    from device.tools.bench import BenchError, default_bench_image, run_bench

    try:
        image = args.image or default_bench_image()
        if not image.is_file():
            raise BenchError(f"{image}: no such file")
        recognizer = load_recognizer(args)
        result = run_bench(recognizer, image, frames=args.frames, naive_frames=args.naive_frames)
    except BenchError as exc:
        return fail(str(exc))
    print(json.dumps(result.to_dict(), indent=1) if args.json else result.report())
    return 0
