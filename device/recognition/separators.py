"""Separators between digit groups: a decimal point, a thousands comma, a dash. Found, kept out of the digits.

``18.014`` is read as the digits ``18014`` (what ``reading`` has always been) and, as written, the text ``18.014``.
A separator is a mark the segmentation did not take for a digit, lying in the gap between two digits of a line,
judged by its size and height against the digits beside it (``T``: their typical height):

- ``.`` a dot: at most 0.35 T in both directions, in the lower half of the line;
- ``,`` a comma: as narrow, at most 0.6 T tall and taller than wide, reaching below the line's middle;
- ``-`` a dash: at least 1.5 times as wide as tall, 0.25 T to 1.5 T wide and at most 0.3 T tall, in the middle
  of the line.

A slash ("/") is as tall as a digit and is read as one (a 1 or a 7), and a space between groups is not reported:
both are left for later. Marks that are none of these go on to be stroke fragments or are dropped, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

DOT_SIZE = 0.35  # of the typical digit height
COMMA_HEIGHT = 0.6
DASH_MIN_WIDTH, DASH_MAX_WIDTH, DASH_MAX_HEIGHT = 0.25, 1.5, 0.3
DASH_ASPECT = 1.5
GAP_SLACK = 0.1  # a separator may reach this far (of T) into the digit beside it


class Extent(Protocol):
    """Anything with a box: left, top, right (exclusive), bottom (exclusive)."""

    x0: int
    y0: int
    x1: int
    y1: int


@dataclass(frozen=True)
class Found:
    """A separator: which line, the digit it comes before (its index in the line), the character, the mark."""

    line: int
    before: int
    char: str
    mark: int  # index into the marks given to ``find_separators``


def shape_of(mark: Extent, top: float, bottom: float) -> str | None:
    """'.', ',' or '-' for a mark in a line whose digits span ``top`` to ``bottom``, else None."""
    height = bottom - top
    if height <= 0:
        return None
    w, h = mark.x1 - mark.x0, mark.y1 - mark.y0
    middle = (mark.y0 + mark.y1) / 2
    relative = (middle - top) / height  # 0 at the digits' top, 1 at their bottom
    flat = w >= DASH_ASPECT * h and h <= DASH_MAX_HEIGHT * height
    if flat and DASH_MIN_WIDTH * height <= w <= DASH_MAX_WIDTH * height:
        return "-" if 0.3 <= relative <= 0.75 else None
    if w > DOT_SIZE * height or mark.y1 < top + 0.55 * height or mark.y0 > bottom + 0.3 * height:
        return None
    if h <= DOT_SIZE * height and h <= 1.6 * w:
        return "." if relative >= 0.6 else None
    if h <= COMMA_HEIGHT * height and h > 1.2 * w:
        return "," if relative >= 0.6 else None
    return None


def find_separators(lines: Sequence[Sequence[Extent]], marks: Sequence[Extent]) -> list[Found]:
    """Separators among ``marks`` (parts not taken for digits), between two digits of one of ``lines``.

    ``lines``: each line's digits, left to right. At most one separator between two digits (the first found).
    """
    found: list[Found] = []
    taken: set[tuple[int, int]] = set()
    bands = [_band(line) for line in lines]
    for index, mark in enumerate(marks):
        where = _gap_of(mark, lines, bands, taken)
        if where is None:
            continue
        line, before = where
        char = shape_of(mark, *bands[line])
        if char is not None:
            found.append(Found(line, before, char, index))
            taken.add(where)
    return found


def _gap_of(mark: Extent, lines: Sequence[Sequence[Extent]], bands: list[tuple[float, float]],
            taken: set[tuple[int, int]]) -> tuple[int, int] | None:
    """(line, index of the digit after the gap) of the free gap between two digits that ``mark`` lies in."""
    for li, line in enumerate(lines):
        top, bottom = bands[li]
        height = bottom - top
        if len(line) < 2 or height <= 0 or not (top - 0.2 * height <= mark.y0 and mark.y1 <= bottom + 0.6 * height):
            continue
        slack = GAP_SLACK * height
        for di in range(1, len(line)):
            left, right = line[di - 1], line[di]
            if mark.x0 >= left.x1 - slack and mark.x1 <= right.x0 + slack and (li, di) not in taken:
                return li, di
    return None


def _band(line: Sequence[Extent]) -> tuple[float, float]:
    """The line's typical top and bottom: the median of its digits' tops and bottoms."""
    if not line:
        return 0.0, 0.0
    return float(np.median([p.y0 for p in line])), float(np.median([p.y1 for p in line]))
