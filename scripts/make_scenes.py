"""Generate realistic camera frames of handwritten MNIST test digits on paper, with ground truth.

Each scene is one photographed sheet: MNIST *test* digits (never seen in training) rendered as dark
ink strokes in strings of 1 to 8 digits, on textured paper that may be ruled, squared or have a
margin, under a lighting gradient, a soft shadow, seen with a slight perspective, out-of-focus
blur, sensor noise and JPEG artefacts; now and then the table shows at the paper's edge and there
are specks of dirt. Every random choice comes from ``numpy.random.default_rng([seed, index])``, so
scene ``i`` of a seed is the same whatever ``--count`` is.

    python scripts/make_scenes.py --count 500 --seed 2024 --out runs/scenes-eval

writes ``DIR/scene_00000.jpg ...``, ``DIR/labels.csv`` (file, text) and ``DIR/scenes.json`` (the
settings, then per scene the text, its lines and each digit's label, box (x, y, w, h) in the frame,
line and MNIST test index, and the scene's drawn parameters). In ``text`` the lines of a scene are
separated by one space, top to bottom, as ``device read`` prints them.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent
# The full MNIST beside the checkout (as on the project's machines), else the test subset.
DEFAULT_MNIST = Path(os.environ.get("MNIST_NPZ", REPO.parent / "shared" / "data" / "mnist.npz"))
FALLBACK_MNIST = REPO / "tests" / "data" / "mnist_subset.npz"


@dataclass(frozen=True)
class SceneSettings:
    """The generator's ranges; every scene draws its own values from them (recorded in scenes.json)."""

    min_digits: int = 1
    max_digits: int = 8
    two_line_prob: float = 0.15  # a string of >= 2 digits is sometimes written on two lines
    digit_height: tuple[float, float] = (0.09, 0.24)  # ink height as a fraction of the frame height
    min_digit_px: int = 26  # never smaller than this, whatever the frame size
    gap: tuple[float, float] = (0.12, 0.55)  # space between digits' ink, in digit heights (never touching)
    baseline_jitter: float = 0.06  # vertical wobble of each digit, in digit heights
    size_jitter: float = 0.08  # relative height change between digits of one string
    slant_deg: tuple[float, float] = (-8.0, 8.0)  # extra slant (shear) per string, on top of the writer's own
    rotate_deg: float = 4.0  # each digit's own rotation
    stroke_threshold: tuple[float, float] = (0.28, 0.55)  # MNIST level at the stroke's edge: thicker..thinner
    ink_opacity: tuple[float, float] = (0.72, 0.97)
    ink_pressure: float = 0.2  # slow variation of ink darkness along the strokes
    ruled_prob: float = 0.45
    grid_prob: float = 0.12
    margin_prob: float = 0.2
    table_prob: float = 0.25  # the paper's edge and the table show in the frame
    shadow_prob: float = 0.4
    shadow_strength: tuple[float, float] = (0.45, 0.85)  # light left in the shadow
    light_min: tuple[float, float] = (0.55, 0.9)  # darkest corner of the lighting gradient
    specks_prob: float = 0.3
    perspective: float = 0.05  # corner displacement, fraction of the frame size
    blur_sigma: tuple[float, float] = (0.0, 1.3)
    noise_sigma: tuple[float, float] = (1.0, 6.0)
    jpeg_quality: tuple[int, int] = (35, 92)


