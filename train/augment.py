"""Camera-like augmentation for the robust recipe.

Each MNIST digit is re-rendered the way a Pi camera would see a digit on paper: a random affine
warp (rotation, scale, shear) after an elastic distortion, thinner or thicker strokes, blur, dark ink on paper of uneven
brightness with sensor noise, and an imperfect crop (loose, tight, off-centre, or with a fragment of
a neighbouring stroke). The result then goes through ``device.recognition.preprocess.normalize_digit`` exactly
as a segmented camera crop does, so the network trains on what the device will feed it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from device.recognition.preprocess import normalize_digit
from train.styles import restyle_batch

_UPSCALE = 2  # work at 56x56 so stroke-width changes and warps stay smooth
_CANVAS = 84  # room for rotation and scale without clipping the digit


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random camera-like distortions (all uniform)."""

    rotation_deg: float = 12.0
    scale: tuple[float, float] = (0.85, 1.15)
    shear: float = 0.2
    stroke_change_prob: float = 0.5  # thin or thicken strokes with this probability
    blur_sigma: tuple[float, float] = (0.0, 1.2)
    noise_std: tuple[float, float] = (0.0, 12.0)  # gray levels, after rendering on paper
    paper_level: tuple[float, float] = (150.0, 250.0)
    ink_contrast: tuple[float, float] = (70.0, 200.0)  # paper minus ink
    gradient: float = 40.0  # largest brightness change across the crop
    crop_margin: tuple[float, float] = (-0.06, 0.35)  # fraction of the digit's size, per side
    neighbour_prob: float = 0.1  # a stroke of the next digit pokes into the crop
    # Another digit written close beside this one, a piece of it inside this digit's box, as where real digits
    # touch or overlap (a third of the real cheque crops the model missed): off unless a recipe sets it.
    neighbour_digit_prob: float = 0.0
    neighbour_overlap: tuple[float, float] = (0.0, 0.35)  # how far it reaches in (times the box width, or half height)
    # Elastic distortion (Simard et al. 2003), in 28x28 pixels: a random displacement field smoothed
    # by a Gaussian of elastic_sigma and scaled by elastic_alpha; it mimics how hands vary a shape.
    elastic_prob: float = 0.5  # of camera-like digits
    clean_elastic_prob: float = 0.7  # of the digits otherwise left as MNIST drew them
    elastic_alpha: float = 34.0
    elastic_sigma: float = 4.0
    # Printed security patterns behind the ink (cheques, forms) and a JPEG round trip; off in the robust
    # recipe, whose data stay as they were.
    pattern_prob: float = 0.0
    pattern_contrast: tuple[float, float] = (10.0, 70.0)  # gray levels the pattern's lines take off the paper
    jpeg_prob: float = 0.0
    jpeg_quality: tuple[int, int] = (30, 90)


