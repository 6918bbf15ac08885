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
(the display does on 'q'). Display, recorder and headless printer (``device.live.sinks``), the web
view (``device.live.web``) and the JSON-lines log (``device.live.readings``) are all sinks; a new
output is one more class, not a new loop.

The loop survives bad frames: None, empty, wrongly shaped or undecodable frames are counted and
skipped; a sink that fails is reported once and dropped; a camera that stops is reopened by its
source (``device.live.sources``), and if that fails the loop ends with the source's one-line error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from device.common.errors import first_line, warn
from device.live.draw import annotate
from device.live.sources import FrameSource
from device.live.stability import DEFAULT_STABLE_FRAMES, FpsMeter, StableReading
from device.recognition.recognizer import Detection, Recognizer, reading_string
from device.recognition.records import reading_detections, reading_text

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


class NewReadingSink:
    """A sink that acts only when the stable reading changes to a new, non-empty text: ``on_reading``.

    A reading that disappears and comes back counts as new. Needs no picture (``wants_frame``).
    """

    wants_frame = False
    _last_reading: str | None = None  # the text last seen, set per instance on the first change

    def __call__(
        self,
        annotated_frame: np.ndarray | None,
        detections: Sequence[Detection],
        stable_reading: Reading | str | None,
    ) -> None:
        text = reading_text(stable_reading)
        if text == self._last_reading:
            return
        self._last_reading = text
        if text:
            self.on_reading(text, reading_detections(stable_reading) or tuple(detections))

    def on_reading(self, text: str, detections: Sequence[Detection]) -> None:
        raise NotImplementedError


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
                    warn(f"skipped an unreadable frame from {source.name} ({stats.bad_frames} so far)")
                continue
            try:
                detections = recognizer.read(frame)
            except (ValueError, cv2.error) as exc:  # a frame of a kind the pipeline cannot take
                stats.bad_frames += 1
                stability.skip()
                warn(f"skipped a frame: {type(exc).__name__}: {first_line(exc)}")
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
                    warn(f"{type(sink).__name__} failed and was switched off: {exc}")
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
                    warn(f"closing {type(sink).__name__}: {exc}")
    return stats


def _display_picture(frame: np.ndarray, display: np.ndarray | None) -> tuple[np.ndarray, tuple[float, float]]:
    """The picture to draw on (the source's sharper display image when it has one) and the box scale."""
    if display is None or not usable_frame(display):
        return frame, (1.0, 1.0)
    return display, (display.shape[1] / frame.shape[1], display.shape[0] / frame.shape[0])
