"""The sheet's materials: paper, rulings, light, the table around it, and digits as pen strokes.

Each function takes the scene's ``numpy.random.Generator`` and draws its own values from it in a fixed
order, so a scene is reproducible from (seed, index); changing the order of draws here changes every
generated set, which is why this code moved from ``scripts/make_scenes.py`` unchanged.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from train.scenes.settings import SceneSettings


# --------------------------------------------------------------------------------------------
# Paper, rulings, light and table
# --------------------------------------------------------------------------------------------
def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Zero-mean, unit-ish low-frequency noise with features about ``scale`` pixels across."""
    h, w = shape
    small = rng.standard_normal((max(2, int(h / scale) + 2), max(2, int(w / scale) + 2))).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return big / max(1e-6, float(big.std()))


def paper(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, dict[str, Any]]:
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
) -> dict[str, Any]:
    """Ruled lines (every ``spacing`` px through ``first_line_y``), maybe a grid, maybe a red margin."""
    h, w = img.shape[:2]
    info: dict[str, Any] = {"ruled": False, "grid": False, "margin_x": None}
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


def lighting(
    rng: np.random.Generator, shape: tuple[int, int], settings: SceneSettings
) -> tuple[np.ndarray, dict[str, Any]]:
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
    kinds: list[str] | None = None,
) -> list[tuple[int, int]] | None:
    """Top-left corner of each stroke (left to right, gaps, baseline jitter and drift); None if too big.

    ``kinds``: "digit", or a separator character for strokes made by ``render_separator``; a separator keeps
    a small gap of its own (a space a wide one) instead of the digits' gap, which may be negative (touching).
    """
    x0, y0, x1, y1 = usable
    n_lines = max(line_of) + 1
    widths: dict[int, float] = {}
    height = float(np.median(heights))
    gaps = [rng.uniform(*settings.gap) * height for _ in strokes]
    if kinds is not None:
        for i, kind in enumerate(kinds):
            if kind != "digit" or (i and kinds[i - 1] != "digit"):  # on either side of a separator
                wide = " " in (kind, kinds[i - 1])
                gaps[i] = rng.uniform(0.3, 0.5) * height if wide else rng.uniform(0.05, 0.2) * height
    drift = rng.uniform(-1, 1) * settings.baseline_drift * height if settings.baseline_drift > 0 else 0.0
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
    if drift:  # keep the whole drifting line inside: less drift if need be, then move the line
        span = len(strokes) - 1
        drift = float(np.clip(drift, -((y1 - y0) - block_h) / max(1, span), ((y1 - y0) - block_h) / max(1, span)))
        top = min(top, y1 - block_h - drift * span) if drift > 0 else max(top, y0 - drift * span)
    for i, s in enumerate(strokes):
        line = line_of[i]
        if not first[line]:
            cursor[line] += gaps[i]
        first[line] = False
        baseline = top + height + line * line_pitch + rng.uniform(-1, 1) * settings.baseline_jitter * height
        baseline += drift * i
        positions.append((max(x0, round(cursor[line])), round(baseline - s.shape[0])))
        cursor[line] += s.shape[1]
    return positions


SEPARATORS = ".,-/ "


