"""Find the digits' ink in a frame: connected components -> parts (groups of components), one per digit, per line.

The ink images come from ``device.recognition.ink``; ``device.recognition.segment`` cuts a crop for each part.

Connected components are grouped into lines of text by vertical overlap; within a line, parts whose horizontal
extents overlap (the bar of a 5, an open 4) merge into one digit. Specks, dots, dashes, things touching the
frame's border (paper edges, cut-off digits), pieces of a margin or grid line that survived the ruling's removal
(in line with the ruling and no darker than it) and anything far too large or too small for its line are dropped;
a thin "1" is kept because size is judged by height, not area. A part wider than tall is first cut where a
full-resolution column holds none of its certain ink (``cuts``: small digits run together); a point, comma or
dash between two digits becomes their separator (``separators``); a mark too wide for one digit (up to
``max_aspect``) is kept whole, for ``split`` to cut in ``Recognizer.read``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from device.recognition import rejections as why
from device.recognition.cuts import column_runs
from device.recognition.edges import continues_a_column, drop_edge_slivers, on_paper_edge, writing_darkness
from device.recognition.ink import InkImages, table_mask
from device.recognition.rejections import Rejection
from device.recognition.segment_params import DEFAULT_PARAMS, SegmentParams
from device.recognition.separators import find_separators

__all__ = ["EDGE_INK_MAX_WIDTH", "Part", "find_digit_parts"]


@dataclass
class Part:
    """A group of connected components that is (becoming) one digit."""

    x0: int
    y0: int
    x1: int  # exclusive
    y1: int
    labels: list[int]
    area: int = 0  # ink pixels
    on_table: bool = False  # lies where the paper looks like the table (or a sharp, dark shadow)
    columns: tuple[int, int] | None = None  # full-res x-range of its ink, when a wide part was split (see below)
    separator_before: str = ""  # a separator written just before this digit ("." in 18.014), see separators.py

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    def absorb(self, other: Part) -> None:
        if self.columns is not None or other.columns is not None:
            (a0, a1), (b0, b1) = self.full_columns(), other.full_columns()
            self.columns = (min(a0, b0), max(a1, b1))
        self.x0, self.y0 = min(self.x0, other.x0), min(self.y0, other.y0)
        self.x1, self.y1 = max(self.x1, other.x1), max(self.y1, other.y1)
        self.labels.extend(other.labels)
        self.area += other.area
        self.on_table = self.on_table and other.on_table

    def full_columns(self) -> tuple[int, int]:
        """The full-resolution x-range its ink may take: its own range when split, else its box's."""
        return self.columns if self.columns is not None else (2 * self.x0, 2 * self.x1)


def _group_lines(parts: list[Part]) -> list[list[Part]]:
    """Lines of text: the tallest parts found lines; a part joins the line it overlaps most vertically."""
    ranges: list[tuple[int, int]] = []  # y-range of each line's founding (tallest) part
    members: list[list[Part]] = []
    for part in sorted(parts, key=lambda p: -p.height):
        best, best_overlap = -1, 0.0
        for i, (ly0, ly1) in enumerate(ranges):
            overlap = (min(ly1, part.y1) - max(ly0, part.y0)) / max(1, min(part.height, ly1 - ly0))
            if overlap > best_overlap:
                best, best_overlap = i, overlap
        if best >= 0 and best_overlap >= 0.5:
            members[best].append(part)
        else:
            ranges.append((part.y0, part.y1))
            members.append([part])
    order = sorted(range(len(members)), key=lambda i: (ranges[i][0] + ranges[i][1]) / 2)
    return [sorted(members[i], key=lambda p: p.x0) for i in order]


def _merge_stacked(parts: list[Part], params: SegmentParams) -> list[Part]:
    """Merge parts stacked with a thin gap between them: a stroke cut where it crosses a ruled line.

    Before lines of text are formed, since the two halves of a cut digit overlap no line together.
    """
    if len(parts) > 150:  # a cluttered frame: not worth the pairwise search
        return parts
    merged = True
    while merged:
        merged = False
        parts.sort(key=lambda p: p.x0)
        for i, a in enumerate(parts):
            for b in parts[i + 1 :]:
                if b.x0 >= a.x1:
                    break
                overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
                gap = max(a.y0, b.y0) - min(a.y1, b.y1)
                if (
                    overlap > params.merge_overlap * min(a.width, b.width)
                    and gap <= params.stack_gap * max(a.height, b.height) + 1
                ):
                    a.absorb(b)
                    parts.remove(b)
                    merged = True
                    break
            if merged:
                break
    return parts


