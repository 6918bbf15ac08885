"""The one and only image preprocessing of the project (numpy + OpenCV).

Training, int8 calibration, evaluation and the Raspberry Pi all call this module, so a digit is
seen the same way everywhere. Two stages:

1. ``normalize_digits``: MNIST-style normalisation of any grayscale digit crop, either ink
   polarity -> 28x28 uint8, bright ink on black, the ink's bounding box fitted into 20x20 (aspect
   ratio kept, anti-aliased) and its centre of mass at the centre of the 28x28 image. Marks that
   are not the digit's strokes (a printed pattern, paper grain, specks) are removed first. MNIST's
   own images were made this way, so they skip this stage.
2. ``paper_preprocess``: the paper's steps (section 2.1): binarize at the image's mean intensity,
   then bilinear resize 28x28 -> 25x25 -> 28x28. Output float32 in [0, 1], the network's input.

``prepare_crops`` chains both for camera crops; ``prepare_mnist`` applies stage 2 to images that
are already MNIST-style.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np

from device.common.shapes import IMAGE_SIZE

# Bump when anything below changes what the network sees: models record the version they were
# trained with, and the device refuses a model whose version it does not know.
# zmg-1: the first; zmg-2: normalize_digit removes background marks (``keep_strokes``). A zmg-1 model
# reads zmg-2 crops as well as before or better (docs/log/2026-12.md), so the device still runs it.
PREPROCESS_VERSION = "zmg-2"
SUPPORTED_PREPROCESS_VERSIONS = frozenset({"zmg-1", PREPROCESS_VERSION})

# What the network's input is, as recorded in every model this code converts (device info prints it).
INPUT_NORMALISATION = {
    "values": "float32 in [0, 1]: ink 1, background 0 (int8 models quantize it with their input scale)",
    "crop": "normalize_digits: either ink polarity -> bright ink on black, the ink's box fitted into 20x20, "
            "its centre of mass at the centre of 28x28, background marks removed",
    "paper": "paper_preprocess: binarize at the image's mean intensity, bilinear 28x28 -> 25x25 -> 28x28",
}

# keep_strokes: a piece of ink smaller than this share of the largest one is a speck, not a stroke
MIN_STROKE_PART = 0.05

BOX_SIZE = 20  # MNIST fits every digit's bounding box into 20x20
ENHANCE_SIZE = 25  # the paper's intermediate bilinear size (section 2.1.2)

# OpenCV 5 resizes at most 128 channels at once (4.x: 512); batches go through as channel stacks.
_CV_MAX_CHANNELS = 128

InkPolarity = Literal["auto", "dark", "bright"]


# --------------------------------------------------------------------------------------------
# Stage 2: the paper's preprocessing
# --------------------------------------------------------------------------------------------
def binarize_mean(images: np.ndarray) -> np.ndarray:
    """Binarize each image at its own mean intensity (paper eq. 1-2): 1 where h >= mean, else 0.

    ``images``: (H, W) or (N, H, W), any real dtype, bright ink. A constant image (blank or
    all-ink) has no ink to separate from background and maps to all zeros rather than all ones.
    """
    x = np.asarray(images, dtype=np.float32)
    axes = (-2, -1)
    theta = x.mean(axis=axes, keepdims=True)
    binary = (x >= theta).astype(np.float32)
    constant = x.max(axis=axes, keepdims=True) == x.min(axis=axes, keepdims=True)
    return np.where(constant, np.float32(0), binary)


def _resize_stack(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of (N, H, W) float32 to (N, size, size), batched as channel stacks."""
    out = np.empty((images.shape[0], size, size), dtype=np.float32)
    for start in range(0, images.shape[0], _CV_MAX_CHANNELS):
        chunk = images[start : start + _CV_MAX_CHANNELS]
        hwc = np.ascontiguousarray(chunk.transpose(1, 2, 0))
        resized = cv2.resize(hwc, (size, size), interpolation=cv2.INTER_LINEAR)
        out[start : start + len(chunk)] = resized.reshape(size, size, -1).transpose(2, 0, 1)
    return out


