"""How much the native libraries underneath say: nothing the user did not ask for, everything under ``-v``.

Two libraries write to standard error on their own, below Python's ``logging``:

- OpenCV logs ``[ WARN:0@0.079] global cap_v4l.cpp:914 ...`` before an error of ours says the same thing better
  (an absent USB camera), and its FFmpeg backend prints ``moov atom not found`` for a broken video. OpenCV reads
  its level from ``OPENCV_LOG_LEVEL`` and FFmpeg's from ``OPENCV_FFMPEG_LOGLEVEL`` when video I/O starts, so
  ``quiet_opencv`` sets both (unless the user set them) and also sets the level of an OpenCV already imported.
  ``device/__init__.py`` calls it, so every module of ``device/`` that uses cv2 goes through it.
- The TFLite runtime prints ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.`` from C++ straight to
  file descriptor 2 when the first interpreter allocates its tensors. No runtime offers a setting for it
  (``TF_CPP_MIN_LOG_LEVEL`` is another logger), so ``native_stderr_hushed`` points descriptor 2 at
  ``/dev/null`` around that one call (``device/recognition/runtime.py``).

``set_verbose(True)`` (the ``device`` command's ``-v``) lets all of it through again.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

# OpenCV's own level names; FFmpeg's AV_LOG_QUIET is -8. Set only where the user has not set them.
_QUIET_ENV = {"OPENCV_LOG_LEVEL": "ERROR", "OPENCV_FFMPEG_LOGLEVEL": "-8"}
_set_by_us: set[str] = set()
_verbose = False


def is_verbose() -> bool:
    """True when native libraries may print what they like (``set_verbose(True)``, the command's ``-v``)."""
    return _verbose


def set_verbose(verbose: bool) -> None:
    """Let the native libraries' messages through (True) or keep them quiet (False, the default)."""
    global _verbose
    _verbose = bool(verbose)
    quiet_opencv(not _verbose)


def quiet_opencv(quiet: bool = True) -> None:
    """OpenCV (and its FFmpeg backend) print errors only; ``quiet=False`` gives OpenCV's defaults back.

    FFmpeg's level is fixed when OpenCV opens its first video, so call this before that.
    """
    for name, value in _QUIET_ENV.items():
        if quiet and name not in os.environ:
            os.environ[name] = value
            _set_by_us.add(name)
        elif not quiet and name in _set_by_us:
            os.environ.pop(name, None)
            _set_by_us.discard(name)
    # An OpenCV already imported may have read the variable already. Its level is ours to set only where the
    # user did not choose one: a user's own OPENCV_LOG_LEVEL stays as it is.
    ours = "OPENCV_LOG_LEVEL" in _set_by_us if quiet else "OPENCV_LOG_LEVEL" not in os.environ
    logging = getattr(getattr(sys.modules.get("cv2"), "utils", None), "logging", None)
    if ours and logging is not None:
        logging.setLogLevel(logging.LOG_LEVEL_ERROR if quiet else logging.LOG_LEVEL_WARNING)


@contextlib.contextmanager
def native_stderr_hushed() -> Iterator[None]:
    """Send what C/C++ code writes to file descriptor 2 to /dev/null for the duration (not under verbose).

    Only for short calls whose native chatter says nothing useful: anything another thread writes to standard
    error meanwhile is lost too. Python exceptions raised inside still propagate as usual.
    """
    if _verbose:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable descriptor 2 (a service without stderr): nothing to hush
        saved = None
    if saved is not None:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
        except OSError:
            os.close(saved)
            saved = None
        else:
            os.dup2(devnull, 2)
            os.close(devnull)
    try:
        yield
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
