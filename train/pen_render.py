"""Pen trajectories (on-line handwriting) drawn as the camera's crops look, then normalised by device/'s code.

A tablet records where the pen went, not what ink it left; a model that reads paper must see the strokes at
the widths real pens leave. Each digit is drawn on a large canvas with a width drawn from the spread measured on
the real cheque crops (ORAND-CAR-A development boxes, ``stroke_width`` of ``train/styles.py`` after
``normalize_digit``: 5/25/50/75/95th percentiles 1.9 / 2.2 / 2.7 / 3.7 / 3.8 px at 28x28; MNIST's are 1.9 / 2.7
/ 3.8 / 3.8 / 4.7), and the canvas goes through ``device.recognition.preprocess.normalize_digit`` exactly as a
camera crop does. Blur, paper, noise and JPEG come later, from the camera-like augmentation every training digit
gets (train/augment.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from device.recognition.preprocess import normalize_digit

_BOX = 96  # the longer side of the ink on the drawing canvas, in pixels
_SCALE = _BOX / 20.0  # canvas pixels per pixel of the 20x20 box that normalize_digit fits a digit into
# Pen widths drawn, at 28x28: log-normal, chosen so that ``stroke_width`` of the normalised results spreads as
# the real crops' does (drawn 1.5 measures 2.7 once antialiased and resized; tests/test_realsets.py checks it).
WIDTH_MEDIAN = 1.5
WIDTH_LOG_SPREAD = 0.3
WIDTH_RANGE = (0.9, 3.0)

Strokes = Sequence[np.ndarray]  # each (n, 2) float: x to the right, y downwards


def random_width(rng: np.random.Generator) -> float:
    """A pen width at 28x28 pixels, drawn from the spread of the real crops."""
    return float(np.clip(WIDTH_MEDIAN * np.exp(rng.normal(0.0, WIDTH_LOG_SPREAD)), *WIDTH_RANGE))


def draw_strokes(strokes: Strokes, width: float, slant: float = 0.0) -> np.ndarray | None:
    """The strokes drawn white on black (uint8) with a round pen ``width`` px wide at 28x28 scale; None when
    there is nothing to draw. ``slant`` shears x by that fraction of the height (a writer's lean)."""
    points = [np.asarray(s, np.float64).reshape(-1, 2) for s in strokes if len(s)]
    points = [p[np.isfinite(p).all(axis=1)] for p in points]
    points = [p for p in points if len(p)]
    if not points:
        return None
    joined = np.concatenate(points)
    bottom = joined[:, 1].max()
    if slant:
        points = [np.column_stack([p[:, 0] - slant * (p[:, 1] - bottom), p[:, 1]]) for p in points]
        joined = np.concatenate(points)
    low, high = joined.min(axis=0), joined.max(axis=0)
    extent = float(max(high - low)) or 1.0  # a dot: any scale draws it as one round pen mark
    thickness = max(1, round(width * _SCALE))
    scale = (_BOX - thickness) / extent
    margin = thickness
    size = np.ceil((high - low) * scale).astype(int) + 2 * margin + 1
    canvas = np.zeros((int(size[1]), int(size[0])), np.uint8)
    shift = 4  # cv2 draws with sub-pixel precision in fixed point
    for stroke in points:
        xy = np.rint(((stroke - low) * scale + margin) * (1 << shift)).astype(np.int32)
        if len(xy) == 1:
            xy = np.vstack([xy, xy])
        cv2.polylines(canvas, [xy.reshape(-1, 1, 2)], False, 255, thickness, cv2.LINE_AA, shift)
    return canvas


def render_pen_digit(strokes: Strokes, rng: np.random.Generator) -> np.ndarray:
    """One pen digit -> (28, 28) uint8 MNIST-style digit (bright ink), at a random real-pen width and a slight
    random slant, normalised as a camera crop is. An empty digit gives an all-black image."""
    canvas = draw_strokes(strokes, random_width(rng), slant=float(rng.normal(0.0, 0.08)))
    if canvas is None:
        return np.zeros((28, 28), np.uint8)
    return normalize_digit(canvas, ink="bright")
