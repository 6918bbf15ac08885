"""Touching digits: cut a mark that is too wide for one digit into the digits the classifier reads best.

Recognition-based segmentation. Handwritten digits often touch (``00`` of an amount, a ``2`` whose tail runs
into the next digit), and then segmentation finds one wide mark. For such a mark:

1. **Candidate cuts**: columns where little ink crosses (minima of the ink's column profile, smoothed), at
   most ``MAX_CUTS`` of them (more on a mark wider than three digits: ``CUTS_PER_HEIGHT``), apart, and columns
   at steps of ``GRID_STEP`` heights between them (overlapping digits leave no valley); from each, a cut path
   from top to bottom that crosses as little ink as it can (``cut_paths``), so the cut follows the gap between
   two digits instead of slicing one. The search runs at a digit height of ``WORK_HEIGHT`` px.
2. **Search over groupings**: every run of pieces between two cuts whose width suits a digit is classified
   (one batched inference for the whole mark); dynamic programming picks the sequence of runs with the best
   total score: the log of each run's confidence, a prior on its width for the digit read (a ``1`` is narrow,
   other digits are not), and a cost per digit so that a mark is not cut into more digits than it needs.
   With a model that has the "non-digit" class, a run may also be what that class says (the log of its
   probability times NON_DIGIT_ODDS instead): a dash run into the last digit is then cut off and dropped, not
   read as a digit. The digits' own probabilities stay as the model gives them: a run of two touching digits
   has given much of its probability to the non-digit class, so the search prefers to cut it.
   A run's ink is what lies between its two cut paths, corrected for **loops** (``find_loops``: the hole of a
   0, 6, 8 or 9, its gaps bridged, its faint strokes counted): it takes the whole ring of ink around each
   hole that lies mostly between its paths, and none of the rings of the others. Overlapping 0s ("000" of an
   amount, each 0 reaching into the next) then come apart as three 0s, where straight-through cut paths leave
   a "C", an "a" and a "ɔ".
3. The whole mark competes as one digit too, when it is not too wide for one.

Everything here works on one segment's crop (dark ink on white, only its own ink), so it never sees the rest
of the frame. ``device.recognition.recognizer`` calls it for the marks ``needs_split`` picks: wider than any
digit, or wide and not surely one digit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from device.recognition.decision import NON_DIGIT_ODDS, best_digits

WIDE_FOR_ONE = 0.95  # a mark wider than this many of its line's digit heights may be two or more digits
SURE_AS_ONE = 0.93  # ... unless the classifier reads it as one digit this surely (0.97 before 5 readings)
ALWAYS_SPLIT = 2.2  # no single digit is this wide
PAIR_WIDTH = 0.6  # a mark the model calls "non-digit" is cut when wider than this (touching "10" is narrow)
MAX_DIGIT_WIDTH = 1.25  # no digit is wider than this many heights (a flat 0 comes close)
MIN_DIGIT_WIDTH = 0.12  # a 1 written as a bar
NARROW = 0.42  # below this width (in heights) a run is a 1 or a piece of something
MAX_CUTS = 6  # valleys of the ink profile
CUT_SPACING = 0.12  # in heights: no two candidate cuts closer than this
GRID_STEP = 0.25  # in heights: cuts tried at regular steps too (0: valleys only)
MAX_CUTS_IN_ALL = 10
CUTS_PER_HEIGHT = 2.0  # or, for a long mark, this many valleys per digit height of its width (twice as many cuts)
MAX_DIGITS = 6
DIGIT_COST = 0.6  # added per digit in the search: the log-confidence a cut has to gain to be worth making
INK_LEVEL = 160  # crop pixels darker than this are ink
PATH_STRAYING = 0.5  # cost per row of a cut path at the edge of its band (crossing one ink pixel costs 10)
BAND = 0.2  # how far (in heights) a cut path may stray from its column
WORK_HEIGHT = 40  # px: marks are cut at this digit height (enough for 20x20 pieces, and fast)

Classify = Callable[[list[np.ndarray]], np.ndarray]  # crops (dark ink on white) -> (N, classes) probabilities
# (classes: the 10 digits, then optionally "non-digit")


@dataclass(frozen=True)
class Piece:
    """One digit cut from a mark: its columns in the mark's crop, its crop, and what the classifier read."""

    x0: int
    x1: int  # exclusive: the columns of its ink in the mark's crop
    crop: np.ndarray  # what the classifier saw: its own ink on white
    digit: int
    confidence: float
    ink: np.ndarray  # bool mask over the mark's crop: its own ink, between its cut paths (and its loops' rings)
    non_digit: float = 0.0  # the probability of the model's non-digit class (0 without that class)


