"""The live loop: sinks, stable readings, bad frames, a failing sink, a camera that stops."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest

from device import Recognizer
from device.live.loop import Reading, StopLive, run_live
from device.live.sinks import HeadlessPrinter, VideoRecorder
from device.live.sources import FrameSource, SourceError
from device.live.stability import FpsMeter, StableReading

SAMPLES = Path(__file__).resolve().parents[1] / "device" / "samples"


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer()


@pytest.fixture(scope="module")
def sheet() -> np.ndarray:
    return cv2.imread(str(SAMPLES / "sample_01.jpg"))  # reads "827"


class ListSource(FrameSource):
    """Frames from a list; an exception instance in the list is raised when reached."""

    def __init__(self, frames: list, live: bool = False) -> None:
        super().__init__("test frames")
        self.frames = list(frames)
        self.live = live
        self.reopen_wait_s = 0.0

    def _open(self) -> None:
        raise SourceError("the test camera is gone")

    def _read(self):
        from device.live.sources import EndOfSource

        if not self.frames:
            raise EndOfSource
        item = self.frames.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def _close(self) -> None:
        pass


class Collector:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __call__(self, annotated_frame, detections, stable_reading) -> None:
        self.calls.append((annotated_frame, list(detections), stable_reading))


def test_every_good_frame_reaches_every_sink_with_an_annotated_picture(recognizer, sheet):
    collector = Collector()
    stats = run_live(ListSource([sheet] * 6), recognizer, [collector], stable_frames=3)
    assert stats.frames == 6 and stats.bad_frames == 0
    assert len(collector.calls) == 6
    annotated, detections, _ = collector.calls[0]
    assert annotated.shape == sheet.shape and not np.array_equal(annotated, sheet)  # boxes drawn
    assert "".join(str(d.digit) for d in detections) == "827"


def test_the_reading_is_stable_only_after_enough_equal_frames(recognizer, sheet):
    collector = Collector()
    run_live(ListSource([sheet] * 5), recognizer, [collector], stable_frames=3)
    stable = [call[2] for call in collector.calls]
    assert stable[:2] == [None, None]
    assert all(isinstance(r, Reading) and r.text == "827" and str(r) == "827" for r in stable[2:])
    assert len(stable[2].detections) == 3


def test_loop_survives_bad_frames_in_the_middle(recognizer, sheet, capsys):
    garbage = [
        None,
        np.zeros((0, 0), np.uint8),
        "not a frame",
        np.zeros((5, 5, 9), np.uint8),
        np.zeros((3,), np.uint8),
        np.full((480, 640, 3), 255, np.uint8),
    ]
    collector = Collector()
    stats = run_live(ListSource([sheet, *garbage, sheet]), recognizer, [collector], stable_frames=1)
    assert stats.bad_frames == 5  # the white frame is a good frame with nothing written on it
    assert stats.frames == 3
    assert [len(call[1]) for call in collector.calls] == [3, 0, 3]
    assert "unreadable frame" in capsys.readouterr().err


def test_a_failing_sink_is_switched_off_and_the_others_go_on(recognizer, sheet, capsys):
    def broken(annotated_frame, detections, stable_reading):
        raise OSError("disk full")

    collector = Collector()
    stats = run_live(ListSource([sheet] * 3), recognizer, [broken, collector])
    assert stats.frames == 3 and len(collector.calls) == 3
    assert capsys.readouterr().err.count("disk full") == 1


def test_a_sink_can_stop_the_loop(recognizer, sheet):
    class StopAfterTwo(Collector):
        def __call__(self, *args) -> None:
            super().__call__(*args)
            if len(self.calls) == 2:
                raise StopLive

    stopper = StopAfterTwo()
    stats = run_live(ListSource([sheet] * 10), recognizer, [stopper])
    assert stats.frames == 2


def test_sinks_are_closed_at_the_end_even_when_the_camera_stops(recognizer, sheet):
    class Closing(Collector):
        closed = False

        def close(self) -> None:
            self.closed = True

    sink = Closing()
    source = ListSource([sheet, RuntimeError("camera timed out")], live=True)
    with pytest.raises(SourceError, match="could not be reopened"):
        run_live(source, recognizer, [sink])
    assert sink.closed and len(sink.calls) == 1


def test_headless_printer_prints_each_new_reading_once(recognizer, sheet):
    out = io.StringIO()
    blank = np.full_like(sheet, 230)
    frames = [sheet] * 4 + [blank] * 3 + [sheet] * 3
    run_live(ListSource(frames), recognizer, [HeadlessPrinter(stream=out)], stable_frames=2)
    assert out.getvalue().splitlines() == ["827", "827"]  # printed again after the paper was away


def test_recorder_writes_the_annotated_video_into_place(recognizer, sheet, tmp_path):
    out = tmp_path / "run.avi"
    run_live(ListSource([sheet] * 4), recognizer, [VideoRecorder(out)])
    assert out.is_file() and [p.name for p in tmp_path.iterdir()] == ["run.avi"]  # no temp file left
    capture = cv2.VideoCapture(str(out))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    assert count == 4


def test_stable_reading_and_fps_meter():
    stability = StableReading(frames=3)
    assert [stability.update(r) for r in ["1", "1", "1", "1", "2", "2"]] == [False, False, True, False, False, False]
    stability.skip()
    assert [stability.update("2") for _ in range(3)] == [False, False, True]
    assert stability.value == "2"
    meter = FpsMeter(window=10)
    assert meter.tick(0.0) is None
    rates = [meter.tick(t / 20) for t in range(1, 30)]
    assert rates[-1] == pytest.approx(20.0)
    with pytest.raises(ValueError):
        StableReading(frames=0)


def test_ctrl_c_stops_live_even_when_started_with_sigint_ignored():
    # A background job or a script starts its children with SIGINT ignored, and Python keeps it so:
    # `device live` would then never stop on Ctrl-C. It restores the handler itself.
    import signal
    import subprocess
    import sys
    import time

    root = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-m", "device", "live", "--source", str(root / "device" / "samples" / "demo.mp4"),
               "--loop", "--headless"]
    process = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            line = process.stdout.readline()  # a reading printed: the loop is running
            if line.strip():
                break
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 130
        assert "stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
