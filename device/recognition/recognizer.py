"""The device's Python API: digits in, digits out.

    from device import Recognizer
    rec = Recognizer()                       # bundled int8 model, interpreter built once
    rec = Recognizer(options=ReadOptions(model=Path("m.tflite"), num_threads=2, min_confidence=0.5))
    digits, probs = rec.classify(crops)      # 2-D uint8 digit images of any size, either ink polarity
                                             # (10 = "non-digit", for a model with that class)
    found = rec.read(frame)                  # HxW gray or HxWx3 BGR frame -> [Detection], reading order
    print(reading_string(found))             # "407" (lines separated by a space)
    found, rejected = rec.read_with_rejections(frame)   # ... and [Rejection]: what was dropped, and why

``classify`` runs the shared preprocessing (``device.recognition.preprocess``: MNIST-style normalisation, then
the paper's binarisation and bilinear enhancement) and one batched inference, and a second for the digits it
is unsure of, read again at two more stroke widths (``device.recognition.ensemble``);
``read`` adds the segmentation (``device.recognition.segment``) and drops what the network does not
recognise confidently (not every dark blob on paper is a digit), and, with a model that has the
"non-digit" class (``train --config reader``), what it calls no digit: touching digits are then cut,
dashes and ``=`` signs dropped. A mark narrower than any digit but a 1 is not read as another digit
(``NARROW_FOR_DIGIT``).
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from device.recognition.decision import best_digits, decided_classes, is_no_digit
from device.recognition.ensemble import read_probabilities, second_look
from device.recognition.frames import frame_to_uint8
from device.recognition.options import DEFAULT_MIN_CONFIDENCE, ReadOptions
from device.recognition.placement import Placement, place_cutout
from device.recognition.preprocess import InkPolarity, normalize_digits, prepare_crops, prepare_mnist, to_gray
from device.recognition.rejections import (
    LOW_CONFIDENCE,
    NOT_A_DIGIT,
    TOO_NARROW,
    TRAILING_MARK,
    Rejection,
    why_empty,
)
from device.recognition.runtime import TFLiteModel
from device.recognition.segment import Segment, SegmentParams, segment
from device.recognition.split import INK_LEVEL, needs_split, split_mark
from device.recognition.views import VIEWS, agreed, as_cutout, digits_region, settled, shifted

__all__ = [
    "DEFAULT_MIN_CONFIDENCE",
    "Detection",
    "ReadOptions",
    "Recognizer",
    "Rejection",
    "reading_string",
    "why_empty",
    "written_text",
]

Box = tuple[int, int, int, int]

# Of its line's digit height: narrower than this, a mark read as any digit but a 1 is a tick, a stroke of the
# print or a fragment (of ORAND's 2,389 written digits other than 1, 4 are this narrow against their number's
# median height; left out, such marks took 311 real numbers to 324 as scanned, 290 to 307 framed: docs/log/2026-12.md).
NARROW_FOR_DIGIT = 0.35
# Of its line's median digit height: a last mark apart from the digits, shorter than this and read as a 1 or a 7,
# is the dash, tick or stroke that people write after a number ("2100-", "636/"). Of ORAND's 84 numbers ending in a
# 1 or a 7, one is this short (0.698); leaving such marks out took 386 numbers to 391 framed, 374 to 375 as scanned.
TRAILING_STROKE = 0.7


@dataclass(frozen=True)
class Detection:
    """One recognised digit: where it is, what it is, how sure the network is."""

    box: Box  # x, y, width, height in frame pixels
    digit: int
    confidence: float  # the winning softmax probability, 0..1
    line: int = 0  # line of text, 0 = top
    separator_before: str = ""  # "." "," or "-" written just before this digit in its line ("18.014"), else ""


def reading_string(detections: Sequence[Detection], line_separator: str = " ") -> str:
    """The digits as text in reading order; lines of text are joined with ``line_separator``."""
    lines: dict[int, list[str]] = {}
    for det in detections:
        lines.setdefault(det.line, []).append(str(det.digit))
    return line_separator.join("".join(lines[k]) for k in sorted(lines))


def written_text(detections: Sequence[Detection], line_separator: str = " ") -> str:
    """The reading as written: the digits with the separators between them ("18.014"; ``reading_string``: "18014").

    A separator before a line's first digit (its digit on the left was not reported) is left out.
    """
    lines: dict[int, list[str]] = {}
    for det in detections:
        chars = lines.setdefault(getattr(det, "line", 0), [])
        chars.append((getattr(det, "separator_before", "") if chars else "") + str(det.digit))
    return line_separator.join("".join(lines[k]) for k in sorted(lines))


class Recognizer:
    """Segmentation + shared preprocessing + a TFLite model, built once and reused for every frame."""

    def __init__(
        self,
        model: str | Path | TFLiteModel | None = None,
        num_threads: int | None = None,
        min_confidence: float | None = None,
        segment_params: SegmentParams | None = None,
        *,
        options: ReadOptions | None = None,
    ) -> None:
        """``model``: a .tflite path, an already loaded ``TFLiteModel``, or None for ``options.model``.

        The other arguments override ``options`` (default ``ReadOptions()``, where every default is
        stated). Raises ``device.recognition.runtime.ModelError`` (one-line message) for a missing or
        unusable model, ValueError for an option out of range.
        """
        overrides: dict[str, Any] = {"num_threads": num_threads, "min_confidence": min_confidence,
                                     "segment": segment_params}
        if isinstance(model, TFLiteModel):  # the options then describe the model as it was loaded
            overrides.update(model=model.path, num_threads=model.num_threads)
        elif model is not None:
            overrides["model"] = Path(model)
        self.options = replace(options or ReadOptions(), **{k: v for k, v in overrides.items() if v is not None})
        if isinstance(model, TFLiteModel):
            self.model = model
        else:
            self.model = TFLiteModel(self.options.model, num_threads=self.options.num_threads)

    @property
    def min_confidence(self) -> float:
        """Detections less sure than this are dropped by ``read``."""
        return self.options.min_confidence

    @property
    def runtime_name(self) -> str:
        """Which TFLite interpreter runs the model ("ai-edge-litert", "tflite-runtime", "tensorflow.lite")."""
        return self.model.runtime_name

    def classify(
        self, crops: Sequence[np.ndarray] | np.ndarray, ink: InkPolarity = "auto"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Digit crops -> (classes (N,) int64, probabilities (N, C) float32), in one or two batched inferences.

        C is 10, or 11 for a model with the "non-digit" class: class 10 (``labels[10]``) then says the
        crop is not one digit, decided as ``read`` decides it (``device.recognition.decision``). A crop read
        less surely than 0.9 is read again at two more stroke widths (``device.recognition.ensemble``).
        """
        if len(crops) == 0:
            return np.zeros(0, np.int64), np.zeros((0, self.model.classes), np.float32)
        probabilities = read_probabilities(self.model.predict, normalize_digits(crops, ink))
        return decided_classes(probabilities), probabilities

    def read(
        self,
        frame: np.ndarray,
        min_confidence: float | None = None,
        timings: MutableMapping[str, float] | None = None,
    ) -> list[Detection]:
        """The digits written in a frame, in reading order (lines top to bottom, each left to right).

        ``frame``: HxW gray, HxWx3 BGR or HxWx4 BGRA, best uint8. Other numeric dtypes are converted
        (``device.recognition.frames``: bool masks, 16-bit images, floats as fractions or grey levels); a
        frame of complex numbers, strings or objects raises ValueError. Any other shape reads as nothing.

        ``min_confidence`` overrides the recogniser's threshold for this call. ``timings``, when
        given, receives the seconds spent per stage ("segment", "preprocess", "inference").
        """
        return self._read(frame, min_confidence, timings, None)

    def read_with_rejections(
        self,
        frame: np.ndarray,
        min_confidence: float | None = None,
        timings: MutableMapping[str, float] | None = None,
    ) -> tuple[list[Detection], list[Rejection]]:
        """``read``, and what was found but not reported, and why: too small, too wide, not sure enough, ...

        ``why_empty(rejections)`` says in one line why a reading came out empty ("no ink found", ...).
        """
        rejections: list[Rejection] = []
        return self._read(frame, min_confidence, timings, rejections), rejections

    def _read(
        self,
        frame: np.ndarray,
        min_confidence: float | None,
        timings: MutableMapping[str, float] | None,
        rejections: list[Rejection] | None,
    ) -> list[Detection]:
        frame = frame_to_uint8(frame)  # ValueError for what is not numbers; the rules: recognition/frames.py
        found = self._look(frame, self.options.segment, min_confidence, timings, rejections)
        if self.options.looks < 2 or not found:
            return found
        return self._agreed_look(frame, found, min_confidence, timings, rejections)

    def _agreed_look(
        self,
        frame: np.ndarray,
        found: list[Detection],
        min_confidence: float | None,
        timings: MutableMapping[str, float] | None,
        rejections: list[Rejection] | None,
    ) -> list[Detection]:
        """``found``, or the region of its digits read again (as a cut-out, on plain paper, at other sizes: up to
        the first ``looks - 1`` of ``VIEWS``, until the looks are ``settled``), whichever reading most looks agree
        on (``device.recognition.views``).
        ``rejections`` (the first look's, when given) become those of the look reported, in frame pixels: what
        ``-v`` lists then explains the reading shown (a digit that look left out, and why).
        A reading of several lines is kept as it is: scaled to one text height, each of its lines would shrink."""
        gray = to_gray(frame)
        region = digits_region(found, gray.shape)
        if region is None or any(d.line != found[0].line for d in found):
            return found
        x, y, w, h = region
        crop = np.ascontiguousarray(gray[y : y + h, x : x + w])
        looks = [found]
        texts = [reading_string(found)]
        rejected: list[list[Rejection]] = [[]]  # the first look's are ``rejections`` already
        for view in VIEWS[: self.options.looks - 1]:
            if settled(texts):
                break
            own: list[Rejection] | None = [] if rejections is not None else None
            if view.flat:
                image, placement = place_cutout(crop, view.height, flat=True)
                params = self.options.segment
            else:  # a cut-out is read in the region's own pixels: nothing to map
                image, placement, params = crop, Placement(), as_cutout(self.options.segment, view.height)
            again = self._look(image, params, min_confidence, timings, own)
            looks.append([replace(d, box=shifted(placement.to_frame(d.box), (x, y))) for d in again])
            rejected.append([_rejection_in_frame(r, placement, (x, y)) for r in own or []])
            texts.append(reading_string(looks[-1]))
        chosen = agreed(looks, texts)
        if rejections is not None and chosen > 0:
            rejections[:] = rejected[chosen]
        return _renumber_lines(looks[chosen])

    def _look(
        self,
        frame: np.ndarray,
        params: SegmentParams,
        min_confidence: float | None,
        timings: MutableMapping[str, float] | None,
        rejections: list[Rejection] | None,
    ) -> list[Detection]:
        """One reading of a uint8 frame under these segmentation settings."""
        threshold = self.min_confidence if min_confidence is None else float(min_confidence)
        start = time.perf_counter()
        segments = segment(frame, params, rejections)
        segmented = time.perf_counter()
        digits = normalize_digits([s.crop for s in segments], ink="dark")
        batch = prepare_mnist(digits) if segments else None
        prepared = time.perf_counter()
        if batch is not None:  # unsure digits get a second look at two more stroke widths (recognition/ensemble.py)
            probabilities = second_look(self.model.predict, digits, self.model.predict(batch))
        else:
            probabilities = np.zeros((0, self.model.classes), np.float32)
        heights = line_heights([s.box for s in segments], [s.line for s in segments])
        candidates: list[_Candidate] = []
        for seg, digit, confidence, non_digit in zip(segments, *best_digits(probabilities), strict=True):
            digit, confidence, non_digit = int(digit), float(confidence), float(non_digit)
            if needs_split(seg.box[2] / digit_height(seg.box, heights[seg.line]), confidence, non_digit):
                # Touching digits, most likely: cut where the classifier reads them best.
                pieces = self._split(seg, heights[seg.line])
                candidates.extend(_Candidate(box, d, conf, seg.line, seg.separator_before if i == 0 else "", non)
                                  for i, (box, d, conf, non) in enumerate(pieces))
            else:
                candidates.append(_Candidate(seg.box, digit, confidence, seg.line, seg.separator_before, non_digit))
        inferred = time.perf_counter()
        if timings is not None:
            timings["segment"] = timings.get("segment", 0.0) + segmented - start
            timings["preprocess"] = timings.get("preprocess", 0.0) + prepared - segmented
            timings["inference"] = timings.get("inference", 0.0) + inferred - prepared

        detections = []
        for c in candidates:
            if c.digit != 1 and c.box[2] < NARROW_FOR_DIGIT * heights.get(c.line, 0.0):
                if rejections is not None:  # a tick, a stroke of the print: no digit but a 1 is this narrow
                    rejections.append(Rejection(c.box, TOO_NARROW, None, c.digit, c.confidence))
            elif is_no_digit(c.confidence, c.non_digit):  # surely no digit at all: a dash, an = sign
                if rejections is not None:
                    rejections.append(Rejection(c.box, NOT_A_DIGIT, None, c.digit, c.confidence))
            elif c.confidence >= threshold:
                detections.append(Detection(c.box, c.digit, c.confidence, c.line, c.separator))
            elif rejections is not None:
                rejections.append(Rejection(c.box, LOW_CONFIDENCE, threshold, c.digit, c.confidence))
        detections = _without_trailing_strokes(detections, rejections)
        return _renumber_lines(detections)

    def _split(self, seg: Segment, line_height: float) -> list[tuple[Box, int, float, float]]:
        """A wide mark read as the digits it most likely holds: (frame box, digit, confidence, non-digit
        probability) each."""
        ink_rows = np.flatnonzero((seg.crop < INK_LEVEL).any(axis=1))
        ink_cols = np.flatnonzero((seg.crop < INK_LEVEL).any(axis=0))
        if ink_rows.size == 0 or min(seg.box[2:]) < 1:
            return []
        # The crop may be at a reduced scale (large frames): frame pixels per crop pixel.
        scale_x = seg.box[2] / (ink_cols[-1] - ink_cols[0] + 1)
        scale_y = seg.box[3] / (ink_rows[-1] - ink_rows[0] + 1)
        height = digit_height(seg.box, line_height) / scale_y

        def classify(crops: list[np.ndarray]) -> np.ndarray:
            return self.model.predict(prepare_crops(crops, ink="dark"))

        found = []
        for piece in split_mark(seg.crop, height, classify):
            rows, cols = np.flatnonzero(piece.ink.any(axis=1)), np.flatnonzero(piece.ink.any(axis=0))
            x = seg.box[0] + round((cols[0] - ink_cols[0]) * scale_x)
            y = seg.box[1] + round((rows[0] - ink_rows[0]) * scale_y)
            w, h = round((cols[-1] - cols[0] + 1) * scale_x), round((rows[-1] - rows[0] + 1) * scale_y)
            found.append(((x, y, max(1, w), max(1, h)), piece.digit, piece.confidence, piece.non_digit))
        return found

    def __repr__(self) -> str:
        return f"Recognizer({self.model!r}, min_confidence={self.min_confidence})"


