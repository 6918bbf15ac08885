"""Frame sources: picamera2 (against a stand-in with its API), OpenCV on a real video, images, folders."""

from __future__ import annotations

import sys
from typing import ClassVar

import cv2
import numpy as np
import pytest

from device.live import sources
from device.live.sources import (
    ImageSource,
    NoFramesError,
    OpenCVSource,
    PicameraSource,
    SourceError,
    open_source,
    y_plane,
)

LORES = (320, 240)
STRIDE = 384  # wider than the 320-pixel rows: the padding must not end up in the frame


class FakePicamera2:
    """Stand-in with the part of picamera2.Picamera2's API the source uses.

    The Y plane of each YUV420 buffer holds ``(row + column + frame number) % 200``; the padding
    at the end of each row is 255, and the chroma planes 128.
    """

    instances: ClassVar[list[FakePicamera2]] = []
    fail_after: int | None = None  # capture raises after this many frames (a camera that stops)
    fail_opens: int = 0  # this many constructions fail before one succeeds

    def __init__(self) -> None:
        if FakePicamera2.fail_opens > 0:
            FakePicamera2.fail_opens -= 1
            raise RuntimeError("Camera __init__ sequence did not complete.")
        self.config: dict | None = None
        self.started = False
        self.closed = False
        self.frames = 0
        FakePicamera2.instances.append(self)

    def create_video_configuration(self, main=None, lores=None, **kwargs):
        return {"use_case": "video", "main": dict(main or {}), "lores": dict(lores or {}), **kwargs}

    def create_preview_configuration(self, main=None, lores=None, **kwargs):
        return {"use_case": "preview", "main": dict(main or {}), "lores": dict(lores or {}), **kwargs}

    def configure(self, config: dict) -> None:
        self.config = config

    def stream_configuration(self, name: str) -> dict:
        stream = self.config[name]
        w, h = stream["size"]
        stride = STRIDE if stream["format"] == "YUV420" else w * 3
        return {"size": (w, h), "format": stream["format"], "stride": stride}

    def start(self) -> None:
        assert self.config is not None, "configure before start"
        self.started = True

    def _tick(self) -> None:
        if not self.started:
            raise RuntimeError("camera not started")
        if FakePicamera2.fail_after is not None and self.frames >= FakePicamera2.fail_after:
            raise RuntimeError("Camera frontend has timed out!")
        self.frames += 1

    def capture_buffer(self, name: str = "main") -> np.ndarray:
        self._tick()
        w, h = self.config[name]["size"]
        rows = np.full((h * 3 // 2, STRIDE), 128, np.uint8)
        yy, xx = np.mgrid[0:h, 0:w]
        rows[:h, :w] = (yy + xx + self.frames) % 200
        rows[:h, w:] = 255
        return rows.reshape(-1)

    def capture_array(self, name: str = "main") -> np.ndarray:
        if name != "main":
            self._tick()
        w, h = self.config[name]["size"]
        frame = np.zeros((h, w, 3), np.uint8)
        frame[:, :, 0] = 200  # RGB888 arrays are in B, G, R order
        return frame

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture(autouse=True)
def reset_fake():
    FakePicamera2.instances = []
    FakePicamera2.fail_after = None
    FakePicamera2.fail_opens = 0
    yield


def test_pi4_source_takes_the_y_plane_of_lores_yuv420_respecting_the_stride():
    with PicameraSource(lores_size=LORES, camera_factory=FakePicamera2, rgb_lores=False) as source:
        frames = [next(iter(source)) for _ in range(2)]
        camera = FakePicamera2.instances[0]
        assert camera.config["lores"]["format"] == "YUV420"
        assert camera.config["main"]["format"] == "RGB888"
    for number, frame in enumerate(frames, start=1):
        assert frame.shape == (240, 320) and frame.dtype == np.uint8
        yy, xx = np.mgrid[0:240, 0:320]
        assert np.array_equal(frame, (yy + xx + number) % 200)  # no padding, no chroma
    assert camera.closed


def test_pi5_source_takes_lores_rgb888_as_bgr_and_main_for_display():
    with PicameraSource(
        lores_size=LORES, main_size=(640, 480), want_display=True, camera_factory=FakePicamera2, rgb_lores=True
    ) as source:
        frame = source.read()
        assert source.display is not None and source.display.shape == (480, 640, 3)
    assert FakePicamera2.instances[0].config["lores"]["format"] == "RGB888"
    assert frame.shape == (240, 320, 3)
    assert frame[0, 0, 0] == 200  # blue first: OpenCV's order


def test_display_is_captured_only_when_wanted():
    with PicameraSource(lores_size=LORES, camera_factory=FakePicamera2, rgb_lores=False) as source:
        source.read()
        assert source.display is None


def test_camera_that_stops_mid_run_is_reopened():
    FakePicamera2.fail_after = 3
    source = PicameraSource(lores_size=LORES, camera_factory=FakePicamera2, rgb_lores=False)
    source.reopen_wait_s = 0.0
    frames = [source.read() for _ in range(5)]
    source.close()
    assert all(f is not None for f in frames)
    assert len(FakePicamera2.instances) == 2 and FakePicamera2.instances[0].closed


def test_camera_that_cannot_be_reopened_ends_with_one_clear_error():
    FakePicamera2.fail_after = 2
    source = PicameraSource(lores_size=LORES, camera_factory=FakePicamera2, rgb_lores=False)
    source.reopen_wait_s = 0.0
    FakePicamera2.fail_opens = 99
    frames = []
    with pytest.raises(SourceError, match="could not be reopened after 3 attempts") as info:
        for frame in source:
            frames.append(frame)
    assert len(frames) == 2  # the frames before it stopped were delivered
    assert "\n" not in str(info.value)


def test_absent_camera_names_what_to_check():
    def no_camera():
        raise IndexError("list index out of range")

    with pytest.raises(SourceError, match="ribbon cable") as info:
        PicameraSource(camera_factory=no_camera, rgb_lores=False)
    assert "rpicam-hello" in str(info.value)


def test_missing_picamera2_names_the_package_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import picamera2 -> ImportError
    with pytest.raises(SourceError, match="sudo apt install python3-picamera2"):
        open_source("picamera")


def test_y_plane_cuts_rows_at_the_stride():
    buffer = np.arange(4 * 8 * 3 // 2 * 2, dtype=np.uint8)  # stride 8, width 6, height 4
    plane = y_plane(buffer, width=6, height=4, stride=8)
    assert plane.shape == (4, 6)
    assert plane[1, 0] == 8 and plane[3, 5] == 29
    with pytest.raises(SourceError):
        y_plane(buffer[:10], width=6, height=4, stride=8)


def write_video(path, frames: int = 12, size=(160, 120)) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, size)
    assert writer.isOpened()
    for i in range(frames):
        frame = np.full((size[1], size[0], 3), 20 * i % 250, np.uint8)
        writer.write(frame)
    writer.release()


def test_opencv_source_reads_every_frame_of_a_video_then_ends(tmp_path):
    video = tmp_path / "clip.avi"
    write_video(video)
    with open_source(str(video)) as source:
        assert isinstance(source, OpenCVSource) and not source.live
        frames = list(source)
    assert len(frames) == 12
    assert all(f.shape == (120, 160, 3) for f in frames)
    levels = [int(f.mean()) for f in frames]
    assert levels[0] < 10 and abs(levels[5] - 100) < 10  # the frames, in order


def test_corrupt_video_and_missing_files_are_source_errors(tmp_path):
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(SourceError, match="not a readable video"):
        open_source(str(bad))
    with pytest.raises(SourceError, match="no such file"):
        open_source(str(tmp_path / "absent.mp4"))
    with pytest.raises(SourceError, match="usb:N"):
        open_source("usb:first")


def test_folder_source_yields_images_in_order_and_none_for_a_corrupt_one(tmp_path, capsys):
    for name, value in (("a.png", 10), ("c.png", 30)):
        cv2.imwrite(str(tmp_path / name), np.full((40, 50), value, np.uint8))
    (tmp_path / "b.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    with open_source(str(tmp_path)) as source:
        assert isinstance(source, ImageSource)
        frames = list(source)
    assert len(frames) == 3 and frames[1] is None
    assert frames[0].shape == (40, 50, 3) and int(frames[2][0, 0, 0]) == 30
    assert "b.jpg" in capsys.readouterr().err


def test_empty_folder_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="no images"):
        open_source(str(tmp_path))


def test_usb_camera_that_is_absent_names_what_to_check(monkeypatch):
    class ClosedCapture:
        def __init__(self, *args):
            pass

        def isOpened(self):
            return False

        def release(self):
            pass

    monkeypatch.setattr(sources.cv2, "VideoCapture", ClosedCapture)
    with pytest.raises(SourceError, match="plugged in"):
        open_source("usb:0")


def first_frames(source, count):
    frames = []
    for frame in source:
        frames.append(frame)
        if len(frames) == count:
            break
    return frames


def test_loop_replays_a_video_from_its_first_frame(tmp_path):
    video = tmp_path / "clip.avi"
    write_video(video, frames=5)
    with open_source(str(video), loop=True) as source:
        frames = first_frames(source, 13)  # more than the video holds
    assert len(frames) == 13 and all(f is not None for f in frames)
    levels = [int(f.mean()) for f in frames]
    assert levels[0] < 10 and levels[5] < 10 and levels[10] < 10  # frame 0 again after frames 0..4
    assert abs(levels[6] - levels[1]) < 3 and abs(levels[4] - 80) < 10


def test_loop_replays_an_image_and_a_folder(tmp_path):
    for name, value in (("a.png", 10), ("b.png", 30)):
        cv2.imwrite(str(tmp_path / name), np.full((40, 50), value, np.uint8))
    with open_source(str(tmp_path / "a.png"), loop=True) as source:
        assert len(first_frames(source, 4)) == 4
    with open_source(str(tmp_path), loop=True) as source:
        assert [int(f[0, 0, 0]) for f in first_frames(source, 5)] == [10, 30, 10, 30, 10]


def test_loop_is_refused_for_cameras():
    for camera in ("picamera", "usb:0"):
        with pytest.raises(SourceError, match="--loop"):
            open_source(camera, loop=True)


def test_sources_that_give_no_frame_at_all_are_one_clear_error(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(NoFramesError, match="empty"):
        open_source(str(empty))
    no_frames = tmp_path / "zero.avi"  # a valid container that holds no frame
    writer = cv2.VideoWriter(str(no_frames), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (160, 120))
    writer.release()
    # OpenCV opens it and reads nothing (NoFramesError), or, built otherwise, refuses to open it: an error both ways
    with pytest.raises(SourceError, match=r"no frame could be decoded|not a readable video"), \
            open_source(str(no_frames)) as source:
        list(source)
    corrupt = tmp_path / "bad.jpg"
    corrupt.write_bytes(b"not a jpeg")
    with open_source(str(corrupt), loop=True) as source, pytest.raises(NoFramesError, match=r"bad\.jpg"):
        list(source)  # looping what has no frame would spin forever