def render_separator(rng: np.random.Generator, kind: str, height: float, slant_deg: float) -> np.ndarray:
    """A separator as a pen stroke (coverage in [0, 1]) on a canvas whose bottom is the baseline.

    ``.`` and ``,`` sit on the baseline, ``-`` at mid-height, ``/`` spans the digits' height; `` `` (a space
    between groups) is an empty canvas.
    """
    thick = max(2, round(height * rng.uniform(0.06, 0.11)))
    if kind == " ":
        return np.zeros((max(2, round(height)), 1), np.float32)
    shear = np.tan(np.deg2rad(slant_deg))
    if kind in ".,":
        tail = round(height * 0.18) if kind == "," else 0
        side = thick * 2 + tail + 2
        canvas = np.zeros((side, side), np.float32)
        cx, cy = side // 2 + tail // 2, thick + 1
        cv2.circle(canvas, (cx, cy), max(1, round(thick * rng.uniform(0.55, 0.8))), 1.0, -1, cv2.LINE_AA)
        if tail:
            cv2.line(canvas, (cx, cy), (cx - tail // 2, cy + tail), 1.0, max(1, thick - 1), cv2.LINE_AA)
        return canvas
    if kind == "-":
        length = round(height * rng.uniform(0.3, 0.5))
        rise = round(height * rng.uniform(0.38, 0.55))
        canvas = np.zeros((rise + thick + 2, length + thick + 2), np.float32)
        y = thick // 2 + 1 + int(rng.integers(0, 2))
        cv2.line(canvas, (thick // 2 + 1, y), (length, y - int(rng.integers(0, 2))), 1.0, thick, cv2.LINE_AA)
        return canvas
    if kind == "/":
        tall = round(height * rng.uniform(0.85, 1.05))
        lean = round(tall * (rng.uniform(0.3, 0.5) + shear))
        width = abs(lean) + thick + 2
        canvas = np.zeros((tall + thick + 2, width), np.float32)
        bottom_x = thick // 2 + 1 if lean >= 0 else width - thick // 2 - 2
        cv2.line(canvas, (bottom_x, tall), (bottom_x + lean, thick // 2 + 1), 1.0, thick, cv2.LINE_AA)
        return canvas
    raise ValueError(f"unknown separator {kind!r}")


def choose_separators(rng: np.random.Generator, n: int) -> dict[int, str]:
    """Where separators go in a string of ``n`` digits: {index of the digit they follow: character}.

    As people write numbers: thousands (18.014, 1,500, 1 500), a decimal part (12,50), dates and codes
    (12-05, 3/4).
    """
    styles = ["decimal"] + (["thousands"] if n >= 4 else []) + (["date"] if 4 <= n <= 6 else [])
    style = str(rng.choice(styles))
    if style == "thousands":
        char = str(rng.choice([".", ",", " "]))
        return {i: char for i in range(n - 4, -1, -3)}
    if style == "decimal":
        return {n - 3 if rng.random() < 0.8 or n < 4 else n - 2: str(rng.choice([".", ","]))}
    char = str(rng.choice(["-", "/"]))
    return {i: char for i in range(1, n - 2, 2)}


def security_pattern(rng: np.random.Generator, img: np.ndarray) -> dict[str, Any]:
    """Cheque-style security paper: fine diagonal hatching or wavy lines in a pale colour, under the ink."""
    h, w = img.shape[:2]
    layer = np.zeros((h, w), np.float32)
    spacing = rng.uniform(3.0, 8.0)
    style = str(rng.choice(["hatch", "waves", "cross"]))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    along = xx * np.cos(angle) + yy * np.sin(angle)
    across = -xx * np.sin(angle) + yy * np.cos(angle)
    if style == "waves":
        along = along + rng.uniform(2.0, 6.0) * np.sin(across / rng.uniform(8.0, 25.0))
    layer = (0.5 + 0.5 * np.cos(2 * np.pi * along / spacing)) ** 4
    if style == "cross":
        other = xx * np.cos(angle + np.pi / 2) + yy * np.sin(angle + np.pi / 2)
        layer = np.maximum(layer, (0.5 + 0.5 * np.cos(2 * np.pi * other / spacing)) ** 4)
    strength = rng.uniform(0.12, 0.4)
    color = np.array(rng.uniform(120, 230, 3), np.float32)
    layer = cv2.GaussianBlur(layer, (0, 0), 0.5) * strength
    img[:] = img * (1 - layer[..., None]) + color * layer[..., None]
    return {"pattern": style, "pattern_spacing": round(spacing, 1), "pattern_strength": round(strength, 2)}

