"""Find the handwritten digits in a camera frame: dark ink on light paper -> boxes in reading order.

Steps 1-3 (flatten the light, remove ruled lines, threshold with hysteresis) are the pixel stage,
``device.recognition.ink``; step 4 groups the ink it finds into digits and lines of text,
``device.recognition.parts``; this module runs them and cuts each digit's crop.

Before all this, large frames are reduced and cut-outs smaller than a camera frame are placed in one
(``placement``); boxes are mapped back to the frame's pixels.

Each digit comes with a crop of the flattened image in which everything that is not that digit's
ink is paper-white, so ``device.recognition.preprocess.normalize_digits(crops, ink="dark")`` sees one clean
digit. ``segment`` never raises on an image it can read: a black, white, tiny or empty frame gives
an empty list.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from device.recognition.frames import frame_to_uint8
from device.recognition.ink import InkImages, ink_images, outside_sheet, table_mask
from device.recognition.parts import Part, find_digit_parts
from device.recognition.placement import analysed_image
from device.recognition.preprocess import to_gray
from device.recognition.rejections import Rejection
from device.recognition.segment_params import DEFAULT_PARAMS, SegmentParams
from device.recognition.writing import not_the_writing

__all__ = [
    "DEFAULT_PARAMS",
    "Box",
    "InkImages",
    "Rejection",
    "Segment",
    "SegmentParams",
    "find_digit_parts",
    "ink_images",
    "outside_sheet",
    "segment",
    "table_mask",
]

Box = tuple[int, int, int, int]  # x, y, width, height in frame pixels


@dataclass(frozen=True)
class Segment:
    """One digit found in a frame."""

    box: Box  # x, y, w, h of the ink in the frame
    line: int  # line of text, 0 = top
    crop: np.ndarray  # uint8 grayscale, dark ink on white, only this digit's ink, with a margin
    separator_before: str = ""  # "." "," or "-" written between the previous digit of its line and this one


# --------------------------------------------------------------------------------------------
# Crops and the public entry point
# --------------------------------------------------------------------------------------------
def _digit_crop(
    ink: InkImages, labels_half: np.ndarray, part: Part, params: SegmentParams
) -> tuple[np.ndarray, Box] | None:
    """The flattened image around one digit (full resolution), everything but its own ink paper-white."""
    h, w = ink.weak.shape
    x0, y0, x1, y1 = 2 * part.x0, 2 * part.y0, min(w, 2 * part.x1), min(h, 2 * part.y1)
    margin = round(params.crop_margin * max(x1 - x0, y1 - y0)) + 2
    x0, y0, x1, y1 = max(0, x0 - margin), max(0, y0 - margin), min(w, x1 + margin), min(h, y1 + margin)
    hx0, hy0 = x0 // 2, y0 // 2
    own_half = np.isin(labels_half[hy0 : (y1 + 1) // 2, hx0 : (x1 + 1) // 2], part.labels).astype(np.uint8)
    own = cv2.resize(own_half, (own_half.shape[1] * 2, own_half.shape[0] * 2), interpolation=cv2.INTER_NEAREST)
    own = own[y0 - 2 * hy0 : y0 - 2 * hy0 + (y1 - y0), x0 - 2 * hx0 : x0 - 2 * hx0 + (x1 - x0)]
    # On an odd-sized frame the half-resolution labels cover one pixel less than the frame (w // 2):
    # the last row or column has no label of its own, so it is not this digit's ink.
    short_y, short_x = (y1 - y0) - own.shape[0], (x1 - x0) - own.shape[1]
    if short_y or short_x:
        own = cv2.copyMakeBorder(own, 0, short_y, 0, short_x, cv2.BORDER_CONSTANT, value=0)
    if part.columns is not None:  # a piece of a wide part: only its own columns
        own[:, : max(0, part.columns[0] - x0)] = 0
        own[:, max(0, part.columns[1] - x0) :] = 0
    own = cv2.bitwise_and(own * 255, ink.weak[y0:y1, x0:x1])
    ys, xs = np.nonzero(own)
    if ys.size == 0:
        return None
    box = (x0 + int(xs.min()), y0 + int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
    own = cv2.dilate(own, np.ones((3, 3), np.uint8))  # keep the strokes' anti-aliased rims
    crop = np.where(own > 0, cv2.bitwise_not(ink.darkness[y0:y1, x0:x1]), np.uint8(255))
    return crop, box


def segment(
    frame: np.ndarray,
    params: SegmentParams = DEFAULT_PARAMS,
    rejections: list[Rejection] | None = None,
) -> list[Segment]:
    """Digits of a frame (HxW gray or HxWx3 BGR, uint8), reading order: lines top to bottom, left to right.

    Other dtypes are converted as ``device.recognition.frames`` says; a frame it cannot read gives no digits.

    ``rejections``, when given, receives the ink that was found but dropped, and why (boxes in frame pixels).
    Marks wider than one digit (up to ``max_aspect``) are kept: ``device.recognition.split`` cuts touching digits.
    """
    try:
        gray = to_gray(frame_to_uint8(frame))
    except ValueError:
        return []
    if gray.ndim != 2 or min(gray.shape) < 16:
        return []
    analysed, placement = analysed_image(gray, params)  # large frames reduced, cut-outs placed in a frame
    ink = ink_images(analysed, params)
    dropped: list[Rejection] | None = [] if rejections is not None else None
    labels_half, lines = find_digit_parts(ink, params, dropped, placement.cutout_half())
    if rejections is not None and dropped:
        rejections.extend(  # half resolution of the analysed image -> frame pixels
            replace(r, box=placement.to_frame(tuple(2 * v for v in r.box)),
                    limit=None if r.limit is None else placement.length_to_frame(2 * r.limit))
            for r in dropped
        )
    segments: list[Segment] = []
    for line_index, line in enumerate(lines):
        for part in line:
            found = _digit_crop(ink, labels_half, part, params)
            if found is None:
                continue
            crop, box = found
            segments.append(Segment(placement.to_frame(box), line_index, crop, part.separator_before))
    return not_the_writing(segments, params, rejections)
