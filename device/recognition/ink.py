"""The segmentation's pixel stage: which pixels of a camera frame are ink, and which lie off the paper.

``ink_images`` turns a grayscale frame into ink masks in three steps, each undoing one thing a camera
does to a sheet of paper (``device.recognition.segment`` then groups the ink into digits):

1. **Flatten the light.** The paper's brightness is estimated at quarter resolution by a grey
   closing (ink strokes are thin and dark, so a max filter wider than a stroke sees only paper),
   and every pixel is expressed as *darkness* relative to it: ``1 - gray / paper``. Gradients,
   vignetting and soft shadows divide out.
2. **Remove ruled lines.** A grey opening with long horizontal (and vertical) kernels keeps only
   what runs straight across much of the frame (ruled lines, a margin, a grid, the paper's edge);
   subtracting it (a top-hat) leaves the strokes, even where they cross a line. A short dilation
   across the kernel first keeps slightly tilted lines continuous. A pen stroke that runs as far
   as a ruling (the bar of a wide 7) is spared because it is thicker than any ruling.
3. **Threshold with hysteresis.** Pixels clearly darker than the paper (relative and absolute
   margins, scaled to the measured noise) seed the ink; fainter pixels join only where they touch a
   seed, so faint strokes stay whole while paper texture does not become ink. A 3x3 closing joins
   strokes broken by a pixel or two.

``table_mask`` and ``outside_sheet`` tell, at quarter resolution, where the frame shows the table
beside the sheet rather than paper (or paper in a sharp, dark shadow).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from device.recognition.segment_params import DEFAULT_PARAMS, SegmentParams


# --------------------------------------------------------------------------------------------
# Pixels: light flattening, line removal, thresholding (uint8 OpenCV calls: a few ms per frame)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InkImages:
    """What the pixel stage hands on; all uint8 and the frame's shape unless said."""

    darkness: np.ndarray  # 0 = paper .. 255 = black, relative to the local paper level, rulings removed
    weak: np.ndarray  # 0/255: possibly ink (closed)
    strong: np.ndarray  # 0/255: certainly ink
    paper_small: np.ndarray  # the paper's brightness at quarter resolution
    gray_small: np.ndarray  # the frame's brightness at quarter resolution
    columns_small: np.ndarray  # darkness of the vertical rulings found (margin, grid), quarter resolution


def _percentiles_u8(image: np.ndarray, quantiles: tuple[float, ...]) -> list[int]:
    """Percentiles of a uint8 image from its histogram (much faster than np.percentile)."""
    hist = cv2.calcHist([image], [0], None, [256], [0, 256]).ravel()
    cumulative = np.cumsum(hist) / max(1.0, float(hist.sum()))
    return [int(np.searchsorted(cumulative, q)) for q in quantiles]


def _thickness_at_least(darkness: np.ndarray, side: float) -> np.ndarray:
    """Darkness kept where a ``side``-pixel run fits both across and along (a grey opening each way)."""
    n = max(2, round(side))
    return cv2.min(
        cv2.morphologyEx(darkness, cv2.MORPH_OPEN, np.ones((n, 1), np.uint8)),
        cv2.morphologyEx(darkness, cv2.MORPH_OPEN, np.ones((1, n), np.uint8)),
    )


