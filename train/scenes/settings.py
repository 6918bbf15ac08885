"""The generator's ranges, in one frozen value that every stage reads and ``scenes.json`` records."""

from __future__ import annotations

from dataclasses import dataclass


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
