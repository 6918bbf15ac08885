"""Small images (a scanned number field, a cropped digit) made to look like what segmentation is tuned for.

Segmentation is tuned for camera frames around 640x480 in which the writing stands clear of the frame's edge:
ink that touches the edge is taken for a cut-off digit or the paper's edge and dropped. A scan of a form field
(200x50 px, digits touching its border) or a crop of one digit would read as nothing. So an image whose
longer side is under ``SMALL_SIDE`` is scaled up until it is ``TARGET_HEIGHT`` px tall (at most ``MAX_SCALE``
times) and given a margin of its own paper colour (the median of its border) on every side; the boxes found
in it are mapped back to the image's own pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SMALL_SIDE = 400  # images smaller than this (longer side) are scans or crops, not camera frames
TARGET_HEIGHT = 120  # px: the height a small image is scaled to (digits then some 60-100 px tall)
MAX_SCALE = 8.0
MARGIN = 0.5  # of the (scaled) height, on every side

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Framing:
    """How an image was placed in the frame that was read: frame = image * scale + offset."""

    scale: float = 1.0
    offset: tuple[int, int] = (0, 0)  # x, y
    size: tuple[int, int] = (0, 0)  # the caller's image, width and height

    def to_image(self, box: Box) -> Box:
        """A box in the frame that was read -> the same box in the caller's image (clipped to it: the margin
        is not part of the image)."""
        if self.scale == 1.0 and self.offset == (0, 0):
            return box
        x, y, w, h = box
        ox, oy = self.offset
        left, top = (x - ox) / self.scale, (y - oy) / self.scale
        right, bottom = left + w / self.scale, top + h / self.scale
        width, height = self.size
        x0, y0 = min(max(0, round(left)), width - 1), min(max(0, round(top)), height - 1)
        x1, y1 = min(width, max(x0 + 1, round(right))), min(height, max(y0 + 1, round(bottom)))
        return x0, y0, x1 - x0, y1 - y0


def frame_for_reading(image: np.ndarray) -> tuple[np.ndarray, Framing]:
    """``image`` (uint8 gray or BGR) as segmentation expects it, and how to map boxes back."""
    h, w = image.shape[:2]
    if max(h, w) >= SMALL_SIDE or min(h, w) < 4:
        return image, Framing()
    scale = min(MAX_SCALE, max(1.0, TARGET_HEIGHT / h))
    if scale > 1.0:
        image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    paper = np.median(border, axis=0)
    pad = round(MARGIN * image.shape[0])
    value = paper.tolist() if np.ndim(paper) else float(paper)
    framed = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=value)
    return framed, Framing(scale, (pad, pad), (w, h))
