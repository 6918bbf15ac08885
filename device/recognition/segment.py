"""Find the handwritten digits in a camera frame: dark ink on light paper -> boxes in reading order.

The steps, each undoing one thing a camera does to a sheet of paper:

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
4. **Components -> digits.** Connected components are grouped into lines of text by vertical
   overlap; within a line, parts whose horizontal extents overlap (the bar of a 5, an open 4)
   merge into one digit. Specks, dots, dashes, things touching the frame's border (paper edges,
   cut-off digits), pieces of a margin or grid line that survived step 2 (in line with the ruling
   and no darker than it) and anything far too large or too small for its line are dropped; a thin
   "1" is kept because size is judged by height, not area.

Each digit comes with a crop of the flattened image in which everything that is not that digit's
ink is paper-white, so ``device.recognition.preprocess.normalize_digits(crops, ink="dark")`` sees one clean
digit. ``segment`` never raises on an image it can read: a black, white, tiny or empty frame gives
an empty list.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from device.recognition.preprocess import to_gray

Box = tuple[int, int, int, int]  # x, y, width, height in frame pixels


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
    max_aspect: float = 1.8  # width / height above this: a dash or a line remnant, not one digit
    min_relative_height: float = 0.5  # parts shorter than this fraction of the writing's typical height: noise
    max_relative_height: float = 1.7  # ... taller than this multiple: a paper edge, a fold, a hand
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


DEFAULT_PARAMS = SegmentParams()


@dataclass(frozen=True)
class Segment:
    """One digit found in a frame."""

    box: Box  # x, y, w, h of the ink in the frame
    line: int  # line of text, 0 = top
    crop: np.ndarray  # uint8 grayscale, dark ink on white, only this digit's ink, with a margin


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
# Components: lines of text, merged parts, filters
# --------------------------------------------------------------------------------------------
@dataclass
class _Part:
    """A group of connected components that is (becoming) one digit."""

    x0: int
    y0: int
    x1: int  # exclusive
    y1: int
    labels: list[int]
    area: int = 0  # ink pixels
    on_table: bool = False  # lies where the paper looks like the table (or a sharp, dark shadow)

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    def absorb(self, other: _Part) -> None:
        self.x0, self.y0 = min(self.x0, other.x0), min(self.y0, other.y0)
        self.x1, self.y1 = max(self.x1, other.x1), max(self.y1, other.y1)
        self.labels.extend(other.labels)
        self.area += other.area
        self.on_table = self.on_table and other.on_table


def _group_lines(parts: list[_Part]) -> list[list[_Part]]:
    """Lines of text: the tallest parts found lines; a part joins the line it overlaps most vertically."""
    ranges: list[tuple[int, int]] = []  # y-range of each line's founding (tallest) part
    members: list[list[_Part]] = []
    for part in sorted(parts, key=lambda p: -p.height):
        best, best_overlap = -1, 0.0
        for i, (ly0, ly1) in enumerate(ranges):
            overlap = (min(ly1, part.y1) - max(ly0, part.y0)) / max(1, min(part.height, ly1 - ly0))
            if overlap > best_overlap:
                best, best_overlap = i, overlap
        if best >= 0 and best_overlap >= 0.5:
            members[best].append(part)
        else:
            ranges.append((part.y0, part.y1))
            members.append([part])
    order = sorted(range(len(members)), key=lambda i: (ranges[i][0] + ranges[i][1]) / 2)
    return [sorted(members[i], key=lambda p: p.x0) for i in order]


def _merge_stacked(parts: list[_Part], params: SegmentParams) -> list[_Part]:
    """Merge parts stacked with a thin gap between them: a stroke cut where it crosses a ruled line.

    Before lines of text are formed, since the two halves of a cut digit overlap no line together.
    """
    if len(parts) > 150:  # a cluttered frame: not worth the pairwise search
        return parts
    merged = True
    while merged:
        merged = False
        parts.sort(key=lambda p: p.x0)
        for i, a in enumerate(parts):
            for b in parts[i + 1 :]:
                if b.x0 >= a.x1:
                    break
                overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
                gap = max(a.y0, b.y0) - min(a.y1, b.y1)
                if (
                    overlap > params.merge_overlap * min(a.width, b.width)
                    and gap <= params.stack_gap * max(a.height, b.height) + 1
                ):
                    a.absorb(b)
                    parts.remove(b)
                    merged = True
                    break
            if merged:
                break
    return parts


def _merge_overlapping(line: list[_Part], params: SegmentParams) -> list[_Part]:
    """Merge parts of one digit: horizontal extents that overlap by much of the narrower one.

    Two parts of about the same height side by side are two digits (a slanted 1 beside a 6), however
    much their boxes overlap; a part of one digit is clearly shorter than the other (an open 4's stem).
    """
    merged: list[_Part] = []
    for part in sorted(line, key=lambda p: p.x0):
        if merged:
            last = merged[-1]
            overlap = min(last.x1, part.x1) - max(last.x0, part.x0)
            similar = min(last.height, part.height) > params.twin_height * max(last.height, part.height)
            if overlap > params.merge_overlap * min(last.width, part.width) and not similar:
                last.absorb(part)
                continue
        merged.append(part)
    return merged


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


def _on_paper_edge(part: _Part, gray_small: np.ndarray, params: SegmentParams) -> bool:
    """A thin upright part with much darker surroundings on one side than the other: the sheet's edge.

    A pen stroke has paper on both sides; the edge of the sheet has paper on one side and the
    table on the other. Judged on the raw brightness (quarter resolution) a little left and right.
    """
    if part.width * 3 > part.height:
        return False
    qw = gray_small.shape[1]
    rows = slice(part.y0 // 2, max(part.y0 // 2 + 1, part.y1 // 2))
    x0, x1 = part.x0 // 2, (part.x1 + 1) // 2
    # The brightest of a few columns on each side, row by row: a neighbouring digit's strokes leave
    # paper between them, the table does not.
    left_band = gray_small[rows, max(0, x0 - 5) : max(1, x0 - 1)]
    right_band = gray_small[rows, min(qw - 1, x1 + 1) : min(qw, x1 + 5)]
    if left_band.size == 0 or right_band.size == 0:
        return False
    left = float(np.median(left_band.max(axis=1)))
    right = float(np.median(right_band.max(axis=1)))
    return min(left, right) < params.edge_step * max(left, right, 1.0)


def _continues_a_column(part: _Part, ink: InkImages, params: SegmentParams) -> bool:
    """A thin upright part in line with a vertical ruling just above or below it, and no darker: a piece of it.

    Where a margin or grid line meets the sheet's edge or a shadow, a piece of it can survive the
    ruling removal and look like a "1". A "1" written on the line is much darker than the line.
    """
    if part.width * 3 > part.height:
        return False
    columns = ink.columns_small
    qh, qw = columns.shape
    x0, x1 = max(0, part.x0 // 2 - 1), min(qw, (part.x1 + 1) // 2 + 1)
    y0, y1, reach = part.y0 // 2, (part.y1 + 1) // 2, max(2, part.height // 2)
    box = (slice(2 * part.y0, 2 * part.y1), slice(2 * part.x0, 2 * part.x1))
    ink_darkness = ink.darkness[box][ink.weak[box] > 0]
    if ink_darkness.size == 0:
        return False
    own = float(np.median(ink_darkness))
    for rows in (columns[max(0, y0 - reach) : y0, x0:x1], columns[y1 : min(qh, y1 + reach), x0:x1]):
        if rows.shape[0] < 2 or rows.shape[1] == 0:
            continue
        line = rows.max(axis=1)
        if np.mean(line >= params.column_darkness) >= 0.6 and own <= params.column_ink_ratio * float(np.median(line)):
            return True
    return False


def _writing_on_the_table(line: list[_Part], typical: float, params: SegmentParams) -> list[_Part]:
    """Keep a part that lies on what looks like the table only as part of writing that continues on the paper.

    Texture of the table beside the sheet looks like ink; a digit in a dark, sharp-edged shadow
    looks like it lies on the table. The difference: the digit belongs to a string whose other
    digits lie on the paper, one digit gap away at most (a chain of such digits counts).
    """
    kept = [not p.on_table for p in line]
    if all(kept) or not any(kept):
        return line if all(kept) else []
    reach = params.table_neighbor * typical
    changed = True
    while changed:
        changed = False
        for i, part in enumerate(line):
            if kept[i]:
                continue
            if any(kept[j] and max(line[j].x0 - part.x1, part.x0 - line[j].x1) <= reach for j in range(len(line))):
                kept[i] = changed = True
    return [p for p, keep in zip(line, kept, strict=True) if keep]


def _attach_fragments(digits: list[_Part], others: list[_Part], typical: float, params: SegmentParams) -> None:
    """Give stroke fragments too small to be digits (a 5's detached bar, a broken loop) to the nearest digit.

    Only fragments of a noticeable size (not specks) that lie within a small gap of a digit join it;
    the rest is dropped.
    """
    for frag in others:
        size = max(frag.width, frag.height)
        if size < params.fragment_min * typical or frag.width > 1.2 * typical or frag.height > typical:
            continue
        best, best_gap = None, params.fragment_gap * typical
        for digit in digits:
            gap_x = max(0, digit.x0 - frag.x1, frag.x0 - digit.x1)
            gap_y = max(0, digit.y0 - frag.y1, frag.y0 - digit.y1)
            gap = max(gap_x, gap_y)
            if gap <= best_gap:
                best, best_gap = digit, gap
        if best is not None:
            best.absorb(frag)


def _drop_edge_slivers(
    parts: list[_Part], labels: np.ndarray, edge_labels: list[int], params: SegmentParams
) -> list[_Part]:
    """Drop thin parts right beside something large that touches the frame's border.

    The table or the sheet's edge runs off the frame; where the light's estimate changes along it,
    thin strips of it break off as separate components that look like a "1".
    """
    thin = [p for p in parts if max(p.width, p.height) >= 3 * min(p.width, p.height)]
    if not edge_labels or not thin:
        return parts
    reach = params.sliver_reach
    zone = cv2.dilate(np.isin(labels, edge_labels).astype(np.uint8), np.ones((2 * reach + 1,) * 2, np.uint8))
    slivers = {
        id(p)
        for p in thin
        if np.any(zone[p.y0 : p.y1, p.x0 : p.x1][np.isin(labels[p.y0 : p.y1, p.x0 : p.x1], p.labels)])
    }
    return [p for p in parts if id(p) not in slivers]


def _weighted_median(values: list[int], weights: list[int]) -> float:
    """The value below which half of the total weight lies (0 for no values)."""
    if not values:
        return 0.0
    order = np.argsort(values)
    cumulative = np.cumsum(np.asarray(weights, np.float64)[order])
    return float(np.asarray(values)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def _half_mask(mask: np.ndarray) -> np.ndarray:
    """0/255 mask at half resolution, a pixel set where any of its 2x2 source pixels is (max pooling)."""
    h, w = mask.shape
    return cv2.threshold(
        cv2.resize(mask, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA),
        0,
        255,
        cv2.THRESH_BINARY,
    )[1]


def find_digit_parts(ink: InkImages, params: SegmentParams = DEFAULT_PARAMS) -> tuple[np.ndarray, list[list[_Part]]]:
    """Half-resolution label image and the digits (groups of its labels) per line, in reading order.

    Components are found at half resolution (4x fewer pixels; digits are >= ~20 px tall), keeping
    only those of the weak mask that contain strong ink (hysteresis). Part coordinates are half-res.
    """
    weak_half, strong_half = _half_mask(ink.weak), _half_mask(ink.strong)
    h, w = weak_half.shape
    count, labels, stats, _ = cv2.connectedComponentsWithStats(weak_half, connectivity=8)
    has_strong = np.bincount(labels[strong_half > 0], minlength=count) > 0
    min_h = max(4.0, params.min_height * min(h, w))
    paper_small = ink.paper_small
    table = table_mask(paper_small, ink.gray_small, params)
    parts: list[_Part] = []
    edge_labels: list[int] = []
    for i in np.flatnonzero(has_strong[1:]) + 1:
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if area < 3:
            continue
        if x == 0 or y == 0 or x + bw >= w or y + bh >= h:
            if max(bw, bh) > params.min_height * min(h, w):
                edge_labels.append(int(i))
            continue  # paper edges, table, cut-off digits
        if bh > params.max_height * h or bw > params.max_width * w:
            continue  # shadow edges, folds, hands
        on_table = bool(table[(y + bh // 2) // 2, (x + bw // 2) // 2])
        parts.append(_Part(x, y, x + bw, y + bh, [int(i)], area, on_table))

    parts = _drop_edge_slivers(parts, labels, edge_labels, params)
    lines = [_merge_overlapping(line, params) for line in _group_lines(_merge_stacked(parts, params))]

    def digit_shaped(p: _Part) -> bool:
        return (
            p.height >= min_h
            and p.width <= params.max_aspect * p.height
            and not _on_paper_edge(p, ink.gray_small, params)
            and not _continues_a_column(p, ink, params)
        )

    # The writing's size: the typical height of the digit-shaped parts in the line with the most
    # ink on the paper. Specks, even many in a row, stray fragments and the table do not count.
    shaped = [[p for p in line if digit_shaped(p)] for line in lines]
    on_paper = [[p for p in line if not p.on_table] for line in shaped]
    candidates = on_paper if any(on_paper) else shaped
    reference = max(candidates, key=lambda ln: sum(p.area for p in ln), default=[])
    typical = _weighted_median([p.height for p in reference], [p.area for p in reference])
    low, high = params.min_relative_height * typical, params.max_relative_height * typical
    digits_per_line = [kept for line in shaped if (kept := [p for p in line if low <= p.height <= high])]
    digits_per_line = [kept for line in digits_per_line if (kept := _writing_on_the_table(line, typical, params))]
    chosen = {id(p) for line in digits_per_line for p in line}
    leftovers = [p for line in lines for p in line if id(p) not in chosen]
    _attach_fragments([p for line in digits_per_line for p in line], leftovers, typical, params)
    return labels, digits_per_line


# --------------------------------------------------------------------------------------------
# Crops and the public entry point
# --------------------------------------------------------------------------------------------
def _digit_crop(
    ink: InkImages, labels_half: np.ndarray, part: _Part, params: SegmentParams
) -> tuple[np.ndarray, Box] | None:
    """The flattened image around one digit (full resolution), everything but its own ink paper-white."""
    h, w = ink.weak.shape
    x0, y0, x1, y1 = 2 * part.x0, 2 * part.y0, min(w, 2 * part.x1), min(h, 2 * part.y1)
    margin = round(params.crop_margin * max(x1 - x0, y1 - y0)) + 2
    x0, y0, x1, y1 = max(0, x0 - margin), max(0, y0 - margin), min(w, x1 + margin), min(h, y1 + margin)
    hx0, hy0 = x0 // 2, y0 // 2
    own_half = np.isin(labels_half[hy0 : (y1 + 1) // 2, hx0 : (x1 + 1) // 2], part.labels).astype(np.uint8)
    own = cv2.resize(own_half, (own_half.shape[1] * 2, own_half.shape[0] * 2), interpolation=cv2.INTER_NEAREST)
    own = own[y0 - 2 * hy0 : y0 - 2 * hy0 + (y1 - y0), x0 - 2 * hx0 : x0 - 2 * hx0 + (x1 - x0)]
    own = cv2.bitwise_and(own * 255, ink.weak[y0:y1, x0:x1])
    ys, xs = np.nonzero(own)
    if ys.size == 0:
        return None
    box = (x0 + int(xs.min()), y0 + int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
    own = cv2.dilate(own, np.ones((3, 3), np.uint8))  # keep the strokes' anti-aliased rims
    crop = np.where(own > 0, cv2.bitwise_not(ink.darkness[y0:y1, x0:x1]), np.uint8(255))
    return crop, box


def segment(frame: np.ndarray, params: SegmentParams = DEFAULT_PARAMS) -> list[Segment]:
    """Digits of a frame (HxW gray or HxWx3 BGR, uint8), reading order: lines top to bottom, left to right."""
    try:
        gray = to_gray(frame)
    except ValueError:
        return []
    if gray.ndim != 2 or min(gray.shape) < 16:
        return []
    scale = 1.0
    if max(gray.shape) > params.max_side:
        scale = params.max_side / max(gray.shape)
        gray = cv2.resize(
            gray, (round(gray.shape[1] * scale), round(gray.shape[0] * scale)), interpolation=cv2.INTER_AREA
        )
    ink = ink_images(gray, params)
    labels_half, lines = find_digit_parts(ink, params)
    segments: list[Segment] = []
    for line_index, line in enumerate(lines):
        for part in line:
            found = _digit_crop(ink, labels_half, part, params)
            if found is None:
                continue
            crop, box = found
            if scale != 1.0:
                box = (
                    round(box[0] / scale),
                    round(box[1] / scale),
                    round(box[2] / scale),
                    round(box[3] / scale),
                )
            segments.append(Segment(box=box, line=line_index, crop=crop))
    return segments