def bilinear_enhance(binary: np.ndarray) -> np.ndarray:
    """The paper's enhancement (section 2.1.2): bilinear 28x28 -> 25x25 -> 28x28, batched."""
    x = np.asarray(binary, dtype=np.float32)
    single = x.ndim == 2
    batch = x[None] if single else x
    if batch.shape[0] == 0:
        return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    smoothed = _resize_stack(_resize_stack(batch, ENHANCE_SIZE), IMAGE_SIZE)
    np.clip(smoothed, 0.0, 1.0, out=smoothed)
    return smoothed[0] if single else smoothed


def paper_preprocess(images: np.ndarray) -> np.ndarray:
    """Binarize at the mean, then bilinear 25x25 -> 28x28: (N, 28, 28) -> (N, 28, 28) float32 in [0, 1]."""
    x = np.asarray(images)
    if x.ndim not in (2, 3) or x.shape[-2:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"expected 28x28 images shaped (N, 28, 28), got {x.shape}")
    return bilinear_enhance(binarize_mean(x))


def to_model_input(preprocessed: np.ndarray) -> np.ndarray:
    """(N, 28, 28) float -> (N, 28, 28, 1) float32, the network's input tensor."""
    return np.asarray(preprocessed, dtype=np.float32)[..., None]


def prepare_mnist(images: np.ndarray) -> np.ndarray:
    """MNIST-style uint8 images (bright ink, already normalised) -> network input (N, 28, 28, 1)."""
    return to_model_input(paper_preprocess(images))


# --------------------------------------------------------------------------------------------
# Stage 1: MNIST-style normalisation of arbitrary crops
# --------------------------------------------------------------------------------------------
def to_uint8(images: np.ndarray) -> np.ndarray:
    """Images as uint8, the project's one rule: floats of at most 1.0 are fractions (x 255), NaN is 0,
    then clip to 0..255 and round. uint8 input is returned as it is."""
    x = np.asarray(images)
    if x.dtype == np.uint8:
        return x
    if np.issubdtype(x.dtype, np.floating) and x.size and float(np.nanmax(x)) <= 1.0:
        x = x * 255.0
    return np.clip(np.nan_to_num(x.astype(np.float64, copy=False)), 0, 255).round().astype(np.uint8)


def to_gray(image: np.ndarray) -> np.ndarray:
    """Grayscale uint8 from a 2-D gray, HxWx1, HxWx3 (BGR) or HxWx4 (BGRA) image."""
    img = to_uint8(image)
    if img.ndim == 2:
        return img
    if img.ndim == 3 and img.shape[2] == 1:
        return img[:, :, 0]
    if img.ndim == 3 and img.shape[2] == 3:
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    if img.ndim == 3 and img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY)
    raise ValueError(f"expected a 2-D grayscale or HxWx3 BGR image, got shape {img.shape}")


def _border_pixels(image: np.ndarray) -> np.ndarray:
    """The image's outermost rows and columns, one flat array of its own dtype."""
    return np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])


def ink_is_dark(gray: np.ndarray) -> bool:
    """Guess the ink polarity: the border of a digit crop is mostly background."""
    border = _border_pixels(gray)
    # Ink pulls the mean away from the background level, towards its own side.
    return float(np.median(border)) > float(gray.mean())


def _kth_smallest(values: np.ndarray, k: int) -> int:
    """The k-th smallest of uint8 values (0-based), as ``np.partition`` gives it, by counting: several times
    faster on the small crops this runs on for every digit (and every piece of a touching pair)."""
    cumulative = np.cumsum(np.bincount(values.ravel(), minlength=256))
    return int(np.searchsorted(cumulative, k + 1))


