"""More than one look at a still image: the number's region read again at other scales, and the reading most
looks agree on.

A reading of real handwriting hangs on choices made in pixels: where two touching digits are cut, whether a
faint stroke is ink, whether a flag is a separate mark. The same number read at another scale, or on plain
paper instead of its own repeated edges, is often read differently, and wrong in different places: of the 618
ORAND scans, 375 read right as scanned and 391 framed in 640x480, but only 306 both ways, and 440 at least one
way. So a still image (``device read``, ``device eval``) is read several times (``LOOKS``, at most ``MAX_LOOKS``):

1. as it is (``Recognizer.read`` with one look: what ``device live`` does for every frame);
2. the region of the digits found, with a margin (``REGION_MARGIN``), as a cut-out of 150 px text height, its
   edges repeated (``device.recognition.placement``);
3. the same region scaled to 100 px high on a 640x480 frame of its own paper colour, as a camera a little
   further away would see it;
4. and on, when the first three did not all read the same (``settled``): the region again at the other sizes
   of ``VIEWS``, cut-outs and on plain paper in turn.

The reading (the digits, line by line) that most looks give wins; between readings that as many looks give,
the one read with the higher mean confidence. Only a reading of one line is looked at again (a number: what
a still is taken of): a region of several lines scaled to one text height would shrink each of them.
Each look costs about as much as the first. More than three read more of the scans cut tightly around a
number (of ORAND's, 429 with eight against 410), and nothing more of numbers a camera sees
(docs/log/2026-12.md, "Three looks").

A live camera needs none of this: the frames that follow are the other looks (``device.live.stability``), and
one look keeps a frame at ~10 ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple, Protocol

import numpy as np

from device.recognition.segment_params import SegmentParams

Box = tuple[int, int, int, int]  # x, y, width, height

REGION_MARGIN = 0.4  # around the digits found, in digit heights: their region read again


class View(NamedTuple):
    """One more look at the digits' region: as a cut-out (its edges repeated) or ``flat`` on a 640x480 frame of
    its paper colour, at ``height`` px text height."""

    flat: bool
    height: int


# The looks after the first, in the order taken: sizes alternate between the cut-out and the plain frame so
# that any number of looks sees both.
VIEWS: tuple[View, ...] = (View(False, 150), View(True, 100), View(False, 100), View(True, 125),
                           View(False, 200), View(True, 80), View(False, 125))
MAX_LOOKS = 1 + len(VIEWS)
LOOKS = 3  # how many looks ``device read`` and ``device eval`` take of a still image (1: only as it is)
SETTLED_AFTER = 3  # looks that all read the same: no more are taken
CUTOUT_HEIGHT = VIEWS[0].height  # the second look: a cut-out of this text height (px)
FLAT_HEIGHT = VIEWS[1].height  # the third: the region this many px high on a 640x480 frame


class Found(Protocol):
    """What a look reports per digit (``device.recognition.recognizer.Detection``)."""

    box: Box
    digit: int
    confidence: float
    line: int


def digits_region(found: Sequence[Found], shape: tuple[int, ...]) -> Box | None:
    """The box around every digit found, widened by ``REGION_MARGIN`` of their tallest height, inside the
    image (``shape``: its height and width first); None without digits."""
    if not found:
        return None
    x0, y0 = min(f.box[0] for f in found), min(f.box[1] for f in found)
    x1, y1 = max(f.box[0] + f.box[2] for f in found), max(f.box[1] + f.box[3] for f in found)
    margin = round(REGION_MARGIN * max(f.box[3] for f in found))
    left, top = max(0, x0 - margin), max(0, y0 - margin)
    right, bottom = min(shape[1], x1 + margin), min(shape[0], y1 + margin)
    if right - left < 2 or bottom - top < 2:
        return None
    return left, top, right - left, bottom - top


def as_cutout(params: SegmentParams, text_height: int = CUTOUT_HEIGHT) -> SegmentParams:
    """``params`` under which any image is a cut-out, placed at ``text_height`` px high."""
    big = 1 << 30
    return replace(params, cutout_width=big, cutout_height=big, cutout_text_height=text_height)


def shifted(box: Box, origin: tuple[int, int]) -> Box:
    """A box of the region in the pixels of the image the region was cut from at ``origin``."""
    return box[0] + origin[0], box[1] + origin[1], box[2], box[3]


def mean_confidence(found: Sequence[Found]) -> float:
    """How sure a look is of its reading: its digits' mean confidence (0 for nothing found)."""
    return float(np.mean([f.confidence for f in found])) if found else 0.0


def settled(texts: Sequence[str]) -> bool:
    """Whether the looks so far (their readings, ``texts``) are enough: the first ``SETTLED_AFTER`` all gave the
    same reading. More looks could still outvote them, but of ORAND's 702 such readings (as scanned 332, framed
    370) they changed one, from one wrong reading to another (docs/log/2026-12.md, "Three looks")."""
    return len(texts) >= SETTLED_AFTER and bool(texts[0]) and texts.count(texts[0]) == len(texts)


def agreed(looks: Sequence[Sequence[Found]], texts: Sequence[str]) -> int:
    """Index of the look to report, given each look's reading (``texts``, as ``reading_string`` writes it): the
    reading most looks give (among as many, the one read surest: the higher mean confidence), as the first look
    that gives it (the image as it is, when that look agrees, whose boxes are its own pixels'). A look that found
    nothing has no vote: the region was read again because digits were found in it."""
    candidates = [i for i, text in enumerate(texts) if text]
    if not candidates:
        return 0
    best = max(candidates, key=lambda i: (texts.count(texts[i]), mean_confidence(looks[i]), -i))
    return texts.index(texts[best])
