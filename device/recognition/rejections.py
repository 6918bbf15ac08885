"""Why a mark in a frame did not become a digit: what ``Recognizer.read_with_rejections`` reports.

The segmentation (``segment(frame, rejections=[])``) says why it dropped each group of ink it found (too small,
too wide, at the frame's border, ...); the recogniser adds the candidates the network was not sure enough of.
``why_empty`` turns them into one line for a reading that came out empty.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

Box = tuple[int, int, int, int]  # x, y, width, height in frame pixels

# Reasons, in the order the pipeline applies them.
BORDER = "border"  # touches the frame's border: the table, the sheet's edge, a digit cut off
TOO_LARGE = "too large"  # over 60 % of the frame's height or 50 % of its width: a shadow, a fold, a hand
BESIDE_BORDER = "beside the border"  # a thin strip beside something at the border (its edge)
TOO_SMALL = "too small"  # shorter than the smallest digit the segmentation takes (``limit``)
TOO_WIDE = "too wide"  # over 5 times as wide as tall (max_aspect): a dash or a ruling, not digits
PAPER_EDGE = "paper edge"  # a thin upright part with the table on one side
RULING = "ruling"  # a piece of a vertical ruled line (a margin)
SMALLER_THAN_WRITING = "smaller than the writing"  # under half the writing's typical height (``limit``)
TALLER_THAN_WRITING = "taller than the writing"  # over 1.7 times it (``limit``)
ON_TABLE = "on the table"  # lies on the table, away from the writing on the paper
FAINTER_THAN_WRITING = "fainter than the writing"  # its ink much fainter than its line's (print, an edge)
THINNER_THAN_WRITING = "thinner than the writing"  # a hairline beside the pen's strokes (an edge, a printed rule)
LOW_CONFIDENCE = "low confidence"  # the network's best guess is less sure than the threshold (``limit``)
NOT_A_DIGIT = "not a digit"  # the model's non-digit class wins: a dash, an = sign, digits run together
TOO_NARROW = "too narrow"  # read as a digit other than 1, but narrower than any such digit: a tick, a fragment
TRAILING_MARK = "trailing mark"  # a short 1 or 7 apart after a line's digits: the dash or tick after a number

_SHORT = {
    BORDER: "touching the frame's border",
    TOO_LARGE: "too large",
    BESIDE_BORDER: "beside something at the border",
    TOO_SMALL: "too small",
    TOO_WIDE: "too wide for one digit",
    PAPER_EDGE: "the paper's edge",
    RULING: "part of a ruled line",
    SMALLER_THAN_WRITING: "much smaller than the writing",
    TALLER_THAN_WRITING: "much taller than the writing",
    ON_TABLE: "on the table",
    FAINTER_THAN_WRITING: "much fainter than the writing",
    THINNER_THAN_WRITING: "a hairline beside the writing's strokes",
    LOW_CONFIDENCE: "not sure enough",
    NOT_A_DIGIT: "not a digit",
    TOO_NARROW: "too narrow for any digit but a 1",
    TRAILING_MARK: "a short stroke after the number (a dash or a tick)",
}


@dataclass(frozen=True)
class Rejection:
    """A mark that was not reported as a digit, and why."""

    box: Box  # x, y, width, height in frame pixels
    reason: str  # one of the reasons above
    limit: float | None = None  # the bound it missed: a height in frame pixels, or (low confidence) the threshold
    digit: int | None = None  # low confidence, not a digit: the network's best digit ...
    confidence: float | None = None  # ... and its probability

    def describe(self) -> str:
        """One line: what was rejected and why, with the figures."""
        x, y, w, h = self.box
        where = f"at ({x}, {y}), {w}x{h} px"
        if self.reason == LOW_CONFIDENCE:
            article = "an" if self.digit == 8 else "a"
            return (f"{where}: looks like {article} {self.digit} with confidence {self.confidence:.3f}, "
                    f"under {self.limit:g}")
        if self.reason == NOT_A_DIGIT:
            return (f"{where}: not one digit (a mark, or digits run together; best digit {self.digit}, "
                    f"{self.confidence:.3f})")
        if self.reason == TOO_NARROW:
            return f"{where}: too narrow for the {self.digit} it looks like (no digit but a 1 is this narrow)"
        if self.reason == TOO_SMALL:
            return f"{where}: too small (a digit is at least {self.limit:.0f} px tall here)"
        if self.reason == SMALLER_THAN_WRITING:
            return f"{where}: much smaller than the rest of the writing (under {self.limit:.0f} px tall)"
        if self.reason == TALLER_THAN_WRITING:
            return f"{where}: much taller than the rest of the writing (over {self.limit:.0f} px tall)"
        if self.reason == TOO_WIDE:
            return f"{where}: too wide for one digit (a dash, or digits run together)"
        return f"{where}: {_SHORT.get(self.reason, self.reason)}"


def why_empty(rejections: Sequence[Rejection]) -> str:
    """One line on why nothing was read, from what was rejected (empty: there was no ink)."""
    if not rejections:
        return "no ink found"
    unsure = [r for r in rejections if r.reason == LOW_CONFIDENCE]
    if unsure:
        best, limit = max(r.confidence or 0.0 for r in unsure), unsure[0].limit or 0.0
        shown = f"{limit:.2f}" if round(limit, 2) == limit else f"{limit:g}"
        digits = 2 if f"{best:.2f}" != f"{limit:.2f}" else 3  # never "best 0.40" under 0.40
        count = f"{len(unsure)} candidate" + ("s" if len(unsure) != 1 else "")
        return f"{count} below confidence {shown} (best {best:.{digits}f})"
    if all(r.reason == TOO_SMALL for r in rejections):
        tallest = max(r.box[3] for r in rejections)
        return (f"ink found but every mark too small (tallest {tallest} px, smallest digit height "
                f"{rejections[0].limit:.0f} px)")
    if all(r.reason == TOO_WIDE for r in rejections):
        return "ink found but every mark too wide for one digit (a dash, or digits that touch each other)"
    counts = Counter(r.reason for r in rejections).most_common()
    return "ink found but no digit: " + ", ".join(f"{n} {_SHORT.get(reason, reason)}" for reason, n in counts)
