"""``device collect``: the subcommand's options and what it runs.

Registering the subcommand imports nothing heavy (OpenCV and numpy load when it runs), so
``device --help`` and the other subcommands start as fast without it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from device.common.errors import first_line, os_error_text
from device.common.progress import progress_bar
from device.live.arguments import add_serve_argument, add_source_argument
from device.tools.collect.errors import CollectError

if TYPE_CHECKING:
    import numpy as np

    from device.tools.collect.store import CollectSummary, DigitWriter

    OpenFrames = Callable[[str], Iterable[np.ndarray | None]]

PROG = "device collect"
EXIT_USAGE = 2  # usage or input errors, as every device subcommand
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports it
PRINT_HINTS = {
    ".svg": "print it at 100 % on A4 (from a browser or any viewer)",
    ".png": "print it at 100 % on A4 (150 dpi: the image is the whole page)",
}


def add_collect_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``collect`` on the ``device`` command's subparsers; dispatch with ``run_collect``."""
    parser = subparsers.add_parser(
        "collect",
        help="build a labelled set of your own handwriting (folders 0/..9/ for train --extra)",
        description=(
            "Build a labelled digit set from photos or scans of the grid sheet (row r holds digit r), or "
            "live from the camera with a key per label. Saves 28x28 PNGs into OUT/0/ .. OUT/9/ under new "
            "numbers (never over earlier files) and a contact sheet PNG to check them."
        ),
    )
    parser.add_argument("images", nargs="*", metavar="IMAGE", help="photos or scans of filled-in grid sheets")
    parser.add_argument("--out", "-o", metavar="DIR", help="where the 0/ .. 9/ folders go (created if needed)")
    parser.add_argument(
        "--print-sheet", metavar="FILE", help="write the empty grid sheet to print (.svg or .png) and exit"
    )
    parser.add_argument("--live", action="store_true", help="collect from the camera: press 0-9 to save, q to quit")
    add_source_argument(parser, "frames for --live: ")
    add_serve_argument(parser, "with --live: show the camera picture in a browser")
    parser.set_defaults(handler=run_collect)
    return parser


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def run_collect(args: argparse.Namespace, open_frames: OpenFrames | None = None) -> int:
    """Run ``device collect``; returns the exit code (2 for usage or input errors).

    ``open_frames(source)`` gives the live frames; by default ``device.live.sources`` opens the camera.
    """
    if args.print_sheet:
        return _print_sheet(args.print_sheet)
    if not args.out:
        return _fail("--out DIR is required (where the 0/ .. 9/ folders go)")
    if args.live and args.images:
        return _fail("give photos of grid sheets or --live for the camera, not both")
    if not args.live and not args.images:
        return _fail("give photos of grid sheets, or --live for the camera")
    try:
        summary = _run_live(args, open_frames) if args.live else _run_sheets(args)
    except CollectError as err:
        return _fail(first_line(err))
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    if summary is None:
        return EXIT_USAGE
    print(summary.describe())
    return 0


def _print_sheet(name: str) -> int:
    from device.tools.collect.sheet import write_sheet

    try:
        path = write_sheet(name)
    except CollectError as err:
        return _fail(first_line(err))
    except OSError as err:
        return _fail(f"{name}: {os_error_text(err)}")
    print(f"wrote {path}: {PRINT_HINTS[path.suffix.lower()]}, fill it in, photograph it")
    return 0


def _run_sheets(args: argparse.Namespace) -> CollectSummary | None:
    """Every photo in turn into one writer; a bad photo is reported and skipped, the good ones are kept."""
    from device.tools.collect.store import DigitWriter

    with DigitWriter(args.out) as writer:  # folders it made and left empty go again at the end
        return _read_sheets(args.images, writer)


def _read_sheets(images: list[str], writer: DigitWriter) -> CollectSummary | None:
    from device.common.images import ImageError, read_image
    from device.tools.collect.photos import read_sheet
    from device.tools.collect.store import CollectSummary

    results, failed = [], 0
    bar = progress_bar(images, desc="sheets", unit="sheet", disable=len(images) < 2)
    for name in bar:
        try:
            image = read_image(name, gray=True)
        except ImageError as err:
            bar.write(f"{PROG}: error: {err}", file=sys.stderr)
            failed += 1
            continue
        try:
            result = read_sheet(image, writer)
        except CollectError as err:
            bar.write(f"{PROG}: error: {name}: {first_line(err)}", file=sys.stderr)
            failed += 1
            continue
        results.append(result)
        bar.write(f"{name}: {result.total} digits, {len(result.empty_cells)} empty cells")
    summary = CollectSummary(writer.saved, results, writer.write_contact_sheet())
    if failed:
        print(summary.describe())
        return None  # the good sheets are saved; the exit code says some were not
    return summary


def _run_live(args: argparse.Namespace, open_frames: OpenFrames | None) -> CollectSummary:
    from device.live.web import WebViewError, describe_access, web_view_for
    from device.tools.collect.camera import TerminalKeys, collect_live

    view = None
    if args.serve:
        try:
            view = web_view_for(args).start()
        except WebViewError as err:
            raise CollectError(first_line(err)) from None
        print(f"camera picture at {view.url}")
        if (access := describe_access(view)) is not None:
            print(access)
    try:
        with TerminalKeys() as keys:
            print("hold a digit inside the square; press its key (0-9) to save, q to quit")
            frames = open_frames(args.source) if open_frames else _camera_frames(args.source, args.loop)
            return collect_live(frames, keys, args.out, show=view.publish if view else None)
    finally:
        if view is not None:
            view.stop()


def _camera_frames(source: str, loop: bool = False) -> Iterator[np.ndarray | None]:
    """Frames from the camera (or a video, image or folder, ``loop``: endlessly) through device.live.sources."""
    from device.live.sources import SourceError, open_source

    try:
        with open_source(source, loop=loop) as frames:
            yield from frames
    except SourceError as err:
        raise CollectError(first_line(err)) from None