@dataclass(frozen=True)
class _Candidate:
    """A mark as the network read it, before the confidence threshold."""

    box: Box
    digit: int
    confidence: float  # the digit's probability
    line: int
    separator: str  # written before it in its line
    non_digit: float = 0.0  # the probability of the non-digit class (0 for a 10-class model)


def _without_trailing_strokes(detections: list[Detection], rejections: list[Rejection] | None) -> list[Detection]:
    """``detections`` without a short 1 or 7 standing apart after each line's digits (``TRAILING_STROKE``)."""
    dropped: set[int] = set()
    for line in sorted({d.line for d in detections}):
        mine = [d for d in detections if d.line == line]
        if len(mine) < 2:
            continue
        last, before = mine[-1], mine[-2]
        typical = float(np.median([d.box[3] for d in mine]))
        apart = last.box[0] >= before.box[0] + before.box[2]  # not a piece the cut search split off a neighbour
        if last.digit in (1, 7) and apart and last.box[3] < TRAILING_STROKE * typical:
            dropped.add(id(last))
            if rejections is not None:
                rejections.append(Rejection(last.box, TRAILING_MARK, None, last.digit, last.confidence))
    return [d for d in detections if id(d) not in dropped]


def digit_height(box: Box, line_height: float) -> float:
    """The digit height a mark is measured against: its line's, or most of its own when it is much taller (a
    number's first digit written large is as wide as tall for its own size, not two digits of the line's)."""
    return max(line_height, 0.7 * box[3])


