"""Which marks of a line are not its writing: much fainter or thinner than the line's typical mark.

The last step of ``device.recognition.segment``: each digit's crop is measured (how dark its ink is, how
thick its strokes are) and compared with the median of its line of text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from device.recognition import rejections as why
from device.recognition.rejections import Rejection
from device.recognition.segment_params import SegmentParams

if TYPE_CHECKING:
    from device.recognition.segment import Segment


def ink_darkness(crop: np.ndarray) -> float:
    """How dark a crop's ink is: the median darkness (0-255 below the paper) of its pixels clearly below the paper."""
    darkness = 255 - crop[crop < 225].astype(np.int16)
    return float(np.median(darkness)) if darkness.size else 0.0


def stroke_thickness(crop: np.ndarray) -> float:
    """How thick a crop's strokes are, in pixels: twice their ink's area over the length of its outlines (a stroke
    of width w and length L has area wL and outlines about 2L long; where strokes cross, both grow alike, so a 1
    measures as thick as a 0 of the same pen)."""
    ink = (crop < 200).astype(np.uint8)
    area = int(ink.sum())
    if area < 5:
        return 0.0
    contours, _ = cv2.findContours(ink, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    outline = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * area / max(outline, 1.0)


def not_the_writing(
    segments: list[Segment], params: SegmentParams, rejections: list[Rejection] | None
) -> list[Segment]:
    """Leave out the marks much fainter or thinner than their line's typical mark: not the writing.

    One pen writes a number; what is much fainter beside it is print (a cheque's pattern), a shadow's or a
    paper's edge, and what is a hairline beside its strokes is an edge too (a slip of paper's, a scan's) or a
    printed rule. (ORAND's framed scans: 27 of the 94 marks read that are no written digit were under half
    their line's median darkness, and none of the written digits; under 0.35 of their line's stroke thickness,
    8 more marks and no written digit there or in the generated sets, where single digits are drawn with other
    pens than their neighbours and 0.45 already drops some.)
    """
    if len(segments) < 2:
        return segments
    features = [(ink_darkness(s.crop), stroke_thickness(s.crop)) for s in segments]
    lines = {s.line for s in segments}
    typical = {line: np.median([f for s, f in zip(segments, features, strict=True) if s.line == line], axis=0)
               for line in lines}
    kept = []
    for seg, (dark, thick) in zip(segments, features, strict=True):
        line_dark, line_thick = typical[seg.line]
        if dark < params.min_relative_darkness * line_dark:
            reason = why.FAINTER_THAN_WRITING
        elif thick < params.min_relative_stroke * line_thick:
            reason = why.THINNER_THAN_WRITING
        else:
            kept.append(seg)
            continue
        if rejections is not None:
            rejections.append(Rejection(seg.box, reason))
    return kept
