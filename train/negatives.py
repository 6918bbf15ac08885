"""What is not one digit: synthetic examples of the reader's extra class ("non-digit").

The string reader (``device.recognition``) finds marks on paper and asks the classifier what each one is.
A classifier trained on digits alone must call every mark a digit, and it does so confidently: two
touching digits (``00`` of an amount) read as one ``0`` at 99.6 %, so the reader never cuts them, and the
``=`` or ``-`` written after an amount reads as a ``2`` or a ``5``. An extra class gives the network a
way to say "this is not one digit". Its examples, all made here from MNIST training digits and drawn
strokes (nothing of anyone else's):

- **touching digits**: two or three digits side by side, overlapping or touching, at slightly different
  sizes and heights (``touching_digits``);
- **marks**: dashes, wavy dashes, ``=`` signs, long underlines and strokes with a hook, the corner of a
  printed field (``drawn_mark``). Never a near-vertical stroke: that is a ``1``.

Each is drawn as ink, rendered on paper like a camera crop (``train.augment.on_paper``) and normalised by
``device``'s ``normalize_digit``, so it reaches the network exactly as a segmented mark does.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

from device.common.shapes import NUM_CLASSES
from device.recognition.preprocess import normalize_digit
from train.augment import AugmentConfig, on_paper, pen_and_focus

NON_DIGIT = NUM_CLASSES  # the extra class's index, after the ten digits (label NON_DIGIT_LABEL in the model's metadata)
TOUCHING_SHARE = 0.6  # of the non-digit examples: touching digits; the rest are drawn marks
NARROW = 0.4  # in digit heights: a digit narrower than this (a 1) touches its neighbour without overlapping
_SCALE = 2  # MNIST digits are composed at 56 px high, as camera_like draws them
_HEIGHT = 28 * _SCALE


def _digit_ink(digit: np.ndarray, height: float) -> np.ndarray:
    """An MNIST digit's ink (float 0..1), cut to its box and scaled to ``height`` pixels."""
    ink = digit.astype(np.float32) / 255.0
    rows, cols = np.flatnonzero(ink.max(axis=1) > 0.2), np.flatnonzero(ink.max(axis=0) > 0.2)
    if rows.size == 0:
        return np.zeros((max(1, round(height)), max(1, round(height / 2))), np.float32)
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    factor = height / ink.shape[0]
    size = (max(1, round(ink.shape[1] * factor)), max(1, round(height)))
    return cv2.resize(ink, size, interpolation=cv2.INTER_LINEAR)


def touching_digits(digits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two (or three) of ``digits`` (28x28 MNIST) side by side, touching or overlapping: ink, float 0..1."""
    count = 2 if rng.random() < 0.8 else 3
    picks = digits[rng.integers(0, len(digits), size=count)]
    inks = [_digit_ink(d, _HEIGHT * rng.uniform(0.8, 1.1)) for d in picks]
    offsets = [round(rng.uniform(-0.12, 0.12) * _HEIGHT) for _ in inks]
    widths = [ink.shape[1] for ink in inks]
    xs = [0]
    for previous, width in itertools.pairwise(widths):
        # Gap between neighbours in digit widths: negative overlaps (slanted or crowded writing).
        gap = rng.uniform(-0.35, 0.05) * min(previous, width)
        if min(previous, width) < NARROW * _HEIGHT:  # two 1s overlapping would make one thick 1: they touch
            gap = rng.uniform(-0.03, 0.05) * _HEIGHT
        xs.append(round(xs[-1] + previous + gap))
    top = -min(offsets)
    height = max(o + ink.shape[0] for o, ink in zip(offsets, inks, strict=True)) + top
    canvas = np.zeros((height, max(x + w for x, w in zip(xs, widths, strict=True))), np.float32)
    for x, offset, ink in zip(xs, offsets, inks, strict=True):
        y = offset + top
        region = canvas[y : y + ink.shape[0], x : x + ink.shape[1]]
        np.maximum(region, ink[: region.shape[0], : region.shape[1]], out=region)
    return canvas


def _stroke(canvas: np.ndarray, points: np.ndarray, width: int) -> None:
    cv2.polylines(canvas, [np.round(points).astype(np.int32)], False, 1.0, width, cv2.LINE_AA)


def drawn_mark(rng: np.random.Generator) -> np.ndarray:
    """A mark written beside digits that is none: dash, wavy dash, ``=``, long stroke with a hook, corner."""
    width = int(rng.integers(2, 8))
    length = rng.uniform(0.5, 2.0) * _HEIGHT
    tilt = np.deg2rad(rng.uniform(-20, 20))
    kind = rng.choice(["dash", "wave", "equals", "hooked", "corner"], p=[0.25, 0.15, 0.3, 0.15, 0.15])
    t = np.linspace(0.0, 1.0, 24)
    x = t * length
    y = np.zeros_like(t)
    strokes = []
    if kind == "wave":
        y = np.sin(t * np.pi * rng.uniform(1.0, 3.0) + rng.uniform(0, np.pi)) * rng.uniform(0.04, 0.12) * length
    y = y + rng.uniform(-0.04, 0.04) * length * t**2  # a hand's drift along the stroke
    strokes.append(np.stack([x, y], axis=1))
    if kind == "equals":
        gap = rng.uniform(0.15, 0.5) * _HEIGHT
        shorter = rng.uniform(0.6, 1.1)
        shift = rng.uniform(-0.15, 0.15) * length
        strokes.append(np.stack([x * shorter + shift, y + gap], axis=1))
    elif kind == "hooked":
        hook = rng.uniform(0.2, 0.5) * _HEIGHT
        end = strokes[0][-1]
        strokes[0] = np.vstack([strokes[0], end + np.array([rng.uniform(-0.3, 0.3) * hook, -hook])])
    elif kind == "corner":
        up = rng.uniform(0.6, 1.2) * _HEIGHT
        start = strokes[0][0] if rng.random() < 0.5 else strokes[0][-1]
        strokes.append(np.array([start, start + np.array([rng.uniform(-0.05, 0.05) * up, -up])]))
    rotation = np.array([[np.cos(tilt), -np.sin(tilt)], [np.sin(tilt), np.cos(tilt)]])
    strokes = [s @ rotation.T for s in strokes]
    every = np.vstack(strokes)
    low, high = every.min(axis=0) - width - 2, every.max(axis=0) + width + 2
    canvas = np.zeros((int(high[1] - low[1]) + 1, int(high[0] - low[0]) + 1), np.float32)
    for s in strokes:
        _stroke(canvas, s - low, width)
    return canvas


def non_digit(digits: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig | None = None) -> np.ndarray:
    """One non-digit example as the network sees a camera crop: 28x28 uint8 MNIST-style (bright ink)."""
    cfg = cfg or AugmentConfig()
    ink = touching_digits(digits, rng) if rng.random() < TOUCHING_SHARE else drawn_mark(rng)
    ink = pen_and_focus(ink, rng, cfg)
    margin = round(rng.uniform(0.05, 0.3) * _HEIGHT)
    ink = cv2.copyMakeBorder(ink, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=0.0)
    return normalize_digit(on_paper(ink, rng, cfg), ink="dark")


def non_digit_batch(digits: np.ndarray, count: int, rng: np.random.Generator,
                    cfg: AugmentConfig | None = None) -> np.ndarray:
    """``count`` non-digit examples, (count, 28, 28) uint8, made from ``digits`` (MNIST training digits)."""
    out = np.zeros((count, 28, 28), np.uint8)
    for i in range(count):
        out[i] = non_digit(digits, rng, cfg)
    return out
