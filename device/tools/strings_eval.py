"""``device eval --strings DIR``: how often whole handwritten numbers are read right, the figure a user feels.

A strings folder is a set of images of numbers with their truth (``device.data.stringsets``): ``labels.csv``
(``file,digits_left_to_right``, the layout of ``../shared/data/orand_car_a_dev``, or ``file,text``) and, when
there, ``digit_boxes.csv`` (``file,digit,x,y,w,h``). A generated scene set (``python -m train.scenes``) is one
too: its ``scenes.json`` adds each digit's box, and its ``text`` separates lines of text with a space, as
``device read`` prints them.

Each image goes through exactly what ``device read`` does (``read_image``, ``Recognizer.read``,
``reading_string``). The figures:

- **exact strings**: the reading is the truth, character for character (lines included);
- **right length**: as many digits read as written (segmentation found the right count);
- **digit error rate**: edit distance between the digits read and written, over all digits written;
- **box recall**: written digits (where boxes exist) that a reported digit's box overlaps at IoU >= 0.5;
- **read right cut out by their boxes** (where every digit has a box): numbers whose every digit the classifier
  reads right when each is cut out by its box, as ``device eval --boxes`` cuts them: what a segmentation that
  found exactly the written boxes would read with this model. The misses among them are the segmentation's;
  the others have a digit the classifier misreads even when it is handed over on its own;
- **ms per image**: median time of ``Recognizer.read`` alone (not decoding or framing).

``framed=True`` puts each image where a camera would: scaled to 100 px high (narrower than 600 px), centred in a
640x480 frame of its own paper colour (the median of its border pixels), boxes moved along.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from device.common.files import write_atomic
from device.common.images import ImageError, read_image
from device.data.digitsets import DataError
from device.data.stringsets import crop_box, load_string_set
from device.recognition.placement import CUTOUT_MAX_WIDTH, paper_colour, place_cutout
from device.recognition.preprocess import to_gray
from device.recognition.recognizer import Detection, Recognizer, reading_string

Box = tuple[int, int, int, int]  # x, y, width, height

FRAMED_HEIGHT = 100  # the number's height in the frame (at most 600 px wide, in 640x480: placement.py)
IOU_MATCH = 0.5


@dataclass(frozen=True)
class StringCase:
    """One image and what is written in it."""

    file: Path
    text: str  # as device read would print it: digits, lines of text separated by a space
    boxes: tuple[Box, ...] = ()  # one per written digit, when the set has them

    @property
    def digits(self) -> str:
        return self.text.replace(" ", "")


@dataclass
class StringResult:
    """What was read in one image."""

    file: str
    truth: str
    reading: str | None  # None: the image could not be read
    seconds: float = 0.0
    edits: int = 0  # edit distance between the digits read and written
    boxes: int = 0  # written digits with a box ...
    boxes_found: int = 0  # ... and those a reported box overlaps at IoU >= 0.5
    boxed_right: bool | None = None  # every digit read right when cut out by its box (None: not a box per digit)

    @property
    def exact(self) -> bool:
        return self.reading == self.truth

    @property
    def right_length(self) -> bool:
        return self.reading is not None and len(self.reading.replace(" ", "")) == len(self.truth.replace(" ", ""))


@dataclass(frozen=True)
class StringsReport:
    """The figures over a set (see the module's docstring)."""

    folder: str
    framed: bool
    count: int
    exact: int
    right_length: int
    digits: int
    edits: int
    boxes: int
    boxes_found: int
    boxed: int  # numbers with a box per digit ...
    boxed_right: int  # ... whose every digit is read right when cut out by its box ...
    boxed_right_missed: int  # ... and yet read wrong as a whole: the segmentation's misses
    boxed_missed: int  # numbers with a box per digit read wrong as a whole (the segmentation's and the classifier's)
    unreadable: int
    median_ms: float
    results: list[StringResult] = field(default_factory=list, repr=False)

    def figures(self) -> dict[str, Any]:
        """The figures as plain values (what ``--json`` prints)."""
        figures = {k: v for k, v in asdict(self).items() if k != "results"}
        figures.update(
            exact_rate=_rate(self.exact, self.count),
            right_length_rate=_rate(self.right_length, self.count),
            digit_error_rate=_rate(self.edits, self.digits),
            box_recall=_rate(self.boxes_found, self.boxes) if self.boxes else None,
            boxed_right_rate=_rate(self.boxed_right, self.boxed) if self.boxed else None,
        )
        return figures

    def table(self) -> str:
        """The figures as lines of text, for people."""
        how = "framed in 640x480, 100 px high" if self.framed else "as they are"
        lines = [
            f"strings: {self.count} images in {self.folder} ({how})",
            f"exact strings: {self.exact}/{self.count} = {_percent(self.exact, self.count)}",
            f"right number of digits: {self.right_length}/{self.count} = {_percent(self.right_length, self.count)}",
            f"digit error rate (edit distance / digits): {self.edits}/{self.digits} = "
            f"{_percent(self.edits, self.digits)}",
        ]
        if self.boxes:
            lines.append(f"box recall (IoU >= {IOU_MATCH}): {self.boxes_found}/{self.boxes} = "
                         f"{_percent(self.boxes_found, self.boxes)}")
            if self.boxed:
                lines.append(f"read right cut out by their boxes: {self.boxed_right}/{self.boxed} = "
                             f"{_percent(self.boxed_right, self.boxed)} (what a segmentation finding exactly "
                             "the written boxes would read)")
                lines.append(f"misses: {self.boxed_missed}; with every boxed digit read right (the segmentation's): "
                             f"{self.boxed_right_missed}; with a boxed digit misread (the classifier's): "
                             f"{self.boxed_missed - self.boxed_right_missed}")
        else:
            lines.append("box recall: no digit boxes in this set")
        if self.unreadable:
            lines.append(f"unreadable images (counted as misses): {self.unreadable}")
        lines.append(f"time per image (read): median {self.median_ms:.1f} ms")
        return "\n".join(lines)


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * _rate(part, whole):.1f} %"


