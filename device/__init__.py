"""Raspberry Pi side: read handwritten digits from camera frames with an int8 TFLite model.

    recognition/  a frame or a crop becomes digits: preprocess, segment, runtime, Recognizer
    live/         the camera loop: frame sources, the loop, its outputs (window, video, web view, JSON lines)
    tools/        device eval, device bench, device collect
    data/         labelled digit sets from files (also read by train and convert)
    common/       what every part shares: shapes, atomic files, image files, error texts, argument types

Nothing in this package imports TensorFlow or Keras: a Pi installs numpy, OpenCV and a TFLite
interpreter only.
"""

from __future__ import annotations

from typing import Any

from device.common.verbosity import quiet_opencv

# OpenCV and FFmpeg print only errors unless asked (device.common.verbosity.set_verbose, the `-v` flag):
# every module of device/ that uses cv2 is imported through here.
quiet_opencv()

__all__ = ["Detection", "ReadOptions", "Recognizer"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `import device.recognition.preprocess` (used by training) does not load the runtime.
    if name in __all__:
        from device.recognition import recognizer

        return getattr(recognizer, name)
    raise AttributeError(f"module 'device' has no attribute {name!r}")
