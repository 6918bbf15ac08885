"""Marks that are not writing: the sheet's edge, a piece of a vertical ruling, slivers beside the border.

Tests on one part (a group of connected components at half resolution, with ``x0, y0, x1, y1, width, height,
labels``) that ``device.recognition.parts`` applies before it takes a part for a digit. Where a margin or the
sheet's edge meets the frame, pieces of it look like a "1"; these tell them apart from pen strokes.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from device.recognition.ink import InkImages
from device.recognition.segment_params import SegmentParams


def on_paper_edge(part: Any, gray_small: np.ndarray, params: SegmentParams) -> bool:
    """A thin upright part with much darker surroundings on one side than the other: the sheet's edge.

    A pen stroke has paper on both sides; the edge of the sheet has paper on one side and the
    table on the other. Judged on the raw brightness (quarter resolution) a little left and right.
    """
    if part.width * 3 > part.height:
        return False
    qw = gray_small.shape[1]
    rows = slice(part.y0 // 2, max(part.y0 // 2 + 1, part.y1 // 2))
    x0, x1 = part.x0 // 2, (part.x1 + 1) // 2
    # The brightest of a few columns on each side, row by row: a neighbouring digit's strokes leave
    # paper between them, the table does not.
    left_band = gray_small[rows, max(0, x0 - 5) : max(1, x0 - 1)]
    right_band = gray_small[rows, min(qw - 1, x1 + 1) : min(qw, x1 + 5)]
    if left_band.size == 0 or right_band.size == 0:
        return False
    left = float(np.median(left_band.max(axis=1)))
    right = float(np.median(right_band.max(axis=1)))
    return min(left, right) < params.edge_step * max(left, right, 1.0)


# Of the writing's ink darkness: a part at least this dark is pen ink, never a piece of a ruling, in a cut-out.
# Its repeated edge makes a column of a "1" touching the scan's edge; the printed lines of a cheque's pattern
# are much fainter (ORAND's scans: 1s at 0.77-1.12 of their number's darkness, pattern lines at 0.33-0.50).
WRITING_DARK = 0.65


def continues_a_column(part: Any, ink: InkImages, params: SegmentParams, writing: float | None = None) -> bool:
    """A thin upright part in line with a vertical ruling just above or below it, and no darker: a piece of it.

    Where a margin or grid line meets the sheet's edge or a shadow, a piece of it can survive the
    ruling removal and look like a "1". A "1" written on the line is much darker than the line.
    ``writing``: the median darkness of the writing's ink, for a cut-out (``writing_darkness``), whose
    repeated edges make columns of any digit that touches the scan's top or bottom: a part that dark is ink.
    """
    if part.width * 3 > part.height:
        return False
    columns = ink.columns_small
    qh, qw = columns.shape
    x0, x1 = max(0, part.x0 // 2 - 1), min(qw, (part.x1 + 1) // 2 + 1)
    y0, y1, reach = part.y0 // 2, (part.y1 + 1) // 2, max(2, part.height // 2)
    box = (slice(2 * part.y0, 2 * part.y1), slice(2 * part.x0, 2 * part.x1))
    ink_darkness = ink.darkness[box][ink.weak[box] > 0]
    if ink_darkness.size == 0:
        return False
    own = float(np.median(ink_darkness))
    if writing is not None and own >= WRITING_DARK * writing:
        return False
    for rows in (columns[max(0, y0 - reach) : y0, x0:x1], columns[y1 : min(qh, y1 + reach), x0:x1]):
        if rows.shape[0] < 2 or rows.shape[1] == 0:
            continue
        line = rows.max(axis=1)
        if np.mean(line >= params.column_darkness) >= 0.6 and own <= params.column_ink_ratio * float(np.median(line)):
            return True
    return False


def drop_edge_slivers(
    parts: list[Any], labels: np.ndarray, edge_labels: list[int], params: SegmentParams
) -> list[Any]:
    """Drop thin parts right beside something large that touches the frame's border.

    The table or the sheet's edge runs off the frame; where the light's estimate changes along it,
    thin strips of it break off as separate components that look like a "1".
    """
    thin = [p for p in parts if max(p.width, p.height) >= 3 * min(p.width, p.height)]
    if not edge_labels or not thin:
        return parts
    reach = params.sliver_reach
    zone = cv2.dilate(np.isin(labels, edge_labels).astype(np.uint8), np.ones((2 * reach + 1,) * 2, np.uint8))
    slivers = {
        id(p)
        for p in thin
        if np.any(zone[p.y0 : p.y1, p.x0 : p.x1][np.isin(labels[p.y0 : p.y1, p.x0 : p.x1], p.labels)])
    }
    return [p for p in parts if id(p) not in slivers]


def writing_darkness(ink: InkImages, cutout: tuple[int, int, int, int]) -> float:
    """The median darkness of the certain ink inside a placed cut-out (``cutout`` at half resolution)."""
    x0, y0, x1, y1 = (2 * v for v in cutout)
    inside = ink.darkness[y0:y1, x0:x1][ink.strong[y0:y1, x0:x1] > 0]
    return float(np.median(inside)) if inside.size else 255.0