def _bright_ink(gray: np.ndarray, ink: InkPolarity) -> np.ndarray:
    """Float32 image with ink bright, background stretched to 0 and full ink to 1."""
    if ink not in ("auto", "dark", "bright"):
        raise ValueError(f"ink must be 'auto', 'dark' or 'bright', got {ink!r}")
    dark = ink_is_dark(gray) if ink == "auto" else ink == "dark"
    levels = np.uint8(255) - gray if dark else gray  # uint8, ink bright (to_gray gives uint8)
    levels = keep_strokes(levels)
    x = levels.astype(np.float32)
    # Paper is rarely pure white and ink rarely pure black: stretch between the background level
    # (the border's median) and the ink level (the 99th percentile), as MNIST's scans were.
    border = _border_pixels(levels)
    background = float(_kth_smallest(border, border.size // 2))
    ink_level = float(_kth_smallest(levels, int(0.99 * (levels.size - 1))))
    if ink_level - background < 8.0:  # no contrast: nothing that could be a digit
        return np.zeros_like(x)
    return np.clip((x - background) * (1.0 / (ink_level - background)), 0.0, 1.0)


def keep_strokes(levels: np.ndarray) -> np.ndarray:
    """A uint8 image with bright ink, without what is not the digit's strokes (set to 0, the paper).

    Otsu's threshold splits strokes from fainter marks (security patterns printed on cheques and forms,
    paper grain, a shadow); pieces of stroke under MIN_STROKE_PART of the largest are specks. Keeping
    the strokes' fainter anti-aliased rim as well measured worse on real scans (it keeps the pattern
    where it touches the ink): docs/log/2026-12.md.
    """
    if levels.size == 0 or int(levels.max()) == int(levels.min()):
        return levels
    _, strokes = cv2.threshold(levels, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(strokes, connectivity=8)
    if count > 2:  # background and more than one piece
        areas = stats[1:, cv2.CC_STAT_AREA]
        kept = np.concatenate([[0], (areas >= MIN_STROKE_PART * areas.max()).astype(np.uint8) * 255])
        strokes = kept.astype(np.uint8)[labels]
    return np.where(strokes > 0, levels, np.uint8(0))


def normalize_digit(crop: np.ndarray, ink: InkPolarity = "auto") -> np.ndarray:
    """One digit crop of any size and polarity -> 28x28 uint8 MNIST-style image (bright ink).

    Tight crop of the ink, fit into 20x20 keeping the aspect ratio (INTER_AREA anti-aliases),
    then shift so the centre of mass sits at the image centre, as MNIST was made. A crop with no
    ink gives an all-black image.
    """
    gray = to_gray(crop)
    out = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    if gray.size == 0 or min(gray.shape) < 1:
        return out
    ink_map = _bright_ink(gray, ink)
    inked = ink_map > 0.2
    rows = np.flatnonzero(inked.any(axis=1))
    cols = np.flatnonzero(inked.any(axis=0))
    if rows.size == 0 or cols.size == 0:
        return out
    tight = ink_map[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = tight.shape
    scale = BOX_SIZE / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    fitted = cv2.resize(tight, (new_w, new_h), interpolation=interpolation)

    # Centre the box, then move the centre of mass to the centre (sub-pixel, bilinear).
    canvas = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    top, left = (IMAGE_SIZE - new_h) // 2, (IMAGE_SIZE - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = fitted
    mass = float(canvas.sum())
    if mass <= 0:
        return out
    moments = cv2.moments(canvas)
    cy, cx = moments["m01"] / moments["m00"], moments["m10"] / moments["m00"]
    centre = IMAGE_SIZE / 2.0  # where MNIST has it: the mean centre of mass of its digits is (14.0, 14.0)
    shift = np.float32([[1, 0, centre - cx], [0, 1, centre - cy]])
    moved = cv2.warpAffine(canvas, shift, (IMAGE_SIZE, IMAGE_SIZE), flags=cv2.INTER_LINEAR)
    return np.clip(moved * 255.0 + 0.5, 0, 255).astype(np.uint8)


def normalize_digits(crops: Sequence[np.ndarray] | np.ndarray, ink: InkPolarity = "auto") -> np.ndarray:
    """Many crops (a list of 2-D arrays of any sizes, or an (N, H, W) array) -> (N, 28, 28) uint8."""
    out = np.zeros((len(crops), IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    for i, crop in enumerate(crops):
        out[i] = normalize_digit(crop, ink)
    return out


def prepare_crops(crops: Sequence[np.ndarray] | np.ndarray, ink: InkPolarity = "auto") -> np.ndarray:
    """The whole camera path: crops -> MNIST-style -> paper preprocessing -> (N, 28, 28, 1) float32."""
    return to_model_input(paper_preprocess(normalize_digits(crops, ink)))
