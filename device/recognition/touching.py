"""Touching digits: a mark too wide for one digit, cut where the classifier reads the pieces best.

Digits written close together touch: the segmentation sees one mark, wider than any one digit (over 1.8 times
as wide as tall). Such a mark used to be dropped ("too wide"). Here it is cut into 2 to 4 pieces with straight
vertical cuts at the columns with the least ink (the valleys of the ink's column profile, where touching strokes
meet), near where equal-width digits would meet. Every way of cutting is classified in the same batch as the
frame's other digits, and the one whose pieces the network is surest of (geometric mean of their confidences)
wins, if that is at least the reading's minimum confidence. The count of pieces follows the mark's width: a
handwritten digit is 0.45 to 0.9 times as wide as tall.

A digit that the segmentation kept whole but that is wider than tall and than the rest of its line (two digits
touching side by side are about twice as wide as one) is tried the same way, and cut only when the network is
surer of the pieces than of the whole.

No model of "not one digit" yet: a mark that is no number at all but cuts into confident pieces is read as digits.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Box = tuple[int, int, int, int]  # x, y, width, height

MIN_DIGIT_ASPECT, MAX_DIGIT_ASPECT = 0.45, 0.9  # width / height of one handwritten digit, roughly
MAX_PIECES = 4
CUT_WINDOW = 0.18  # a cut lies within this fraction of the mark's width of where equal digits would meet
CUTS_PER_SEAM = 2  # the lowest valleys tried at each seam
MIN_PIECE = 0.15  # a piece is at least this fraction of the mark's width
INK = 160  # crop pixels darker than this are ink (crops are dark ink on white)


@dataclass(frozen=True)
class Cutting:
    """One way to cut a crop: the pieces (crops) and each piece's ink box in the crop."""

    pieces: tuple[np.ndarray, ...]
    boxes: tuple[Box, ...]


def piece_counts(width: int, height: int) -> range:
    """How many digits a mark of this size may hold (2 to 4)."""
    aspect = width / max(1, height)
    low = max(2, int(np.floor(aspect / MAX_DIGIT_ASPECT)))
    high = min(MAX_PIECES, max(low, int(np.ceil(aspect / MIN_DIGIT_ASPECT))))
    return range(low, high + 1)


def cuttings(crop: np.ndarray, counts: range) -> list[Cutting]:
    """The ways of cutting ``crop`` into each count of pieces, at the valleys of its ink's column profile."""
    ink = crop < INK
    columns = np.flatnonzero(ink.any(axis=0))
    if columns.size < 4:
        return []
    a, b = int(columns[0]), int(columns[-1]) + 1
    profile = np.convolve(ink[:, a:b].sum(axis=0).astype(np.float32), np.ones(3, np.float32) / 3, mode="same")
    result = []
    for count in counts:
        for cuts in _cut_sets(profile, count):
            cutting = _cut(crop, ink, [a, *(a + c for c in cuts), b])
            if cutting is not None:
                result.append(cutting)
    return result


def _cut_sets(profile: np.ndarray, count: int) -> list[tuple[int, ...]]:
    """Cut columns (relative to the ink's left edge) for ``count`` pieces: per seam, the lowest valleys near it."""
    width = profile.size
    per_seam = []
    for seam in range(1, count):
        centre = seam * width / count
        lo, hi = max(1, round(centre - CUT_WINDOW * width)), min(width - 1, round(centre + CUT_WINDOW * width) + 1)
        if hi <= lo:
            return []
        order = lo + np.argsort(profile[lo:hi], kind="stable")
        per_seam.append([int(c) for c in order[:CUTS_PER_SEAM]])
    sets: list[tuple[int, ...]] = [()]
    for options in per_seam:
        sets = [(*s, c) for s in sets for c in options]
    min_piece = MIN_PIECE * width
    edges = [(0, *s, width) for s in sets]
    return [s[1:-1] for s in edges if all(s[i + 1] - s[i] >= min_piece for i in range(len(s) - 1))]


