"""Image files, read one way everywhere: a missing, unreadable or corrupt file is a one-line ``ImageError``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from device.common.errors import os_error_text

# Still images OpenCV reads, by suffix: what image folders and sources pick up.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})


class ImageError(ValueError):
    """An image file that cannot be read; the message is one line and names the file."""


def read_image(path: str | Path, gray: bool = False) -> np.ndarray:
    """A BGR (or, with ``gray``, grayscale) uint8 image from a file.

    Decoded from the file's bytes, so names OpenCV's own reader cannot open (non-ASCII on Windows) work too.
    """
    p = Path(path)
    if not p.exists():
        raise ImageError(f"{p}: no such file")
    if not p.is_file():
        raise ImageError(f"{p}: not a file")
    try:
        data = np.fromfile(p, dtype=np.uint8)
    except OSError as exc:
        raise ImageError(f"{p}: cannot read ({os_error_text(exc)})") from None
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR) if data.size else None
    if image is None or image.size == 0:
        raise ImageError(f"{p}: not a readable image (corrupt or unsupported format)")
    return image
