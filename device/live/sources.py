"""Where frames come from, behind one interface: Raspberry Pi camera, USB camera, video file, images.

    with open_source("picamera") as source:      # or "usb:0", "clip.mp4", "photo.jpg", "folder/"
        for frame in source:                     # np.ndarray (HxW gray or HxWx3 BGR), or None
            ...                                  # None: one bad frame (a corrupt image); go on
            display = source.display             # a sharper BGR picture of the same scene, or None

Iteration ends at the end of a file or folder, or, with ``loop=True``, starts over from its first
frame (a demo that runs until stopped). A file or folder that gives no frame at all raises
``NoFramesError`` (a ``SourceError``). A live camera that stops delivering frames is closed and
reopened a few times (``reopen_attempts``, ``reopen_wait_s``); if that fails the iteration raises
``SourceError`` with a one-line message, as does opening a camera that is absent.

On a Raspberry Pi 4 the picamera2 source reads the low-resolution YUV420 stream and keeps only its
Y (luma) plane: the grayscale the segmentation needs, with no colour conversion. Its rows are
``stride`` bytes apart, which can be more than the width, so the plane is cut out with the stride
that ``stream_configuration("lores")`` reports. A Pi 5 can deliver the low-resolution stream as
RGB888 (numpy's BGR order, OpenCV's order) directly. The main stream, larger, is what a display
shows; it is captured only when ``want_display`` is set.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from device.common import images
from device.common.errors import first_line, warn
from device.common.images import IMAGE_SUFFIXES

PICAMERA_INSTALL_HINT = (
    "picamera2 is not installed: on Raspberry Pi OS run 'sudo apt install python3-picamera2' and create the "
    "virtualenv with --system-site-packages (or use --source usb:0 or a video file)"
)
PICAMERA_ABSENT_HINT = (
    "no Raspberry Pi camera found: check the ribbon cable (contacts facing the right way, latch closed), "
    "enable the camera (camera_auto_detect=1 in /boot/firmware/config.txt, then reboot) and test it with "
    "'rpicam-hello --list-cameras'"
)


class SourceError(Exception):
    """A source that cannot be opened or has stopped; the message is one line for the user."""


class NoFramesError(SourceError):
    """A video, image or folder that gave not one frame: nothing to read (a usage error, not a stopped camera)."""


class FrameSource:
    """Base of all sources: iterate frames, ``close()``, use as a context manager.

    Subclasses implement ``_open`` (may raise SourceError), ``_read`` (a frame; None for a bad
    frame; raise ``EndOfSource`` at the end) and ``_close``. Live sources get reopened on failure;
    the others start over at their end when ``loop`` is set (closed and opened again).
    """

    live = False  # a camera: failures are retried, there is no natural end
    reopen_attempts = 3
    reopen_wait_s = 1.0

    def __init__(self, name: str) -> None:
        self.name = name
        self.display: np.ndarray | None = None  # the display picture for the last frame, if any
        self.frames_read = 0
        self.loop = False  # at the end, start over (files and folders; a camera has no end)
        self._pass_frames = 0  # good frames since the last start
        self._closed = False

    # -- to implement ------------------------------------------------------------------------
    def _open(self) -> None:
        raise NotImplementedError

    def _read(self) -> np.ndarray | None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def no_frames_message(self) -> str:
        """What a user reads when this source gave no frame at all: the problem and the fix, one line."""
        return f"{self.name}: not one frame could be read"

    # -- the interface -----------------------------------------------------------------------
    def read(self) -> np.ndarray | None:
        """The next frame; None for a frame that could not be decoded. Raises EndOfSource at the end."""
        if self._closed:
            raise EndOfSource
        try:
            frame = self._read()
        except EndOfSource:
            frame = self._at_end()
        except SourceError as exc:
            if not self.live:
                raise
            frame = self._recover(str(exc))
        except Exception as exc:  # a camera library's own error types: treat as a stopped camera
            if not self.live:
                raise SourceError(f"{self.name}: {exc}") from None
            frame = self._recover(f"{type(exc).__name__}: {exc}")
        if frame is None and self.live:
            frame = self._recover("no frame delivered")
        if frame is not None:
            self.frames_read += 1
            self._pass_frames += 1
        return frame

    def _at_end(self) -> np.ndarray | None:
        """The end of a file or folder: NoFramesError if it gave nothing, else the end or (``loop``) frame one."""
        if self.frames_read == 0:
            raise NoFramesError(self.no_frames_message())
        if not self.loop or self._pass_frames == 0:  # a pass without a good frame would loop forever
            raise EndOfSource
        self._pass_frames = 0
        self._close()
        self._open()
        return self._read()  # EndOfSource here: the file vanished or emptied meanwhile

    def _recover(self, reason: str) -> np.ndarray:
        """Close and reopen a live camera up to ``reopen_attempts`` times; the first frame after it."""
        for attempt in range(1, self.reopen_attempts + 1):
            warn(f"{self.name} stopped ({reason}); reopening ({attempt}/{self.reopen_attempts})")
            self._safe_close()
            time.sleep(self.reopen_wait_s)
            try:
                self._open()
                frame = self._read()
            except Exception as exc:  # any failure counts as one failed attempt
                reason = first_line(exc)
                continue
            if frame is not None:
                return frame
            reason = "no frame delivered"
        self._safe_close()
        self._closed = True
        raise SourceError(
            f"{self.name} stopped and could not be reopened after {self.reopen_attempts} attempts ({reason})"
        )

    def _safe_close(self) -> None:
        # Closing a camera that already failed may fail again; there is nothing left to lose.
        with contextlib.suppress(Exception):
            self._close()

    def __iter__(self) -> Iterator[np.ndarray | None]:
        while True:
            try:
                yield self.read()
            except EndOfSource:
                return

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._safe_close()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class EndOfSource(Exception):
    """Raised by ``FrameSource.read`` when a file or folder has no more frames."""


# --------------------------------------------------------------------------------------------
# Still images and folders
# --------------------------------------------------------------------------------------------
def read_image(path: str | Path) -> np.ndarray:
    """A BGR image from a file; SourceError with a one-line reason if it is missing or not an image."""
    try:
        return images.read_image(path)
    except images.ImageError as exc:
        raise SourceError(str(exc)) from None


class ImageSource(FrameSource):
    """Still images, one frame each; an unreadable one is reported and yields None (loses nothing else)."""

    def __init__(self, paths: list[Path], name: str | None = None) -> None:
        super().__init__(name or (str(paths[0]) if len(paths) == 1 else f"{len(paths)} images"))
        self.paths = list(paths)
        self.current: Path | None = None
        self._next = 0
        self._last_error = ""

    def _open(self) -> None:
        self._next = 0

    def _read(self) -> np.ndarray | None:
        if self._next >= len(self.paths):
            raise EndOfSource
        self.current = self.paths[self._next]
        self._next += 1
        try:
            return read_image(self.current)
        except SourceError as exc:
            self._last_error = str(exc)
            if len(self.paths) == 1 and self.frames_read == 0:  # one image alone: nothing to skip to
                raise NoFramesError(self.no_frames_message()) from None
            warn(self._last_error)
            return None

    def _close(self) -> None:
        pass

    def no_frames_message(self) -> str:
        if len(self.paths) == 1:
            return f"{self._last_error}: give a JPEG or PNG file"
        return f"{self.name}: none of the {len(self.paths)} images could be read (corrupt or unsupported)"


def folder_images(folder: Path) -> list[Path]:
    """The image files of a folder, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


