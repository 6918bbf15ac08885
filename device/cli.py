"""The ``device`` command: live camera recognition, still images, model accuracy, benchmarks, your own digits.

``device --help`` lists the subcommands and README.md shows them in use. Every subcommand that reads digits
takes ``--model M`` (default: the bundled int8 model), ``--threads N`` and ``--verbose``; their defaults
are ``ReadOptions``' (device/recognition/options.py), stated once. Bad input gives a one-line error and exit
code 2; a camera that stops for good gives exit code 1.

Adding a subcommand: write ``add_<name>_parser(subparsers)`` that creates the subparser and sets
``handler=<function(args) -> exit code>`` with ``set_defaults``, and list it in ``SUBCOMMANDS``
(or ``OPTIONAL_SUBCOMMANDS`` when it lives in a module that may be absent).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device.common.argtypes import fraction, frame_size, int_between, parsed_by, positive_int
from device.common.verbosity import set_verbose
from device.live.arguments import add_serve_argument, add_source_argument
from device.live.stability import DEFAULT_STABLE_FRAMES
from device.recognition.options import DEFAULT_MIN_CONFIDENCE, DEFAULT_THREADS, ReadOptions
from device.recognition.views import LOOKS, MAX_LOOKS

PROG = "device"
EXIT_USAGE = 2  # usage or input errors
EXIT_STOPPED = 1  # a camera stopped for good mid-run

# (module, function): optional subcommands written elsewhere; skipped when the module is absent.
OPTIONAL_SUBCOMMANDS: tuple[tuple[str, str], ...] = (("device.tools.collect", "add_collect_parser"),)


class CommandError(Exception):
    """A one-line, user-facing error; ends the command with exit code 2."""


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


# --------------------------------------------------------------------------------------------
# Shared options and helpers
# --------------------------------------------------------------------------------------------
def _model_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", "-m", metavar="M", type=Path, default=None,
                        help="TFLite model (default: the bundled int8 model)")
    common.add_argument("--threads", type=positive_int, default=DEFAULT_THREADS, metavar="N",
                        help="interpreter threads (default %(default)s)")
    common.add_argument("--verbose", "-v", action="store_true", help="say which runtime and model were loaded")
    return common


def _reading_options() -> argparse.ArgumentParser:
    """``--model``, ``--threads``, ``--verbose`` and ``--min-confidence``: what reading a frame needs."""
    reading = argparse.ArgumentParser(add_help=False, parents=[_model_options()])
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


def _add_looks(parser: argparse.ArgumentParser | Any) -> None:
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
        kind = model.metadata.kind if model.metadata else "no metadata"
        print(f"{PROG}: runtime {model.runtime_name}, model {model.path} ({model.input_dtype.name} input, "
              f"{kind}), {model.num_threads} thread(s)", file=sys.stderr)
    return recognizer


def _subcommand(subparsers: Any, name: str, handler: Callable[[argparse.Namespace], int],
                parent: argparse.ArgumentParser, summary: str, description: str) -> argparse.ArgumentParser:
    """A subparser with the shared options of ``parent`` whose ``args.handler`` runs the subcommand."""
    parser = subparsers.add_parser(name, parents=[parent], help=summary, description=description)
    parser.set_defaults(handler=handler)
    return parser


# --------------------------------------------------------------------------------------------
# device read
# --------------------------------------------------------------------------------------------
def add_read_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = _subcommand(
        subparsers, "read", run_read, _reading_options(), "read the digits in still images",
        "Read the handwritten digits in images (dark ink on light paper). Prints one line per "
        "image, 'FILE: DIGITS' (lines of text separated by a space; a point, comma or dash found between digits "
        "is shown, as in 18.014), or JSON with --json. When an image "
        "gives no digits, a line on standard error says why (with -v: every mark left out, and why).",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    _add_looks(parser)
    parser.add_argument("--json", action="store_true", help="print JSON: boxes, digits and confidences")
    parser.add_argument("--save-annotated", metavar="DIR", type=Path,
                        help="write each image with boxes and digits drawn into DIR (created if needed)")
    return parser


def _save_annotated(path: Path, image: Any) -> None:
    import cv2

    from device.common.errors import os_error_text
    from device.common.files import write_atomic

    ok, encoded = cv2.imencode(path.suffix or ".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise CommandError(f"cannot encode {path}")
    try:
        write_atomic(path, encoded.tobytes())
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {os_error_text(exc)}") from None


MAX_REJECTIONS_SHOWN = 20  # per image, under -v


def _explain_reading(name: str, detections: list[Any], rejections: list[Any], verbose: bool) -> None:
    """On standard error: why a reading is empty (one line), and under -v every mark left out and why."""
    from device.recognition.rejections import LOW_CONFIDENCE, why_empty

    if not detections:
        hint = "; lower --min-confidence" if any(r.reason == LOW_CONFIDENCE for r in rejections) else ""
        print(f"{PROG} read: {name}: no digits: {why_empty(rejections)}{hint}", file=sys.stderr)
    if verbose:
        for rejection in rejections[:MAX_REJECTIONS_SHOWN]:
            print(f"    left out {rejection.describe()}", file=sys.stderr)
        if len(rejections) > MAX_REJECTIONS_SHOWN:
            print(f"    ... and {len(rejections) - MAX_REJECTIONS_SHOWN} more", file=sys.stderr)


def run_read(args: argparse.Namespace) -> int:
    from device.live.draw import annotate
    from device.live.sources import SourceError, read_image
    from device.recognition.recognizer import written_text
    from device.recognition.records import detections_record

    if args.save_annotated is not None:
        try:
            args.save_annotated.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return _fail(f"--save-annotated {args.save_annotated}: cannot create the folder ({exc.strerror})")
    recognizer = load_recognizer(args)
    failures = 0
    documents = []
    for name in args.images:
        try:
            frame = read_image(name)
        except SourceError as exc:
            failures += 1
            print(f"{PROG} read: error: {exc}", file=sys.stderr)
            continue
        detections, rejections = recognizer.read_with_rejections(frame)
        text = written_text(detections)  # the digits, with the separators written between them ("18.014")
        if args.json:
            documents.append({"file": name, **detections_record(detections)})
        else:
            print(f"{name}: {text}", flush=True)
            if args.verbose:
                for d in detections:
                    print(f"    {d.digit}  confidence {d.confidence:.3f}  box {d.box}  line {d.line}")
        _explain_reading(name, detections, rejections, args.verbose)
        if args.save_annotated is not None:
            _save_annotated(args.save_annotated / f"{Path(name).stem}_annotated.jpg", annotate(frame, detections, text))
    if args.json:
        print(json.dumps(documents, indent=1))
    return EXIT_USAGE if failures else 0


# --------------------------------------------------------------------------------------------
# device live
# --------------------------------------------------------------------------------------------
def _output_spec(text: str) -> Any:
    from device.live.readings import parse_output_spec  # imported when used: `device --help` stays quick

    return parse_output_spec(text)


def add_live_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = _subcommand(
        subparsers, "live", run_live_command, _reading_options(), "recognise digits live from a camera (or a video)",
        "Read digits live: capture, segment, normalise, preprocess, infer, and show the frame "
        "with boxes, digits, confidences and FPS (or, with --headless, print each reading once it has "
        "held still for a few frames).",
    )
    add_source_argument(parser)
    parser.add_argument("--headless", action="store_true",
                        help="no window: print stable readings (the default where no window can open)")
    parser.set_defaults(window=True)  # False: no window although not --headless (no display, and --serve)
    parser.add_argument("--record", metavar="OUT", type=Path, help="write the annotated video (.avi/.mp4/.mkv)")
    add_serve_argument(parser, "show the annotated stream and the reading in a web browser")
    parser.add_argument("--output", metavar="jsonl[:FILE]", type=parsed_by(_output_spec),
                        help="log each stable reading as one JSON line (to FILE, default standard output)")
    parser.add_argument("--stable-frames", type=positive_int, default=DEFAULT_STABLE_FRAMES, metavar="N",
                        help="frames a reading must hold before it is reported (default %(default)s)")
    parser.add_argument("--size", type=frame_size, default=None, metavar="WxH",
                        help="camera frame size for recognition (default 640x480)")
    parser.add_argument("--max-frames", type=positive_int, default=None, metavar="N",
                        help="stop after N frames (default: run until stopped)")
    return parser


def build_live_sinks(args: argparse.Namespace, source_is_live: bool) -> list[Any]:
    """The per-frame outputs the flags ask for, in the order they are called."""
    from device.live.loop import LiveError
    from device.live.sinks import DisplaySink, HeadlessPrinter, VideoRecorder

    sinks: list[Any] = []
    try:
        if args.record is not None:
            sinks.append(VideoRecorder(args.record))
        if args.serve:
            from device.live.web import WebViewError, describe_access, web_view_for

            try:
                view = web_view_for(args).start()
            except WebViewError as exc:
                raise LiveError(str(exc)) from None
            print(f"{PROG}: web view at {view.url}", file=sys.stderr)
            if (access := describe_access(view)) is not None:
                print(f"{PROG}: {access}", file=sys.stderr)
            sinks.append(view)  # a complete sink: draws nothing while nobody watches (wants_frame)
        if args.output is not None:
            from device.live.readings import JsonlReadings, ReadingsError

            try:
                sinks.append(JsonlReadings.from_spec(args.output))
            except ReadingsError as exc:
                raise LiveError(str(exc)) from None
        readings_on_stdout = args.output is not None and args.output.path is None
        if args.headless:
            if not readings_on_stdout:  # JSON lines on standard output already are the printout
                sinks.append(HeadlessPrinter(verbose=args.verbose))
        elif args.window:
            sinks.append(DisplaySink(hold_at_end=not source_is_live))
    except LiveError:
        for sink in sinks:
            close = getattr(sink, "close", None)
            if callable(close):
                close()
        raise
    return sinks


def _no_window_here(args: argparse.Namespace) -> str | None:
    """Why no window can open here (no display, an OpenCV without GUI support), or None; never with --headless.

    Then ``device live`` goes on without one: with --serve the web view alone, else headless.
    """
    if args.headless:
        return None
    from device.live.sinks import display_available

    reason = display_available()
    if reason is not None:
        reason = reason.split(";")[0]  # what follows is how to get a window or to add --headless: moot here
        args.window = False
        args.headless = not args.serve
    return reason


def run_live_command(args: argparse.Namespace) -> int:
    from device.live.loop import LiveError, run_live
    from device.live.sources import NoFramesError, SourceError, open_source

    recognizer = load_recognizer(args)
    no_window = _no_window_here(args)
    try:
        source = open_source(args.source, want_display=not args.headless or bool(args.serve), size=args.size,
                             loop=args.loop)
    except SourceError as exc:
        return _fail(str(exc))
    if no_window is not None:
        then = "serving the web view only" if args.serve else "running headless (readings printed below)"
        print(f"{PROG}: {no_window}; {then}", file=sys.stderr)
    with source:
        try:
            sinks = build_live_sinks(args, source.live)
        except LiveError as exc:
            hint = "" if args.headless else " (or run with --headless)"
            return _fail(f"{exc}{hint}")
        try:
            stats = run_live(source, recognizer, sinks, stable_frames=args.stable_frames, max_frames=args.max_frames)
        except NoFramesError as exc:  # a file or folder with nothing in it: the user's input, not a camera
            return _fail(str(exc))
        except SourceError as exc:
            print(f"{PROG}: {exc}; stopping", file=sys.stderr)
            return EXIT_STOPPED
    if args.verbose:
        print(f"{PROG}: {stats.frames} frames ({stats.bad_frames} skipped) in {stats.seconds:.1f} s, "
              f"{stats.fps:.1f} FPS", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------
# device eval
# --------------------------------------------------------------------------------------------
def add_eval_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = _subcommand(
        subparsers, "eval", run_eval, _model_options(), "accuracy of a model on labelled digit images",
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
    _add_looks(strings)
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
        return _fail(f"{', '.join(used)} only go with --strings DIR")
    try:
        digits = _boxed_digits(args.boxes) if args.boxes is not None else load_eval_set(args.npz or args.folder)
    except DataError as exc:
        return _fail(f"--boxes: {exc}" if args.boxes is not None else str(exc))
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
        return _fail(f"--strings: {exc}")
    on_miss = None
    if args.failures is not None:
        try:
            on_miss = failure_writer(args.failures)
        except OSError as exc:
            return _fail(f"--failures {args.failures}: cannot create the folder ({os_error_text(exc)})")
    recognizer = load_recognizer(args)
    try:
        with progress_bar(total=len(cases), desc="strings", unit="image") as bar:
            report = evaluate_strings(recognizer, args.strings, framed=args.framed, on_miss=on_miss,
                                      progress=bar.update, cases=cases)
    except OSError as exc:
        return _fail(f"--failures {args.failures}: cannot write a picture ({os_error_text(exc)})")
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
    parser = _subcommand(
        subparsers, "bench", run_bench_command, _reading_options(), "time per stage, FPS, memory, vs. a naive loop",
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
        return _fail(str(exc))
    print(json.dumps(result.to_dict(), indent=1) if args.json else result.report())
    return 0


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------
SUBCOMMANDS: tuple[Callable[[Any], argparse.ArgumentParser], ...] = (
    add_live_parser,
    add_read_parser,
    add_eval_parser,
    add_bench_parser,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS:
        add(subparsers)
    for module_name, function in OPTIONAL_SUBCOMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # not installed in this copy: the command is simply absent
            raise
        getattr(module, function)(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Ctrl-C stops a command even when it was started from a background job or a script: their shells start
    # children with SIGINT ignored, and Python then leaves it ignored (a `device live` that never stops).
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with code 2 and a usage line on bad flags
    verbose = bool(getattr(args, "verbose", False))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format=f"{PROG}: %(levelname)s: %(message)s")
    set_verbose(verbose)  # OpenCV's, FFmpeg's and the TFLite runtime's own messages only under -v
    try:
        return int(args.handler(args) or 0)
    except CommandError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print(f"{PROG}: stopped", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `device read ... | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
