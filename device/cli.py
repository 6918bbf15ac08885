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

from device.cli_options import (
    EXIT_STOPPED,
    EXIT_USAGE,
    PROG,
    CommandError,
    add_looks,
    fail,
    load_recognizer,
    reading_options,
    subcommand,
)
from device.common.argtypes import frame_size, parsed_by, positive_int
from device.common.verbosity import set_verbose
from device.live.arguments import add_serve_argument, add_source_argument
from device.live.stability import DEFAULT_STABLE_FRAMES
from device.tools.info import add_info_parser
from device.tools.measure_cli import add_bench_parser, add_eval_parser

# (module, function): optional subcommands written elsewhere; skipped when the module is absent.
OPTIONAL_SUBCOMMANDS: tuple[tuple[str, str], ...] = (("device.tools.collect", "add_collect_parser"),)


# --------------------------------------------------------------------------------------------
# device read
# --------------------------------------------------------------------------------------------
def add_read_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subcommand(
        subparsers, "read", run_read, reading_options(), "read the digits in still images",
        "Read the handwritten digits in images (dark ink on light paper). Prints one line per "
        "image, 'FILE: DIGITS' (lines of text separated by a space; a point, comma or dash found between digits "
        "is shown, as in 18.014), or JSON with --json. When an image "
        "gives no digits, a line on standard error says why (with -v: every mark left out, and why).",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    add_looks(parser)
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
            return fail(f"--save-annotated {args.save_annotated}: cannot create the folder ({exc.strerror})")
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
    parser = subcommand(
        subparsers, "live", run_live_command, reading_options(), "recognise digits live from a camera (or a video)",
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
        return fail(str(exc))
    if no_window is not None:
        then = "serving the web view only" if args.serve else "running headless (readings printed below)"
        print(f"{PROG}: {no_window}; {then}", file=sys.stderr)
    with source:
        try:
            sinks = build_live_sinks(args, source.live)
        except LiveError as exc:
            hint = "" if args.headless else " (or run with --headless)"
            return fail(f"{exc}{hint}")
        try:
            stats = run_live(source, recognizer, sinks, stable_frames=args.stable_frames, max_frames=args.max_frames)
        except NoFramesError as exc:  # a file or folder with nothing in it: the user's input, not a camera
            return fail(str(exc))
        except SourceError as exc:
            print(f"{PROG}: {exc}; stopping", file=sys.stderr)
            return EXIT_STOPPED
    if args.verbose:
        print(f"{PROG}: {stats.frames} frames ({stats.bad_frames} skipped) in {stats.seconds:.1f} s, "
              f"{stats.fps:.1f} FPS", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------
SUBCOMMANDS: tuple[Callable[[Any], argparse.ArgumentParser], ...] = (
    add_live_parser,
    add_read_parser,
    add_eval_parser,
    add_bench_parser,
    add_info_parser,
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
        return fail(str(exc))
    except KeyboardInterrupt:
        print(f"{PROG}: stopped", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `device read ... | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