# --------------------------------------------------------------------------------------------
# The set
# --------------------------------------------------------------------------------------------
def load_cases(folder: str | Path) -> list[StringCase]:
    """The images of a strings folder or a generated scene set, with their truth. Raises DataError."""
    strings = load_string_set(folder)
    scenes = _scene_truth(Path(folder))
    cases = []
    for sample in strings.samples:
        scene = scenes.get(sample.file.name)
        if scene is not None:
            cases.append(StringCase(sample.file, *scene))
        else:
            cases.append(StringCase(sample.file, sample.digits, sample.boxes))
    if not cases:
        raise DataError(f"{folder}: labels.csv lists no images")
    return cases


def _scene_truth(folder: Path) -> dict[str, tuple[str, tuple[Box, ...]]]:
    """file name -> (text, digit boxes in reading order) from a generated set's scenes.json (empty without)."""
    path = folder / "scenes.json"
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        truth = {}
        for scene in meta["scenes"]:
            digits = sorted(scene["digits"], key=lambda d: (d["line"], d["box"][0] if d.get("box") else 0))
            boxes = tuple(tuple(int(v) for v in d["box"]) for d in digits if d.get("box"))
            # one group of digits per line of writing: a space between digit groups of one line ("7 090 073")
            # is a separator, as in "18.014", not a line break
            lines: dict[int, str] = {}
            for d in digits:
                lines[int(d["line"])] = lines.get(int(d["line"]), "") + str(int(d["digit"]))
            text = " ".join(lines[k] for k in sorted(lines))
            truth[str(scene["file"])] = (text, boxes if len(boxes) == len(digits) else ())
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError) as err:
        raise DataError(f"{path}: not a scene set's truth ({type(err).__name__}: {err})") from None
    return truth