def _cut(crop: np.ndarray, ink: np.ndarray, edges: list[int]) -> Cutting | None:
    """The pieces between consecutive cut columns, each on white paper with a margin, and their ink boxes."""
    pieces, boxes = [], []
    h = crop.shape[0]
    for x0, x1 in itertools.pairwise(edges):
        rows = np.flatnonzero(ink[:, x0:x1].any(axis=1))
        if rows.size == 0:
            return None
        y0, y1 = int(rows[0]), int(rows[-1]) + 1
        margin = max(2, round(0.15 * (y1 - y0)))
        piece = np.full((h, x1 - x0 + 2 * margin), 255, np.uint8)
        piece[:, margin : margin + x1 - x0] = crop[:, x0:x1]
        pieces.append(piece[max(0, y0 - margin) : min(h, y1 + margin)])
        boxes.append((x0, y0, x1 - x0, y1 - y0))
    return Cutting(tuple(pieces), tuple(boxes))


def to_frame(piece: Box, crop: np.ndarray, mark_box: Box) -> Box:
    """A piece's box in frame pixels, from its box in the crop and the whole mark's ink box in the frame."""
    ink = crop < INK
    rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return mark_box
    cx0, cy0 = int(columns[0]), int(rows[0])
    sx = mark_box[2] / max(1, int(columns[-1]) + 1 - cx0)
    sy = mark_box[3] / max(1, int(rows[-1]) + 1 - cy0)
    x, y, w, h = piece
    return (mark_box[0] + round((x - cx0) * sx), mark_box[1] + round((y - cy0) * sy),
            max(1, round(w * sx)), max(1, round(h * sy)))


WIDISH_ASPECT = 1.0  # a digit wider than tall ...
LINE_WIDTH_RATIO = 1.5  # ... and this much wider than the median of its line's other digits (at least 2) ...
ALONE_ASPECT = 1.3  # ... or, with fewer others in its line, wider than this times its height, may be two digits,
SPLIT_MARGIN = 0.05  # cut when the pieces' geometric-mean confidence beats the whole digit's by this much
SPLIT_MIN = 0.4  # a cutting is taken only when its pieces' geometric-mean confidence is at least this (and the
#                  reading's threshold): reading with a threshold of 0 does not cut every wide mark into digits


@dataclass(frozen=True)
class PieceReading:
    """A piece of a cut mark as the network read it: its box in frame pixels, digit and confidence."""

    box: Box
    digit: int
    confidence: float
    first: bool  # the mark's leftmost piece (it takes the separator written before the mark)


def perhaps_two(segments: Sequence[Any]) -> list[int]:
    """Indices of the digits (each with ``box`` and ``line``) wider than the rest of their line: perhaps two that
    touch. Chosen on the ORAND development scans with the generated scene sets as a guard (a wide single digit
    cut into two costs a scene; ``SPLIT_MARGIN`` and the line's width keep them whole)."""
    result = []
    for i, seg in enumerate(segments):
        w, h = seg.box[2], seg.box[3]
        if w <= WIDISH_ASPECT * h:
            continue
        others = [s.box[2] for j, s in enumerate(segments)
                  if j != i and s.line == seg.line and s.box[2] <= WIDISH_ASPECT * s.box[3]]
        if (len(others) >= 2 and w >= LINE_WIDTH_RATIO * float(np.median(others))) or (
                len(others) < 2 and w > ALONE_ASPECT * h):
            result.append(i)
    return result


def plan(crop: np.ndarray, box: Box) -> list[Cutting]:
    """The cuttings to try for a wide mark (its crop, its ink box in the frame)."""
    return cuttings(crop, piece_counts(box[2], box[3]))


def best_reading(crop: np.ndarray, box: Box, options: list[Cutting], probabilities: np.ndarray,
                 threshold: float) -> list[PieceReading] | None:
    """The pieces of the cutting the network is surest of (``probabilities``: every option's pieces in order),
    or None when no cutting reaches ``max(threshold, SPLIT_MIN)``."""
    best: tuple[float, Cutting, np.ndarray] | None = None
    start = 0
    for option in options:
        probs = probabilities[start : start + len(option.pieces)]
        start += len(option.pieces)
        confidence = probs.max(axis=1)
        score = float(np.exp(np.mean(np.log(np.maximum(confidence, 1e-6)))))
        if best is None or score > best[0]:
            best = (score, option, probs)
    if best is None or best[0] < max(threshold, SPLIT_MIN):
        return None
    _, option, probs = best
    return [
        PieceReading(to_frame(piece_box, crop, box), int(np.argmax(p)), float(p.max()), i == 0)
        for i, (piece_box, p) in enumerate(zip(option.boxes, probs, strict=True))
    ]
