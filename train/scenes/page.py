"""One sheet and its photograph: digits laid out on paper, then a camera's tilt, defocus and noise.

``render_page`` composes the materials of ``render`` into the sheet seen head-on, with a label map that
says which pixels are which digit's ink; ``safe_perspective`` and ``photograph`` turn it into a frame,
keeping every digit inside it so the ground truth boxes stay true.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from train.scenes.render import (
    choose_separators,
    draw_rulings,
    layout_string,
    lighting,
    paper,
    render_digit,
    render_separator,
    security_pattern,
    smooth_noise,
    table_mask,
)
from train.scenes.settings import SceneSettings


class SceneError(RuntimeError):
    """A scene that cannot be made with the given settings and frame size; the message is one line."""


def render_page(
    rng: np.random.Generator,
    size: tuple[int, int],
    images: np.ndarray,
    labels: np.ndarray,
    index_pool: np.ndarray,
    settings: SceneSettings,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The sheet seen head-on: (BGR float32 image, label map, truth without boxes).

    The label map holds i + 1 where digit i's ink is.
    """
    w, h = size
    n = int(rng.integers(settings.min_digits, settings.max_digits + 1))
    n_lines = 2 if n >= 2 and rng.random() < settings.two_line_prob else 1
    per_line = [n] if n_lines == 1 else [n - n // 2, n // 2]
    line_of = [line for line, count in enumerate(per_line) for _ in range(count)]
    picks = rng.choice(index_pool, size=n, replace=False)
    separators: dict[int, str] = {}  # index of the digit a separator follows -> its character
    if settings.separator_prob > 0 and n_lines == 1 and n >= 3 and rng.random() < settings.separator_prob:
        separators = choose_separators(rng, n)

    img, params = paper(rng, (h, w))
    if settings.pattern_prob > 0 and rng.random() < settings.pattern_prob:
        params.update(security_pattern(rng, img))
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
    kinds: list[str] = ["digit"] * n
    for _attempt in range(6):
        heights = [height * (1 + rng.uniform(-1, 1) * settings.size_jitter) for _ in picks]
        strokes = [render_digit(rng, images[k], hh, slant, settings) for k, hh in zip(picks, heights, strict=True)]
        stroke_lines = line_of
        if separators:
            strokes, kinds = _with_separators(rng, strokes, separators, height, slant)
            stroke_lines = [0] * len(strokes)
        positions = layout_string(rng, strokes, stroke_lines, heights, usable, settings, line_pitch,
                                  kinds if separators else None)
        if positions is not None:
            break
        height *= 0.85
    if positions is None:
        raise SceneError(f"the digits do not fit into a {w}x{h} frame")

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
    digit_number = 0
    for stroke, kind, (x, y) in zip(strokes, kinds, positions, strict=True):
        sh, sw = stroke.shape
        coverage[y : y + sh, x : x + sw] = np.maximum(coverage[y : y + sh, x : x + sw], stroke)
        if kind == "digit":  # separators are ink, but no digit: they stay out of the label map
            digit_number += 1
            label_map[y : y + sh, x : x + sw][stroke > 0.35] = digit_number
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
        {"digit": int(labels[k]), "box": None, "line": line_of[i], "mnist_index": int(k)}
        for i, k in enumerate(picks)
    ]
    lines = ["".join(str(d["digit"]) for d in digits if d["line"] == line) for line in range(n_lines)]
    truth: dict[str, Any] = {"text": " ".join(lines), "lines": lines, "digits": digits, "params": params}
    if separators:
        truth["text"] = "".join(str(d["digit"]) + separators.get(i, "") for i, d in enumerate(digits))
        truth["separators"] = [{"after": i, "char": c} for i, c in sorted(separators.items())]
    return img, label_map, truth


def _with_separators(
    rng: np.random.Generator, digits: list[np.ndarray], separators: dict[int, str], height: float, slant: float
) -> tuple[list[np.ndarray], list[str]]:
    """The digit strokes with separator strokes after the digits they follow, and each stroke's kind."""
    strokes: list[np.ndarray] = []
    kinds: list[str] = []
    for i, stroke in enumerate(digits):
        strokes.append(stroke)
        kinds.append("digit")
        if i in separators:
            strokes.append(render_separator(rng, separators[i], height, slant))
            kinds.append(separators[i])
    return strokes, kinds


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
) -> tuple[np.ndarray, dict[str, Any]]:
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

