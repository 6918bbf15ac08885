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
    # Real writing (the "strings" preset). At their defaults these draw nothing from the generator, so the
    # sets made before they existed come out the same, byte for byte.
    separator_prob: float = 0.0  # a one-line string of >= 3 digits gets separators: 18.014, 12,50, 12-05, 3/4, 1 500
    pattern_prob: float = 0.0  # security-paper pattern (fine hatching or waves) behind the ink
    scanned_prob: float = 0.0  # a flat scan: no perspective, table or shadow, even light
    baseline_drift: float = 0.0  # the baseline climbs or sinks by up to this many digit heights per digit


PRESETS: dict[str, SceneSettings] = {
    # The camera scenes of docs/RESULTS.md: separated digits (regression guard; do not change).
    "camera": SceneSettings(),
    # Numbers as people write them: touching and overlapping digits, separators, fine pen to marker,
    # stronger slant, a drifting baseline, patterned paper, scans and photographs.
    "strings": SceneSettings(
        min_digits=2, max_digits=7, two_line_prob=0.0, gap=(-0.12, 0.35), slant_deg=(-15.0, 15.0),
        stroke_threshold=(0.12, 0.6), separator_prob=0.5, pattern_prob=0.35, scanned_prob=0.3,
        baseline_drift=0.05,
    ),
}
