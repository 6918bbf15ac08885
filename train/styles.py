"""Writing styles MNIST lacks, made from MNIST digits and from drawn strokes (no data of anyone else's).

MNIST's writers were American: their 1 is a bare stroke, their 7 uncrossed, their 4 mostly closed. Real
numbers written elsewhere (the cheque amounts of orand_car_a_dev, meter readings) use the continental 1
with a long up-stroke and often a base, the crossed 7 (some with a short top over a long bar), the open 4
(its bar often near the baseline), the 9 with a straight stem or one that leaves the loop at its left (a
rho), and the 2 with a loop, in strokes from a fine pen to a marker. Two sources of those styles, both synthetic:

- **Edits of MNIST digits** that keep their writer's hand: a flag and a base added to a 1, a bar across
  the stem of a 7 (``add_flag``, ``add_base``, ``cross_seven``).
- **Drawn glyphs**: every digit in several styles as smooth strokes through jittered control points,
  slanted, stretched and drawn with a random pen width (``draw_glyph``).

``style_digit`` picks one of them for a digit's class; ``restyle_batch`` replaces a share of a batch by
styled digits of the same classes. Every output is a 28x28 uint8 MNIST-style digit (bright ink, fit
into 20x20, centred by mass, through ``device``'s ``normalize_digit``), so the camera-like augmentation
and the paper's preprocessing treat it like any MNIST digit. Stroke width (``change_stroke``) and aspect
ratio (``stretch``) apply to any digit.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from device.recognition.preprocess import normalize_digit

_SIZE = 56  # glyphs and edits are drawn at twice MNIST's resolution and normalised down
Stroke = np.ndarray  # (K, 2) float points in a unit box, x right, y down


# ---------------------------------------------------------------- edits of MNIST digits


def _ink_box(ink: np.ndarray, level: float = 0.3) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the ink, bottom and right exclusive; None on a blank image."""
    rows = np.flatnonzero(ink.max(axis=1) > level)
    cols = np.flatnonzero(ink.max(axis=0) > level)
    if rows.size == 0 or cols.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def stroke_width(ink: np.ndarray) -> float:
    """The pen width of a digit in pixels: twice the typical distance from the strokes' middle to their edge."""
    binary = (ink > 0.4).astype(np.uint8)
    if not binary.any():
        return 1.0
    distance = cv2.distanceTransform(binary, cv2.DIST_L2, 3)
    return max(1.0, 2.0 * float(np.percentile(distance[binary > 0], 90)))


def _ink_middle(rows: np.ndarray, default: float) -> float:
    """The mean column of the ink in these rows (where a stroke to add starts), or ``default`` without ink."""
    cols = np.flatnonzero(rows.max(axis=0) > 0.3) if rows.size else np.empty(0)
    return float(cols.mean()) if cols.size else default


def _upscale(digit: np.ndarray) -> np.ndarray:
    return cv2.resize(digit.astype(np.float32) / 255.0, (_SIZE, _SIZE), interpolation=cv2.INTER_LINEAR)


def _line(ink: np.ndarray, start: tuple[float, float], end: tuple[float, float], width: float) -> None:
    """Draw an anti-aliased line of ``width`` pixels into the float ink image (in place, max-blended)."""
    shift = 4  # sub-pixel end points
    scale = 1 << shift
    layer = np.zeros_like(ink)
    cv2.line(layer, (round(start[0] * scale), round(start[1] * scale)), (round(end[0] * scale), round(end[1] * scale)),
             1.0, max(1, round(width)), cv2.LINE_AA, shift)
    np.maximum(ink, layer, out=ink)


Point = tuple[float, float]
Box4 = tuple[int, int, int, int]  # top, bottom, left, right of the ink (bottom and right exclusive)


