"""The first way in: a photo or scan of a filled-in grid sheet, every written cell saved under its row's digit."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from device.tools.collect.grid import cut_cell, digit_from_crop, find_grid
from device.tools.collect.sheet import COLS, ROW_DIGITS
from device.tools.collect.store import CollectSummary, DigitWriter


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
    """Find the grid in a photo or scan and save every written cell under its row's digit.

    The grid is found before anything is written, so a photo without one leaves no files behind.
    """
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


def collect_from_sheet(image: np.ndarray, out_dir: str | Path) -> CollectSummary:
    """One photographed or scanned grid sheet -> digits saved into ``out_dir/0..9/`` + a contact sheet."""
    with DigitWriter(out_dir) as writer:
        result = read_sheet(image, writer)
        return CollectSummary(writer.saved, [result], writer.write_contact_sheet())