def _merge_overlapping(line: list[Part], params: SegmentParams) -> list[Part]:
    """Merge parts of one digit: horizontal extents that overlap by much of the narrower one.

    Two parts of about the same height side by side are two digits (a slanted 1 beside a 6), however
    much their boxes overlap; a part of one digit is clearly shorter than the other (an open 4's stem).
    """
    merged: list[Part] = []
    for part in sorted(line, key=lambda p: p.x0):
        if merged:
            last = merged[-1]
            overlap = min(last.x1, part.x1) - max(last.x0, part.x0)
            similar = min(last.height, part.height) > params.twin_height * max(last.height, part.height)
            if overlap > params.merge_overlap * min(last.width, part.width) and not similar:
                last.absorb(part)
                continue
        merged.append(part)
    return merged


def _writing_on_the_table(line: list[Part], typical: float, params: SegmentParams) -> list[Part]:
    """Keep a part that lies on what looks like the table only as part of writing that continues on the paper.

    Texture of the table beside the sheet looks like ink; a digit in a dark, sharp-edged shadow
    looks like it lies on the table. The difference: the digit belongs to a string whose other
    digits lie on the paper, one digit gap away at most (a chain of such digits counts).
    """
    kept = [not p.on_table for p in line]
    if all(kept) or not any(kept):
        return line if all(kept) else []
    reach = params.table_neighbor * typical
    changed = True
    while changed:
        changed = False
        for i, part in enumerate(line):
            if kept[i]:
                continue
            if any(kept[j] and max(line[j].x0 - part.x1, part.x0 - line[j].x1) <= reach for j in range(len(line))):
                kept[i] = changed = True
    return [p for p, keep in zip(line, kept, strict=True) if keep]


def _attach_fragments(
    digits: list[Part], others: list[Part], typical: float, params: SegmentParams
) -> list[Part]:
    """Give stroke fragments too small to be digits (a 5's detached bar, a broken loop) to the nearest digit.

    Only fragments of a noticeable size (not specks) that lie within a small gap of a digit join it;
    the rest is dropped, and returned.
    """
    dropped = []
    for frag in others:
        size = max(frag.width, frag.height)
        if size < params.fragment_min * typical or frag.width > 1.2 * typical or frag.height > typical:
            dropped.append(frag)
            continue
        best, best_gap = None, params.fragment_gap * typical
        for digit in digits:
            gap_x = max(0, digit.x0 - frag.x1, frag.x0 - digit.x1)
            gap_y = max(0, digit.y0 - frag.y1, frag.y0 - digit.y1)
            gap = max(gap_x, gap_y)
            if gap <= best_gap:
                best, best_gap = digit, gap
        if best is not None:
            best.absorb(frag)
        else:
            dropped.append(frag)
    return dropped


