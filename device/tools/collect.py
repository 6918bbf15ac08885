"""Your own handwriting as training data: ``device collect`` builds a labelled folder set ``0/`` .. ``9/``.

Two ways in, one way out:

* **A grid sheet** (``--print-sheet`` makes the template: a 10x10 grid in a thick frame, row r for
  digit r, a black square outside the top-left corner to tell which way is up). A photo or scan is
  searched for the frame, perspective-corrected, and each cell is cut between its own grid lines;
  the ink inside is kept, specks and line remnants are dropped.
* **Live from the camera**: the digit held in a guide box is saved under the label key pressed.

Each digit goes through ``device.recognition.preprocess.normalize_digit(..., ink="dark")`` and is written as a
28x28 PNG (bright ink on black, as MNIST) into ``OUT/<label>/NNNNN.png``: atomically, under the next
free number, never over an earlier file. A contact sheet PNG of what was saved comes with each run.
``train --extra OUT`` reads the folder.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from device.recognition.preprocess import IMAGE_SIZE, normalize_digit, to_gray

# --------------------------------------------------------------------------------------------
# The sheet's geometry, in millimetres on A4 portrait: the one place for it. The template
# (PNG and PDF) is drawn from it and the reader expects it.
# --------------------------------------------------------------------------------------------
PAGE_MM = (210.0, 297.0)
ROWS = COLS = 10
ROW_DIGITS = "0123456789"  # row r of the grid holds digit ROW_DIGITS[r]
CELL_MM = 16.0
FRAME_MM = 3.0  # thick outer frame: what the reader finds in a photo
LINE_MM = 0.5  # thin inner grid lines
GRID_MM = CELL_MM * COLS  # the grid inside the frame
FRAME_OUTER_MM = GRID_MM + 2 * FRAME_MM
FRAME_LEFT_MM = (PAGE_MM[0] - FRAME_OUTER_MM) / 2 + 4.0  # shifted right to leave room for row labels
FRAME_TOP_MM = 60.0
MARKER_MM = 7.0  # orientation square, diagonally outside the frame's top-left corner
MARKER_GAP_MM = 3.0

# The reader's canonical (perspective-corrected) picture: the frame plus a margin that holds the marker.
CANON_PX_PER_MM = 6.0
CANON_MARGIN_MM = 12.0

MIN_GRID_CONTRAST = 25.0  # grid lines at least this much darker than the paper (gray levels)
MIN_INK_CONTRAST = 40.0  # a cell whose darkest ink is closer to the paper than this is empty
MIN_INK_FRACTION = 0.004  # ... and so is one with less ink than this share of its area
SPECK_FRACTION = 0.0015  # components smaller than this share of the cell are noise
PART_FRACTION = 0.08  # components smaller than this share of the largest one are noise
LINE_SEARCH_MM = 1.5  # how far a cell's own grid line may sit from where the homography puts it
CELL_INSET_MM = 0.5  # stay clear of the anti-aliased edge of the grid lines

LIVE_BOX_FRACTION = 0.45  # the live guide box: this share of the frame's shorter side
QUIT_KEYS = {"q", "Q", "\x1b"}
CONTACT_SCALE = 2
CONTACT_MAX_COLUMNS = 25
PNG_NAME = re.compile(r"^(\d+)\.png$")
FILE_MODE = 0o644  # mkstemp makes 0600 files; saved digits and sheets are for everyone to read


class CollectError(Exception):
    """One-line, user-facing problem (no grid found, unreadable image, unwritable folder)."""


# --------------------------------------------------------------------------------------------
# The template
# --------------------------------------------------------------------------------------------
TITLE = "zmg-digits handwriting sheet"
INSTRUCTIONS = (
    "Write the row's digit in every box: dark pen, one digit per box, inside the lines.",
    "Photograph or scan the whole sheet, black square included, then run:",
    "device collect PHOTO.jpg --out my-digits/",
)
WRITER_LINE = "Writer: ____________________    Date: ______________"


def _frame_box_mm() -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the frame's outer edge on the page."""
    return FRAME_LEFT_MM, FRAME_TOP_MM, FRAME_LEFT_MM + FRAME_OUTER_MM, FRAME_TOP_MM + FRAME_OUTER_MM