# --------------------------------------------------------------------------------------------
# OpenCV VideoCapture: USB cameras and video files
# --------------------------------------------------------------------------------------------
class OpenCVSource(FrameSource):
    """``cv2.VideoCapture`` over a camera index (live) or a video file."""

    def __init__(self, target: int | str | Path, size: tuple[int, int] | None = None) -> None:
        self.target = target
        self.live = isinstance(target, int)
        super().__init__(f"USB camera {target}" if self.live else str(target))
        self.size = size
        self._capture: cv2.VideoCapture | None = None
        self._open()

    def _open(self) -> None:
        if not self.live and not Path(self.target).is_file():
            raise SourceError(f"{self.target}: no such file")
        if not self.live and Path(self.target).stat().st_size == 0:
            raise NoFramesError(f"{self.target}: the file is empty (0 bytes): record the video again or give "
                                f"another file")
        target = self.target if self.live else str(self.target)
        capture = cv2.VideoCapture(target)
        if not capture.isOpened():
            capture.release()
            if self.live:
                raise SourceError(
                    f"cannot open {self.name}: check it is plugged in (ls /dev/video*), that no "
                    f"other program uses it and that your user is in the 'video' group"
                )
            raise SourceError(f"{self.target}: not a readable video (corrupt or unsupported format): check that it "
                              f"plays, or convert it, e.g. 'ffmpeg -i {self.target} clip.mp4'")
        if self.live:
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a queue of old ones
            if self.size:
                capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
                capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
        self._capture = capture

    def _read(self) -> np.ndarray | None:
        if self._capture is None:
            raise SourceError(f"{self.name} is not open")
        ok, frame = self._capture.read()
        if not ok or frame is None:
            if self.live:
                return None  # read() reopens
            raise EndOfSource
        return frame

    def _close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def no_frames_message(self) -> str:
        return (f"{self.target}: no frame could be decoded (an empty or corrupt video): check that it plays, "
                f"or record it again")


