"""The printable grid sheet: its geometry in millimetres (the one place for it) and its two renderings.

The template is drawn from these numbers and the reader (``grid``) expects them, so a change here
changes both. PNG (150 dpi, OpenCV) and SVG (vector, standard library only) come from the same shapes,
so what prints is what the reader looks for. No PDF: a Pi installs only numpy, OpenCV and a TFLite
runtime, and any browser prints an SVG at 100 %.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from device.common.files import write_atomic
from device.tools.collect.errors import CollectError

# A4 portrait, mm, y down.
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
PNG_PX_PER_MM = 150 / 25.4  # 150 dpi: sharp enough to print, small enough to mail

TITLE = "zmg-digits handwriting sheet"
INSTRUCTIONS = (
    "Write the row's digit in every box: dark pen, one digit per box, inside the lines.",
    "Photograph or scan the whole sheet, black square included, then run:",
    "device collect PHOTO.jpg --out my_digits/",
)
WRITER_LINE = "Writer: ____________________    Date: ______________"
SVG_NS = "http://www.w3.org/2000/svg"
SVG_FONT = "Helvetica, Arial, sans-serif"
CAP_HEIGHT_EM = 0.72  # Helvetica's capitals are ~0.72 em tall: SVG text matches the PNG's at this ratio

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 on the page, mm


class Text(NamedTuple):
    x: float  # left end of the baseline, mm
    y: float
    text: str
    cap_mm: float  # height of its capitals


class SheetShapes(NamedTuple):
    """Everything printed, in page mm: black rectangles by role, and texts."""

    frame: list[Rect]
    grid_lines: list[Rect]
    marker: Rect
    texts: list[Text]

    def rects(self) -> list[Rect]:
        return [*self.frame, *self.grid_lines, self.marker]


def frame_box_mm() -> Rect:
    """(left, top, right, bottom) of the frame's outer edge on the page."""
    return FRAME_LEFT_MM, FRAME_TOP_MM, FRAME_LEFT_MM + FRAME_OUTER_MM, FRAME_TOP_MM + FRAME_OUTER_MM


def sheet_shapes() -> SheetShapes:
    """The sheet as black rectangles and texts: what both renderings draw."""
    left, top, right, bottom = frame_box_mm()
    f = FRAME_MM
    frame = [(left, top, right, top + f), (left, bottom - f, right, bottom),
             (left, top, left + f, bottom), (right - f, top, right, bottom)]  # fmt: skip
    lines = []
    for i in range(1, COLS):
        x = left + f + i * CELL_MM
        lines.append((x - LINE_MM / 2, top + f, x + LINE_MM / 2, bottom - f))
    for i in range(1, ROWS):
        y = top + f + i * CELL_MM
        lines.append((left + f, y - LINE_MM / 2, right - f, y + LINE_MM / 2))
    m0 = MARKER_GAP_MM + MARKER_MM
    marker = (left - m0, top - m0, left - MARKER_GAP_MM, top - MARKER_GAP_MM)
    texts = [Text(left, 25.0, TITLE, 6.0), Text(left, 40.0, WRITER_LINE, 3.5)]
    for r, digit in enumerate(ROW_DIGITS):
        texts.append(Text(left - 9.0, top + f + (r + 0.5) * CELL_MM + 2.5, digit, 5.0))
    for i, line in enumerate(INSTRUCTIONS):
        texts.append(Text(left, bottom + 12.0 + 7.0 * i, line, 3.2))
    return SheetShapes(frame, lines, marker, texts)


def text_placement(text: Text, px_per_mm: float = PNG_PX_PER_MM) -> tuple[tuple[int, int], float, int]:
    """Where and how big ``render_sheet`` draws a text: (baseline origin in px, Hershey scale, thickness)."""
    scale = text.cap_mm * px_per_mm / 22.0  # Hershey simplex capitals are ~22 px tall at scale 1
    return (round(text.x * px_per_mm), round(text.y * px_per_mm)), scale, max(1, round(scale * 1.6))