def needs_split(width: float, confidence_as_one: float, non_digit: float = 0.0) -> bool:
    """Whether a mark ``width`` line heights wide, read as one digit with this confidence, should be cut.

    Some writers' digits are very wide (a 2 with a long base is 1.8 heights wide), so width alone only
    decides beyond ALWAYS_SPLIT; below it a mark is cut when the classifier is not sure which digit it is,
    or (a model with the non-digit class, whose probability is ``non_digit``) says it is more likely no
    digit than its best digit and it is wide enough for two: touching digits take probability from every
    digit and give it to that class.
    """
    if width > ALWAYS_SPLIT:
        return True
    if width > PAIR_WIDTH and non_digit > confidence_as_one:
        return True
    among_digits = confidence_as_one / max(1e-6, 1.0 - non_digit)  # a wide single digit is sure of its class
    return width > WIDE_FOR_ONE and among_digits < SURE_AS_ONE


def _ink(crop: np.ndarray) -> np.ndarray:
    return crop < INK_LEVEL


def cut_candidates(crop: np.ndarray, height: float) -> list[int]:
    """Columns of ``crop`` where a cut between two digits is likely, left to right."""
    ink = _ink(crop)
    cols = np.flatnonzero(ink.any(axis=0))
    if cols.size < 2:
        return []
    left, right = int(cols[0]), int(cols[-1]) + 1
    profile = ink[:, left:right].sum(axis=0).astype(np.float32)
    smooth = cv2.GaussianBlur(profile[None, :], (0, 0), max(0.5, height * 0.03))[0]
    edge = max(2, round(MIN_DIGIT_WIDTH * height))
    found: list[tuple[float, int]] = []
    for x in range(edge, len(smooth) - edge):
        if smooth[x] <= smooth[x - 1] and smooth[x] <= smooth[x + 1]:
            found.append((float(smooth[x]), x))
    found.sort()
    spacing = max(2, round(CUT_SPACING * height))
    # The budgets are per digit height of the mark's width: a long run of touching digits needs cuts all along.
    digits_wide = len(smooth) / height
    valleys_wanted = max(MAX_CUTS, math.ceil(CUTS_PER_HEIGHT * digits_wide))
    cuts_wanted = max(MAX_CUTS_IN_ALL, math.ceil(2 * CUTS_PER_HEIGHT * digits_wide))
    chosen: list[int] = []
    for _, x in found:
        if all(abs(x - c) >= spacing for c in chosen):
            chosen.append(x)
        if len(chosen) >= valleys_wanted:
            break
    # Where digits overlap there is no valley: also try cuts at regular steps between the valleys.
    for x in range(edge, len(smooth) - edge, max(2, round(GRID_STEP * height))):
        if GRID_STEP > 0 and all(abs(x - c) >= spacing for c in chosen) and len(chosen) < cuts_wanted:
            chosen.append(x)
    return sorted(left + x for x in chosen)


def _width_prior(width: float, digit: int) -> float:
    """Log-prior of a digit this wide (in heights): a 1 may be narrow, any other digit is not."""
    if digit == 1:
        return 0.0 if width <= 0.8 else -2.0 * (width - 0.8)
    if width < NARROW:
        return -4.0 * (NARROW - width) / NARROW - 0.5
    return 0.0 if width <= 1.0 else -2.0 * (width - 1.0)


def _piece_crop(crop: np.ndarray, own: np.ndarray, margin: int) -> np.ndarray:
    """The piece's own ink (``own``, a mask over the crop) on paper-white, its columns and a margin."""
    cols = np.flatnonzero(own.any(axis=0))
    x0, x1 = max(0, int(cols[0]) - margin), min(crop.shape[1], int(cols[-1]) + 1 + margin)
    keep = cv2.dilate(own[:, x0:x1].astype(np.uint8), np.ones((3, 3), np.uint8)) > 0  # the strokes' soft rims
    return np.where(keep, crop[:, x0:x1], np.uint8(255))