def _with_stroke(digit: np.ndarray, rng: np.random.Generator,
                 place: Callable[[np.ndarray, Box4, np.random.Generator], tuple[Point, Point]]) -> np.ndarray:
    """The digit with one pen stroke added where ``place`` (given the upscaled ink and its box) puts it, in the
    digit's own pen width; the digit as it was when it has no ink."""
    ink = _upscale(digit)
    box = _ink_box(ink)
    if box is None:
        return digit
    start, end = place(ink, box, rng)
    _line(ink, start, end, stroke_width(ink) * rng.uniform(0.8, 1.1))
    return normalize_digit(ink, ink="bright")


def _flag(ink: np.ndarray, box: Box4, rng: np.random.Generator) -> tuple[Point, Point]:
    top, bottom, _, _ = box
    x0 = _ink_middle(ink[top : top + 3], _SIZE / 2)
    length = (bottom - top) * rng.uniform(0.3, 0.9)
    angle = np.deg2rad(rng.uniform(35, 70))  # below the horizontal (flatter, it is the bar of a 7): up to a caret
    return (x0, top + 1), (x0 - length * np.cos(angle), top + length * np.sin(angle))


def _base(ink: np.ndarray, box: Box4, rng: np.random.Generator) -> tuple[Point, Point]:
    top, bottom, _, _ = box
    x0 = _ink_middle(ink[bottom - 3 : bottom], _SIZE / 2)
    half = (bottom - top) * rng.uniform(0.18, 0.35)
    y = bottom - 1 + rng.uniform(-1.0, 1.0)
    return (x0 - half, y + rng.uniform(-1.5, 1.5)), (x0 + half, y)


def _bar(ink: np.ndarray, box: Box4, rng: np.random.Generator) -> tuple[Point, Point]:
    top, bottom, left, right = box
    y = top + (bottom - top) * rng.uniform(0.45, 0.62)
    x0 = _ink_middle(ink[int(y) : int(y) + 1], (left + right) / 2)
    half = max(right - left, (bottom - top) * 0.5) * rng.uniform(0.2, 0.35)
    tilt = rng.uniform(-0.1, 0.1) * half
    return (x0 - half, y + tilt), (x0 + half, y - tilt)


