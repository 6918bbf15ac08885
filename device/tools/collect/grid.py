"""Reading a photo or scan of the grid sheet: find the printed frame, straighten it, cut the cells, keep the ink.

The frame is searched among the large four-cornered dark outlines; the candidate whose inner grid lines
are darkest where ``sheet`` puts them wins. The black square outside one corner says which way is up.
Each cell is cut between its own grid lines (found near where the homography puts them, since paper
bends), and only the digit's strokes are kept before ``normalize_digit`` makes it MNIST-style.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from device.recognition.preprocess import normalize_digit, to_gray
from device.tools.collect.errors import CollectError
from device.tools.collect.sheet import (
    CELL_MM,
    COLS,
    FRAME_MM,
    FRAME_OUTER_MM,
    GRID_MM,
    LINE_MM,
    MARKER_GAP_MM,
    MARKER_MM,
)

# The reader's canonical (perspective-corrected) picture: the frame plus a margin that holds the marker.
CANON_PX_PER_MM = 6.0
CANON_MARGIN_MM = 12.0

MIN_GRID_CONTRAST = 25.0  # grid lines at least this much darker than the paper (gray levels)
MIN_INK_CONTRAST = 40.0  # a cell whose darkest ink is closer to the paper than this is empty
MIN_INK_FRACTION = 0.004  # ... and so is one with less ink than this share of its area
SPECK_FRACTION = 0.0015  # components smaller than this share of the cell are noise
PART_FRACTION = 0.08  # components smaller than this share of the largest one are noise
LINE_SEARCH_MM = 1.5  # how far a cell's own grid line may sit from where the homography puts it
CELL_INSET_MM = 0.5  # stay clear of the anti-aliased edge of the grid lines
MIN_CELL_PX = 16  # smaller cells (a whole sheet in under about 400x300 pixels) lose digits' strokes
EDGE_BAND = 0.08  # ink only this close to a cell's sides (share of its size) is a grid line's remnant


def _canon(mm: float) -> float:
    """Canonical picture coordinate (px) of a position in mm from the frame's outer top-left."""
    return (CANON_MARGIN_MM + mm) * CANON_PX_PER_MM


CANON_SIZE = round(_canon(FRAME_OUTER_MM + CANON_MARGIN_MM))


def _order_clockwise(quad: np.ndarray) -> np.ndarray:
    """Four corners in clockwise order (image coordinates, y down), starting nearest the top-left."""
    pts = quad.reshape(4, 2).astype(np.float32)
    centre = pts.mean(axis=0)
    pts = pts[np.argsort(np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0]))]
    return np.roll(pts, -int(np.argmin(pts.sum(axis=1))), axis=0)