def line_heights(boxes: Sequence[Box], lines: Sequence[int]) -> dict[int, float]:
    """The typical digit height of each line: the median height of its marks."""
    by_line: dict[int, list[int]] = {}
    for box, line in zip(boxes, lines, strict=True):
        by_line.setdefault(line, []).append(box[3])
    return {line: max(1.0, float(np.median(heights))) for line, heights in by_line.items()}


def _renumber_lines(detections: list[Detection]) -> list[Detection]:
    """Line numbers 0, 1, 2 ... over the lines that kept at least one digit."""
    new_index = {line: i for i, line in enumerate(sorted({d.line for d in detections}))}
    if all(new_index[d.line] == d.line for d in detections):
        return detections
    return [replace(d, line=new_index[d.line]) for d in detections]


def _rejection_in_frame(rejection: Rejection, placement: Placement, origin: tuple[int, int]) -> Rejection:
    """A rejection of a later look (in the pixels of the image that look read) in the frame's pixels: its box
    through ``placement`` then moved by the region's ``origin``; a height bound scaled alike (a confidence
    threshold stays as it is)."""
    limit = rejection.limit
    if limit is not None and rejection.reason != LOW_CONFIDENCE:
        limit = placement.length_to_frame(limit)
    return replace(rejection, box=shifted(placement.to_frame(rejection.box), origin), limit=limit)
