"""The live loop: frames in, readings out, through a list of per-frame sinks.

    stats = run_live(source, recognizer, sinks=[DisplaySink(), VideoRecorder("out.avi")])

For every frame the loop reads the digits, keeps the reading that has held still for a few frames
(``device.live.stability``), and calls each sink as ``sink(annotated_frame, detections, stable_reading)``:

- ``annotated_frame``: BGR picture with boxes, digits, confidences, reading and FPS drawn (drawn
  only when some sink wants it: a sink with ``wants_frame = False`` gets None);
- ``detections``: this frame's ``device.recognition.recognizer.Detection`` list, reading order;
- ``stable_reading``: a ``Reading`` (``.text``, ``.detections``; ``str()`` gives the text) or None
  before anything has held still.

A sink may have ``close()`` (called once at the end) and may raise ``StopLive`` to end the loop
(the display does on 'q'). Display, recorder, headless printer, the web view (``--serve``) and the
JSON-lines log (``--output``) are all sinks; a new output is one more class, not a new loop.

The loop survives bad frames: None, empty, wrongly shaped or undecodable frames are counted and
skipped; a sink that fails is reported once and dropped; a camera that stops is reopened by its
source (``device.live.sources``), and if that fails the loop ends with the source's one-line error.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

import cv2
import numpy as np

from device.live.draw import annotate, to_bgr
from device.live.sources import FrameSource
from device.live.stability import DEFAULT_STABLE_FRAMES, FpsMeter, StableReading
from device.recognition.recognizer import Detection, Recognizer, reading_string

MIN_FRAME_SIDE = 16


@dataclass(frozen=True)
class Reading:
    """A reading that has held still: its text and the detections of the frame that confirmed it."""

    text: str
    detections: tuple[Detection, ...] = ()

    def __str__(self) -> str:
        return self.text


class Sink(Protocol):
    """What the loop calls once per frame (a plain function works too)."""

    def __call__(
        self,
        annotated_frame: np.ndarray | None,
        detections: Sequence[Detection],
        stable_reading: Reading | None,
    ) -> None: ...


class StopLive(Exception):
    """Raised by a sink to end the loop cleanly (window closed, 'q' pressed, enough frames)."""


class LiveError(Exception):
    """A sink that cannot be set up (no display, unwritable recording); one-line message."""


@dataclass
class LiveStats:
    """What happened in a run of the loop."""

    frames: int = 0  # frames recognised
    bad_frames: int = 0  # frames skipped as unreadable
    readings: int = 0  # times the stable reading changed
    seconds: float = 0.0
    last_reading: Reading | None = None

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def usable_frame(frame: Any) -> bool:
    """A frame the pipeline can read: a 2-D or HxWx{1,3,4} array of at least 16x16 pixels."""
    if not isinstance(frame, np.ndarray) or frame.ndim not in (2, 3) or frame.size == 0:
        return False
    if frame.ndim == 3 and frame.shape[2] not in (1, 3, 4):
        return False
    return min(frame.shape[:2]) >= MIN_FRAME_SIDE


def _warn(message: str) -> None:
    print(f"device: warning: {message}", file=sys.stderr)


def run_live(
    source: FrameSource,
    recognizer: Recognizer,
    sinks: Sequence[Sink | Callable[..., Any]] = (),
    stable_frames: int = DEFAULT_STABLE_FRAMES,
    max_frames: int | None = None,
    fps_window: int = 10,
) -> LiveStats:
    """Read ``source`` until it ends, a sink raises StopLive or ``max_frames`` frames were recognised.

    Raises ``device.live.sources.SourceError`` when a camera stops for good (after its reopen attempts).
    """
    stats = LiveStats()
    stability = StableReading(frames=stable_frames)
    meter = FpsMeter(window=fps_window)
    active = list(sinks)
    stable: Reading | None = None
    start = time.perf_counter()
    try:
        for frame in source:
            if not usable_frame(frame):
                stats.bad_frames += 1
                stability.skip()
                if stats.bad_frames in (1, 10, 100) or stats.bad_frames % 1000 == 0:
                    _warn(f"skipped an unreadable frame from {source.name} ({stats.bad_frames} so far)")
                continue
            try:
                detections = recognizer.read(frame)
            except (ValueError, cv2.error) as exc:  # a frame of a kind the pipeline cannot take
                stats.bad_frames += 1
                stability.skip()
                _warn(f"skipped a frame: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
                continue
            stats.frames += 1
            fps = meter.tick(time.perf_counter())
            if stability.update(reading_string(detections)):
                stable = Reading(stability.value or "", tuple(detections))
                stats.readings += 1
                stats.last_reading = stable

            annotated = None
            if any(getattr(s, "wants_frame", True) for s in active):
                picture, scale = _display_picture(frame, source.display)
                annotated = annotate(picture, detections, stable.text if stable else None, fps, scale)
            for sink in list(active):
                try:
                    sink(annotated if getattr(sink, "wants_frame", True) else None, detections, stable)
                except StopLive:
                    return stats
                except Exception as exc:  # one failing output must not stop the others
                    _warn(f"{type(sink).__name__} failed and was switched off: {exc}")
                    active.remove(sink)
            if max_frames is not None and stats.frames >= max_frames:
                break
    finally:
        stats.seconds = time.perf_counter() - start
        for sink in sinks:
            close = getattr(sink, "close", None)
            if callable(close):
                try:
                    close()
                except Exception as exc:
                    _warn(f"closing {type(sink).__name__}: {exc}")
    return stats


def _display_picture(frame: np.ndarray, display: np.ndarray | None) -> tuple[np.ndarray, tuple[float, float]]:
    """The picture to draw on (the source's sharper display image when it has one) and the box scale."""
    if display is None or not usable_frame(display):
        return frame, (1.0, 1.0)
    return display, (display.shape[1] / frame.shape[1], display.shape[0] / frame.shape[0])


# --------------------------------------------------------------------------------------------
# Sinks
# --------------------------------------------------------------------------------------------
class HeadlessPrinter:
    """Prints each new non-empty stable reading on its own line (``--headless``)."""

    wants_frame = False

    def __init__(self, stream: TextIO | None = None, verbose: bool = False) -> None:
        self.stream = stream
        self.verbose = verbose
        self._last: str | None = None

    def __call__(
        self,
        annotated_frame: np.ndarray | None,
        detections: Sequence[Detection],
        stable_reading: Reading | None,
    ) -> None:
        text = stable_reading.text if stable_reading else None
        if text == self._last:
            return
        self._last = text
        if text:
            line = text
            if self.verbose and stable_reading is not None:
                confidences = " ".join(f"{d.confidence:.2f}" for d in stable_reading.detections)
                line = f"{text}\t({confidences})"
            stream = self.stream or sys.stdout
            print(line, file=stream, flush=True)


def display_available() -> str | None:
    """None if OpenCV can open a window here, else the reason why not (one line)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display (DISPLAY is not set)"
    try:
        cv2.namedWindow("device-probe", cv2.WINDOW_AUTOSIZE)
        cv2.destroyWindow("device-probe")
    except cv2.error:
        return (
            "this OpenCV has no window support (opencv-python-headless); on Raspberry Pi OS use "
            "'sudo apt install python3-opencv', or run with --headless or --serve"
        )
    return None


class DisplaySink:
    """Shows the annotated frames in a window; 'q' or Esc (or closing the window) stops the loop."""

    def __init__(self, title: str = "device live", hold_at_end: bool = False) -> None:
        reason = display_available()
        if reason is not None:
            raise LiveError(reason)
        self.title = title
        self.hold_at_end = hold_at_end  # still images: keep the last one up until a key is pressed
        self._shown = False
        cv2.namedWindow(self.title, cv2.WINDOW_AUTOSIZE)

    def __call__(
        self,
        annotated_frame: np.ndarray | None,
        detections: Sequence[Detection],
        stable_reading: Reading | None,
    ) -> None:
        if annotated_frame is None:
            return
        if self._shown and cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            raise StopLive
        cv2.imshow(self.title, annotated_frame)
        self._shown = True
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27):
            raise StopLive

    def close(self) -> None:
        if self._shown and self.hold_at_end:
            print("press any key in the window to close it", file=sys.stderr)
            cv2.waitKey(0)
        cv2.destroyWindow(self.title)


VIDEO_CODECS = {".avi": "MJPG", ".mp4": "mp4v", ".mkv": "MJPG"}


class VideoRecorder:
    """Writes the annotated frames to a video (``--record OUT``: .avi, .mp4 or .mkv).

    The video goes to a temporary file beside OUT and is renamed into place when the loop ends,
    so OUT is never a half-written file.
    """

    def __init__(self, path: str | Path, fps: float = 10.0) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in VIDEO_CODECS:
            raise LiveError(f"--record {self.path}: use a .avi, .mp4 or .mkv file name")
        if not self.path.parent.is_dir():
            raise LiveError(f"--record {self.path}: folder {self.path.parent} does not exist")
        self.fps = fps
        self.frames_written = 0
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=suffix, dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)

    def __call__(
        self,
        annotated_frame: np.ndarray | None,
        detections: Sequence[Detection],
        stable_reading: Reading | None,
    ) -> None:
        if annotated_frame is None:
            return
        frame = to_bgr(annotated_frame)
        if self._writer is None:
            self._size = (frame.shape[1], frame.shape[0])
            fourcc = cv2.VideoWriter.fourcc(*VIDEO_CODECS[self.path.suffix.lower()])
            self._writer = cv2.VideoWriter(str(self._tmp), fourcc, self.fps, self._size)
            if not self._writer.isOpened():
                raise LiveError(f"cannot write video {self.path} (codec {VIDEO_CODECS[self.path.suffix.lower()]})")
        if (frame.shape[1], frame.shape[0]) != self._size:
            frame = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(frame)
        self.frames_written += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self.frames_written:
            os.chmod(self._tmp, 0o644)
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)
