"""The second way in: live from the camera, the digit held in a guide box saved under the key pressed.

Keys come from the terminal in raw mode (``TerminalKeys``), not from an OpenCV window, so it works
over SSH on a headless Pi; the picture can be watched in a browser (``--serve``) or not at all.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from device.recognition.preprocess import to_gray
from device.tools.collect.errors import CollectError
from device.tools.collect.grid import digit_from_crop
from device.tools.collect.sheet import ROW_DIGITS
from device.tools.collect.store import CollectSummary, DigitWriter

LIVE_BOX_FRACTION = 0.45  # the live guide box: this share of the frame's shorter side
QUIT_KEYS = {"q", "Q", "\x1b"}
BOX_COLOUR = (0, 200, 255)  # BGR orange: visible on paper and on skin
NO_DIGIT = "no digit in the box: hold it inside the square, dark ink on light paper"


def guide_box(frame_shape: tuple[int, ...], fraction: float = LIVE_BOX_FRACTION) -> tuple[int, int, int, int]:
    """The centred square (x, y, w, h) where the live collector looks for the digit."""
    h, w = frame_shape[:2]
    side = max(8, round(min(h, w) * fraction))
    return (w - side) // 2, (h - side) // 2, side, side


def collect_live(
    frames: Iterable[np.ndarray | None],
    read_key: Callable[[], str | None],
    out_dir: str | Path,
    *,
    show: Callable[[np.ndarray], None] | None = None,
    notify: Callable[[str], None] = print,
    box_fraction: float = LIVE_BOX_FRACTION,
) -> CollectSummary:
    """Save the digit in the guide box under the key pressed (0-9); q or Esc ends.

    ``frames`` yields BGR or gray frames (None or empty ones are skipped: a live loop survives a bad
    frame); ``read_key`` returns the key pressed since the last frame, or None; ``show`` receives the
    frame with the guide box drawn (e.g. ``WebView.publish``).
    """
    writer = DigitWriter(out_dir)
    try:
        _save_keyed_digits(frames, read_key, writer, show, notify, box_fraction)
    finally:  # a camera that fails mid-run still leaves a contact sheet of what was saved
        contact = writer.write_contact_sheet()
        writer.remove_unused()
    return CollectSummary(writer.saved, [], contact)


def _annotated(frame: np.ndarray, box: tuple[int, int, int, int], saved: int) -> np.ndarray:
    """A BGR copy of the frame with the guide box and the key help drawn on it."""
    is_bgr = frame.ndim == 3 and frame.shape[2] == 3
    picture = frame.copy() if is_bgr else cv2.cvtColor(to_gray(frame), cv2.COLOR_GRAY2BGR)
    x, y, w, h = box
    cv2.rectangle(picture, (x, y), (x + w, y + h), BOX_COLOUR, 2)
    cv2.putText(picture, f"0-9 saves, q quits ({saved} saved)", (10, 24),
                cv2.FONT_HERSHEY_SIMPLEX, 0.6, BOX_COLOUR, 2, cv2.LINE_AA)  # fmt: skip
    return picture


def _save_keyed_digits(
    frames: Iterable[np.ndarray | None],
    read_key: Callable[[], str | None],
    writer: DigitWriter,
    show: Callable[[np.ndarray], None] | None,
    notify: Callable[[str], None],
    box_fraction: float,
) -> None:
    pending: str | None = None  # a label key pressed while the camera gave a bad frame
    for frame in frames:
        key = read_key() or pending
        if key in QUIT_KEYS:
            return
        if frame is None or getattr(frame, "size", 0) == 0:
            pending = key
            continue
        pending = None
        x, y, w, h = box = guide_box(frame.shape, box_fraction)
        if show is not None:
            show(_annotated(frame, box, writer.total))
        if key is not None and key in ROW_DIGITS:
            digit = digit_from_crop(frame[y : y + h, x : x + w])
            if digit is None:
                notify(NO_DIGIT)
                continue
            notify(f"saved {writer.save(key, digit)}")


class TerminalKeys:
    """Single key presses from the terminal without Enter (works over SSH on a headless Pi).

    A context manager: cbreak mode on entry, the terminal's own settings back on exit (also on Ctrl-C).
    """

    def __init__(self) -> None:
        if not sys.stdin.isatty():
            raise CollectError("live collection reads label keys from a terminal: run it in one (SSH is fine)")
        self._fd = sys.stdin.fileno()
        self._saved: Any = None

    def __enter__(self) -> TerminalKeys:
        import termios  # POSIX only: imported here so the module loads everywhere
        import tty

        self._saved = termios.tcgetattr(self._fd)
        tty.setcbreak(self._fd)
        return self

    def __exit__(self, *exc: object) -> None:
        import termios

        termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)

    def __call__(self) -> str | None:
        """The key pressed since the last call, or None; never waits."""
        import select

        ready, _, _ = select.select([self._fd], [], [], 0)
        return os.read(self._fd, 1).decode(errors="replace") if ready else None