def cut_paths(ink: np.ndarray, columns: list[int], band: int) -> list[np.ndarray]:
    """For each column, the x of a cut from the top row to the bottom row near it, crossing as little ink as it can.

    Dynamic programming over rows, one column left or right per row at most, never further than ``band`` from
    its column: it follows the gap between two touching digits where a straight cut would slice one. All the
    columns' paths are found together, a row at a time.
    """
    h, w = ink.shape
    if not columns:
        return []
    if band <= 0:
        return [np.full(h, c, np.int64) for c in columns]
    offsets = np.arange(-band, band + 1)
    xs = np.asarray(columns)[:, None] + offsets[None, :]  # (paths, 2 * band + 1)
    inside = (xs >= 0) & (xs < w)
    cost = np.where(inside[None], ink[:, np.clip(xs, 0, w - 1)] * 10.0, np.inf).astype(np.float32)  # (h, paths, k)
    cost += (np.abs(offsets) * (PATH_STRAYING / band)).astype(np.float32)[None, None, :]
    total = cost[0].copy()
    moves = np.zeros(cost.shape, np.int8)
    pad = np.full((len(columns), 1), np.inf, np.float32)
    for y in range(1, h):
        stacked = np.stack([np.concatenate([pad, total[:, :-1]], axis=1), total,
                            np.concatenate([total[:, 1:], pad], axis=1)])
        choice = stacked.argmin(axis=0)
        total = np.take_along_axis(stacked, choice[None], axis=0)[0] + cost[y]
        moves[y] = choice - 1
    paths = []
    for p in range(len(columns)):
        path = np.empty(h, np.int64)
        k = int(total[p].argmin())
        for y in range(h - 1, -1, -1):
            path[y] = xs[p, k]
            k += int(moves[y, p, k]) if y else 0
        paths.append(path)
    return paths


def split_mark(crop: np.ndarray, height: float, classify: Classify) -> list[Piece]:
    """The best reading of one mark as one or more digits (left to right), or [] if nothing is digit-like.

    ``height``: the digit height of the mark's line, in crop pixels (the mark's own height if unknown).
    The search runs on a copy reduced to digits ``WORK_HEIGHT`` px tall (each piece ends up 20x20 for the
    classifier anyway); the pieces come back in the crop's own pixels.
    """
    factor = WORK_HEIGHT / height if height > WORK_HEIGHT else 1.0
    if factor == 1.0:
        return _split_mark(crop, height, classify)
    small = cv2.resize(crop, (max(1, round(crop.shape[1] * factor)), max(1, round(crop.shape[0] * factor))),
                       interpolation=cv2.INTER_AREA)
    full = (crop.shape[1], crop.shape[0])
    pieces = []
    for piece in _split_mark(small, height * factor, classify):
        ink = cv2.resize(piece.ink.astype(np.uint8), full, interpolation=cv2.INTER_NEAREST) > 0
        ink &= _ink(crop)
        cols = np.flatnonzero(ink.any(axis=0))
        if cols.size:
            pieces.append(Piece(int(cols[0]), int(cols[-1]) + 1, piece.crop, piece.digit, piece.confidence, ink,
                                piece.non_digit))
    return pieces


# Loops (the hole of a 0, 6, 8 or 9): a run of pieces takes the whole ring of ink around each hole that lies
# mostly between its cut paths, and none of the rings of the others. Overlapping 0s ("000" of an amount) then
# come apart as whole 0s, not as a "C" and an "a" (ORAND: 324 -> 338 numbers as scanned, 307 -> 335 framed;
# 351 and 350 with faint ink closing the holes and a ring of 1.8 stroke widths).
LOOP_MIN_AREA = 0.025  # of the digit height squared: smaller holes are where two strokes cross
LOOP_GAP = 0.08  # of the digit height: gaps this wide in a loop's stroke are bridged when finding holes
LOOP_REACH = 1.8  # stroke widths: how far from its hole a loop's ring of ink reaches
LOOP_OWNED = 0.5  # a run owns a loop when more than this share of the hole lies between its cut paths
LOOP_INK_LEVEL = 200  # crop pixels darker than this close a loop (thin strokes go grey at the working height)


class Loop(NamedTuple):
    """A closed loop of a mark: its hole, and the ring of ink around it (bool masks over the mark's crop)."""

    hole: np.ndarray
    ring: np.ndarray


