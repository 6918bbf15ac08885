"""The ``device`` command: live camera recognition, still images, model accuracy, benchmarks.

    device live  [--source picamera|usb:N|FILE|DIR] [--headless] [--record OUT] [--serve [HOST:]PORT]
                 [--output jsonl[:FILE]]
    device read  IMAGE... [--json] [--save-annotated DIR]
    device eval  --npz FILE | --folder DIR
    device bench [--image JPEG] [--frames N]
    device collect ...                       (device/collect.py: your own handwriting as a data set)

Every subcommand takes ``--model M`` (default: the bundled int8 model), ``--threads N`` and
``--verbose`` (which says which TFLite runtime was loaded). Bad input gives a one-line error and
exit code 2; a camera that stops for good gives exit code 1.

Adding a subcommand: write ``add_<name>_parser(subparsers)`` that creates the subparser and sets
``handler=<function(args) -> exit code>`` with ``set_defaults``, and list it in ``SUBCOMMANDS``
(or ``OPTIONAL_SUBCOMMANDS`` when it lives in a module that may be absent).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --------------------------------------------------------------------------------------------
# Shared options and helpers
# --------------------------------------------------------------------------------------------
def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--model", "-m", metavar="M", default=None, help="TFLite model (default: the bundled int8 model)"
    )
    common.add_argument("--threads", type=positive_int, default=1, metavar="N", help="interpreter threads (default 1)")
    common.add_argument("--verbose", "-v", action="store_true", help="say which runtime and model were loaded")
    return common


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def _confidence(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {value}")
    return value


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 640x480, got {text!r}") from None
    if w < 16 or h < 16:
        raise argparse.ArgumentTypeError(f"size {w}x{h} is too small")
    return w, h


def load_recognizer(args: argparse.Namespace) -> Any:
    """The Recognizer for ``--model``/``--threads``/``--min-confidence``; CommandError if unusable."""
    from device.recognition.recognizer import DEFAULT_MIN_CONFIDENCE, Recognizer
    from device.recognition.runtime import ModelError

    try:
        threshold = getattr(args, "min_confidence", None)
        recognizer = Recognizer(
            args.model,
            num_threads=args.threads,
            min_confidence=DEFAULT_MIN_CONFIDENCE if threshold is None else threshold,
        )
    except ModelError as exc:
        raise CommandError(str(exc)) from None
    if args.verbose:
        model = recognizer.model
        kind = model.metadata.kind if model.metadata else "no metadata"
        print(
            f"{PROG}: runtime {model.runtime_name}, model {model.path} ({model.input_dtype.name} input, "
            f"{kind}), {args.threads} thread(s)",
            file=sys.stderr,
        )
    return recognizer


def _atomic_write_image(path: Path, image: Any) -> None:
    import cv2

    ok, encoded = cv2.imencode(path.suffix or ".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise CommandError(f"cannot encode {path}")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(encoded.tobytes())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------------------------
# device read
# --------------------------------------------------------------------------------------------
def add_read_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "read",
        parents=[_common_options()],
        help="read the digits in still images",
        description="Read the handwritten digits in images (dark ink on light paper). Prints one line per "
        "image, 'FILE: DIGITS' (lines of text separated by a space), or JSON with --json.",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--json", action="store_true", help="print JSON: boxes, digits and confidences")
    parser.add_argument(
        "--save-annotated",
        metavar="DIR",
        type=Path,
        help="write each image with boxes and digits drawn into DIR (created if needed)",
    )
    parser.add_argument(
        "--min-confidence",
        type=_confidence,
        default=None,
        metavar="C",
        help="drop detections less sure than this (0-1, default 0.4)",
    )
    parser.set_defaults(handler=run_read)
    return parser


def run_read(args: argparse.Namespace) -> int:
    from device.live.draw import annotate
    from device.live.sources import SourceError, read_image
    from device.recognition.recognizer import reading_string

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
        detections = recognizer.read(frame)
        text = reading_string(detections)
        if args.json:
            documents.append(
                {
                    "file": name,
                    "reading": text,
                    "detections": [
                        {
                            "digit": d.digit,
                            "confidence": round(d.confidence, 4),
                            "box": list(d.box),
                            "line": d.line,
                        }
                        for d in detections
                    ],
                }
            )
        else:
            print(f"{name}: {text}", flush=True)
            if args.verbose:
                for d in detections:
                    print(f"    {d.digit}  confidence {d.confidence:.3f}  box {d.box}  line {d.line}")
        if args.save_annotated is not None:
            out = args.save_annotated / f"{Path(name).stem}_annotated.jpg"
            _atomic_write_image(out, annotate(frame, detections, text))
    if args.json:
        print(json.dumps(documents, indent=1))
    return EXIT_USAGE if failures else 0


# --------------------------------------------------------------------------------------------
# device live
# --------------------------------------------------------------------------------------------
def add_live_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "live",
        parents=[_common_options()],
        help="recognise digits live from a camera (or a video)",
        description="Read digits live: capture, segment, normalise, preprocess, infer, and show the frame "
        "with boxes, digits, confidences and FPS (or, with --headless, print each reading once it has "
        "held still for a few frames).",
    )
    parser.add_argument(
        "--source",
        "-s",
        default="picamera",
        help="picamera (default), usb:N, a video file, an image or a folder of images",
    )
    parser.add_argument("--headless", action="store_true", help="no window: print stable readings")
    parser.add_argument("--record", metavar="OUT", type=Path, help="write the annotated video (.avi/.mp4/.mkv)")
    parser.add_argument(
        "--serve", metavar="[HOST:]PORT", help="show the annotated stream and the reading in a web browser"
    )
    parser.add_argument(
        "--output",
        metavar="jsonl[:FILE]",
        help="log each stable reading as one JSON line (to FILE, default standard output)",
    )
    parser.add_argument(
        "--min-confidence",
        type=_confidence,
        default=None,
        metavar="C",
        help="drop detections less sure than this (0-1, default 0.4)",
    )
    parser.add_argument(
        "--stable-frames",
        type=positive_int,
        default=5,
        metavar="N",
        help="frames a reading must hold before it is reported (default 5)",
    )
    parser.add_argument(
        "--size",
        type=_size,
        default=None,
        metavar="WxH",
        help="camera frame size for recognition (default 640x480)",
    )
    parser.add_argument(
        "--max-frames",
        type=positive_int,
        default=None,
        metavar="N",
        help="stop after N frames (default: run until stopped)",
    )
    parser.set_defaults(handler=run_live_command)
    return parser


def build_live_sinks(args: argparse.Namespace, source_is_live: bool) -> list[Any]:
    """The per-frame outputs the flags ask for, in the order they are called."""
    from device.live.loop import DisplaySink, HeadlessPrinter, LiveError, VideoRecorder

    sinks: list[Any] = []
    try:
        if args.record is not None:
            sinks.append(VideoRecorder(args.record))
        if args.serve:
            from device.live.web import WebView, WebViewError

            try:
                view = WebView.from_address(args.serve).start()
            except (ValueError, WebViewError) as exc:
                raise LiveError(str(exc)) from None
            print(f"{PROG}: web view at {view.url}", file=sys.stderr)
            sinks.append(view)  # a complete sink: draws nothing while nobody watches (wants_frame)
        readings_on_stdout = False
        if args.output:
            from device.live.readings import JsonlReadings, ReadingsError, parse_output_spec

            try:
                spec = parse_output_spec(args.output)
                sinks.append(JsonlReadings.from_spec(spec))
            except (ValueError, ReadingsError) as exc:
                raise LiveError(str(exc)) from None
            readings_on_stdout = spec.path is None
        if args.headless:
            if not readings_on_stdout:  # JSON lines on standard output already are the printout
                sinks.append(HeadlessPrinter(verbose=args.verbose))
        else:
            sinks.append(DisplaySink(hold_at_end=not source_is_live))
    except LiveError:
        for sink in sinks:
            close = getattr(sink, "close", None)
            if callable(close):
                close()
        raise
    return sinks


def run_live_command(args: argparse.Namespace) -> int:
    from device.live.loop import LiveError, run_live
    from device.live.sources import SourceError, open_source

    recognizer = load_recognizer(args)
    try:
        source = open_source(args.source, want_display=not args.headless or bool(args.serve), size=args.size)
    except SourceError as exc:
        return _fail(str(exc))
    with source:
        try:
            sinks = build_live_sinks(args, source.live)
        except LiveError as exc:
            hint = "" if args.headless else " (or run with --headless)"
            return _fail(f"{exc}{hint}")
        try:
            stats = run_live(source, recognizer, sinks, stable_frames=args.stable_frames, max_frames=args.max_frames)
        except SourceError as exc:
            print(f"{PROG}: {exc}; stopping", file=sys.stderr)
            return EXIT_STOPPED
    if args.verbose:
        print(
            f"{PROG}: {stats.frames} frames ({stats.bad_frames} skipped) in {stats.seconds:.1f} s, {stats.fps:.1f} FPS",
            file=sys.stderr,
        )
    return 0


# --------------------------------------------------------------------------------------------
# device eval
# --------------------------------------------------------------------------------------------
def add_eval_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "eval",
        parents=[_common_options()],
        help="accuracy of a model on labelled digit images",
        description="Accuracy and per-class table of a TFLite model on labelled digits: a Keras-layout .npz "
        "(x_test/y_test, else x/y) or a folder of 0/ ... 9/ subfolders of images.",
    )
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--npz", metavar="FILE", help="Keras-layout or x/y .npz")
    data.add_argument("--folder", metavar="DIR", help="folder with subfolders 0/ ... 9/ of images")
    parser.set_defaults(handler=run_eval)
    return parser


def run_eval(args: argparse.Namespace) -> int:
    from device.tools.evaluate import DataError, evaluate, load_folder, load_npz, progress_bar

    try:
        images, labels = load_npz(args.npz) if args.npz else load_folder(args.folder)
    except DataError as exc:
        return _fail(str(exc))
    recognizer = load_recognizer(args)
    with progress_bar(total=len(labels), desc="eval", unit="digit", disable=len(labels) < 1000) as bar:
        result = evaluate(recognizer.model, images, labels, progress=bar.update)
    print(f"model: {recognizer.model.path}")
    print(result.table())
    return 0


# --------------------------------------------------------------------------------------------
# device bench
# --------------------------------------------------------------------------------------------
def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "bench",
        parents=[_common_options()],
        help="time per stage, FPS, memory, vs. a naive loop",
        description="Time the pipeline per stage on one frame (default: the bundled 640x480 sample with six "
        "digits), report FPS and peak memory, and compare with a naive loop that builds a new "
        "interpreter for every frame.",
    )
    parser.add_argument("--image", type=Path, default=None, help="the frame to time (a JPEG or PNG)")
    parser.add_argument(
        "--frames",
        type=positive_int,
        default=100,
        metavar="N",
        help="frames timed through the pipeline (default 100)",
    )
    parser.add_argument(
        "--naive-frames",
        type=positive_int,
        default=20,
        metavar="N",
        help="frames timed through the naive loop (default 20)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(handler=run_bench_command)
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
    if args.json:
        print(
            json.dumps(
                {
                    "image": str(result.image),
                    "frame_size": list(result.frame_size),
                    "reading": result.reading,
                    "digits": result.digits,
                    "runtime": result.runtime,
                    "threads": result.threads,
                    "median_ms": {s: result.median_ms(v) for s, v in result.stage_seconds.items()},
                    "frame_median_ms": result.median_ms(result.total_seconds),
                    "fps": result.fps,
                    "naive_frame_median_ms": result.median_ms(result.naive_seconds),
                    "naive_build_median_ms": result.median_ms(result.naive_build_seconds),
                    "speedup": result.speedup,
                    "peak_rss_mb": result.peak_rss_pipeline_mb,
                    "peak_rss_end_mb": result.peak_rss_end_mb,
                },
                indent=1,
            )
        )
    else:
        print(result.report())
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
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with code 2 and a usage line on bad flags
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format=f"{PROG}: %(levelname)s: %(message)s",
    )
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