# --------------------------------------------------------------------------------------------
# picamera2 (Raspberry Pi camera)
# --------------------------------------------------------------------------------------------
def _import_picamera2() -> Any:
    """The picamera2 module, imported only when a Pi camera is asked for."""
    try:
        import picamera2
    except ImportError:
        raise SourceError(PICAMERA_INSTALL_HINT) from None
    return picamera2


def _is_pi5(camera_class: Any) -> bool:
    """True on a Pi 5 (the PiSP image pipeline), which can deliver the low-res stream as RGB."""
    try:
        from picamera2.platform import Platform

        return camera_class.platform == Platform.PISP
    except Exception:  # older picamera2 without platform detection: treat as a Pi 4 (YUV works on both)
        return False


class PicameraSource(FrameSource):
    """The Raspberry Pi camera through picamera2: low-res stream for recognition, main for display.

    ``camera_factory`` builds the camera object (default ``picamera2.Picamera2``); tests pass a
    stand-in with the same methods. ``rgb_lores`` forces the Pi 5 (True) or Pi 4 (False) path.
    """

    live = True

    def __init__(
        self,
        lores_size: tuple[int, int] = (640, 480),
        main_size: tuple[int, int] = (1280, 960),
        want_display: bool = False,
        camera_factory: Callable[[], Any] | None = None,
        rgb_lores: bool | None = None,
    ) -> None:
        super().__init__("Raspberry Pi camera")
        self.lores_size = (lores_size[0] & ~1, lores_size[1] & ~1)  # YUV420 needs even sizes
        self.main_size = main_size
        self.want_display = want_display
        self._factory = camera_factory
        self._rgb_lores = rgb_lores
        self._camera: Any = None
        self._stride = self.lores_size[0]
        self._open()

    def _open(self) -> None:
        factory = self._factory
        rgb = self._rgb_lores
        if factory is None:
            module = _import_picamera2()
            factory = module.Picamera2
            if rgb is None:
                rgb = _is_pi5(module.Picamera2)
        try:
            camera = factory()
        except SourceError:
            raise
        except Exception as exc:  # IndexError (no camera), RuntimeError (busy, not enabled)
            detail = first_line(exc)
            if "busy" in detail.lower():
                raise SourceError(f"the Raspberry Pi camera is in use by another program ({detail})") from None
            raise SourceError(f"{PICAMERA_ABSENT_HINT} ({type(exc).__name__}: {detail})") from None
        self.lores_is_rgb = bool(rgb)
        lores_format = "RGB888" if self.lores_is_rgb else "YUV420"  # RGB888 arrays are BGR-ordered
        try:
            config = camera.create_video_configuration(
                main={"size": self.main_size, "format": "RGB888"},
                lores={"size": self.lores_size, "format": lores_format},
                buffer_count=4,
            )
            camera.configure(config)
            self._stride = int(camera.stream_configuration("lores")["stride"])
            camera.start()
        except Exception as exc:
            with contextlib.suppress(Exception):
                camera.close()
            detail = first_line(exc)
            raise SourceError(f"cannot start the Raspberry Pi camera: {detail}") from None
        self._camera = camera

    def _read(self) -> np.ndarray | None:
        if self._camera is None:
            raise SourceError("the Raspberry Pi camera is not open")
        w, h = self.lores_size
        if self.lores_is_rgb:
            frame = np.asarray(self._camera.capture_array("lores"))[:h, :w]
        else:
            frame = y_plane(self._camera.capture_buffer("lores"), w, h, self._stride)
        if self.want_display:
            self.display = np.asarray(self._camera.capture_array("main"))
        return frame

    def _close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                camera.stop()
            finally:
                camera.close()