def _pen_strokes(
    darkness: np.ndarray, rulings: np.ndarray, paper: np.ndarray, paper_small: np.ndarray, params: SegmentParams
) -> np.ndarray:
    """0/255, full resolution: where a found "ruling" is really a pen stroke on the sheet, to be kept.

    A digit's own long straight stroke (the bar of a wide 7) runs far enough to pass for a ruling,
    but it is thicker than any ruling in both directions. "Thick" means as dark over the whole run
    as the ruling found there: in noise or texture that maximum comes from a few dark pixels, never
    from a solid run. Broad dark bands (the table beyond the sheet's edge) are thicker than any
    stroke, and the table's texture is full of stroke-thick blobs: only the sheet is spared.
    Measured at half resolution (a few times cheaper; strokes that matter are >= 7 px thick).
    """
    h, w = darkness.shape
    half_size = (max(1, w // 2), max(1, h // 2))
    dark = cv2.resize(darkness, half_size, interpolation=cv2.INTER_AREA)
    ruling = cv2.resize(rulings, half_size, interpolation=cv2.INTER_AREA)
    solid = cv2.max(dark // 2, cv2.subtract(ruling, ruling // 4))
    stroke = cv2.bitwise_and(
        cv2.compare(_thickness_at_least(dark, params.ruling_max_thickness * w / 2), solid, cv2.CMP_GE),
        cv2.compare(_thickness_at_least(dark, params.stroke_max_thickness * w / 2), dark // 2, cv2.CMP_LT),
    )
    sheet_level = _percentiles_u8(paper_small, (0.9,))[0]
    on_sheet = cv2.compare(
        cv2.resize(paper, half_size, interpolation=cv2.INTER_AREA),
        round(params.stroke_sheet_level * sheet_level),
        cv2.CMP_GE,
    )
    return cv2.resize(cv2.bitwise_and(stroke, on_sheet), (w, h), interpolation=cv2.INTER_NEAREST)


def ink_images(gray: np.ndarray, params: SegmentParams = DEFAULT_PARAMS) -> InkImages:
    """Flatten the light, remove rulings, threshold with hysteresis margins (see the module docstring)."""
    h, w = gray.shape
    qw, qh = max(1, w // 4), max(1, h // 4)
    small = cv2.resize(gray, (qw, qh), interpolation=cv2.INTER_AREA)
    side = max(3, round(params.paper_kernel * qw) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    # No smoothing after the closing: it would blur the paper's edge into a band of false ink.
    paper_small = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)
    paper = cv2.max(cv2.resize(paper_small, (w, h), interpolation=cv2.INTER_LINEAR), gray)
    darkness = cv2.bitwise_not(cv2.divide(gray, cv2.max(paper, 1), scale=255))

    # Rulings: long straight dark runs, found at quarter resolution on a max-pooled darkness (a
    # 1-px line keeps its full darkness), then subtracted at full resolution from the pixels that
    # are no darker than the ruling there. Ink crossing a line is darker than the line and stays.
    dark_pooled = cv2.resize(cv2.dilate(darkness, np.ones((4, 4), np.uint8)), (qw, qh), interpolation=cv2.INTER_NEAREST)
    tol = 2 * params.line_tilt_tolerance + 1
    col_tol = 2 * params.column_tilt_tolerance + 1
    rows_len = max(3, round(params.line_length * qw))
    cols_len = max(3, round(params.column_length * qh))
    horizontal = cv2.morphologyEx(
        cv2.dilate(dark_pooled, np.ones((tol, 1), np.uint8)), cv2.MORPH_OPEN, np.ones((1, rows_len), np.uint8)
    )
    vertical = cv2.morphologyEx(
        cv2.dilate(dark_pooled, np.ones((1, col_tol), np.uint8)),
        cv2.MORPH_OPEN,
        np.ones((cols_len, 1), np.uint8),
    )
    rulings_small = cv2.max(horizontal, vertical)
    if int(rulings_small.max()) > 8:
        rulings = cv2.resize(rulings_small, (w, h), interpolation=cv2.INTER_LINEAR)
        line_like = cv2.compare(darkness, cv2.add(rulings, rulings // 4 + 8), cv2.CMP_LE)
        pen = _pen_strokes(darkness, rulings, paper, paper_small, params)
        line_like = cv2.bitwise_and(line_like, cv2.bitwise_not(pen))
        darkness = cv2.subtract(darkness, cv2.bitwise_and(rulings, line_like))
    dark_small = cv2.resize(darkness, (qw, qh), interpolation=cv2.INTER_AREA)

    # Thresholds: fixed margins, raised on noisy frames (noise from the paper's darkness spread).
    median, upper = _percentiles_u8(dark_small, (0.5, 0.75))
    noise = (upper - median) / 0.6745
    strong_t = max(params.strong_darkness * 255, median + params.noise_factor * noise)
    weak_t = max(params.weak_darkness * 255, median + 0.6 * params.noise_factor * noise)
    contrast = cv2.subtract(paper, gray)  # grey levels below the paper
    contrast_ok = cv2.threshold(contrast, params.min_contrast, 255, cv2.THRESH_BINARY)[1]
    weak_contrast_ok = cv2.threshold(contrast, 0.6 * params.min_contrast, 255, cv2.THRESH_BINARY)[1]
    strong = cv2.bitwise_and(cv2.threshold(darkness, strong_t, 255, cv2.THRESH_BINARY)[1], contrast_ok)
    weak = cv2.bitwise_and(cv2.threshold(darkness, weak_t, 255, cv2.THRESH_BINARY)[1], weak_contrast_ok)
    weak = cv2.morphologyEx(weak, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    return InkImages(
        darkness=darkness, weak=weak, strong=strong, paper_small=paper_small, gray_small=small, columns_small=vertical
    )


# --------------------------------------------------------------------------------------------
# Paper or table: where the sheet ends (quarter resolution)
# --------------------------------------------------------------------------------------------
def _log_steepness(image: np.ndarray) -> np.ndarray:
    """Gradient magnitude of log brightness: the same for a step in dim light as in bright light."""
    log_image = np.log(np.maximum(image, 1).astype(np.float32))
    return np.hypot(cv2.Sobel(log_image, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(log_image, cv2.CV_32F, 0, 1, ksize=3))


def table_mask(paper_small: np.ndarray, gray_small: np.ndarray, params: SegmentParams = DEFAULT_PARAMS) -> np.ndarray:
    """Quarter-resolution mask (uint8 0/1) of what is not the sheet: the table around it.

    Darker regions of the paper estimate are either shadows on the sheet or the table beside it.
    The sheet's edge is sharp, a shadow's edge is soft: a dim region whose border with the bright
    paper is mostly a steep step (in log brightness) is the table. Anything darker than
    ``table_level`` of the bright paper counts as table too, and so does what lies outside the
    sheet's outline (``outside_sheet``), found both in the paper estimate and in the frame itself
    (median-filtered to remove the ink): the estimate's closing widens the paper over a narrow strip
    of table at the frame's border, and the frame alone is fooled by a table as bright as paper in
    places; either outline that is clear counts.
    """
    bright = max(1.0, float(np.percentile(paper_small, 90)))
    table = (paper_small < params.table_level * bright).astype(np.uint8)
    dim = (paper_small < params.dim_level * bright).astype(np.uint8)
    steep = _log_steepness(paper_small)
    inner = np.zeros(paper_small.shape, bool)
    inner[2:-2, 2:-2] = True  # the frame's own border is no edge of anything
    count, labels, stats, _ = cv2.connectedComponentsWithStats(dim, connectivity=8)
    if count > 1:
        sharp = steep > params.sheet_edge_steepness
        lit_near = cv2.dilate(1 - dim, np.ones((3, 3), np.uint8)) > 0
        for i in range(1, count):
            if stats[i, cv2.CC_STAT_AREA] < 4:
                continue
            x, y, w, h = (int(v) for v in stats[i, :4])
            box = (slice(max(0, y - 2), y + h + 2), slice(max(0, x - 2), x + w + 2))
            region = labels[box] == i
            border = cv2.dilate(region.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            border &= lit_near[box] & inner[box]
            if border.sum() >= 4 and sharp[box][border].mean() > 0.5:
                table[box][region] = 1
    smooth_gray = cv2.medianBlur(gray_small, 5)
    for brightness, steepness in ((paper_small, steep), (smooth_gray, _log_steepness(smooth_gray))):
        off_sheet = outside_sheet(brightness, steepness, inner, params)
        if off_sheet is not None:
            table |= off_sheet
    return cv2.dilate(table, np.ones((5, 5), np.uint8))


def outside_sheet(
    paper_small: np.ndarray, steep: np.ndarray, inner: np.ndarray, params: SegmentParams = DEFAULT_PARAMS
) -> np.ndarray | None:
    """Quarter-resolution mask (uint8 0/1) of what lies outside the sheet of paper, or None.

    The sheet is the largest bright region of ``paper_small`` (Otsu's split), and a sheet is
    convex: its convex hull also covers the shadows on it. Only a clear split counts: the rest at
    most ``sheet_contrast`` as bright, the sheet at least ``sheet_min_area`` of the frame, and a
    sharp border between them (median log-brightness gradient ``steep`` along it, within the
    ``inner`` part of the frame, of at least ``sheet_edge_median``). A frame filled by paper under
    a soft shadow or a light gradient has no outside.
    """
    _, bright = cv2.threshold(paper_small, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=8)
    if count < 2:
        return None
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    sheet = (labels == largest).astype(np.uint8)
    if sheet.mean() < params.sheet_min_area or sheet.all():
        return None
    if float(paper_small[sheet == 0].mean()) > params.sheet_contrast * float(paper_small[sheet > 0].mean()):
        return None
    border = cv2.morphologyEx(sheet, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)).astype(bool) & inner
    if not border.any() or float(np.median(steep[border])) < params.sheet_edge_median:
        return None
    contours, _ = cv2.findContours(sheet, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = np.zeros_like(sheet)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.vstack(contours)), 1)
    return 1 - hull
