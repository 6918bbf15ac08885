"""The device's Python API: digits in, digits out.

    from device import Recognizer
    rec = Recognizer()                       # bundled int8 model, interpreter built once
    rec = Recognizer(options=ReadOptions(model=Path("m.tflite"), num_threads=2, min_confidence=0.5))
    digits, probs = rec.classify(crops)      # 2-D uint8 digit images of any size, either ink polarity
    found = rec.read(frame)                  # HxW gray or HxWx3 BGR frame -> [Detection], reading order
    print(reading_string(found))             # "407" (lines separated by a space)
    found, rejected = rec.read_with_rejections(frame)   # ... and [Rejection]: what was dropped, and why

``classify`` runs the shared preprocessing (``device.recognition.preprocess.prepare_crops``: MNIST-style
normalisation, then the paper's binarisation and bilinear enhancement) and one batched inference;
``read`` adds the segmentation (``device.recognition.segment``) and drops what the network does not
recognise confidently (not every dark blob on paper is a digit).
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from device.common.shapes import NUM_CLASSES
from device.recognition import touching
from device.recognition.frames import frame_to_uint8
from device.recognition.options import DEFAULT_MIN_CONFIDENCE, ReadOptions
from device.recognition.preprocess import InkPolarity, prepare_crops
from device.recognition.rejections import LOW_CONFIDENCE, TOO_WIDE, Rejection, why_empty
from device.recognition.runtime import TFLiteModel
from device.recognition.segment import Segment, SegmentParams, segment

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
        """Digit crops -> (digits (N,) int64, probabilities (N, 10) float32), one batched inference."""
        if len(crops) == 0:
            return np.zeros(0, np.int64), np.zeros((0, NUM_CLASSES), np.float32)
        probabilities = self.model.predict(prepare_crops(crops, ink))
        return probabilities.argmax(axis=1).astype(np.int64), probabilities

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
        threshold = self.min_confidence if min_confidence is None else float(min_confidence)
        start = time.perf_counter()
        frame = frame_to_uint8(frame)  # ValueError for what is not numbers; the rules: recognition/frames.py
        wide: list[Segment] = []  # marks too wide for one digit: touching digits are cut (touching.py)
        segments = segment(frame, self.options.segment, rejections, wide)
        # Digits wider than the rest of their line: perhaps two touching (ReadOptions.split_wide_digits).
        widish = touching.perhaps_two(segments) if self.options.split_wide_digits else []
        marks = wide + [segments[i] for i in widish]
        plans = [touching.plan(m.crop, m.box) for m in marks]
        crops = [s.crop for s in segments] + [piece for options in plans for o in options for piece in o.pieces]
        segmented = time.perf_counter()
        batch = prepare_crops(crops, ink="dark") if crops else None
        prepared = time.perf_counter()
        probabilities = self.model.predict(batch) if batch is not None else np.zeros((0, NUM_CLASSES))
        inferred = time.perf_counter()
        if timings is not None:
            timings["segment"] = timings.get("segment", 0.0) + segmented - start
            timings["preprocess"] = timings.get("preprocess", 0.0) + prepared - segmented
            timings["inference"] = timings.get("inference", 0.0) + inferred - prepared

        # The cuttings: a wide mark is cut when the pieces are read surely enough, a digit wider than the rest
        # of its line only when its pieces are read more surely than the whole (by touching.SPLIT_MARGIN).
        cut: list[list[touching.PieceReading] | None] = []
        first = len(segments)
        for j, (mark, options) in enumerate(zip(marks, plans, strict=True)):
            count = sum(len(o.pieces) for o in options)
            bar = threshold if j < len(wide) else max(
                threshold, float(probabilities[widish[j - len(wide)]].max()) + touching.SPLIT_MARGIN)
            cut.append(touching.best_reading(mark.crop, mark.box, options, probabilities[first : first + count], bar))
            first += count
        cut_digits = {i: pieces for i, pieces in zip(widish, cut[len(wide) :], strict=True) if pieces is not None}

        detections = []
        for k, (seg, probs) in enumerate(zip(segments, probabilities[: len(segments)], strict=True)):
            if k in cut_digits:
                detections.extend(_piece_detections(cut_digits[k], seg))
                continue
            digit = int(np.argmax(probs))
            confidence = float(probs[digit])
            if confidence >= threshold:
                detections.append(Detection(seg.box, digit, confidence, seg.line, seg.separator_before))
            elif rejections is not None:
                rejections.append(Rejection(seg.box, LOW_CONFIDENCE, threshold, digit, confidence))
        for mark, pieces in zip(wide, cut[: len(wide)], strict=True):
            if pieces is None:
                if rejections is not None:
                    rejections.append(Rejection(mark.box, TOO_WIDE))
                continue
            for detection in _piece_detections(pieces, mark):
                _insert_in_order(detections, detection)
        return _renumber_lines(detections)

    def __repr__(self) -> str:
        return f"Recognizer({self.model!r}, min_confidence={self.min_confidence})"


def _piece_detections(pieces: list[touching.PieceReading], mark: Segment) -> list[Detection]:
    """The digits a cut mark was read as; the first takes the separator written before the mark."""
    return [Detection(p.box, p.digit, p.confidence, mark.line, mark.separator_before if p.first else "")
            for p in pieces]


def _insert_in_order(detections: list[Detection], new: Detection) -> None:
    """Insert ``new`` where it reads: after the digits of earlier lines and those left of it in its line."""
    index = next((i for i, d in enumerate(detections)
                  if d.line > new.line or (d.line == new.line and d.box[0] > new.box[0])), len(detections))
    detections.insert(index, new)


def _renumber_lines(detections: list[Detection]) -> list[Detection]:
    """Line numbers 0, 1, 2 ... over the lines that kept at least one digit."""
    new_index = {line: i for i, line in enumerate(sorted({d.line for d in detections}))}
    if all(new_index[d.line] == d.line for d in detections):
        return detections
    return [replace(d, line=new_index[d.line]) for d in detections]