def y_plane(buffer: np.ndarray, width: int, height: int, stride: int) -> np.ndarray:
    """The luma plane of a YUV420 buffer whose rows are ``stride`` bytes apart: (height, width) uint8."""
    flat = np.asarray(buffer, dtype=np.uint8).reshape(-1)
    if stride < width or flat.size < stride * height:
        raise SourceError(f"camera buffer too small: {flat.size} bytes for {width}x{height} with stride {stride}")
    return flat[: stride * height].reshape(height, stride)[:, :width]


# --------------------------------------------------------------------------------------------
# One entry point
# --------------------------------------------------------------------------------------------
def open_source(
    spec: str, want_display: bool = False, size: tuple[int, int] | None = None, loop: bool = False
) -> FrameSource:
    """``picamera`` | ``usb:N`` | a video file | an image file | a folder of images -> a source.

    ``loop``: a video, image or folder starts over at its end, endlessly. Raises SourceError (one line)
    when it cannot be opened, or when ``loop`` is asked of a camera.
    """
    text = str(spec).strip()
    if loop and (_is_picamera(text) or _is_usb(text)):
        raise SourceError(f"--loop replays a video, an image or a folder; the camera {spec!r} has no end to "
                          f"start over from: leave out --loop")
    source = _open_source(text, spec, want_display, size)
    source.loop = loop
    return source


def _is_picamera(text: str) -> bool:
    return text.lower() in ("picamera", "picamera2", "pi", "csi")


def _is_usb(text: str) -> bool:
    return text.lower().startswith("usb:") or text.isdigit()


def _open_source(text: str, spec: str, want_display: bool, size: tuple[int, int] | None) -> FrameSource:
    if _is_picamera(text):
        return PicameraSource(lores_size=size or (640, 480), want_display=want_display)
    if _is_usb(text):
        index = text.split(":", 1)[1] if ":" in text else text
        if not index.isdigit():
            raise SourceError(f"--source {spec!r}: expected usb:N with a camera number, e.g. usb:0")
        return OpenCVSource(int(index), size=size)
    path = Path(text)
    if path.is_dir():
        images = folder_images(path)
        if not images:
            raise SourceError(f"{path}: no images in this folder")
        return ImageSource(images, name=str(path))
    if not path.exists():
        raise SourceError(f"{path}: no such file (expected picamera, usb:N, a video, an image or a folder)")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource([path])
    return OpenCVSource(path)