def find_loops(ink: np.ndarray, height: float, faint: np.ndarray | None = None) -> list[Loop]:
    """The loops of a mark's ink whose holes are big enough to be a digit's (``height``: its digit height).

    ``faint``: lighter ink (a mask, e.g. the crop under ``LOOP_INK_LEVEL``) that closes a loop too: a thin pen's
    0, reduced to the working height, is grey in places and breaks at ``INK_LEVEL``. Rings are of ``ink`` only.
    """
    if not ink.any():
        return []
    side = max(3, round(LOOP_GAP * height) | 1)
    bridge = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    closed = cv2.morphologyEx((ink if faint is None else (ink | faint)).astype(np.uint8), cv2.MORPH_CLOSE, bridge)
    contours, hierarchy = cv2.findContours(closed, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    if hierarchy is None:
        return []
    stroke = 2.0 * float(cv2.distanceTransform(ink.astype(np.uint8), cv2.DIST_L2, 3)[ink].mean())
    reach = max(2, round(LOOP_REACH * stroke))
    grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    loops = []
    for contour, (_, _, _, parent) in zip(contours, hierarchy[0], strict=True):
        if parent < 0 or cv2.contourArea(contour) < LOOP_MIN_AREA * height * height:
            continue  # an outer contour, or where two strokes cross
        filled = np.zeros(ink.shape, np.uint8)
        cv2.drawContours(filled, [contour], -1, 1, -1)
        hole = (filled > 0) & (closed == 0)
        loops.append(Loop(hole, (cv2.dilate(hole.astype(np.uint8), grow) > 0) & ink))
    return loops


def with_loops(own: np.ndarray, between: np.ndarray, loops: list[Loop]) -> np.ndarray:
    """A run's ink (``own``, the ink ``between`` its cut paths) with the whole ring of each loop it owns and
    none of the rings of the loops it does not (ink that two rings share stays)."""
    mine = np.zeros_like(own)
    theirs = np.zeros_like(own)
    for hole, ring in loops:
        if (hole & between).sum() > LOOP_OWNED * hole.sum():
            mine |= ring
        else:
            theirs |= ring
    return (own | mine) & ~(theirs & ~mine)


def _split_mark(crop: np.ndarray, height: float, classify: Classify) -> list[Piece]:
    ink = _ink(crop)
    cols = np.flatnonzero(ink.any(axis=0))
    if cols.size == 0 or height <= 0:
        return []
    h, w = crop.shape
    band = round(BAND * height)
    columns = cut_candidates(crop, height)
    paths = [np.full(h, int(cols[0]), np.int64)]
    paths += cut_paths(ink, columns, band)
    paths.append(np.full(h, int(cols[-1]) + 1, np.int64))
    cuts = [int(cols[0]), *columns, int(cols[-1]) + 1]
    xs = np.arange(w)[None, :]
    loops = find_loops(ink, height, crop < LOOP_INK_LEVEL)
    runs: list[tuple[int, int]] = []
    pieces_ink: list[np.ndarray] = []
    for i in range(len(cuts)):
        for j in range(i + 1, len(cuts)):
            width = (cuts[j] - cuts[i]) / height
            if width > MAX_DIGIT_WIDTH and j > i + 1:
                break
            if width < MIN_DIGIT_WIDTH:
                continue
            between = (xs >= paths[i][:, None]) & (xs < paths[j][:, None])
            own = ink & between
            if loops:
                own = with_loops(own, between, loops)
            if own.any():
                runs.append((i, j))
                pieces_ink.append(own)
    if not runs:
        return []
    margin = max(2, round(0.1 * height))
    crops = [_piece_crop(crop, own, margin) for own in pieces_ink]
    digits, confidence, non_digit = best_digits(classify(crops))

    # Best path from cut 0 to the last cut; a run's score is log-confidence + width prior - DIGIT_COST.
    n = len(cuts)
    best = np.full(n, -np.inf)
    best[0] = 0.0
    back: list[tuple[int, int] | None] = [None] * n
    count = np.zeros(n, np.int64)
    by_end: dict[int, list[int]] = {}
    for k, (_i, j) in enumerate(runs):
        by_end.setdefault(j, []).append(k)
    for j in range(1, n):
        for k in by_end.get(j, []):
            i = runs[k][0]
            if best[i] == -np.inf or count[i] >= MAX_DIGITS:
                continue
            own_cols = np.flatnonzero(pieces_ink[k].any(axis=0))
            width = (own_cols[-1] - own_cols[0] + 1) / height
            as_digit = np.log(max(1e-6, confidence[k])) + _width_prior(width, int(digits[k]))
            # A run the model calls no digit (a dash after the number) may stand in the reading too; the
            # recogniser then drops it (the same odds), instead of the mark being cut into digit-like shreds.
            score = best[i] + max(as_digit, np.log(max(1e-6, NON_DIGIT_ODDS * non_digit[k]))) - DIGIT_COST
            if score > best[j]:
                best[j], back[j], count[j] = score, (i, k), count[i] + 1
    if best[n - 1] == -np.inf:
        return []
    pieces: list[Piece] = []
    j = n - 1
    while (step := back[j]) is not None:
        i, k = step
        own_cols = np.flatnonzero(pieces_ink[k].any(axis=0))
        pieces.append(Piece(int(own_cols[0]), int(own_cols[-1]) + 1, crops[k], int(digits[k]),
                            float(confidence[k]), pieces_ink[k], float(non_digit[k])))
        j = i
    return pieces[::-1]
