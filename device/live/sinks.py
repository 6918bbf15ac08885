"""The live loop's everyday outputs: a window, a video file, and readings printed as they settle.

Each is a sink of ``device.live.loop.run_live``: called as ``sink(annotated_frame, detections,
stable_reading)`` once per frame, ``close()`` at the end.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import cv2
import numpy as np

from device.common.files import PendingFile
from device.live.draw import to_bgr
from device.live.loop import LiveError, NewReadingSink, Reading, StopLive
from device.recognition.recognizer import Detection


class HeadlessPrinter(NewReadingSink):
    """Prints each new non-empty stable reading on its own line (``--headless``)."""

    def __init__(self, stream: TextIO | None = None, verbose: bool = False) -> None:
        self.stream = stream
        self.verbose = verbose

    def on_reading(self, text: str, detections: Sequence[Detection]) -> None:
        line = text
        if self.verbose:
            confidences = " ".join(f"{d.confidence:.2f}" for d in detections)
            line = f"{text}\t({confidences})"
        print(line, file=self.stream or sys.stdout, flush=True)


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


class PictureSink:
    """A sink that wants only the annotated picture: ``show`` is called with each frame that was drawn."""

    def __call__(
        self,
        annotated_frame: np.ndarray | None,
        detections: Sequence[Detection],
        stable_reading: Reading | None,
    ) -> None:
        if annotated_frame is not None:
            self.show(annotated_frame)

    def show(self, annotated_frame: np.ndarray) -> None:
        raise NotImplementedError


class DisplaySink(PictureSink):
    """Shows the annotated frames in a window; 'q' or Esc (or closing the window) stops the loop."""

    def __init__(self, title: str = "device live", hold_at_end: bool = False) -> None:
        reason = display_available()
        if reason is not None:
            raise LiveError(reason)
        self.title = title
        self.hold_at_end = hold_at_end  # still images: keep the last one up until a key is pressed
        self._shown = False
        cv2.namedWindow(self.title, cv2.WINDOW_AUTOSIZE)

    def show(self, annotated_frame: np.ndarray) -> None:
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


class VideoRecorder(PictureSink):
    """Writes the annotated frames to a video (``--record OUT``: .avi, .mp4 or .mkv).

    The video goes to a temporary file beside OUT and is renamed into place when the loop ends,
    so OUT is never a half-written file.
    """

    def __init__(self, path: str | Path, fps: float = 10.0) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in VIDEO_CODECS:
            raise LiveError(f"{self.path}: record to a .avi, .mp4 or .mkv file")
        if not self.path.parent.is_dir():
            raise LiveError(f"{self.path}: folder {self.path.parent} does not exist")
        self.fps = fps
        self.frames_written = 0
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self._pending = PendingFile(self.path)  # the video grows here; renamed into place by close()

    def show(self, annotated_frame: np.ndarray) -> None:
        frame = to_bgr(annotated_frame)
        if self._writer is None:
            self._size = (frame.shape[1], frame.shape[0])
            fourcc = cv2.VideoWriter.fourcc(*VIDEO_CODECS[self.path.suffix.lower()])
            self._writer = cv2.VideoWriter(str(self._pending.tmp), fourcc, self.fps, self._size)
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
        if self._pending.done:
            return
        if self.frames_written:
            self._pending.commit()
        else:
            self._pending.discard()