def _random_affine(rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    angle = np.deg2rad(rng.uniform(-cfg.rotation_deg, cfg.rotation_deg))
    scale = rng.uniform(*cfg.scale)
    shear = rng.uniform(-cfg.shear, cfg.shear)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    linear = scale * rot @ np.array([[1.0, shear], [0.0, 1.0]])
    centre = np.array([_CANVAS / 2, _CANVAS / 2])
    offset = centre - linear @ centre
    return np.hstack([linear, offset[:, None]]).astype(np.float32)


def elastic_distort(image: np.ndarray, rng: np.random.Generator, alpha: float, sigma: float) -> np.ndarray:
    """Warp ``image`` by a smooth random displacement field; alpha and sigma are in units of
    ``image.shape[0] / 28`` pixels, so the same setting distorts a 28x28 or an upscaled digit alike."""
    h, w = image.shape
    unit = h / 28.0
    field = rng.uniform(-1.0, 1.0, size=(2, h, w)).astype(np.float32)
    dx = cv2.GaussianBlur(field[0], (0, 0), sigma * unit) * np.float32(alpha * unit)
    dy = cv2.GaussianBlur(field[1], (0, 0), sigma * unit) * np.float32(alpha * unit)
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, grid_x + dx, grid_y + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _ink_box(ink: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the ink, or None without any."""
    rows = np.flatnonzero(ink.max(axis=1) > 0.3)
    cols = np.flatnonzero(ink.max(axis=0) > 0.3)
    if rows.size == 0 or cols.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _ink_crop(ink: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig,
              box: tuple[int, int, int, int] | None = None,
              margin: tuple[float, float] | None = None) -> np.ndarray:
    """Cut a window around the ink (or around ``box``) with random, possibly negative, margins."""
    box = box or _ink_box(ink)
    if box is None:
        return ink
    top, bottom, left, right = box
    h, w = bottom - top, right - left
    size = max(h, w)
    margins = rng.uniform(*(margin or cfg.crop_margin), size=4) * size
    # Never cut more than a sliver off a thin digit such as "1": clip negative margins by width.
    margins[2:] = np.maximum(margins[2:], cfg.crop_margin[0] * w)
    y0 = int(np.clip(round(top - margins[0]), 0, ink.shape[0] - 1))
    y1 = int(np.clip(round(bottom + margins[1]), y0 + 1, ink.shape[0]))
    x0 = int(np.clip(round(left - margins[2]), 0, ink.shape[1] - 1))
    x1 = int(np.clip(round(right + margins[3]), x0 + 1, ink.shape[1]))
    return ink[y0:y1, x0:x1]


def _add_neighbour_stroke(ink: np.ndarray, rng: np.random.Generator) -> None:
    """Draw a short stroke touching the left or right edge, as a neighbouring digit would."""
    h, w = ink.shape
    x = 0 if rng.random() < 0.5 else w - 1
    y0, y1 = sorted(rng.integers(0, h, size=2))
    thickness = max(1, round(w / 14))
    cv2.line(ink, (x, int(y0)), (x + int(rng.integers(-2, 3)), int(y1)), 1.0, thickness)


def _with_neighbour(ink: np.ndarray, neighbour: np.ndarray, box: tuple[int, int, int, int],
                    rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """``ink`` with the digit ``neighbour`` (28x28 uint8) written just left or right of ``box``, reaching into
    it by a random share of its width, a little higher or lower, at about the same size."""
    top, bottom, left, right = box
    height = bottom - top
    scale = height / 20.0 * rng.uniform(0.85, 1.15)  # MNIST's digits are 20 px tall in their 28x28
    other = cv2.resize(neighbour.astype(np.float32) / 255.0, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    other_box = _ink_box(other)
    if other_box is None:
        return ink
    o_top, o_bottom, o_left, o_right = other_box
    # how far into the box, by its width but at least half its height: a thin 1's neighbour reaches in too
    reach = rng.uniform(*cfg.neighbour_overlap) * max(right - left, height / 2)
    # On the left (its right edge inside the box by ``reach``) or on the right (its left edge).
    x = round(left + reach - o_right) if rng.random() < 0.5 else round(right - reach - o_left)
    y = round(top + (height - (o_bottom - o_top)) / 2 - o_top + rng.normal(0, 0.1) * height)
    out = ink.copy()
    h, w = out.shape
    ys, xs = slice(max(0, y), min(h, y + other.shape[0])), slice(max(0, x), min(w, x + other.shape[1]))
    if ys.start >= ys.stop or xs.start >= xs.stop:
        return ink
    piece = other[ys.start - y : ys.stop - y, xs.start - x : xs.stop - x]
    out[ys, xs] = np.maximum(out[ys, xs], piece)
    return out


def camera_like(digit: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig | None = None,
                neighbour: np.ndarray | None = None) -> np.ndarray:
    """One MNIST digit (28x28 uint8, bright ink) -> a photographed-looking crop (uint8, dark ink); with
    ``neighbour`` (another such digit), a piece of it written into the crop's box as touching writing does."""
    cfg = cfg or AugmentConfig()
    size = 28 * _UPSCALE
    big = cv2.resize(digit.astype(np.float32) / 255.0, (size, size), interpolation=cv2.INTER_LINEAR)
    if rng.random() < cfg.elastic_prob:
        big = elastic_distort(big, rng, cfg.elastic_alpha, cfg.elastic_sigma)
    canvas = np.zeros((_CANVAS, _CANVAS), np.float32)
    pad = (_CANVAS - size) // 2
    canvas[pad : pad + size, pad : pad + size] = big
    ink = cv2.warpAffine(canvas, _random_affine(rng, cfg), (_CANVAS, _CANVAS), flags=cv2.INTER_LINEAR)
    box = _ink_box(ink) if neighbour is not None else None
    if box is not None:
        ink = _with_neighbour(ink, cv2.resize(neighbour, (size, size)), box, rng, cfg)
    ink = pen_and_focus(ink, rng, cfg)
    # A box drawn round a digit among others is tight: its margins are small, or the neighbour would fill it.
    ink = _ink_crop(ink, rng, cfg, box, (-0.03, 0.08) if box is not None else None)
    ink = np.ascontiguousarray(ink)
    if rng.random() < cfg.neighbour_prob:
        _add_neighbour_stroke(ink, rng)
    return on_paper(ink, rng, cfg)


def pen_and_focus(ink: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Ink (float) drawn with a thinner or thicker pen (as configured) and blurred as a camera's focus does."""
    if rng.random() < cfg.stroke_change_prob:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        ink = cv2.dilate(ink, kernel) if rng.random() < 0.5 else cv2.erode(ink, kernel)
    sigma = rng.uniform(*cfg.blur_sigma)
    if sigma > 0.3:
        ink = cv2.GaussianBlur(ink, (0, 0), sigma)
    return ink


def on_paper(ink: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Ink (float, 1 = full stroke) -> uint8 photo: dark ink on paper lit unevenly, with sensor noise, and
    (as configured) a printed security pattern and a JPEG round trip."""
    h, w = ink.shape
    paper = rng.uniform(*cfg.paper_level)
    contrast = min(rng.uniform(*cfg.ink_contrast), paper - 5.0)
    angle = rng.uniform(0, 2 * np.pi)
    strength = rng.uniform(0, cfg.gradient)
    ramp_x = np.arange(w, dtype=np.float32) * (np.cos(angle) * strength / max(w, 1))
    ramp_y = np.arange(h, dtype=np.float32)[:, None] * (np.sin(angle) * strength / max(h, 1))
    ramp = ramp_y + ramp_x
    photo = paper + ramp - contrast * np.clip(ink, 0.0, 1.0)
    if cfg.pattern_prob and rng.random() < cfg.pattern_prob:
        photo = np.minimum(photo, paper + ramp - security_pattern((h, w), rng, cfg))
    photo += rng.standard_normal(photo.shape, dtype=np.float32) * np.float32(rng.uniform(*cfg.noise_std))
    photo = np.clip(photo, 0, 255).astype(np.uint8)
    if cfg.jpeg_prob and rng.random() < cfg.jpeg_prob:
        photo = jpeg_round_trip(photo, int(rng.integers(*cfg.jpeg_quality)))
    return photo


def security_pattern(shape: tuple[int, int], rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """How much darker than the paper a printed pattern makes each pixel: parallel lines (hatching) or
    waves at a random angle, 2 to 6 pixels apart, as on cheques and forms."""
    h, w = shape
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(2.0, 6.0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    across = xx * np.float32(np.cos(angle)) + yy * np.float32(np.sin(angle))
    if rng.random() < 0.4:  # waves: the lines bend along their length
        along = -xx * np.float32(np.sin(angle)) + yy * np.float32(np.cos(angle))
        across = across + np.float32(rng.uniform(0.5, 2.0)) * np.sin(along * np.float32(rng.uniform(0.1, 0.4)))
    phase = np.float32(rng.uniform(0, 2 * np.pi))
    duty = rng.uniform(0.2, 0.5)  # share of each period covered by the line
    lines = (np.sin(across * np.float32(2 * np.pi / period) + phase) > np.float32(1 - 2 * duty)).astype(np.float32)
    return lines * np.float32(rng.uniform(*cfg.pattern_contrast))


def jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    """The image after JPEG compression at ``quality`` (1..100), as a phone or a scanner saves it."""
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE) if ok else image


def augment_batch(
    digits: np.ndarray,
    rng: np.random.Generator,
    clean_fraction: float = 0.3,
    cfg: AugmentConfig | None = None,
    labels: np.ndarray | None = None,
    style_share: float = 0.0,
) -> np.ndarray:
    """(N, 28, 28) MNIST digits -> (N, 28, 28) uint8 MNIST-style, most of them via a camera-like crop.

    A ``clean_fraction`` of the digits keeps MNIST's own rendering, so the original distribution is
    still seen; most of those get only an elastic distortion of their shape. With ``labels`` and a
    ``style_share``, about that share is first given a writing style MNIST lacks (train/styles.py).
    """
    cfg = cfg or AugmentConfig()
    if labels is not None and style_share > 0:
        digits = restyle_batch(digits, labels, rng, style_share)
    out = np.array(digits, dtype=np.uint8, copy=True)
    camera = rng.random(len(digits)) >= clean_fraction
    for i in np.flatnonzero(camera):
        neighbour = None
        if cfg.neighbour_digit_prob and len(digits) > 1 and rng.random() < cfg.neighbour_digit_prob:
            neighbour = digits[(i + int(rng.integers(1, len(digits)))) % len(digits)]
        out[i] = normalize_digit(camera_like(digits[i], rng, cfg, neighbour), ink="dark")
    for i in np.flatnonzero(~camera & (rng.random(len(digits)) < cfg.clean_elastic_prob)):
        warped = elastic_distort(digits[i].astype(np.float32), rng, cfg.elastic_alpha, cfg.elastic_sigma)
        out[i] = np.clip(np.rint(warped), 0, 255).astype(np.uint8)
    return out