def _sheet_shapes() -> tuple[list[tuple[float, float, float, float]], list[tuple[float, float, str, float]]]:
    """Black rectangles (x0, y0, x1, y1) and texts (x, baseline y, text, height), page mm, y down."""
    left, top, right, bottom = _frame_box_mm()
    f = FRAME_MM
    rects = [
        (left, top, right, top + f),
        (left, bottom - f, right, bottom),
        (left, top, left + f, bottom),
        (right - f, top, right, bottom),
    ]
    for i in range(1, COLS):
        x = left + f + i * CELL_MM
        rects.append((x - LINE_MM / 2, top + f, x + LINE_MM / 2, bottom - f))
    for i in range(1, ROWS):
        y = top + f + i * CELL_MM
        rects.append((left + f, y - LINE_MM / 2, right - f, y + LINE_MM / 2))
    m0 = MARKER_GAP_MM + MARKER_MM
    rects.append((left - m0, top - m0, left - MARKER_GAP_MM, top - MARKER_GAP_MM))
    texts = [(left, 25.0, TITLE, 6.0), (left, 40.0, WRITER_LINE, 3.5)]
    for r, digit in enumerate(ROW_DIGITS):
        texts.append((left - 9.0, top + f + (r + 0.5) * CELL_MM + 2.5, digit, 5.0))
    for i, line in enumerate(INSTRUCTIONS):
        texts.append((left, bottom + 12.0 + 7.0 * i, line, 3.2))
    return rects, texts


def render_sheet(px_per_mm: float = 150 / 25.4) -> np.ndarray:
    """The grid sheet as a grayscale image (default 150 dpi): black on white."""
    width, height = round(PAGE_MM[0] * px_per_mm), round(PAGE_MM[1] * px_per_mm)
    page = np.full((height, width), 255, np.uint8)
    rects, texts = _sheet_shapes()
    for x0, y0, x1, y1 in rects:
        # Exact pixel edges, so thin lines stay as thin as in the PDF.
        page[round(y0 * px_per_mm) : round(y1 * px_per_mm), round(x0 * px_per_mm) : round(x1 * px_per_mm)] = 0
    for x, y, text, size_mm in texts:
        scale = size_mm * px_per_mm / 22.0  # Hershey simplex capitals are ~22 px tall at scale 1
        thickness = max(1, round(scale * 1.6))
        org = (round(x * px_per_mm), round(y * px_per_mm))
        cv2.putText(page, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, 0, thickness, cv2.LINE_AA)
    return page


def sheet_pdf() -> bytes:
    """The grid sheet as a one-page vector PDF (A4), standard Helvetica: prints sharp at any size."""
    pt = 72.0 / 25.4
    page_h = PAGE_MM[1] * pt
    rects, texts = _sheet_shapes()
    ops = ["0 g"]
    for x0, y0, x1, y1 in rects:
        ops.append(f"{x0 * pt:.2f} {page_h - y1 * pt:.2f} {(x1 - x0) * pt:.2f} {(y1 - y0) * pt:.2f} re f")
    for x, y, text, size_mm in texts:
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        # Helvetica's capitals are ~0.72 em tall: size the font so they match the PNG's.
        ops.append(
            f"BT /F1 {size_mm * pt / 0.72:.2f} Tf {x * pt:.2f} {page_h - y * pt:.2f} Td ({escaped}) Tj ET"
        )
    content = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_MM[0] * pt:.2f} {page_h:.2f}] "
        f"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".encode(),
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def write_sheet(path: str | Path) -> Path:
    """Write the template as .pdf or .png (by the suffix), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        data = sheet_pdf()
    elif suffix == ".png":
        data = cv2.imencode(".png", render_sheet())[1].tobytes()
    else:
        raise CollectError(f"{path}: the sheet can be written as .pdf or .png")
    _write_atomic(path, data)
    return path


# --------------------------------------------------------------------------------------------
# Finding the grid in a photo
# --------------------------------------------------------------------------------------------
def _canon(mm: float) -> float:
    """Canonical picture coordinate (px) of a position in mm from the frame's outer top-left."""
    return (CANON_MARGIN_MM + mm) * CANON_PX_PER_MM