# --------------------------------------------------------------------------------------------
# Paper, light and camera
# --------------------------------------------------------------------------------------------
def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Zero-mean, unit-ish low-frequency noise with features about ``scale`` pixels across."""
    h, w = shape
    small = rng.standard_normal((max(2, int(h / scale) + 2), max(2, int(w / scale) + 2))).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return big / max(1e-6, float(big.std()))


def paper(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, dict]:
    """Textured paper, BGR float32 0..255: off-white tint, fibres, blotches."""
    h, w = shape
    level = rng.uniform(200, 248)
    tint = np.array([rng.uniform(-10, 4), rng.uniform(-4, 4), rng.uniform(-2, 8)], np.float32)
    grain = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 0.8)
    texture = rng.uniform(1.0, 4.0) * grain / max(1e-6, float(grain.std()))
    texture += rng.uniform(1.0, 6.0) * smooth_noise(rng, shape, rng.uniform(30, 120))
    img = np.empty((h, w, 3), np.float32)
    img[:] = level + tint
    img += texture[..., None]
    return img, {"paper_level": round(level, 1)}


def draw_rulings(
    rng: np.random.Generator, img: np.ndarray, settings: SceneSettings, spacing: float, first_line_y: float
) -> dict:
    """Ruled lines (every ``spacing`` px through ``first_line_y``), maybe a grid, maybe a red margin."""
    h, w = img.shape[:2]
    info: dict = {"ruled": False, "grid": False, "margin_x": None}
    grid = rng.random() < settings.grid_prob
    ruled = grid or rng.random() < settings.ruled_prob
    if ruled:
        color = np.array(rng.choice([[200, 160, 120], [190, 190, 190], [210, 170, 150]]), np.float32)
        thickness = int(rng.integers(1, 3))
        strength = rng.uniform(0.35, 0.8)
        layer = np.zeros((h, w), np.float32)
        y = first_line_y - spacing * math.ceil(first_line_y / spacing)
        while y < h:
            cv2.line(layer, (0, round(y)), (w - 1, round(y)), 1.0, thickness)
            y += spacing
        if grid:
            x = rng.uniform(0, spacing)
            while x < w:
                cv2.line(layer, (round(x), 0), (round(x), h - 1), 1.0, thickness)
                x += spacing
        layer = cv2.GaussianBlur(layer, (0, 0), 0.6) * strength
        img[:] = img * (1 - layer[..., None]) + color * layer[..., None]
        info.update(ruled=True, grid=grid, ruling_spacing=round(spacing, 1))
    if rng.random() < settings.margin_prob:
        x = round(rng.uniform(0.04, 0.1) * w)
        red = np.zeros((h, w), np.float32)
        cv2.line(red, (x, 0), (x, h - 1), 1.0, int(rng.integers(1, 3)))
        red = cv2.GaussianBlur(red, (0, 0), 0.6) * rng.uniform(0.5, 0.85)
        img[:] = img * (1 - red[..., None]) + np.float32([70, 70, 215]) * red[..., None]
        info["margin_x"] = x
    return info


def lighting(rng: np.random.Generator, shape: tuple[int, int], settings: SceneSettings) -> tuple[np.ndarray, dict]:
    """Multiplicative light: a linear gradient in a random direction, a vignette, maybe a soft shadow."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (xx - w / 2) * np.cos(angle) + (yy - h / 2) * np.sin(angle)
    ramp = (ramp - ramp.min()) / max(1e-6, float(ramp.max() - ramp.min()))
    darkest = rng.uniform(*settings.light_min)
    gain = darkest + (1.0 - darkest) * ramp
    r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    gain *= 1.0 - rng.uniform(0.0, 0.15) * r2 / 2
    info = {"light_min": round(darkest, 3), "shadow": None}
    if rng.random() < settings.shadow_prob:
        # A hand, phone or head between lamp and paper: a blob entering from one side.
        mask = np.zeros((h, w), np.float32)
        side = int(rng.integers(4))
        centre = [
            (rng.uniform(0, w), -rng.uniform(0, 0.2) * h),
            (w + rng.uniform(0, 0.2) * w, rng.uniform(0, h)),
            (rng.uniform(0, w), h + rng.uniform(0, 0.2) * h),
            (-rng.uniform(0, 0.2) * w, rng.uniform(0, h)),
        ][side]
        axes = (rng.uniform(0.2, 0.6) * w, rng.uniform(0.2, 0.6) * h)
        cv2.ellipse(
            mask,
            (round(centre[0]), round(centre[1])),
            (round(axes[0]), round(axes[1])),
            rng.uniform(0, 180),
            0,
            360,
            1.0,
            -1,
        )
        softness = rng.uniform(4, 30)
        mask = cv2.GaussianBlur(mask, (0, 0), softness)
        keep = rng.uniform(*settings.shadow_strength)
        gain *= 1.0 - (1.0 - keep) * mask
        info["shadow"] = {"light_kept": round(keep, 3), "softness_px": round(softness, 1)}
    return gain, info


