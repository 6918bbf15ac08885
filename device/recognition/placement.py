"""The image the segmentation analyses, and how its pixels map back onto the frame.

The segmentation's sizes are fractions of a camera frame (a paper kernel of 12 % of the width, digits at least
2.5 % of the shorter side, at most 60 % of the height, nothing touching the border). Two kinds of input are not
camera frames, and are brought to one first:

- **large frames** (a side over ``max_side``, e.g. a 12-megapixel still) are reduced to ``max_side``;
- **cut-outs**, images smaller than a camera frame (under ``cutout_width`` x ``cutout_height``: a scanned amount
  field, a crop of a number), in which the number fills the picture and touches its edges. They are placed as a
  camera would see them: scaled to ``cutout_text_height`` px high (narrower than 600 px) and centred in a 640x480
  frame, its edge pixels repeated outwards. Repeating the edge (rather than a flat paper colour) keeps what
  touches the cut-out's edge (the scanner's margin, the next field's ink) touching the frame's border, where it
  is dropped as before: on the 618 ORAND scans, 111 strings read exactly this way, 89 with a flat paper colour.

``Placement`` maps boxes found in the analysed image back to frame pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from device.recognition.segment_params import SegmentParams

Box = tuple[int, int, int, int]  # x, y, width, height

CANVAS = (640, 480)  # width, height of the frame a cut-out is placed in
CUTOUT_MAX_WIDTH = 600  # a cut-out is scaled to this width at most


@dataclass(frozen=True)
class Placement:
    """Analysed pixel = frame pixel x ``scale`` + ``offset``; frame size ``frame_size`` (width, height)."""

    scale: float = 1.0
    offset: tuple[int, int] = (0, 0)
    frame_size: tuple[int, int] | None = None  # boxes are clipped to it when given

    def to_frame(self, box: tuple[float, float, float, float]) -> Box:
        """A box of the analysed image (x, y, w, h) in frame pixels, inside the frame and at least 1x1 there: a
        box wholly in a cut-out's repeated edge (ink that touches the scan's edge) becomes the frame's edge
        pixels it came from, never a box of no height outside the frame."""
        ox, oy = self.offset
        x0, y0 = (box[0] - ox) / self.scale, (box[1] - oy) / self.scale
        x1, y1 = (box[0] + box[2] - ox) / self.scale, (box[1] + box[3] - oy) / self.scale
        left, top, right, bottom = round(x0), round(y0), round(x1), round(y1)
        if self.frame_size is not None:
            fw, fh = self.frame_size
            left, top = min(max(left, 0), fw - 1), min(max(top, 0), fh - 1)
            right, bottom = min(max(right, left + 1), fw), min(max(bottom, top + 1), fh)
        return left, top, right - left, bottom - top

    def cutout_half(self) -> tuple[int, int, int, int] | None:
        """Where a placed cut-out lies in the analysed image, at half resolution (x0, y0, x1, y1); else None."""
        if self.frame_size is None or self.offset == (0, 0):
            return None
        fw, fh = self.frame_size
        ox, oy = self.offset
        return ox // 2, oy // 2, (ox + round(fw * self.scale)) // 2, (oy + round(fh * self.scale)) // 2

    def length_to_frame(self, value: float) -> float:
        """A length (a height bound) of the analysed image in frame pixels."""
        return value / self.scale


def analysed_image(gray: np.ndarray, params: SegmentParams) -> tuple[np.ndarray, Placement]:
    """The 2-D uint8 image to segment (``gray`` itself, reduced, or a placed cut-out) and its placement."""
    h, w = gray.shape
    if max(h, w) > params.max_side:
        scale = params.max_side / max(h, w)
        reduced = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        return reduced, Placement(scale)
    if w < params.cutout_width and h < params.cutout_height:
        return place_cutout(gray, params.cutout_text_height)
    return gray, Placement()


def paper_colour(image: np.ndarray) -> np.ndarray:
    """The median of the border pixels, per channel: the colour of the paper around the number."""
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    return np.median(border, axis=0).astype(np.uint8)


def place_cutout(image: np.ndarray, text_height: int, flat: bool = False) -> tuple[np.ndarray, Placement]:
    """``image`` (gray or colour) scaled to ``text_height`` px high (at most 600 px wide), centred in 640x480:
    its edges repeated outwards, or (``flat``) on its paper colour (``paper_colour``), as a camera would see it."""
    h, w = image.shape[:2]
    scale = min(text_height / h, CUTOUT_MAX_WIDTH / w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    scaled = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
    canvas_w, canvas_h = CANVAS
    ox, oy = (canvas_w - new_w) // 2, (canvas_h - new_h) // 2
    if flat:
        canvas = np.empty((canvas_h, canvas_w, *image.shape[2:]), np.uint8)
        canvas[...] = paper_colour(image)
        canvas[oy : oy + new_h, ox : ox + new_w] = scaled
    else:
        canvas = cv2.copyMakeBorder(scaled, oy, canvas_h - new_h - oy, ox, canvas_w - new_w - ox, cv2.BORDER_REPLICATE)
    return canvas, Placement(new_w / w, (ox, oy), (w, h))