# --------------------------------------------------------------------------------------------
# Framing: a scan as a camera would see it
# --------------------------------------------------------------------------------------------
def frame_image(image: np.ndarray, boxes: Sequence[Box] = ()) -> tuple[np.ndarray, tuple[Box, ...]]:
    """``image`` scaled to 100 px high (at most 600 px wide), centred in 640x480 of its paper colour; the boxes
    moved along."""
    frame, placement = place_cutout(image, FRAMED_HEIGHT, flat=True)
    x0, y0 = placement.offset
    scale = min(FRAMED_HEIGHT / image.shape[0], CUTOUT_MAX_WIDTH / image.shape[1])  # the boxes' scale, unrounded
    moved = tuple(
        (x0 + round(x * scale), y0 + round(y * scale), round(bw * scale), round(bh * scale)) for x, y, bw, bh in boxes
    )
    return frame, moved


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------
def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions turning ``a`` into ``b``."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def boxes_matched(truth: Sequence[Box], found: Sequence[Box], threshold: float = IOU_MATCH) -> int:
    """How many truth boxes a found box overlaps at IoU >= threshold, each found box matched once (greedy)."""
    pairs = sorted(((iou(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)), reverse=True)
    used_t: set[int] = set()
    used_f: set[int] = set()
    for score, i, j in pairs:
        if score < threshold:
            break
        if i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
    return len(used_t)


# --------------------------------------------------------------------------------------------
# The evaluation
# --------------------------------------------------------------------------------------------
# (case, frame, detections, reading, boxes in the frame, whose miss: "segmentation", "classifier" or "" unknown)
FailureSink = Callable[[StringCase, np.ndarray, list[Detection], str, tuple[Box, ...], str], None]


def evaluate_strings(
    recognizer: Recognizer,
    folder: str | Path,
    framed: bool = False,
    on_miss: FailureSink | None = None,
    progress: Callable[[int], Any] | None = None,
    cases: Sequence[StringCase] | None = None,
) -> StringsReport:
    """Read every image of the folder and score it. ``on_miss(case, frame, detections, reading, boxes, whose)``
    gets each miss (to draw it); ``progress(1)`` is called per image. Raises DataError for a folder that is not
    a set."""
    cases = load_cases(folder) if cases is None else cases
    results: list[StringResult] = []
    for case in cases:
        results.append(_read_one(recognizer, case, framed, on_miss))
        if progress is not None:
            progress(1)
    seconds = [r.seconds for r in results if r.reading is not None]
    return StringsReport(
        folder=str(folder),
        framed=framed,
        count=len(results),
        exact=sum(r.exact for r in results),
        right_length=sum(r.right_length for r in results),
        digits=sum(len(c.digits) for c in cases),
        edits=sum(r.edits for r in results),
        boxes=sum(r.boxes for r in results),
        boxes_found=sum(r.boxes_found for r in results),
        boxed=sum(r.boxed_right is not None for r in results),
        boxed_right=sum(bool(r.boxed_right) for r in results),
        boxed_right_missed=sum(bool(r.boxed_right) and not r.exact for r in results),
        boxed_missed=sum(r.boxed_right is not None and not r.exact for r in results),
        unreadable=sum(r.reading is None for r in results),
        median_ms=1000.0 * float(np.median(seconds)) if seconds else 0.0,
        results=results,
    )


def _read_one(recognizer: Recognizer, case: StringCase, framed: bool, on_miss: FailureSink | None) -> StringResult:
    try:
        image = read_image(case.file)
    except ImageError:
        return StringResult(str(case.file), case.text, None, edits=len(case.digits), boxes=len(case.boxes))
    frame, boxes = frame_image(image, case.boxes) if framed else (image, case.boxes)
    start = time.perf_counter()
    detections = recognizer.read(frame)
    seconds = time.perf_counter() - start
    reading = reading_string(detections)
    result = StringResult(
        file=str(case.file),
        truth=case.text,
        reading=reading,
        seconds=seconds,
        edits=edit_distance(reading.replace(" ", ""), case.digits),
        boxes=len(boxes),
        boxes_found=boxes_matched(boxes, [d.box for d in detections]) if boxes else 0,
        boxed_right=boxed_digits_right(recognizer, image, case),
    )
    if on_miss is not None and not result.exact:
        whose = {True: "segmentation", False: "classifier", None: ""}[result.boxed_right]
        on_miss(case, frame, detections, reading, boxes, whose)
    return result


def boxed_digits_right(recognizer: Recognizer, image: np.ndarray, case: StringCase) -> bool | None:
    """Whether the classifier reads every digit of ``case`` right, each cut out of ``image`` by its own box and
    read as the device reads a digit (``Recognizer.classify``: normalised as a camera crop, the second look, the
    non-digit decision); None where the case has no box per digit."""
    if not case.boxes or len(case.boxes) != len(case.digits) or not case.digits.isdigit():
        return None
    gray = to_gray(image)
    crops = [crop_box(gray, box) for box in case.boxes]
    if any(crop.size == 0 for crop in crops):
        return False
    classes, _ = recognizer.classify(crops, ink="dark")
    return bool(np.array_equal(classes, [int(d) for d in case.digits]))


# --------------------------------------------------------------------------------------------
# Pictures of the misses
# --------------------------------------------------------------------------------------------
TRUTH_COLOR = (255, 120, 0)  # BGR: the written digits' boxes, blue
MIN_PICTURE_HEIGHT = 240  # small scans are enlarged so that the labels stay readable


def miss_picture(frame: np.ndarray, detections: Sequence[Detection], truth: str, reading: str,
                 boxes: Sequence[Box], whose: str = "") -> np.ndarray:
    """The frame with what was read (green boxes, digits) and what is written (blue boxes), and a caption (with
    whose miss it is, the segmentation's or the classifier's, when known)."""
    from device.live.draw import annotate

    scale = max(1.0, MIN_PICTURE_HEIGHT / frame.shape[0])
    shown = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST) if scale > 1 else frame
    picture = annotate(shown, detections, None, scale_xy=(scale, scale))
    for x, y, w, h in boxes:
        cv2.rectangle(picture, (round(x * scale), round(y * scale)),
                      (round((x + w) * scale), round((y + h) * scale)), TRUTH_COLOR, 1)
    caption = np.full((28, picture.shape[1], 3), 255, np.uint8)
    text = f"truth {truth}  read {reading or '(nothing)'}" + (f"  ({whose})" if whose else "")
    cv2.putText(caption, text, (4, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([picture, caption])


def failure_writer(folder: Path) -> FailureSink:
    """An ``on_miss`` that writes each miss's picture into ``folder`` (created), whole or not at all.

    Raises OSError (from the call) when the folder cannot be created or a picture cannot be written.
    """
    folder.mkdir(parents=True, exist_ok=True)

    def write(case: StringCase, frame: np.ndarray, detections: list[Detection], reading: str,
              boxes: tuple[Box, ...], whose: str = "") -> None:
        picture = miss_picture(frame, detections, case.text, reading, boxes, whose)
        ok, encoded = cv2.imencode(".png", picture)
        if not ok:
            raise OSError(f"cannot encode the picture of {case.file}")
        write_atomic(folder / f"{case.file.stem}.png", encoded.tobytes())

    return write


__all__ = [
    "StringCase",
    "StringResult",
    "StringsReport",
    "boxes_matched",
    "edit_distance",
    "evaluate_strings",
    "failure_writer",
    "frame_image",
    "iou",
    "load_cases",
    "miss_picture",
    "paper_colour",
]