def add_flag(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 1 -> the continental 1: an up-stroke from the top of the stem down to the left."""
    return _with_stroke(digit, rng, _flag)


def add_base(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 1 -> a 1 standing on a horizontal base stroke."""
    return _with_stroke(digit, rng, _base)


def cross_seven(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 7 -> a crossed 7: a short bar across the stem a little below the middle."""
    return _with_stroke(digit, rng, _bar)


def change_stroke(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Thin the strokes towards a fine pen or thicken them towards a marker (at twice the resolution)."""
    ink = _upscale(digit)
    radius = int(rng.integers(1, 4))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    if rng.random() < 0.5 and stroke_width(ink) > 2 * radius + 2:
        ink = cv2.erode(ink, kernel)
    else:
        ink = cv2.dilate(ink, kernel)
    return normalize_digit(ink, ink="bright")


def stretch(digit: np.ndarray, rng: np.random.Generator, low: float = 0.55, high: float = 1.5) -> np.ndarray:
    """Change the width-to-height ratio by a factor in [low, high] (narrow 1s, wide flat 0s)."""
    ink = _upscale(digit)
    factor = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    width = max(1, round(_SIZE * factor))
    return normalize_digit(cv2.resize(ink, (width, _SIZE), interpolation=cv2.INTER_LINEAR), ink="bright")


# ---------------------------------------------------------------- drawn glyphs


def _arc(cx: float, cy: float, rx: float, ry: float, start_deg: float, end_deg: float, n: int = 16) -> Stroke:
    """Points on an ellipse from start to end angle (degrees, 0 = right, 90 = down: image coordinates)."""
    t = np.deg2rad(np.linspace(start_deg, end_deg, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _poly(*points: tuple[float, float]) -> Stroke:
    return np.asarray(points, dtype=np.float64)


def _join(*parts: Stroke) -> Stroke:
    return np.concatenate(parts, axis=0)


def _two_with_a_closed_top(r: np.random.Generator, loop: bool) -> list[Stroke]:
    """A 2 whose top arc starts low on the left, so that the diagonal nearly closes it into a loop, with a plain
    base or a loop where it turns into it: ORAND's writers' 2 that the reader took for a 9 (or an 8)."""
    top = _arc(0.5, 0.3, r.uniform(0.28, 0.36), r.uniform(0.22, 0.3), r.uniform(100, 150), 400)
    end = (float(top[-1, 0]), float(top[-1, 1]))
    if not loop:
        return [_join(top, _poly(end, (0.15, 0.95), (0.95, r.uniform(0.88, 0.97))))]
    ring = _arc(r.uniform(0.3, 0.42), r.uniform(0.78, 0.86), r.uniform(0.15, 0.3), r.uniform(0.1, 0.18), -60, -390, 18)
    return [_join(top, ring, _poly((float(ring[-1, 0]) + 0.05, float(ring[-1, 1])), (0.95, r.uniform(0.82, 0.97))))]


# Each style: a function of a random generator giving the glyph's strokes in a unit box. The generator
# varies proportions within a style; the jitter, slant and pen come later and are shared.
GLYPHS: dict[int, dict[str, Callable[[np.random.Generator], list[Stroke]]]] = {
    0: {
        "oval": lambda r: [_arc(0.5, 0.5, r.uniform(0.3, 0.45), 0.48, -90 + r.uniform(-20, 20), 290, 32)],
        "flat": lambda r: [_arc(0.5, 0.65, 0.45, r.uniform(0.18, 0.3), -100, 275, 32)],
    },
    1: {
        "stroke": lambda r: [_poly((0.5, 0.0), (0.5 + r.uniform(-0.05, 0.05), 1.0))],
        "flag": lambda r: [_poly((0.5 - r.uniform(0.2, 0.4), r.uniform(0.25, 0.5)), (0.55, 0.0), (0.5, 1.0))],
        "flag and base": lambda r: [_poly((0.5 - r.uniform(0.2, 0.35), r.uniform(0.2, 0.45)), (0.55, 0.0), (0.5, 1.0)),
                                    _poly((0.5 - r.uniform(0.2, 0.3), 1.0), (0.5 + r.uniform(0.2, 0.3), 1.0))],
        "hook": lambda r: [_poly((0.4, 0.12), (0.55, 0.0), (0.52, 1.0))],
        # the up-stroke of many Latin American and European hands starts near the baseline: a caret with one
        # upright leg
        "long flag": lambda r: [_poly((r.uniform(0.0, 0.25), r.uniform(0.55, 0.9)), (0.62, 0.0),
                                      (0.6 + r.uniform(-0.05, 0.05), 1.0))],
        "long flag and base": lambda r: [_poly((r.uniform(0.0, 0.2), r.uniform(0.5, 0.8)), (0.62, 0.0), (0.6, 1.0)),
                                         _poly((r.uniform(0.25, 0.4), 1.0), (r.uniform(0.8, 0.95), 1.0))],
    },
    2: {
        "plain": lambda r: [_join(_arc(0.5, 0.3, 0.35, 0.28, 200, 380),
                                  _poly((0.8, 0.45), (0.12, 1.0), (0.9, 1.0)))],
        "loop": lambda r: [_join(_arc(0.5, 0.3, 0.35, 0.28, 200, 380), _poly((0.8, 0.45), (0.35, 0.8)),
                                 _arc(0.3, 0.85, r.uniform(0.1, 0.18), r.uniform(0.08, 0.14), -45, -360, 14),
                                 _poly((0.4, 0.95), (0.92, 0.93)))],
        "z": lambda r: [_poly((0.12, 0.05), (0.85, 0.05), (0.12, 1.0), (0.9, 1.0))],
        "closed top": lambda r: _two_with_a_closed_top(r, loop=False),
        "closed top, loop": lambda r: _two_with_a_closed_top(r, loop=True),
        # a round top nearly closed on itself and a wide loop where the stroke turns into the base: the 2
        # that MNIST-trained readers take for a 9 or an 8
        "round top, big loop": lambda r: [_join(_arc(0.5, 0.3, 0.36, 0.3, r.uniform(150, 190), 400),
                                                _poly((0.78, 0.5), (0.3, 0.8)),
                                                _arc(0.28, 0.82, r.uniform(0.18, 0.3), r.uniform(0.12, 0.2), -40, -350,
                                                     16),
                                                _poly((0.42, 0.93), (0.95, 0.9)))],
    },
    3: {
        "round": lambda r: [_join(_arc(0.5, 0.26, 0.32, 0.25, 200, 450), _arc(0.5, 0.74, 0.36, 0.26, 270, 520))],
        "flat top": lambda r: [_join(_poly((0.15, 0.02), (0.85, 0.02), (0.45, 0.42)),
                                     _arc(0.5, 0.7, 0.36, 0.29, 270, 520))],
    },
    4: {
        "closed": lambda r: [_poly((0.72, 1.0), (0.72, 0.0), (0.05, 0.68), (0.95, 0.68))],
        "open": lambda r: [_poly((0.3, 0.0), (0.12, r.uniform(0.5, 0.65)), (0.92, r.uniform(0.55, 0.65))),
                           _poly((0.68, r.uniform(0.1, 0.35)), (0.66, 1.0))],
        "open tall": lambda r: [_poly((0.2, 0.0), (0.15, 0.55), (0.85, 0.55)), _poly((0.72, 0.0), (0.72, 1.0))],
        "one stroke": lambda r: [_poly((0.35, 0.0), (0.1, 0.62), (0.85, 0.6), (0.7, r.uniform(0.2, 0.4)),
                                       (0.66, 1.0))],
        "short stem": lambda r: [_poly((0.3, 0.0), (0.08, 0.7), (0.95, 0.68)),
                                 _poly((0.62, r.uniform(0.3, 0.5)), (0.6, 1.0))],
        # one stroke: down to the left, along the bar, and back up and down through it as a short curved stem
        "looped stem": lambda r: [_poly((0.35, 0.0), (0.1, 0.62), (0.9, r.uniform(0.55, 0.65)), (0.72, 0.3),
                                        (0.6, 0.6), (0.62, 1.0))],
        # the bar near the baseline and a short stem crossing it: read as a 6 or a b when MNIST's 4s are all
        # one knows
        "low bar": lambda r: [_poly((r.uniform(0.25, 0.45), 0.0), (0.1, r.uniform(0.72, 0.85)), (0.95, 0.78)),
                              _poly((r.uniform(0.55, 0.7), r.uniform(0.3, 0.55)), (0.6, 1.0))],
    },
    5: {
        "plain": lambda r: [_join(_poly((0.25, 0.05), (0.2, 0.45)), _arc(0.48, 0.68, 0.34, 0.3, 230, 500)),
                            _poly((0.25, 0.05), (0.85, 0.02))],
        "one stroke": lambda r: [_join(_poly((0.85, 0.02), (0.25, 0.05), (0.2, 0.45)),
                                       _arc(0.48, 0.68, 0.34, 0.3, 230, 500))],
    },
    6: {
        "plain": lambda r: [_join(_arc(0.75, 0.45, 0.55, 0.45, 250, 180, 10),
                                  _arc(0.5, 0.72, 0.3, 0.27, 180, 540, 24))],
    },
    7: {
        "plain": lambda r: [_poly((0.08, 0.05), (0.92, 0.05), (0.38, 1.0))],
        "crossed": lambda r: [_poly((0.08, 0.05), (0.92, 0.05), (0.4, 1.0)), _poly((0.35, 0.52), (0.9, 0.5))],
        "hooked": lambda r: [_poly((0.05, 0.22), (0.12, 0.03), (0.92, 0.05), (0.45, 1.0))],
        "slanted crossed": lambda r: [_poly((0.05, 0.08), (0.95, 0.02), (0.25, 1.0)), _poly((0.2, 0.55), (0.75, 0.5))],
        # a short top and a long bar across the stem: a cross with a hook, read as a 4 without it
        "short top, long bar": lambda r: [_poly((r.uniform(0.42, 0.55), r.uniform(0.05, 0.15)), (0.72, 0.0),
                                                (0.5, 1.0)),
                                          _poly((0.05, r.uniform(0.4, 0.55)), (0.95, r.uniform(0.38, 0.5)))],
        "hooked crossed": lambda r: [_poly((0.05, 0.22), (0.12, 0.03), (0.92, 0.05), (0.45, 1.0)),
                                     _poly((0.4, 0.52), (0.92, 0.5))],
    },
    8: {
        "loops": lambda r: [_join(_arc(0.5, 0.27, 0.3, 0.25, 90, 450), _arc(0.5, 0.74, 0.36, 0.25, -90, 270))],
    },
    9: {
        "straight stem": lambda r: [_join(_arc(0.45, 0.27, 0.33, 0.26, 0, 360 + 10), _poly((0.78, 0.3), (0.76, 1.0)))],
        "curved stem": lambda r: [_join(_arc(0.45, 0.27, 0.33, 0.26, 0, 370), _poly((0.78, 0.3), (0.72, 0.8)),
                                        _arc(0.5, 0.8, 0.22, 0.18, 0, 150, 8))],
        "open loop": lambda r: [_join(_arc(0.45, 0.28, 0.33, 0.26, -20, 300), _poly((0.76, 0.15), (0.72, 1.0)))],
        "stem to the left": lambda r: [_join(_arc(0.5, 0.28, 0.3, 0.26, -10, 355), _poly((0.8, 0.3), (0.6, 0.85),
                                                                                       (0.3, 1.0)))],
        "tail to the left": lambda r: [_join(_arc(0.5, 0.27, 0.32, 0.25, -5, 360), _poly((0.82, 0.3), (0.72, 0.75)),
                                             _arc(0.45, 0.72, 0.28, 0.25, 15, 140, 8))],
        # the stem leaves the loop at its lower left, straight (a rho) or curling right at the foot
        "stem from the left": lambda r: [_join(_arc(0.55, 0.28, 0.3, 0.26, 130, 490),
                                               _poly((0.36, 0.48), (0.34 + r.uniform(-0.08, 0.1), 1.0)))],
        "curled foot": lambda r: [_join(_arc(0.55, 0.28, 0.3, 0.26, 130, 490),
                                        _poly((0.36, 0.48), (0.32, 0.85), (0.5, 1.0), (r.uniform(0.65, 0.85), 0.93)))],
        # the stem leaves the loop at its lower left and runs down to the right, as an R's leg: read as an 8
        "leg to the right": lambda r: [_join(_arc(0.55, 0.28, 0.3, 0.26, 130, 490),
                                             _poly((0.36, 0.48), (r.uniform(0.55, 0.85), 1.0)))],
        "small loop": lambda r: [_join(_arc(0.55, 0.2, r.uniform(0.2, 0.3), 0.18, 0, 360), _poly((0.8, 0.2),
                                                                                                 (0.7, 1.0)))],
    },
}


def _smooth(points: Stroke, per_segment: int = 6) -> Stroke:
    """A Catmull-Rom spline through the points: pen strokes have no corners where the hand did not stop."""
    if len(points) < 3:
        return points
    padded = np.vstack([points[0], points, points[-1]])
    t = np.linspace(0.0, 1.0, per_segment, endpoint=False)[:, None]
    out = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1], padded[i], padded[i + 1], padded[i + 2]
        out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3))
    out.append(points[-1:])
    return np.vstack(out)


def draw_glyph(digit: int, rng: np.random.Generator, style: str | None = None) -> np.ndarray:
    """A drawn ``digit`` (one of its GLYPHS styles, random unless named) as a 28x28 MNIST-style uint8 image."""
    styles = GLYPHS[digit]
    name = style if style is not None else list(styles)[int(rng.integers(len(styles)))]
    strokes = styles[name](rng)
    jitter = rng.uniform(0.01, 0.04)
    slant = rng.uniform(-0.15, 0.5)  # most hands lean right: x moves right as y goes up
    aspect = float(np.exp(rng.uniform(np.log(0.6), np.log(1.1)))) * (0.35 if digit == 1 and name == "stroke" else 1.0)
    box = _SIZE * 0.7
    ink = np.zeros((_SIZE, _SIZE), np.float32)
    width = float(rng.uniform(1.5, 7.0))
    shift = 4
    for stroke in strokes:
        points = stroke + rng.normal(0.0, jitter, size=stroke.shape)
        points = _smooth(points) if len(points) > 8 else points  # arcs are already dense
        x = (points[:, 0] - 0.5) * aspect + (0.5 - points[:, 1]) * slant
        y = points[:, 1] - 0.5
        pixels = np.stack([_SIZE / 2 + x * box, _SIZE / 2 + y * box], axis=1)
        cv2.polylines(ink, [np.round(pixels * (1 << shift)).astype(np.int32)], False, 1.0,
                      max(1, round(width)), cv2.LINE_AA, shift)
    return normalize_digit(ink, ink="bright")


# ---------------------------------------------------------------- choosing a style


# Of a class's restyled digits, the share drawn as glyphs (the rest are edits of its MNIST digit): more for the
# classes whose real confusions are shapes MNIST has few of (the 2 with a closed top, the 9 with a leg).
GLYPH_SHARE = {2: 0.6, 9: 0.6}


def style_digit(digit: np.ndarray, label: int, rng: np.random.Generator) -> np.ndarray:
    """One styled version of an MNIST ``digit`` of class ``label``: an edit of it or a drawn glyph."""
    choice = rng.random()
    if label == 1 and choice < 0.5:
        styled = add_flag(digit, rng)
        return add_base(styled, rng) if rng.random() < 0.3 else styled
    if label == 7 and choice < 0.5:
        return cross_seven(digit, rng)
    if choice < 1.0 - GLYPH_SHARE.get(label, 0.35) and label not in (1, 7):
        return (stretch if rng.random() < 0.5 else change_stroke)(digit, rng)
    return draw_glyph(label, rng)


# How often each class is restyled, relative to the batch share: the classes whose other styles MNIST
# lacks most (1, 7, 4, 9, 2) most often.
CLASS_WEIGHT = np.array([0.6, 2.0, 1.6, 0.4, 1.6, 0.6, 0.4, 2.0, 0.4, 1.6])


def restyle_batch(digits: np.ndarray, labels: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """Replace about ``share`` of the digits (weighted by class, CLASS_WEIGHT) by styled ones of the same class."""
    out = np.array(digits, dtype=np.uint8, copy=True)
    if share <= 0:
        return out
    weight = CLASS_WEIGHT[np.asarray(labels, np.int64)] / CLASS_WEIGHT.mean()
    chosen = rng.random(len(out)) < np.clip(share * weight, 0.0, 1.0)
    for i in np.flatnonzero(chosen):
        out[i] = style_digit(out[i], int(labels[i]), rng)
    return out


def sample_sheet(digits: np.ndarray, labels: np.ndarray, rng: np.random.Generator, per_row: int = 16) -> np.ndarray:
    """A picture of the styles for the training report: one row per digit, first every drawn glyph style,
    then styled versions of that digit's MNIST examples (uint8, bright ink, 1 px gray grid)."""
    rows = []
    for digit in range(10):
        tiles = [draw_glyph(digit, rng, name) for name in GLYPHS[digit]]
        examples = digits[np.asarray(labels) == digit]
        for example in examples[: max(0, per_row - len(tiles))]:
            tiles.append(style_digit(example, digit, rng))
        tiles += [np.zeros((28, 28), np.uint8)] * (per_row - len(tiles))
        rows.append(np.hstack([np.pad(tile, 1, constant_values=90) for tile in tiles[:per_row]]))
    return np.vstack(rows)
