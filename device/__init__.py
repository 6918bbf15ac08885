"""Raspberry Pi side: preprocessing, segmentation, int8 TFLite runtime, camera sources, live loop.

Nothing in this package imports TensorFlow or Keras: a Pi installs numpy, OpenCV and a TFLite
interpreter only.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Detection", "Recognizer"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `import device.recognition.preprocess` (used by training) does not load the runtime.
    if name in __all__:
        from device.recognition import recognizer

        return getattr(recognizer, name)
    raise AttributeError(f"module 'device' has no attribute {name!r}")
