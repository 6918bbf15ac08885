"""What every ``device`` subcommand shares: the error type and exit codes, the model and reading options,
and the way a subcommand is registered (device/cli.py lists them; device/tools/ holds the others)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device.common.argtypes import fraction, int_between, positive_int
from device.recognition.options import DEFAULT_MIN_CONFIDENCE, DEFAULT_THREADS, ReadOptions
from device.recognition.views import LOOKS, MAX_LOOKS

PROG = "device"
EXIT_USAGE = 2  # usage or input errors
EXIT_STOPPED = 1  # a camera stopped for good mid-run


class CommandError(Exception):
    """A one-line, user-facing error; ends the command with exit code 2."""


def fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def model_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", "-m", metavar="M", type=Path, default=None,
                        help="TFLite model (default: the bundled int8 model)")
    common.add_argument("--threads", type=positive_int, default=DEFAULT_THREADS, metavar="N",
                        help="interpreter threads (default %(default)s)")
    common.add_argument("--verbose", "-v", action="store_true", help="say which runtime and model were loaded")
    return common


def reading_options() -> argparse.ArgumentParser:
    """``--model``, ``--threads``, ``--verbose`` and ``--min-confidence``: what reading a frame needs."""
    reading = argparse.ArgumentParser(add_help=False, parents=[model_options()])
    reading.add_argument("--min-confidence", type=fraction, default=DEFAULT_MIN_CONFIDENCE, metavar="C",
                         help="drop detections less sure than this (0-1, default %(default)s)")
    return reading


def read_options(args: argparse.Namespace) -> ReadOptions:
    """The ReadOptions the flags ask for (``--min-confidence`` where the subcommand has it)."""
    extra: dict[str, Any] = {}
    if "min_confidence" in args:
        extra["min_confidence"] = args.min_confidence
    if "looks" in args:
        extra["looks"] = args.looks
    return ReadOptions(model=args.model, num_threads=args.threads, **extra)


def add_looks(parser: argparse.ArgumentParser | Any) -> None:
    """``--looks N``: how many looks a still image gets (device/recognition/views.py)."""
    parser.add_argument("--looks", type=int_between(1, MAX_LOOKS), default=LOOKS, metavar="N",
                        help=f"read each image up to N times (1-{MAX_LOOKS}): as it is, then its number's region "
                             "again as a cut-out and on plain paper at other sizes, and report the reading most looks "
                             "agree on (default %(default)s; 1 reads as device live reads each frame, about 3x faster; "
                             f"{MAX_LOOKS} reads more tight scans right: more looks are taken only while the first "
                             "three disagree, each costing as much as the first)")


def load_recognizer(args: argparse.Namespace) -> Any:
    """The Recognizer for the flags; CommandError if the model is unusable."""
    from device.recognition.recognizer import Recognizer
    from device.recognition.runtime import ModelError

    try:
        recognizer = Recognizer(options=read_options(args))
    except ModelError as exc:
        raise CommandError(str(exc)) from None
    if args.verbose:
        model = recognizer.model
        print(f"{PROG}: runtime {model.runtime_name}, model {model.path} ({model.input_dtype.name} input, "
              f"{model.metadata.kind}), {model.num_threads} thread(s)", file=sys.stderr)
    return recognizer


def subcommand(subparsers: Any, name: str, handler: Callable[[argparse.Namespace], int],
                parent: argparse.ArgumentParser, summary: str, description: str) -> argparse.ArgumentParser:
    """A subparser with the shared options of ``parent`` whose ``args.handler`` runs the subcommand."""
    parser = subparsers.add_parser(name, parents=[parent], help=summary, description=description)
    parser.set_defaults(handler=handler)
    return parser