def _quad_candidates(gray: np.ndarray, limit: int = 8) -> list[np.ndarray]:
    """Convex four-cornered outlines of dark shapes, largest first: the frame is among them."""
    side = min(gray.shape)
    block = max(15, (side // 25) | 1)  # wider than the frame's stroke, so it reads as solid ink
    ink = cv2.adaptiveThreshold(
        cv2.GaussianBlur(gray, (5, 5), 0), 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 10
    )
    ink = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(ink, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    min_area = 0.02 * gray.shape[0] * gray.shape[1]
    quads = []
    for contour in contours:
        if cv2.contourArea(contour) < min_area:
            continue
        hull = cv2.convexHull(contour)
        approx = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)
        if len(approx) == 4 and cv2.isContourConvex(approx):
            quads.append(approx)
    quads.sort(key=cv2.contourArea, reverse=True)
    return [_order_clockwise(q) for q in quads[:limit]]


def _warp(gray: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Perspective-correct so the frame's outer corners land where the canonical picture has them."""
    lo, hi = _canon(0.0), _canon(FRAME_OUTER_MM)
    target = np.float32([[lo, lo], [hi, lo], [hi, hi], [lo, hi]])
    homography = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
    return cv2.warpPerspective(gray, homography, (CANON_SIZE, CANON_SIZE), flags=cv2.INTER_LINEAR, borderValue=255)


def _line_positions_mm() -> list[float]:
    """Centres of the inner grid lines, mm from the frame's outer edge."""
    return [FRAME_MM + i * CELL_MM for i in range(1, COLS)]


def grid_contrast(canon: np.ndarray) -> float:
    """How much darker the expected inner grid lines are than the paper beside them (gray levels).

    Per line, a profile across it (medians along the line, so handwriting that crosses it is ignored),
    ``LINE_SEARCH_MM`` to either side of where the outline puts it; the ink in that profile, below the paper at
    its ends, summed and divided by the printed line's width. Summing makes the figure the same for a sharp
    line and for one a small or blurred photo spreads over several pixels (a 640x480 photo of a whole sheet
    has 1.5 px per mm: its thin lines are faint, and the frame's corners a pixel off), and the paper beside
    each line makes it the same under uneven light. A wrong outline puts the profiles on paper: near zero.
    """
    lo, hi = round(_canon(FRAME_MM)), round(_canon(FRAME_MM + GRID_MM))
    search = round(LINE_SEARCH_MM * CANON_PX_PER_MM)
    ends = max(2, search // 4)
    inks = []
    for mm in _line_positions_mm():
        c = round(_canon(mm))
        for band in (canon[lo:hi, c - search : c + search + 1], canon[c - search : c + search + 1, lo:hi].T):
            profile = np.median(band, axis=0).astype(np.float32)
            paper = float(np.median(np.concatenate([profile[:ends], profile[-ends:]])))
            inks.append(float(np.clip(paper - profile, 0.0, None).sum()))
    return float(np.median(inks)) / (LINE_MM * CANON_PX_PER_MM)


def _marker_darkness(canon: np.ndarray) -> list[float]:
    """Paper-minus-ink at the four places the marker can be: TL, TR, BR, BL of the canonical picture."""
    offset = MARKER_GAP_MM + MARKER_MM / 2
    half = round(MARKER_MM * CANON_PX_PER_MM * 0.3)
    near, far = round(_canon(-offset)), round(_canon(FRAME_OUTER_MM + offset))
    paper = float(np.median(canon))
    spots = [(near, near), (near, far), (far, far), (far, near)]  # (y, x): TL, TR, BR, BL
    return [paper - float(np.median(canon[y - half : y + half, x - half : x + half])) for y, x in spots]


@dataclass
class FoundGrid:
    """The sheet's grid, perspective-corrected and turned upright."""

    canon: np.ndarray  # CANON_SIZE x CANON_SIZE grayscale, frame at _canon(0).._canon(FRAME_OUTER_MM)
    corners: np.ndarray  # the frame's outer corners in the photo, clockwise from its top-left
    contrast: float  # grid_contrast of canon
    quarter_turns: int  # counter-clockwise quarter turns that made it upright


def cell_size_px(corners: np.ndarray) -> float:
    """The mean width of a cell in the photo, from the frame's four outer corners."""
    sides = np.linalg.norm(corners - np.roll(corners, -1, axis=0), axis=1)
    return float(sides.mean()) * CELL_MM / FRAME_OUTER_MM


def find_grid(image: np.ndarray) -> FoundGrid:
    """Locate the printed grid in a photo or scan (any rotation, moderate perspective)."""
    gray = to_gray(image)
    if gray.size == 0 or min(gray.shape) < 100:
        raise CollectError("image too small to hold a grid sheet")
    best: FoundGrid | None = None
    for corners in _quad_candidates(gray):
        canon = _warp(gray, corners)
        contrast = grid_contrast(canon)
        if best is None or contrast > best.contrast:
            best = FoundGrid(canon, corners, contrast, 0)
    if best is None or best.contrast < MIN_GRID_CONTRAST:
        small = min(gray.shape) < 480
        raise CollectError(
            "no grid sheet found: photograph the whole sheet flat, evenly lit, with the thick frame in view"
            + (f"; a {gray.shape[1]}x{gray.shape[0]} picture may be too small (a whole sheet needs "
               "640x480 pixels or more)" if small else "")
        )
    cell_px = cell_size_px(best.corners)
    if cell_px < MIN_CELL_PX:
        raise CollectError(
            f"the sheet is too small in this picture: its cells are {cell_px:.1f} pixels wide, at least "
            f"{MIN_CELL_PX} are needed: photograph it closer or at a higher resolution (640x480 or more for "
            "a whole sheet)"
        )
    darkness = _marker_darkness(best.canon)
    turns = int(np.argmax(darkness))
    if darkness[turns] < MIN_GRID_CONTRAST:
        raise CollectError("cannot tell which way up the sheet is: include the black square at its top-left corner")
    best.canon = np.ascontiguousarray(np.rot90(best.canon, turns))
    best.corners = np.roll(best.corners, -turns, axis=0)
    best.quarter_turns = turns
    return best


# Cutting cells and keeping the ink
def _inner_edge(profile: np.ndarray, threshold: float, from_start: bool) -> int | None:
    """Index just past the dark run at one end of a profile across a grid line, or None."""
    dark = np.flatnonzero(profile < threshold)
    if dark.size == 0:
        return None
    return int(dark.max()) + 1 if from_start else int(dark.min()) - 1


def cut_cell(canon: np.ndarray, row: int, col: int) -> np.ndarray:
    """The inside of one cell, between its own grid lines (found near where they should be)."""
    px = CANON_PX_PER_MM
    x0, y0 = _canon(FRAME_MM + col * CELL_MM), _canon(FRAME_MM + row * CELL_MM)
    x1, y1 = x0 + CELL_MM * px, y0 + CELL_MM * px
    search = round(LINE_SEARCH_MM * px)
    inset = max(1, round(CELL_INSET_MM * px))
    paper = float(np.median(canon[round(y0) : round(y1), round(x0) : round(x1)]))
    # Profiles across each line, medians along the middle of the cell's side: strokes rarely run along a line.
    mid_y = slice(round(y0 + 0.2 * CELL_MM * px), round(y1 - 0.2 * CELL_MM * px))
    mid_x = slice(round(x0 + 0.2 * CELL_MM * px), round(x1 - 0.2 * CELL_MM * px))

    def edge(centre: float, along_rows: bool, from_start: bool) -> int:
        c = round(centre)
        lo, hi = c - search, c + search + 1
        band = canon[mid_y, lo:hi] if along_rows else canon[lo:hi, mid_x].T
        profile = np.median(band, axis=0)
        threshold = (paper + float(profile.min())) / 2
        if paper - float(profile.min()) < MIN_GRID_CONTRAST:
            found = None
        else:
            found = _inner_edge(profile, threshold, from_start)
        half_line = round(LINE_MM * px / 2)
        fallback = c + half_line + 1 if from_start else c - half_line - 1
        position = fallback if found is None else lo + found
        return position + inset if from_start else position - inset

    left, right = edge(x0, True, True), edge(x1, True, False)
    top, bottom = edge(y0, False, True), edge(y1, False, False)
    if right - left < CELL_MM * px / 2 or bottom - top < CELL_MM * px / 2:  # lines not found where expected
        left, top = round(x0) + 2 * inset, round(y0) + 2 * inset
        right, bottom = round(x1) - 2 * inset, round(y1) - 2 * inset
    return canon[top : bottom + 1, left : right + 1]


def keep_ink(cell: np.ndarray) -> np.ndarray | None:
    """The cell with only its digit's ink kept (the rest set to paper), or None if it holds no digit.

    Drops specks and thin remnants of grid lines along the border; keeps every sizable stroke, so
    digits written in two strokes (4, 5, 7) stay whole.
    """
    gray = to_gray(cell)
    if gray.size == 0:
        return None
    paper = float(np.percentile(gray, 60))
    darkest = float(np.percentile(gray, 0.5))
    if paper - darkest < MIN_INK_CONTRAST:
        return None
    ink = (gray < (paper + darkest) / 2).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if count <= 1:
        return None
    h, w = gray.shape
    areas = stats[1:, cv2.CC_STAT_AREA]
    min_area = max(SPECK_FRACTION * gray.size, PART_FRACTION * float(areas.max()))
    band = max(1, round(EDGE_BAND * min(h, w)))
    edges = np.ones((h, w), bool)
    edges[band:-band, band:-band] = False
    keep = []
    for index, (x, y, bw, bh, area) in enumerate(stats[1:], start=1):
        touches = x == 0 or y == 0 or x + bw == w or y + bh == h
        line_remnant = touches and (min(bw, bh) <= 0.06 * min(h, w)) and (max(bw, bh) >= 0.4 * min(h, w))
        # A blurred frame or grid line in a small photo: an L along two sides, all of it at the edges.
        line_remnant = line_remnant or (touches and edges[labels == index].mean() > 0.9)
        if area >= min_area and not line_remnant:
            keep.append(index)
    mask = np.isin(labels, keep)
    if mask.sum() < MIN_INK_FRACTION * gray.size:
        return None
    # Grow the mask by a pixel to keep the strokes' soft, anti-aliased edges.
    mask = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    cleaned = np.full_like(gray, round(paper))
    cleaned[mask] = gray[mask]
    return cleaned


def digit_from_crop(crop: np.ndarray) -> np.ndarray | None:
    """A photographed crop (dark ink on paper) -> 28x28 MNIST-style uint8, or None if it holds no digit."""
    cleaned = keep_ink(crop)
    if cleaned is None:
        return None
    digit = normalize_digit(cleaned, ink="dark")
    return digit if digit.any() else None