def _split_wide(part: Part, labels_half: np.ndarray, ink: InkImages, params: SegmentParams) -> list[Part]:
    """A part wider than ``split_aspect`` times its height, cut at empty columns of its certain ink (``cuts.py``).

    Each piece shares the part's labels and is limited to its own columns; the usual filters then judge it.
    """
    if part.width <= params.split_aspect * part.height:
        return [part]
    h, w = ink.strong.shape
    fy0, fy1, fx0, fx1 = 2 * part.y0, min(h, 2 * part.y1), 2 * part.x0, min(w, 2 * part.x1)
    own_half = np.isin(labels_half[part.y0 : part.y1, part.x0 : part.x1], part.labels).astype(np.uint8)
    own = cv2.resize(own_half, (own_half.shape[1] * 2, own_half.shape[0] * 2), interpolation=cv2.INTER_NEAREST)
    certain = (ink.strong[fy0:fy1, fx0:fx1] > 0) & (own[: fy1 - fy0, : fx1 - fx0] > 0)
    runs = column_runs(certain)
    if len(runs) < 2:
        return [part]
    return [
        Part((fx0 + a) // 2, (fy0 + r0) // 2, (fx0 + b + 1) // 2, (fy0 + r1 + 2) // 2, list(part.labels),
             max(1, area // 4), part.on_table, columns=(fx0 + a, fx0 + b))
        for a, b, r0, r1, area in runs
    ]


def _weighted_median(values: list[int], weights: list[int]) -> float:
    """The value below which half of the total weight lies (0 for no values)."""
    if not values:
        return 0.0
    order = np.argsort(values)
    cumulative = np.cumsum(np.asarray(weights, np.float64)[order])
    return float(np.asarray(values)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def _half_mask(mask: np.ndarray) -> np.ndarray:
    """0/255 mask at half resolution, a pixel set where any of its 2x2 source pixels is (max pooling)."""
    h, w = mask.shape
    return cv2.threshold(
        cv2.resize(mask, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA),
        0,
        255,
        cv2.THRESH_BINARY,
    )[1]


# Ink crossing a cut-out's edge is cut there and judged as a digit when narrower than this share of the
# cut-out; wider, it is the scanner's margin or a ruling along the edge and is dropped with the border. Half
# the width dropped the "000" of "65.000" and "5.000." (a chain of 0s run together, cut by the scan's edge).
EDGE_INK_MAX_WIDTH = 0.8


def _cut_at(labels: np.ndarray, label: int, stat: np.ndarray, keep: tuple[int, int, int, int]) -> None:
    """Unlabel the pixels of component ``label`` outside the box ``keep`` (x0, y0, x1, y1), in place."""
    x, y, w, h = (int(v) for v in stat[:4])
    window = labels[y : y + h, x : x + w]
    inside = np.zeros(window.shape, bool)
    inside[max(0, keep[1] - y) : keep[3] - y, max(0, keep[0] - x) : keep[2] - x] = True
    window[(window == label) & ~inside] = 0


def find_digit_parts(
    ink: InkImages,
    params: SegmentParams = DEFAULT_PARAMS,
    rejections: list[Rejection] | None = None,
    cutout: tuple[int, int, int, int] | None = None,
) -> tuple[np.ndarray, list[list[Part]]]:
    """Half-resolution label image and the digits (groups of its labels) per line, in reading order.

    Components are found at half resolution (4x fewer pixels; digits are >= ~20 px tall), keeping
    only those of the weak mask that contain strong ink (hysteresis). Part coordinates are half-res.
    ``rejections``, when given, receives what was dropped and why (half-res boxes and heights).
    ``cutout``: where a placed cut-out lies (x0, y0, x1, y1, half-res). Ink that reaches the frame's border
    only through the cut-out's repeated edge is cut at the cut-out's edge and judged like any other part:
    a digit the scan's edge touches is still a digit, while the scanner's margin and the next field's ink,
    long and thin along the edge, fail the digit tests that follow.
    """

    def reject(x: int, y: int, w: int, h: int, reason: str, limit: float | None = None) -> None:
        if rejections is not None:
            rejections.append(Rejection((x, y, w, h), reason, limit))

    weak_half, strong_half = _half_mask(ink.weak), _half_mask(ink.strong)
    h, w = weak_half.shape
    count, labels, stats, _ = cv2.connectedComponentsWithStats(weak_half, connectivity=8)
    has_strong = np.bincount(labels[strong_half > 0], minlength=count) > 0
    min_h = max(4.0, params.min_height * min(h, w))
    paper_small = ink.paper_small
    # A cut-out (a scan of a number) placed in a frame is paper from edge to edge: no table to find. Its dark
    # grey scans passed for the table, and every digit on them was dropped.
    table = table_mask(paper_small, ink.gray_small, params) if cutout is None else np.zeros_like(paper_small, np.uint8)
    writing = writing_darkness(ink, cutout) if cutout is not None else None
    parts: list[Part] = []
    edge_labels: list[int] = []
    for i in np.flatnonzero(has_strong[1:]) + 1:
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if area < 3:
            continue
        if cutout is not None and (x == 0 or y == 0 or x + bw >= w or y + bh >= h):
            cx0, cy0, cx1, cy1 = max(x, cutout[0]), max(y, cutout[1]), min(x + bw, cutout[2]), min(y + bh, cutout[3])
            if cx1 > cx0 and cy1 > cy0 and cx1 - cx0 < EDGE_INK_MAX_WIDTH * (cutout[2] - cutout[0]):
                x, y, bw, bh = cx0, cy0, cx1 - cx0, cy1 - cy0
                _cut_at(labels, int(i), stats[i], (cx0, cy0, cx1, cy1))
                area = int(np.count_nonzero(labels[cy0:cy1, cx0:cx1] == i))  # its ink inside the cut-out
        if x == 0 or y == 0 or x + bw >= w or y + bh >= h:
            if max(bw, bh) > params.min_height * min(h, w):
                edge_labels.append(int(i))
            reject(x, y, bw, bh, why.BORDER)
            continue  # paper edges, table, cut-off digits
        if bh > params.max_height * h or bw > params.max_width * w:
            reject(x, y, bw, bh, why.TOO_LARGE)
            continue  # shadow edges, folds, hands
        on_table = bool(table[(y + bh // 2) // 2, (x + bw // 2) // 2])
        parts.append(Part(x, y, x + bw, y + bh, [int(i)], area, on_table))

    kept_parts = drop_edge_slivers(parts, labels, edge_labels, params)
    if rejections is not None and len(kept_parts) < len(parts):
        kept_ids = {id(p) for p in kept_parts}
        for p in parts:
            if id(p) not in kept_ids:
                reject(p.x0, p.y0, p.width, p.height, why.BESIDE_BORDER)
    parts = kept_parts
    lines = [_merge_overlapping(line, params) for line in _group_lines(_merge_stacked(parts, params))]
    lines = [[piece for p in line for piece in _split_wide(p, labels, ink, params)] for line in lines]

    def digit_shaped(p: Part) -> bool:
        return (
            p.height >= min_h
            and p.width <= params.max_aspect * p.height
            and not on_paper_edge(p, ink.gray_small, params)
            and not continues_a_column(p, ink, params, writing)
        )

    # The writing's size: the typical height of the digit-shaped parts in the line with the most
    # ink on the paper. Specks, even many in a row, stray fragments and the table do not count.
    shaped = [[p for p in line if digit_shaped(p)] for line in lines]
    digit_like = {id(p) for line in shaped for p in line}
    on_paper = [[p for p in line if not p.on_table] for line in shaped]
    candidates = on_paper if any(on_paper) else shaped
    reference = max(candidates, key=lambda ln: sum(p.area for p in ln), default=[])
    typical = _weighted_median([p.height for p in reference], [p.area for p in reference])
    low, high = params.min_relative_height * typical, params.max_relative_height * typical
    # A number's first digit is often written larger (a flourish of a 1, a big 4): up to first_max_relative_height.
    first_high = params.first_max_relative_height * typical
    leading = {id(line[0]) for line in shaped if line}

    def tallest(p: Part) -> float:
        return first_high if id(p) in leading else high

    in_size = [[p for p in line if id(p) in digit_like and low <= p.height <= tallest(p)] for line in lines]
    digits_per_line = [line for line in in_size if line]
    digits_per_line = [kept for line in digits_per_line if (kept := _writing_on_the_table(line, typical, params))]
    chosen = {id(p) for line in digits_per_line for p in line}
    leftovers = [p for line in lines for p in line if id(p) not in chosen]
    separators = find_separators(digits_per_line, leftovers)
    for found in separators:  # a point, comma or dash between two digits: kept out of the digits
        digits_per_line[found.line][found.before].separator_before = found.char
    taken = {f.mark for f in separators}
    leftovers = [p for i, p in enumerate(leftovers) if i not in taken]
    dropped = _attach_fragments([p for line in digits_per_line for p in line], leftovers, typical, params)
    if rejections is not None:
        for p in dropped:
            reason, limit = _why_dropped(p, ink, params, min_h, low, tallest(p), writing)
            reject(p.x0, p.y0, p.width, p.height, reason, limit)
    return labels, digits_per_line


def _why_dropped(
    p: Part, ink: InkImages, params: SegmentParams, min_h: float, low: float, high: float, writing: float | None
) -> tuple[str, float | None]:
    """Why ``find_digit_parts`` left out a part (the same tests, in the same order), and the bound it missed."""
    if p.height < min_h:
        return why.TOO_SMALL, min_h
    if p.width > params.max_aspect * p.height:
        return why.TOO_WIDE, None
    if on_paper_edge(p, ink.gray_small, params):
        return why.PAPER_EDGE, None
    if continues_a_column(p, ink, params, writing):
        return why.RULING, None
    if p.height < low:
        return why.SMALLER_THAN_WRITING, low
    if p.height > high:
        return why.TALLER_THAN_WRITING, high
    return why.ON_TABLE, None