CANON_SIZE = round(_canon(FRAME_OUTER_MM + CANON_MARGIN_MM))


def _order_clockwise(quad: np.ndarray) -> np.ndarray:
    """Four corners in clockwise order (image coordinates, y down), starting nearest the top-left."""
    pts = quad.reshape(4, 2).astype(np.float32)
    centre = pts.mean(axis=0)
    pts = pts[np.argsort(np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0]))]
    return np.roll(pts, -int(np.argmin(pts.sum(axis=1))), axis=0)


def _quad_candidates(gray: np.ndarray, limit: int = 8) -> list[np.ndarray]:
    """Convex four-cornered outlines of dark shapes, largest first: the frame is among them."""
    side = min(gray.shape)
    block = max(15, (side // 25) | 1)  # wider than the frame's stroke, so it reads as solid ink
    ink = cv2.adaptiveThreshold(
        cv2.GaussianBlur(gray, (5, 5), 0), 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 10
    )
    ink = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(ink, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    min_area = 0.02 * gray.shape[0] * gray.shape[1]
    quads = []
    for contour in contours:
        if cv2.contourArea(contour) < min_area:
            continue
        hull = cv2.convexHull(contour)
        approx = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)
        if len(approx) == 4 and cv2.isContourConvex(approx):
            quads.append(approx)
    quads.sort(key=cv2.contourArea, reverse=True)
    return [_order_clockwise(q) for q in quads[:limit]]


def _warp(gray: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Perspective-correct so the frame's outer corners land where the canonical picture has them."""
    lo, hi = _canon(0.0), _canon(FRAME_OUTER_MM)
    target = np.float32([[lo, lo], [hi, lo], [hi, hi], [lo, hi]])
    homography = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
    return cv2.warpPerspective(
        gray, homography, (CANON_SIZE, CANON_SIZE), flags=cv2.INTER_LINEAR, borderValue=255
    )


def _line_positions_mm() -> list[float]:
    """Centres of the inner grid lines, mm from the frame's outer edge."""
    return [FRAME_MM + i * CELL_MM for i in range(1, COLS)]


def grid_contrast(canon: np.ndarray) -> float:
    """How much darker the expected inner grid lines are than the cell middles (gray levels).

    Medians along each line ignore handwriting that crosses it; a wrong outline puts the samples off
    the lines and scores near zero.
    """
    lo, hi = round(_canon(FRAME_MM)), round(_canon(FRAME_MM + GRID_MM))
    half = max(1, round(LINE_MM * CANON_PX_PER_MM / 2))

    def strip_medians(centres_mm: Iterable[float]) -> list[float]:
        medians = []
        for mm in centres_mm:
            c = round(_canon(mm))
            medians.append(float(np.median(canon[lo:hi, c - half : c + half + 1].mean(axis=1))))
            medians.append(float(np.median(canon[c - half : c + half + 1, lo:hi].mean(axis=0))))
        return medians

    lines = strip_medians(_line_positions_mm())
    paper = strip_medians(FRAME_MM + (i + 0.5) * CELL_MM for i in range(COLS))
    return float(np.median(paper) - np.median(lines))


def _marker_darkness(canon: np.ndarray) -> list[float]:
    """Paper-minus-ink at the four places the marker can be: TL, TR, BR, BL of the canonical picture."""
    offset = MARKER_GAP_MM + MARKER_MM / 2
    half = round(MARKER_MM * CANON_PX_PER_MM * 0.3)
    near, far = round(_canon(-offset)), round(_canon(FRAME_OUTER_MM + offset))
    paper = float(np.median(canon))
    spots = [(near, near), (near, far), (far, far), (far, near)]  # (y, x): TL, TR, BR, BL
    return [paper - float(np.median(canon[y - half : y + half, x - half : x + half])) for y, x in spots]


@dataclass
class FoundGrid:
    """The sheet's grid, perspective-corrected and turned upright."""

    canon: np.ndarray  # CANON_SIZE x CANON_SIZE grayscale, frame at _canon(0).._canon(FRAME_OUTER_MM)
    corners: np.ndarray  # the frame's outer corners in the photo, clockwise from its top-left
    contrast: float  # grid_contrast of canon
    quarter_turns: int  # counter-clockwise quarter turns that made it upright


def find_grid(image: np.ndarray) -> FoundGrid:
    """Locate the printed grid in a photo or scan (any rotation, moderate perspective)."""
    gray = to_gray(image)
    if gray.size == 0 or min(gray.shape) < 100:
        raise CollectError("image too small to hold a grid sheet")
    best: FoundGrid | None = None
    for corners in _quad_candidates(gray):
        canon = _warp(gray, corners)
        contrast = grid_contrast(canon)
        if best is None or contrast > best.contrast:
            best = FoundGrid(canon, corners, contrast, 0)
    if best is None or best.contrast < MIN_GRID_CONTRAST:
        raise CollectError(
            "no grid sheet found: photograph the whole sheet flat, evenly lit, with the thick frame in view"
        )
    darkness = _marker_darkness(best.canon)
    turns = int(np.argmax(darkness))
    if darkness[turns] < MIN_GRID_CONTRAST:
        raise CollectError(
            "cannot tell which way up the sheet is: include the black square at its top-left corner"
        )
    best.canon = np.ascontiguousarray(np.rot90(best.canon, turns))
    best.corners = np.roll(best.corners, -turns, axis=0)
    best.quarter_turns = turns
    return best


# --------------------------------------------------------------------------------------------
# Cutting cells and keeping the ink
# --------------------------------------------------------------------------------------------
def _inner_edge(profile: np.ndarray, threshold: float, from_start: bool) -> int | None:
    """Index just past the dark run at one end of a profile across a grid line, or None."""
    dark = np.flatnonzero(profile < threshold)
    if dark.size == 0:
        return None
    return int(dark.max()) + 1 if from_start else int(dark.min()) - 1


def cut_cell(canon: np.ndarray, row: int, col: int) -> np.ndarray:
    """The inside of one cell, between its own grid lines (found near where they should be)."""
    px = CANON_PX_PER_MM
    x0, y0 = _canon(FRAME_MM + col * CELL_MM), _canon(FRAME_MM + row * CELL_MM)
    x1, y1 = x0 + CELL_MM * px, y0 + CELL_MM * px
    search = round(LINE_SEARCH_MM * px)
    inset = max(1, round(CELL_INSET_MM * px))
    paper = float(np.median(canon[round(y0) : round(y1), round(x0) : round(x1)]))
    # Profiles across each line, medians along the middle of the cell's side: strokes rarely run along a line.
    mid_y = slice(round(y0 + 0.2 * CELL_MM * px), round(y1 - 0.2 * CELL_MM * px))
    mid_x = slice(round(x0 + 0.2 * CELL_MM * px), round(x1 - 0.2 * CELL_MM * px))

    def edge(centre: float, along_rows: bool, from_start: bool) -> int:
        c = round(centre)
        lo, hi = c - search, c + search + 1
        band = canon[mid_y, lo:hi] if along_rows else canon[lo:hi, mid_x].T
        profile = np.median(band, axis=0)
        threshold = (paper + float(profile.min())) / 2
        if paper - float(profile.min()) < MIN_GRID_CONTRAST:
            found = None
        else:
            found = _inner_edge(profile, threshold, from_start)
        half_line = round(LINE_MM * px / 2)
        fallback = c + half_line + 1 if from_start else c - half_line - 1
        position = fallback if found is None else lo + found
        return position + inset if from_start else position - inset

    left, right = edge(x0, True, True), edge(x1, True, False)
    top, bottom = edge(y0, False, True), edge(y1, False, False)
    if right - left < CELL_MM * px / 2 or bottom - top < CELL_MM * px / 2:  # lines not found where expected
        left, top = round(x0) + 2 * inset, round(y0) + 2 * inset
        right, bottom = round(x1) - 2 * inset, round(y1) - 2 * inset
    return canon[top : bottom + 1, left : right + 1]


def keep_ink(cell: np.ndarray) -> np.ndarray | None:
    """The cell with only its digit's ink kept (the rest set to paper), or None if it holds no digit.

    Drops specks and thin remnants of grid lines along the border; keeps every sizable stroke, so
    digits written in two strokes (4, 5, 7) stay whole.
    """
    gray = to_gray(cell)
    if gray.size == 0:
        return None
    paper = float(np.percentile(gray, 60))
    darkest = float(np.percentile(gray, 0.5))
    if paper - darkest < MIN_INK_CONTRAST:
        return None
    ink = (gray < (paper + darkest) / 2).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if count <= 1:
        return None
    h, w = gray.shape
    areas = stats[1:, cv2.CC_STAT_AREA]
    min_area = max(SPECK_FRACTION * gray.size, PART_FRACTION * float(areas.max()))
    keep = []
    for index, (x, y, bw, bh, area) in enumerate(stats[1:], start=1):
        touches = x == 0 or y == 0 or x + bw == w or y + bh == h
        line_remnant = touches and (min(bw, bh) <= 0.06 * min(h, w)) and (max(bw, bh) >= 0.4 * min(h, w))
        if area >= min_area and not line_remnant:
            keep.append(index)
    mask = np.isin(labels, keep)
    if mask.sum() < MIN_INK_FRACTION * gray.size:
        return None
    # Grow the mask by a pixel to keep the strokes' soft, anti-aliased edges.
    mask = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    cleaned = np.full_like(gray, round(paper))
    cleaned[mask] = gray[mask]
    return cleaned


def digit_from_crop(crop: np.ndarray) -> np.ndarray | None:
    """A photographed crop (dark ink on paper) -> 28x28 MNIST-style uint8, or None if it holds no digit."""
    cleaned = keep_ink(crop)
    if cleaned is None:
        return None
    digit = normalize_digit(cleaned, ink="dark")
    return digit if digit.any() else None


# --------------------------------------------------------------------------------------------
# Writing the set
# --------------------------------------------------------------------------------------------
def _write_atomic(path: Path, data: bytes) -> None:
    """Temp file in the same folder, then os.replace: a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _next_free_index(folder: Path) -> int:
    numbers = [int(m.group(1)) for p in folder.iterdir() if (m := PNG_NAME.match(p.name))]
    return max(numbers, default=-1) + 1


def _write_new(folder: Path, data: bytes, index: int, template: str) -> tuple[Path, int]:
    """Write under the first free name from ``index`` on; never replaces an existing file.

    The temp file is hard-linked to its final name, which fails if the name exists (another run in
    the same folder); file systems without hard links (FAT on a USB stick) reserve the name with
    O_EXCL first and then replace the empty reservation.
    """
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".collect-", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        while True:
            final = folder / template.format(index)
            try:
                os.link(tmp, final)
                return final, index
            except FileExistsError:
                index += 1
            except OSError:  # no hard links here
                try:
                    os.close(os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
                except FileExistsError:
                    index += 1
                    continue
                os.replace(tmp, final)
                return final, index
    finally:
        Path(tmp).unlink(missing_ok=True)


class DigitWriter:
    """Saves 28x28 digits into ``out_dir/<label>/NNNNN.png`` under the next free numbers."""

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            for label in ROW_DIGITS:
                (self.out_dir / label).mkdir(exist_ok=True)
        except OSError as err:
            raise CollectError(f"cannot create {self.out_dir}: {err.strerror}") from None
        self._next = {label: _next_free_index(self.out_dir / label) for label in ROW_DIGITS}
        self.saved: dict[str, list[Path]] = {label: [] for label in ROW_DIGITS}
        self.images: dict[str, list[np.ndarray]] = {label: [] for label in ROW_DIGITS}

    def save(self, label: str, digit: np.ndarray) -> Path:
        if label not in self._next:
            raise ValueError(f"label must be one of {ROW_DIGITS}, got {label!r}")
        if digit.shape != (IMAGE_SIZE, IMAGE_SIZE) or digit.dtype != np.uint8:
            raise ValueError(f"expected a 28x28 uint8 digit, got {digit.shape} {digit.dtype}")
        data = cv2.imencode(".png", digit)[1].tobytes()
        try:
            path, index = _write_new(self.out_dir / label, data, self._next[label], "{:05d}.png")
        except OSError as err:
            raise CollectError(f"cannot write into {self.out_dir / label}: {err.strerror}") from None
        self._next[label] = index + 1
        self.saved[label].append(path)
        self.images[label].append(digit)
        return path

    @property
    def total(self) -> int:
        return sum(len(paths) for paths in self.saved.values())

    def write_contact_sheet(self) -> Path | None:
        """One PNG of everything saved in this run, a row per label, to check by eye; None if nothing."""
        if not self.total:
            return None
        data = cv2.imencode(".png", contact_sheet(self.images))[1].tobytes()
        start = sum(1 for p in self.out_dir.glob("contact-sheet-*.png"))
        path, _ = _write_new(self.out_dir, data, start, "contact-sheet-{:03d}.png")
        return path


def contact_sheet(images_by_label: dict[str, Sequence[np.ndarray]]) -> np.ndarray:
    """Digits in rows by label (label written at the left), scaled up, on a gray grid."""
    tile = IMAGE_SIZE * CONTACT_SCALE
    gap = 2
    label_width = 40
    rows: list[tuple[str, Sequence[np.ndarray]]] = []
    for label, images in images_by_label.items():
        for start in range(0, len(images), CONTACT_MAX_COLUMNS):
            rows.append((label if start == 0 else "", images[start : start + CONTACT_MAX_COLUMNS]))
    rows = [(label, images) for label, images in rows if len(images)]
    columns = max((len(images) for _, images in rows), default=1)
    sheet = np.full(
        (len(rows) * (tile + gap) + gap, label_width + columns * (tile + gap) + gap), 64, np.uint8
    )
    for r, (label, images) in enumerate(rows):
        y = gap + r * (tile + gap)
        cv2.putText(sheet, label, (8, y + tile - 16), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 255, 2, cv2.LINE_AA)
        for c, image in enumerate(images):
            x = label_width + gap + c * (tile + gap)
            sheet[y : y + tile, x : x + tile] = cv2.resize(
                image, (tile, tile), interpolation=cv2.INTER_NEAREST
            )
    return sheet


# --------------------------------------------------------------------------------------------
# The two ways in
# --------------------------------------------------------------------------------------------
@dataclass
class SheetResult:
    """What one sheet gave: saved files per label and the cells left empty (row, col)."""

    saved: dict[str, list[Path]] = field(default_factory=dict)
    empty_cells: list[tuple[int, int]] = field(default_factory=list)
    grid_contrast: float = 0.0
    quarter_turns: int = 0

    @property
    def total(self) -> int:
        return sum(len(paths) for paths in self.saved.values())


def read_sheet(image: np.ndarray, writer: DigitWriter) -> SheetResult:
    """Find the grid in a photo or scan and save every written cell under its row's digit."""
    grid = find_grid(image)
    result = SheetResult(grid_contrast=grid.contrast, quarter_turns=grid.quarter_turns)
    for row, label in enumerate(ROW_DIGITS):
        for col in range(COLS):
            digit = digit_from_crop(cut_cell(grid.canon, row, col))
            if digit is None:
                result.empty_cells.append((row, col))
                continue
            result.saved.setdefault(label, []).append(writer.save(label, digit))
    return result


@dataclass
class CollectSummary:
    """A whole run: files saved per label, empty cells per sheet, the contact sheet."""

    saved: dict[str, list[Path]]
    sheets: list[SheetResult]
    contact_sheet: Path | None

    @property
    def total(self) -> int:
        return sum(len(paths) for paths in self.saved.values())

    def describe(self) -> str:
        counts = ", ".join(f"{label}: {len(paths)}" for label, paths in self.saved.items() if paths)
        text = f"saved {self.total} digits ({counts or 'none'})"
        empty = sum(len(sheet.empty_cells) for sheet in self.sheets)
        if empty:
            text += f"; {empty} empty cells skipped"
        if self.contact_sheet:
            text += f"; check them in {self.contact_sheet}"
        return text


def collect_from_sheet(image: np.ndarray, out_dir: str | Path) -> CollectSummary:
    """One photographed or scanned grid sheet -> digits saved into ``out_dir/0..9/`` + a contact sheet."""
    writer = DigitWriter(out_dir)
    result = read_sheet(image, writer)
    return CollectSummary(writer.saved, [result], writer.write_contact_sheet())


def guide_box(frame_shape: tuple[int, ...], fraction: float = LIVE_BOX_FRACTION) -> tuple[int, int, int, int]:
    """The centred square (x, y, w, h) where the live collector looks for the digit."""
    h, w = frame_shape[:2]
    side = max(8, round(min(h, w) * fraction))
    return (w - side) // 2, (h - side) // 2, side, side


def collect_live(
    frames: Iterable[np.ndarray | None],
    read_key: Callable[[], str | None],
    out_dir: str | Path,
    *,
    show: Callable[[np.ndarray], None] | None = None,
    notify: Callable[[str], None] = print,
    box_fraction: float = LIVE_BOX_FRACTION,
) -> CollectSummary:
    """Save the digit in the guide box under the key pressed (0-9); q or Esc ends.

    ``frames`` yields BGR or gray frames (None or empty ones are skipped: a live loop survives a bad
    frame); ``read_key`` returns the key pressed since the last frame, or None; ``show`` receives the
    frame with the guide box drawn (e.g. ``WebView.publish``).
    """
    writer = DigitWriter(out_dir)
    try:
        _save_keyed_digits(frames, read_key, writer, show, notify, box_fraction)
    finally:  # a camera that fails mid-run still leaves a contact sheet of what was saved
        contact = writer.write_contact_sheet()
    return CollectSummary(writer.saved, [], contact)


def _save_keyed_digits(
    frames: Iterable[np.ndarray | None],
    read_key: Callable[[], str | None],
    writer: DigitWriter,
    show: Callable[[np.ndarray], None] | None,
    notify: Callable[[str], None],
    box_fraction: float,
) -> None:
    pending: str | None = None  # a label key pressed while the camera gave a bad frame
    for frame in frames:
        key = read_key() or pending
        if key in QUIT_KEYS:
            return
        if frame is None or getattr(frame, "size", 0) == 0:
            pending = key
            continue
        pending = None
        x, y, w, h = guide_box(frame.shape, box_fraction)
        if show is not None:
            is_bgr = frame.ndim == 3 and frame.shape[2] == 3
            annotated = frame.copy() if is_bgr else cv2.cvtColor(to_gray(frame), cv2.COLOR_GRAY2BGR)
            cv2.rectangle(annotated, (x, y), (x + w, y + h), (0, 200, 255), 2)
            cv2.putText(annotated, f"0-9 saves, q quits ({writer.total} saved)", (10, 24),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 200, 255), 2, cv2.LINE_AA)  # fmt: skip
            show(annotated)
        if key is not None and key in ROW_DIGITS:
            digit = digit_from_crop(frame[y : y + h, x : x + w])
            if digit is None:
                notify("no digit in the box: hold it inside the square, dark ink on light paper")
                continue
            notify(f"saved {writer.save(key, digit)}")


class TerminalKeys:
    """Single key presses from the terminal without Enter (works over SSH on a headless Pi)."""

    def __init__(self) -> None:
        if not sys.stdin.isatty():
            raise CollectError(
                "live collection reads label keys from a terminal: run it in one (SSH is fine)"
            )
        self._fd = sys.stdin.fileno()
        self._saved: Any = None

    def __enter__(self) -> TerminalKeys:
        import termios
        import tty

        self._saved = termios.tcgetattr(self._fd)
        tty.setcbreak(self._fd)
        return self

    def __exit__(self, *exc: object) -> None:
        import termios

        termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)

    def __call__(self) -> str | None:
        import select

        ready, _, _ = select.select([self._fd], [], [], 0)
        return os.read(self._fd, 1).decode(errors="replace") if ready else None


# --------------------------------------------------------------------------------------------
# Command line: device collect
# --------------------------------------------------------------------------------------------
def add_collect_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``collect`` on the ``device`` command's subparsers; dispatch with ``run_collect``."""
    parser = subparsers.add_parser(
        "collect",
        help="build a labelled set of your own handwriting (folders 0/..9/ for train --extra)",
        description=(
            "Build a labelled digit set from photos or scans of the grid sheet (row r holds digit r), or "
            "live from the camera with a key per label. Saves 28x28 PNGs into OUT/0/ .. OUT/9/ under new "
            "numbers (never over earlier files) and a contact sheet PNG to check them."
        ),
    )
    parser.add_argument("images", nargs="*", metavar="IMAGE", help="photos or scans of filled-in grid sheets")
    parser.add_argument(
        "--out", "-o", metavar="DIR", help="where the 0/ .. 9/ folders go (created if needed)"
    )
    parser.add_argument(
        "--print-sheet", metavar="FILE", help="write the empty grid sheet to print (.pdf or .png) and exit"
    )
    parser.add_argument(
        "--live", action="store_true", help="collect from the camera: press 0-9 to save, q to quit"
    )
    parser.add_argument(
        "--source",
        default="picamera",
        help="frames for --live: picamera (default), usb:N, a video or a folder of images",
    )
    parser.add_argument(
        "--serve", metavar="[HOST:]PORT", help="with --live: show the camera picture in a browser"
    )
    parser.set_defaults(handler=run_collect)
    return parser


def _fail(message: str) -> int:
    print(f"device collect: error: {message}", file=sys.stderr)
    return 2


def run_collect(
    args: argparse.Namespace, open_frames: Callable[[str], Iterable[np.ndarray | None]] | None = None
) -> int:
    """Run ``device collect``; returns the exit code (2 for usage or input errors).

    ``open_frames(source)`` gives the live frames; by default ``device.live.sources`` opens the camera.
    """
    if args.print_sheet:
        try:
            print(f"wrote {write_sheet(args.print_sheet)}: print it at 100 % (A4), fill in, photograph")
        except (CollectError, OSError) as err:
            return _fail(str(err) if isinstance(err, CollectError) else f"{args.print_sheet}: {err.strerror}")
        return 0
    if not args.out:
        return _fail("--out DIR is required (where the 0/ .. 9/ folders go)")
    if args.live and args.images:
        return _fail("give photos of grid sheets or --live for the camera, not both")
    if not args.live and not args.images:
        return _fail("give photos of grid sheets, or --live for the camera")
    try:
        summary = _run_live(args, open_frames) if args.live else _run_sheets(args)
    except CollectError as err:
        return _fail(str(err))
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130
    if summary is None:
        return 2
    print(summary.describe())
    return 0


def _run_sheets(args: argparse.Namespace) -> CollectSummary | None:
    from tqdm import tqdm

    writer = DigitWriter(args.out)
    results, failed = [], 0
    for name in tqdm(args.images, desc="sheets", unit="sheet", disable=len(args.images) < 2):
        image = cv2.imread(name, cv2.IMREAD_GRAYSCALE) if Path(name).is_file() else None
        if image is None:
            tqdm.write(f"device collect: error: {name}: not a readable image", file=sys.stderr)
            failed += 1
            continue
        try:
            result = read_sheet(image, writer)
        except CollectError as err:
            tqdm.write(f"device collect: error: {name}: {err}", file=sys.stderr)
            failed += 1
            continue
        results.append(result)
        tqdm.write(f"{name}: {result.total} digits, {len(result.empty_cells)} empty cells")
    summary = CollectSummary(writer.saved, results, writer.write_contact_sheet())
    if failed:
        print(summary.describe())
        return None  # the good sheets are saved; the exit code says some were not
    return summary


def _run_live(args: argparse.Namespace, open_frames: Callable[[str], Iterable[np.ndarray | None]] | None):
    from device.live.web import WebView, WebViewError, parse_serve_address

    if open_frames is None:
        open_frames = _camera_frames
    view = None
    if args.serve:
        try:
            view = WebView(*parse_serve_address(args.serve)).start()
        except (ValueError, WebViewError) as err:
            raise CollectError(str(err)) from None
        print(f"camera picture at {view.url}")
    try:
        with TerminalKeys() as keys:
            print("hold a digit inside the square; press its key (0-9) to save, q to quit")
            return collect_live(open_frames(args.source), keys, args.out, show=view.publish if view else None)
    finally:
        if view is not None:
            view.stop()


def _camera_frames(source: str) -> Iterable[np.ndarray | None]:
    """Frames from the camera (or a video, image or folder) through device.live.sources."""
    from device.live.sources import SourceError, open_source

    try:
        with open_source(source) as frames:
            yield from frames
    except SourceError as err:
        raise CollectError(str(err)) from None