def render_sheet(px_per_mm: float = PNG_PX_PER_MM) -> np.ndarray:
    """The grid sheet as a grayscale image (default 150 dpi): black on white."""
    width, height = round(PAGE_MM[0] * px_per_mm), round(PAGE_MM[1] * px_per_mm)
    page = np.full((height, width), 255, np.uint8)
    shapes = sheet_shapes()
    for x0, y0, x1, y1 in shapes.rects():
        # Exact pixel edges, so thin lines stay as thin as in the vector sheet.
        page[round(y0 * px_per_mm) : round(y1 * px_per_mm), round(x0 * px_per_mm) : round(x1 * px_per_mm)] = 0
    for text in shapes.texts:
        org, scale, thickness = text_placement(text, px_per_mm)
        cv2.putText(page, text.text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, 0, thickness, cv2.LINE_AA)
    return page


def _mm(value: float) -> str:
    """A length for the SVG: mm to a micrometre, without trailing zeros."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _rect(parent: ET.Element, rect: Rect, attrs: dict[str, str] | None = None) -> ET.Element:
    x0, y0, x1, y1 = rect
    geometry = {"x": _mm(x0), "y": _mm(y0), "width": _mm(x1 - x0), "height": _mm(y1 - y0)}
    return ET.SubElement(parent, "rect", {**(attrs or {}), **geometry})


def sheet_svg() -> bytes:
    """The grid sheet as an A4 vector SVG (user units are mm): prints sharp at 100 % from any browser."""
    width, height = _mm(PAGE_MM[0]), _mm(PAGE_MM[1])
    svg = ET.Element("svg", {"xmlns": SVG_NS, "version": "1.1", "width": f"{width}mm", "height": f"{height}mm",
                             "viewBox": f"0 0 {width} {height}"})  # fmt: skip
    ET.SubElement(svg, "title").text = TITLE
    _rect(svg, (0.0, 0.0, *PAGE_MM), {"id": "paper", "fill": "white"})  # dark-themed viewers still show paper
    shapes = sheet_shapes()
    # crispEdges: on screen, the 0.5 mm lines stay solid instead of greying out between pixels.
    for name, rects in (("frame", shapes.frame), ("grid-lines", shapes.grid_lines)):
        group = ET.SubElement(svg, "g", {"id": name, "fill": "black", "shape-rendering": "crispEdges"})
        for rect in rects:
            _rect(group, rect)
    _rect(svg, shapes.marker, {"id": "marker", "fill": "black"})
    texts = ET.SubElement(svg, "g", {"id": "texts", "fill": "black", "font-family": SVG_FONT})
    for x, y, text, cap_mm in shapes.texts:
        ET.SubElement(texts, "text", {"x": _mm(x), "y": _mm(y), "font-size": _mm(cap_mm / CAP_HEIGHT_EM)}).text = text
    ET.indent(svg)
    return ET.tostring(svg, encoding="utf-8", xml_declaration=True) + b"\n"


def sheet_png() -> bytes:
    """The grid sheet as a 150 dpi PNG, the whole A4 page."""
    ok, data = cv2.imencode(".png", render_sheet())
    if not ok:
        raise CollectError("OpenCV could not encode the sheet as PNG")
    return data.tobytes()


def write_sheet(path: str | Path) -> Path:
    """Write the template as .svg or .png (by the suffix), atomically; a .pdf name says what to do instead."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".svg":
        data = sheet_svg()
    elif suffix == ".png":
        data = sheet_png()
    elif suffix == ".pdf":
        raise CollectError(
            f"{path}: no PDF writer here; write .svg (print it from a browser or any viewer at 100 %, A4) or .png"
        )
    else:
        raise CollectError(f"{path}: the sheet can be written as .svg or .png")
    return write_atomic(path, data)
