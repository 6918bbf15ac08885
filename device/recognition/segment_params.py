"""The segmentation's tunables, in one place: every threshold and size ``segment`` and ``ink`` use."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SegmentParams:
    """Tunables of the segmentation, in one place (fractions are of the frame's size unless said)."""

    paper_kernel: float = 0.12  # closing (fraction of the width): wider than any stroke or filled blob
    line_length: float = 0.19  # ruled lines: straight dark runs at least this fraction of the width
    column_length: float = 0.3  # vertical lines (margin, grid): this fraction of the height
    line_tilt_tolerance: int = 1  # quarter-res pixels of dilation across the kernel, for tilted rulings
    column_tilt_tolerance: int = 2  # the same for vertical lines (a margin drawn by hand tilts more)
    ruling_max_thickness: float = 0.011  # (of the width) a stroke at least this thick is ink, not a ruling
    stroke_max_thickness: float = 0.1  # ... unless it is this thick (a band of table, not a pen stroke)
    stroke_sheet_level: float = 0.75  # ... and only where the paper is this bright (of the sheet's level)
    strong_darkness: float = 0.22  # seed ink: this much darker than the paper (relative)
    weak_darkness: float = 0.11  # grown ink: touching a seed and this much darker
    min_contrast: float = 14.0  # and at least this many grey levels darker than the paper
    noise_factor: float = 5.0  # thresholds never below this many noise standard deviations
    min_height: float = 0.025  # a digit is at least this fraction of the frame's shorter side tall
    max_height: float = 0.6  # ... and at most this fraction of the frame height
    max_width: float = 0.5  # ... and at most this fraction of the frame width
    max_aspect: float = 5.0  # width / height above this: a dash or a ruling; touching digits are cut (split.py)
    split_aspect: float = 1.0  # parts wider than this times their height are cut at empty columns of certain ink
    min_relative_height: float = 0.5  # parts shorter than this fraction of the writing's typical height: noise
    max_relative_height: float = 1.7  # ... taller than this multiple: a paper edge, a fold, a hand
    first_max_relative_height: float = 2.3  # ... but a line's first digit-shaped part may be this tall
    min_relative_darkness: float = 0.65  # marks whose ink is fainter than this share of their line's: not writing
    min_relative_stroke: float = 0.35  # ... or whose strokes are thinner than this share of their line's
    table_level: float = 0.38  # paper darker than this fraction of the bright paper: the table, not paper
    table_neighbor: float = 1.0  # ... unless within this many digit heights of writing on the paper
    dim_level: float = 0.7  # ... or darker than this, with a sharp border to the bright paper (the sheet's edge)
    sheet_edge_steepness: float = 1.5  # log-brightness gradient (quarter res) of that sharp border
    sheet_contrast: float = 0.75  # the table beside a sheet is at most this fraction of the sheet's brightness
    sheet_min_area: float = 0.15  # a sheet covers at least this fraction of the frame
    sheet_edge_median: float = 0.5  # median log-brightness gradient along a sheet's border (a shadow's is ~0.1)
    column_darkness: int = 40  # a vertical ruling at least this dark (0-255) continuing a thin part ...
    column_ink_ratio: float = 1.5  # ... that is at most this much darker than the ruling: a piece of it
    edge_step: float = 0.6  # a thin part between brightnesses differing by this ratio: the paper's edge
    merge_overlap: float = 0.45  # x-overlap (of the narrower part) above which two parts are one digit ...
    twin_height: float = 0.8  # ... unless both are about as tall (this fraction): then they are two digits
    stack_gap: float = 0.12  # parts one above the other this close (of the taller's height) are one digit
    sliver_reach: int = 4  # half-res pixels: thin parts this close to a border-touching blob are its edge
    fragment_min: float = 0.15  # stroke fragments at least this fraction of the typical height ...
    fragment_gap: float = 0.2  # ... and at most this far from a digit (same unit) belong to it
    crop_margin: float = 0.15  # crops get this fraction of the digit's size as margin
    max_side: int = 1024  # larger frames are analysed at this size (boxes are mapped back)
    cutout_width: int = 320  # an image narrower than this ...
    cutout_height: int = 240  # ... and lower than this is a cut-out (a scan of a number), not a camera frame:
    cutout_text_height: int = 100  # ... it is analysed scaled to this height in a 640x480 frame of its paper


DEFAULT_PARAMS = SegmentParams()
