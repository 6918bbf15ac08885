"""What a frame handed to ``Recognizer.read`` may hold, and how it becomes the uint8 image the segmentation reads.

Cameras and files give uint8, but a frame from Python code can be anything numpy holds. One rule, stated here,
so that no dtype can crash the reader or be read as garbage without a word:

- ``uint8``: taken as it is.
- ``bool``: a mask, False black and True white (0 and 255), not 0 and 1 (which would be all black).
- ``uint16``: a 16-bit image (16-bit PNG or TIFF, a raw camera): its full range maps onto 0..255 (divided by 257).
- any other integer type: grey levels, clipped to 0..255 (``np.full((h, w), 235)`` is int64 and means 235).
- floating point: the project's rule (``device.recognition.preprocess.to_uint8``): values of at most 1.0 are
  fractions of white, larger ones grey levels; clipped to 0..255, NaN black, +inf white.
- anything else (complex, strings, objects, dates): ``ValueError``, one line naming the dtype.

The shape is not judged here: the segmentation reads 2-D gray, HxWx1, HxWx3 (BGR) and HxWx4 (BGRA) frames and
finds nothing in any other shape (a 1-D array, 7 channels, a frame under 16 px).
"""

from __future__ import annotations

import numpy as np

_UINT16_TO_UINT8 = 257.0  # 65535 / 255


def frame_to_uint8(frame: np.ndarray) -> np.ndarray:
    """``frame`` as uint8 under the rules above (the same object when it already is uint8). Raises ValueError."""
    x = np.asarray(frame)
    if x.dtype == np.uint8:
        return x
    if x.dtype == np.bool_:
        return x.astype(np.uint8) * np.uint8(255)
    if x.dtype == np.uint16:
        return np.round(x / _UINT16_TO_UINT8).astype(np.uint8)
    if np.issubdtype(x.dtype, np.integer):
        return np.clip(x, 0, 255).astype(np.uint8)
    if np.issubdtype(x.dtype, np.floating):
        return _float_to_uint8(x)
    raise ValueError(f"a frame must hold numbers (uint8 grey levels, best), got dtype {x.dtype}")


def _float_to_uint8(x: np.ndarray) -> np.ndarray:
    """Fractions (at most 1.0 over the finite values) x 255, else grey levels; NaN 0, then clip and round."""
    y = x.astype(np.float32, copy=False) if x.dtype.itemsize < 4 else x
    finite = y[np.isfinite(y)]
    top = float(finite.max()) if finite.size else 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = y * 255.0 if top <= 1.0 else y
        return np.clip(np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0), 0, 255).round().astype(np.uint8)