def table_mask(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The part of the frame that is paper (1) rather than table (0), and the paper's inner box."""
    h, w = shape
    left = rng.uniform(0.0, 0.12) * w if rng.random() < 0.5 else -10.0
    right = w - rng.uniform(0.0, 0.12) * w if rng.random() < 0.5 else w + 10.0
    top = rng.uniform(0.0, 0.12) * h if rng.random() < 0.5 else -10.0
    bottom = h - rng.uniform(0.0, 0.12) * h if rng.random() < 0.5 else h + 10.0
    tilt = rng.uniform(-0.04, 0.04) * h
    corners = np.float32([[left, top + tilt], [right, top - tilt], [right, bottom - tilt], [left, bottom + tilt]])
    mask = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(mask, np.round(corners).astype(np.int32), 1)
    box = (
        max(0, int(left)),
        max(0, int(top + abs(tilt))),
        min(w, int(right)),
        min(h, int(bottom - abs(tilt))),
    )
    return mask, box


# --------------------------------------------------------------------------------------------
# Ink
# --------------------------------------------------------------------------------------------
def render_digit(
    rng: np.random.Generator,
    mnist_digit: np.ndarray,
    height: float,
    slant_deg: float,
    settings: SceneSettings,
) -> np.ndarray:
    """One MNIST digit as a pen stroke: float32 ink coverage in [0, 1], ink tightly cropped.

    The 28x28 image is warped (scale, slant, small rotation) with cubic interpolation and lightly
    smoothed so the 28-pixel grid disappears, then a soft threshold turns MNIST's blurry grey
    levels into a stroke with crisp, anti-aliased edges whose thickness depends on the threshold.
    """
    src = mnist_digit.astype(np.float32) / 255.0
    rows, cols = np.flatnonzero(src.max(axis=1) > 0.1), np.flatnonzero(src.max(axis=0) > 0.1)
    if rows.size == 0:
        return np.zeros((1, 1), np.float32)
    ink_h = rows[-1] - rows[0] + 1
    scale = height / ink_h
    theta = np.deg2rad(rng.uniform(-settings.rotate_deg, settings.rotate_deg))
    shear = np.tan(np.deg2rad(slant_deg))
    # src -> out: translate the ink's centre to 0, rotate, shear, scale, then centre in the output.
    cy, cx = (rows[0] + rows[-1]) / 2, (cols[0] + cols[-1]) / 2
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    linear = scale * np.array([[1.0, -shear], [0.0, 1.0]]) @ rot
    side = math.ceil(scale * 28 * 1.6)
    offset = np.array([side / 2, side / 2]) - linear @ np.array([cx, cy])
    matrix = np.hstack([linear, offset[:, None]]).astype(np.float32)
    big = cv2.warpAffine(src, matrix, (side, side), flags=cv2.INTER_CUBIC, borderValue=0)
    big = cv2.GaussianBlur(big, (0, 0), max(0.5, 0.3 * scale))
    edge = rng.uniform(*settings.stroke_threshold)
    softness = 0.06 + 0.04 * rng.random()
    stroke = np.clip((big - edge) / softness + 0.5, 0.0, 1.0)
    ys, xs = np.nonzero(stroke > 0.02)
    if ys.size == 0:
        return np.zeros((1, 1), np.float32)
    return stroke[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def layout_string(
    rng: np.random.Generator,
    strokes: list[np.ndarray],
    line_of: list[int],
    heights: list[float],
    usable: tuple[int, int, int, int],
    settings: SceneSettings,
    line_pitch: float,
) -> list[tuple[int, int]] | None:
    """Top-left corner of each digit's stroke (left to right, gaps, baseline jitter); None if too big."""
    x0, y0, x1, y1 = usable
    n_lines = max(line_of) + 1
    widths: dict[int, float] = {}
    height = float(np.median(heights))
    gaps = [rng.uniform(*settings.gap) * height for _ in strokes]
    for i, s in enumerate(strokes):
        widths[line_of[i]] = widths.get(line_of[i], 0.0) + s.shape[1] + (gaps[i] if i else 0.0)
    block_w = max(widths.values())
    block_h = height * (1.0 + settings.baseline_jitter * 2) + (n_lines - 1) * line_pitch
    if block_w > (x1 - x0) or block_h > (y1 - y0):
        return None
    left = rng.uniform(x0, x1 - block_w)
    top = rng.uniform(y0, y1 - block_h)
    positions: list[tuple[int, int]] = []
    cursor = {line: left + rng.uniform(0, max(0.0, block_w - widths[line])) for line in range(n_lines)}
    first = {line: True for line in range(n_lines)}
    for i, s in enumerate(strokes):
        line = line_of[i]
        if not first[line]:
            cursor[line] += gaps[i]
        first[line] = False
        baseline = top + height + line * line_pitch + rng.uniform(-1, 1) * settings.baseline_jitter * height
        positions.append((round(cursor[line]), round(baseline - s.shape[0])))
        cursor[line] += s.shape[1]
    return positions


# --------------------------------------------------------------------------------------------
# One scene
# --------------------------------------------------------------------------------------------
def render_page(
    rng: np.random.Generator,
    size: tuple[int, int],
    images: np.ndarray,
    labels: np.ndarray,
    index_pool: np.ndarray,
    settings: SceneSettings,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """The sheet seen head-on: (BGR float32 image, label map, truth without boxes).

    The label map holds i + 1 where digit i's ink is.
    """
    w, h = size
    n = int(rng.integers(settings.min_digits, settings.max_digits + 1))
    n_lines = 2 if n >= 2 and rng.random() < settings.two_line_prob else 1
    per_line = [n] if n_lines == 1 else [n - n // 2, n // 2]
    line_of = [line for line, count in enumerate(per_line) for _ in range(count)]
    picks = rng.choice(index_pool, size=n, replace=False)

    img, params = paper(rng, (h, w))
    usable = (int(0.04 * w), int(0.05 * h), int(0.96 * w), int(0.95 * h))
    paper_area = None
    if rng.random() < settings.table_prob:
        paper_area, box = table_mask(rng, (h, w))
        usable = (
            box[0] + int(0.05 * w),
            box[1] + int(0.05 * h),
            box[2] - int(0.05 * w),
            box[3] - int(0.05 * h),
        )

    # Size the digits so that the longest line fits, then render and place them.
    longest = max(per_line)
    lo, hi = settings.digit_height
    max_fit = (usable[2] - usable[0]) / (longest * (0.85 + settings.gap[1])) / h
    height = max(settings.min_digit_px, h * min(rng.uniform(lo, hi), max_fit))
    slant = rng.uniform(*settings.slant_deg)
    line_pitch = height * rng.uniform(1.45, 1.9)
    positions = None
    strokes: list[np.ndarray] = []
    for _attempt in range(6):
        heights = [height * (1 + rng.uniform(-1, 1) * settings.size_jitter) for _ in picks]
        strokes = [render_digit(rng, images[k], hh, slant, settings) for k, hh in zip(picks, heights, strict=True)]
        positions = layout_string(rng, strokes, line_of, heights, usable, settings, line_pitch)
        if positions is not None:
            break
        height *= 0.85
    if positions is None:
        raise RuntimeError(f"the digits do not fit into a {w}x{h} frame")

    baseline0 = positions[0][1] + strokes[0].shape[0]
    params.update(
        draw_rulings(
            rng,
            img,
            settings,
            line_pitch if n_lines > 1 else height * rng.uniform(1.3, 1.8),
            baseline0 + rng.uniform(-0.05, 0.05) * height,
        )
    )

    # Ink: one pen per scene, darkness varying slowly along the strokes.
    pen_name, pen = [
        ("black", (35, 30, 30)),
        ("blue", (120, 50, 25)),
        ("pencil", (85, 80, 78)),
        ("dark-blue", (90, 35, 20)),
    ][int(rng.integers(4))]
    opacity = rng.uniform(*settings.ink_opacity) * (0.85 if pen_name == "pencil" else 1.0)
    pressure = 1.0 - settings.ink_pressure * np.clip(0.5 + 0.35 * smooth_noise(rng, (h, w), 25.0), 0, 1)
    coverage = np.zeros((h, w), np.float32)
    label_map = np.zeros((h, w), np.uint8)
    for i, (stroke, (x, y)) in enumerate(zip(strokes, positions, strict=True)):
        sh, sw = stroke.shape
        coverage[y : y + sh, x : x + sw] = np.maximum(coverage[y : y + sh, x : x + sw], stroke)
        label_map[y : y + sh, x : x + sw][stroke > 0.35] = i + 1
    alpha = (coverage * pressure * opacity)[..., None]
    img = img * (1 - alpha) + np.float32(pen) * alpha

    specks = []
    if rng.random() < settings.specks_prob:
        for _ in range(int(rng.integers(1, 8))):
            sx, sy = int(rng.integers(0, w)), int(rng.integers(0, h))
            if label_map[max(0, sy - 12) : sy + 12, max(0, sx - 12) : sx + 12].any():
                continue
            r = int(rng.integers(1, 3))
            cv2.circle(img, (sx, sy), r, tuple(float(c) for c in rng.uniform(40, 120, 3)), -1, cv2.LINE_AA)
            specks.append([sx, sy, r])
    params["specks"] = specks

    if paper_area is not None:
        table_level = rng.uniform(40, 150)
        table = np.empty_like(img)
        table[:] = table_level * np.float32([rng.uniform(0.6, 1.0), rng.uniform(0.75, 1.0), 1.0])
        table += (rng.uniform(3, 12) * smooth_noise(rng, (h, w), rng.uniform(8, 40)))[..., None]
        edge = cv2.GaussianBlur(paper_area.astype(np.float32), (0, 0), 0.8)[..., None]
        img = img * edge + table * (1 - edge)
        params["table_level"] = round(table_level, 1)

    gain, light_info = lighting(rng, (h, w), settings)
    img *= gain[..., None]
    params.update(light_info)

    # Camera: perspective, defocus, sensor noise, JPEG.
    params.update(
        pen=pen_name,
        ink_opacity=round(opacity, 3),
        digit_height_px=round(height, 1),
        slant_deg=round(slant, 1),
        table=paper_area is not None,
    )
    digits = [
        {"digit": int(labels[k]), "box": None, "line": line_of[i], "mnist_test_index": int(k)}
        for i, k in enumerate(picks)
    ]
    lines = ["".join(str(d["digit"]) for d in digits if d["line"] == line) for line in range(n_lines)]
    return img, label_map, {"text": " ".join(lines), "lines": lines, "digits": digits, "params": params}


def safe_perspective(
    rng: np.random.Generator, label_map: np.ndarray, n: int, amount: float
) -> tuple[np.ndarray, np.ndarray]:
    """A random camera tilt that keeps every digit inside the frame: (homography, warped label map)."""
    h, w = label_map.shape
    jitter = amount * np.float32([w, h])
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    for _attempt in range(20):
        dst = src + rng.uniform(-1, 1, (4, 2)).astype(np.float32) * jitter
        homography = cv2.getPerspectiveTransform(src, dst)
        warped = cv2.warpPerspective(label_map, homography, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
        inside = warped[8:-8, 8:-8]  # a digit touching the frame's edge would be ambiguous
        if all(np.count_nonzero(inside == i + 1) == np.count_nonzero(warped == i + 1) for i in range(n)):
            break
        jitter *= 0.8
    return homography, warped


def photograph(
    rng: np.random.Generator, page: np.ndarray, homography: np.ndarray, settings: SceneSettings
) -> tuple[np.ndarray, dict]:
    """The camera: perspective, defocus blur and sensor noise -> uint8 BGR frame (JPEG comes after)."""
    h, w = page.shape[:2]
    img = cv2.warpPerspective(page, homography, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    blur = rng.uniform(*settings.blur_sigma)
    if blur > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    noise = rng.uniform(*settings.noise_sigma)
    img += rng.normal(0.0, noise, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8), {
        "blur_sigma": round(blur, 2),
        "noise_sigma": round(noise, 2),
    }


def make_scene(
    seed: int,
    index: int,
    size: tuple[int, int],
    images: np.ndarray,
    labels: np.ndarray,
    index_pool: np.ndarray,
    settings: SceneSettings,
) -> tuple[bytes, dict]:
    """Render scene ``index`` of ``seed``: (JPEG bytes, ground truth and drawn parameters)."""
    rng = np.random.default_rng([seed, index])
    page, label_map, truth = render_page(rng, size, images, labels, index_pool, settings)
    n = len(truth["digits"])
    homography, label_map = safe_perspective(rng, label_map, n, settings.perspective)
    frame, camera = photograph(rng, page, homography, settings)
    quality = int(rng.integers(settings.jpeg_quality[0], settings.jpeg_quality[1] + 1))
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    truth["params"].update(camera, jpeg_quality=quality)
    for i, digit in enumerate(truth["digits"]):
        ys, xs = np.nonzero(label_map == i + 1)
        if ys.size:
            digit["box"] = [
                int(xs.min()),
                int(ys.min()),
                int(xs.max() - xs.min() + 1),
                int(ys.max() - ys.min() + 1),
            ]
    return jpeg.tobytes(), truth


def make_clip(
    seed: int,
    size: tuple[int, int],
    images: np.ndarray,
    labels: np.ndarray,
    index_pool: np.ndarray,
    settings: SceneSettings,
    frames: int,
) -> tuple[list[np.ndarray], dict]:
    """A hand-held camera over one sheet: the tilt drifts smoothly from one perspective to another."""
    rng = np.random.default_rng([seed, 1_000_000])
    page, label_map, truth = render_page(rng, size, images, labels, index_pool, settings)
    n = len(truth["digits"])
    h0, _ = safe_perspective(rng, label_map, n, settings.perspective)
    h1, _ = safe_perspective(rng, label_map, n, settings.perspective)
    w, h = size
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    c0, c1 = cv2.perspectiveTransform(src[None], h0)[0], cv2.perspectiveTransform(src[None], h1)[0]
    still = settings.__class__(**{**asdict(settings), "blur_sigma": (0.0, 0.8), "noise_sigma": (2.0, 4.0)})
    clip = []
    for t in np.linspace(0.0, 1.0, frames):
        ease = 0.5 - 0.5 * np.cos(np.pi * t)
        homography = cv2.getPerspectiveTransform(src, (c0 + (c1 - c0) * ease).astype(np.float32))
        clip.append(photograph(rng, page, homography, still)[0])
    return clip, truth


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------
def load_mnist_test(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """MNIST test images and labels from a Keras-layout .npz (never unpickles)."""
    with np.load(path, allow_pickle=False) as data:
        return data["x_test"], data["y_test"]


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; these are ordinary outputs
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 640x480, got {text!r}") from None
    if not (160 <= w <= 4096 and 120 <= h <= 4096):
        raise argparse.ArgumentTypeError(f"size {w}x{h} is out of range (160x120 .. 4096x4096)")
    return w, h


def parse_range(text: str) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"range must look like 0:5000, got {text!r}") from None
    return a, b


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100, help="number of scenes (default 100)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (required without --video)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--size", type=parse_size, default=(640, 480), help="frame size WxH (default 640x480)")
    parser.add_argument(
        "--mnist",
        type=Path,
        default=None,
        help=f"Keras-layout MNIST .npz (default {DEFAULT_MNIST}, else the test subset)",
    )
    parser.add_argument(
        "--mnist-range",
        type=parse_range,
        default=None,
        metavar="A:B",
        help="use only MNIST test images A..B-1 (e.g. 0:5000 for a tuning set, 5000:10000 to score)",
    )
    parser.add_argument("--max-digits", type=int, default=8, help="longest string (default 8)")
    parser.add_argument(
        "--video",
        type=Path,
        default=None,
        metavar="OUT",
        help="instead of scenes, write one sheet filmed by a drifting camera (.mp4 or .avi) "
        "and its ground truth as OUT.json",
    )
    parser.add_argument("--frames", type=int, default=30, help="frames of --video (default 30, at 10 per second)")
    args = parser.parse_args(argv)

    mnist_path = args.mnist or (DEFAULT_MNIST if DEFAULT_MNIST.exists() else FALLBACK_MNIST)
    try:
        images, labels = load_mnist_test(mnist_path)
    except (OSError, KeyError, ValueError) as exc:
        print(f"make_scenes: error: cannot read MNIST test images from {mnist_path}: {exc}", file=sys.stderr)
        return 2
    if args.out is None and args.video is None:
        parser.error("--out DIR is required")
    lo, hi = args.mnist_range or (0, len(images))
    pool = np.arange(max(0, lo), min(hi, len(images)))
    if args.count < 1 or not 1 <= args.max_digits <= 8 or pool.size < args.max_digits:
        print(
            "make_scenes: error: need --count >= 1, 1 <= --max-digits <= 8 and enough MNIST images",
            file=sys.stderr,
        )
        return 2
    settings = SceneSettings(max_digits=args.max_digits)
    if args.video is not None:
        return write_clip(args, images, labels, pool, settings)
    args.out.mkdir(parents=True, exist_ok=True)

    scenes = []
    for i in tqdm(range(args.count), desc="scenes", unit="scene"):
        jpeg, truth = make_scene(args.seed, i, args.size, images, labels, pool, settings)
        name = f"scene_{i:05d}.jpg"
        atomic_write(args.out / name, jpeg)
        scenes.append({"file": name, **truth})

    meta = {
        "generator": "scripts/make_scenes.py",
        "seed": args.seed,
        "count": args.count,
        "size": list(args.size),
        "mnist": str(mnist_path),
        "mnist_test_range": [int(pool[0]), int(pool[-1]) + 1],
        "text_format": "digits of each line, lines top to bottom separated by one space",
        "settings": asdict(settings),
        "scenes": scenes,
    }
    atomic_write(args.out / "scenes.json", json.dumps(meta, indent=1).encode())
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["file", "text"])
    writer.writerows([s["file"], s["text"]] for s in scenes)
    atomic_write(args.out / "labels.csv", table.getvalue().encode())
    print(f"wrote {args.count} scenes to {args.out}")
    return 0


def write_clip(
    args: argparse.Namespace,
    images: np.ndarray,
    labels: np.ndarray,
    pool: np.ndarray,
    settings: SceneSettings,
) -> int:
    """``--video``: one sheet, a drifting camera; the video (renamed into place when done) and OUT.json."""
    frames, truth = make_clip(args.seed, args.size, images, labels, pool, settings, max(2, args.frames))
    codec = "mp4v" if args.video.suffix.lower() == ".mp4" else "MJPG"
    fd, tmp = tempfile.mkstemp(prefix=f".{args.video.stem}.", suffix=args.video.suffix, dir=args.video.parent)
    os.close(fd)
    writer = cv2.VideoWriter(tmp, cv2.VideoWriter.fourcc(*codec), 10.0, args.size)
    if not writer.isOpened():
        Path(tmp).unlink(missing_ok=True)
        print(f"make_scenes: error: cannot write {args.video} with codec {codec}", file=sys.stderr)
        return 2
    for frame in frames:
        writer.write(frame)
    writer.release()
    os.chmod(tmp, 0o644)
    os.replace(tmp, args.video)
    meta = {
        "generator": "scripts/make_scenes.py --video",
        "seed": args.seed,
        "frames": len(frames),
        "size": list(args.size),
        "settings": asdict(settings),
        **truth,
    }
    atomic_write(args.video.with_name(args.video.name + ".json"), json.dumps(meta, indent=1).encode())
    print(f"wrote {args.video} ({len(frames)} frames): {truth['text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
