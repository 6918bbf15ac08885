"""Your own handwriting as training data: ``device collect`` builds a labelled folder set ``0/`` .. ``9/``.

Two ways in, one way out:

* **A grid sheet** (``--print-sheet`` makes the template, SVG or PNG: a 10x10 grid in a thick frame,
  row r for digit r, a black square outside the top-left corner to tell which way is up). A photo or
  scan is searched for the frame, perspective-corrected, and each cell is cut between its own grid
  lines; the ink inside is kept, specks and line remnants are dropped.
* **Live from the camera**: the digit held in a guide box is saved under the label key pressed.

Each digit goes through ``device.recognition.preprocess.normalize_digit(..., ink="dark")`` and is written
as a 28x28 PNG (bright ink on black, as MNIST) into ``OUT/<label>/NNNNN.png``: atomically, under the
next free number, never over an earlier file. A contact sheet PNG of what was saved comes with each
run. ``train --extra OUT`` reads the folder.

Modules, one job each: ``sheet`` (the template's geometry and its PNG/SVG renderings), ``grid``
(finding the grid in a photo, cutting cells, keeping the ink), ``store`` (writing digits and the
contact sheet), ``photos`` and ``camera`` (the two ways in), ``command`` (the subcommand).

The names below load their module on first use, so registering the subcommand (``device --help``)
does not import OpenCV.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from device.tools.collect.camera import TerminalKeys, collect_live, guide_box
    from device.tools.collect.command import add_collect_parser, run_collect
    from device.tools.collect.errors import CollectError
    from device.tools.collect.grid import FoundGrid, cut_cell, digit_from_crop, find_grid, keep_ink
    from device.tools.collect.photos import SheetResult, collect_from_sheet, read_sheet
    from device.tools.collect.sheet import (
        CELL_MM,
        FRAME_MM,
        ROW_DIGITS,
        frame_box_mm,
        render_sheet,
        sheet_svg,
        write_sheet,
    )
    from device.tools.collect.store import CollectSummary, DigitWriter, contact_sheet

_EXPORTS = {
    "camera": ("TerminalKeys", "collect_live", "guide_box"),
    "command": ("add_collect_parser", "run_collect"),
    "errors": ("CollectError",),
    "grid": ("FoundGrid", "cut_cell", "digit_from_crop", "find_grid", "keep_ink"),
    "photos": ("SheetResult", "collect_from_sheet", "read_sheet"),
    "sheet": ("CELL_MM", "FRAME_MM", "ROW_DIGITS", "frame_box_mm", "render_sheet", "sheet_svg", "write_sheet"),
    "store": ("CollectSummary", "DigitWriter", "contact_sheet"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "CELL_MM",
    "FRAME_MM",
    "ROW_DIGITS",
    "CollectError",
    "CollectSummary",
    "DigitWriter",
    "FoundGrid",
    "SheetResult",
    "TerminalKeys",
    "add_collect_parser",
    "collect_from_sheet",
    "collect_live",
    "contact_sheet",
    "cut_cell",
    "digit_from_crop",
    "find_grid",
    "frame_box_mm",
    "guide_box",
    "keep_ink",
    "read_sheet",
    "render_sheet",
    "run_collect",
    "sheet_svg",
    "write_sheet",
]


def __getattr__(name: str) -> Any:
    """Load the module that defines ``name`` when it is first asked for (PEP 562)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
