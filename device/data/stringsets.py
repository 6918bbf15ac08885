"""Labelled sets of handwritten numbers (digit strings): a folder of images with ``labels.csv`` and, optionally,
``digit_boxes.csv``, the layout of ``../shared/data/orand_car_a_dev`` (and of generated scene sets).

- ``labels.csv``: a header, then ``file,digits`` (the digits read left to right, separators left out); more
  columns are ignored. The digits column may be called ``digits_left_to_right`` or ``text``.
- ``digit_boxes.csv`` (optional): ``file,digit,x,y,w,h``, one row per digit, boxes in pixels.

``digit_crops`` cuts every box out of its image and normalises it exactly as ``device`` normalises a camera
crop (``device.recognition.preprocess.normalize_digit``, dark ink, as the frame reader reads every page), so a
digit set made from strings is read with the same pixels as the live reader would see. (Guessing the polarity
from each tight box's border filled 40 of ORAND's 2,788 digits, mostly 0s whose box edge runs through darker
printed background: docs/log/2026-12.md.) It keeps which image each digit came from (``groups``): split by
image, never by digit, so one writer's number is never on both sides of a split.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.common.errors import first_line
from device.common.images import ImageError, read_image
from device.data.digitsets import DataError, DigitSet
from device.recognition.preprocess import normalize_digit, to_gray

Box = tuple[int, int, int, int]  # x, y, width, height
DIGITS_COLUMNS = ("digits_left_to_right", "digits", "text")


@dataclass(frozen=True)
class StringSample:
    file: Path
    digits: str  # what is written, digits only, left to right
    boxes: tuple[Box, ...] = ()  # one per digit in reading order, when the set has digit_boxes.csv


@dataclass(frozen=True)
class StringSet:
    root: Path
    samples: tuple[StringSample, ...]

    @property
    def has_boxes(self) -> bool:
        return any(sample.boxes for sample in self.samples)

    def __len__(self) -> int:
        return len(self.samples)


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: cannot read it ({first_line(err)})") from None


def load_string_set(folder: str | Path) -> StringSet:
    """The samples of a strings folder, in ``labels.csv`` order. Raises DataError with a one-line message."""
    root = Path(folder)
    labels = root / "labels.csv"
    if not root.is_dir():
        raise DataError(f"{root}: not a folder (want a folder with labels.csv: file,digits_left_to_right)")
    if not labels.is_file():
        raise DataError(f"{root}: no labels.csv (want lines file,digits_left_to_right, with a header)")
    rows = _rows(labels)
    column = next((name for name in DIGITS_COLUMNS if rows and name in rows[0]), None)
    if not rows or "file" not in rows[0] or column is None:
        raise DataError(f"{labels}: want a header with 'file' and one of {', '.join(DIGITS_COLUMNS)}")
    boxes: dict[str, list[tuple[int, Box]]] = {}
    boxes_file = root / "digit_boxes.csv"
    if boxes_file.is_file():
        for row in _rows(boxes_file):
            try:
                box = (int(row["x"]), int(row["y"]), int(row["w"]), int(row["h"]))
            except (KeyError, TypeError, ValueError):
                raise DataError(f"{boxes_file}: want columns file,digit,x,y,w,h with whole numbers") from None
            boxes.setdefault(row["file"], []).append((box[0], box))
    samples = []
    for row in rows:
        digits = "".join(ch for ch in (row[column] or "") if ch.isdigit())
        in_order = tuple(box for _, box in sorted(boxes.get(row["file"], []), key=lambda item: item[0]))
        samples.append(StringSample(_image_path(root, row["file"]), digits, in_order))
    return StringSet(root, tuple(samples))


def _image_path(root: Path, name: str) -> Path:
    """``name`` relative to the folder, or to its ``images/`` subfolder."""
    direct = root / name
    return direct if direct.exists() or not (root / "images" / name).exists() else root / "images" / name


def read_gray(sample: StringSample) -> np.ndarray:
    """The sample's image in grayscale uint8. Raises DataError."""
    try:
        return to_gray(read_image(sample.file))
    except ImageError as err:
        raise DataError(first_line(err)) from None


def crop_box(gray: np.ndarray, box: Box) -> np.ndarray:
    """The box's pixels, clipped to the image (a box off the edge by a pixel or two is common)."""
    x, y, w, h = box
    top, left = max(0, y), max(0, x)
    return gray[top:max(top, min(gray.shape[0], y + h)), left:max(left, min(gray.shape[1], x + w))]


@dataclass(frozen=True)
class DigitCrops:
    digits: DigitSet  # (N, 28, 28) uint8, MNIST-style, normalised as camera crops are
    groups: np.ndarray  # (N,) index into the samples: which image each digit came from


def digit_crops(strings: StringSet, samples: Iterable[int] | None = None) -> DigitCrops:
    """Every boxed digit of the chosen samples (all by default), normalised as a camera crop.

    Samples whose box count differs from their digit count are skipped: their labels cannot be matched.
    """
    images: list[np.ndarray] = []
    labels: list[int] = []
    groups: list[int] = []
    chosen: Sequence[int] = range(len(strings)) if samples is None else list(samples)
    for index in chosen:
        sample = strings.samples[index]
        if not sample.boxes or len(sample.boxes) != len(sample.digits):
            continue
        gray = read_gray(sample)
        for box, digit in zip(sample.boxes, sample.digits, strict=True):
            crop = crop_box(gray, box)
            if crop.size == 0:
                continue
            images.append(normalize_digit(crop, ink="dark"))
            labels.append(int(digit))
            groups.append(index)
    if not images:
        raise DataError(f"{strings.root}: no digit boxes to cut (digit_boxes.csv missing or empty)")
    digits = DigitSet(np.stack(images).astype(np.uint8), np.asarray(labels, np.int64), "normalized")
    return DigitCrops(digits, np.asarray(groups, np.int64))


def split_by_image(count: int, held_out: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample indices (training, held out), a seeded split of whole images."""
    order = np.random.default_rng(seed).permutation(count)
    cut = count - round(count * held_out)
    return np.sort(order[:cut]), np.sort(order[cut:])
