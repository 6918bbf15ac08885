"""The way out: 28x28 PNGs in ``OUT/<label>/NNNNN.png``, a contact sheet per run, and the run's summary.

Files are written complete under the next free number and never over an earlier one
(``device.common.files.write_new``), so two runs into one folder, or a crash mid-run, lose nothing.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from device.common.errors import os_error_text
from device.common.files import write_new
from device.common.shapes import IMAGE_SIZE
from device.tools.collect.errors import CollectError
from device.tools.collect.sheet import ROW_DIGITS

if TYPE_CHECKING:
    from device.tools.collect.photos import SheetResult

DIGIT_NAME = "{:05d}.png"
PNG_NAME = re.compile(r"^(\d+)\.png$")  # what DIGIT_NAME writes: numbers to continue after
CONTACT_NAME = "contact-sheet-{:03d}.png"
CONTACT_SCALE = 2
CONTACT_MAX_COLUMNS = 25


def _png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise CollectError("OpenCV could not encode a PNG")
    return data.tobytes()


def next_free_index(folder: Path) -> int:
    """One past the highest NNNNN.png in ``folder``: new files continue the numbering, gaps stay gaps."""
    numbers = [int(m.group(1)) for p in folder.iterdir() if (m := PNG_NAME.match(p.name))]
    return max(numbers, default=-1) + 1


class DigitWriter:
    """Saves 28x28 digits into ``out_dir/<label>/NNNNN.png`` under the next free numbers."""

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        # Folders this run creates; the ones still empty at the end are removed again (remove_unused), so a
        # failed run leaves nothing behind. Creating them now finds an unwritable place before any work.
        self._created: list[Path] = [p for p in (*reversed(self.out_dir.parents), self.out_dir) if not p.exists()]
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            for label in ROW_DIGITS:
                if not (self.out_dir / label).exists():
                    (self.out_dir / label).mkdir()
                    self._created.append(self.out_dir / label)
        except OSError as err:
            self.remove_unused()
            raise CollectError(f"cannot create {self.out_dir}: {os_error_text(err)}") from None
        self._next = {label: next_free_index(self.out_dir / label) for label in ROW_DIGITS}
        self.saved: dict[str, list[Path]] = {label: [] for label in ROW_DIGITS}
        self.images: dict[str, list[np.ndarray]] = {label: [] for label in ROW_DIGITS}

    def save(self, label: str, digit: np.ndarray) -> Path:
        """Write one digit under ``label``; returns its path."""
        if label not in self._next:
            raise ValueError(f"label must be one of {ROW_DIGITS}, got {label!r}")
        if digit.shape != (IMAGE_SIZE, IMAGE_SIZE) or digit.dtype != np.uint8:
            raise ValueError(f"expected a 28x28 uint8 digit, got {digit.shape} {digit.dtype}")
        folder = self.out_dir / label
        try:
            path, index = write_new(folder, _png(digit), DIGIT_NAME, self._next[label])
        except OSError as err:
            raise CollectError(f"cannot write into {folder}: {os_error_text(err)}") from None
        self._next[label] = index + 1
        self.saved[label].append(path)
        self.images[label].append(digit)
        return path

    @property
    def total(self) -> int:
        return sum(len(paths) for paths in self.saved.values())

    def remove_unused(self) -> None:
        """Remove the folders this writer created that are still empty (deepest first); never others."""
        for folder in reversed(self._created):
            with contextlib.suppress(OSError):  # only an empty folder goes
                folder.rmdir()

    def __enter__(self) -> DigitWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove_unused()

    def write_contact_sheet(self) -> Path | None:
        """One PNG of everything saved in this run, a row per label, to check by eye; None if nothing."""
        if not self.total:
            return None
        start = sum(1 for _ in self.out_dir.glob("contact-sheet-*.png"))
        try:
            path, _ = write_new(self.out_dir, _png(contact_sheet(self.images)), CONTACT_NAME, start)
        except OSError as err:
            raise CollectError(f"cannot write into {self.out_dir}: {os_error_text(err)}") from None
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
    sheet = np.full((len(rows) * (tile + gap) + gap, label_width + columns * (tile + gap) + gap), 64, np.uint8)
    for r, (label, images) in enumerate(rows):
        y = gap + r * (tile + gap)
        cv2.putText(sheet, label, (8, y + tile - 16), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 255, 2, cv2.LINE_AA)
        for c, image in enumerate(images):
            x = label_width + gap + c * (tile + gap)
            sheet[y : y + tile, x : x + tile] = cv2.resize(image, (tile, tile), interpolation=cv2.INTER_NEAREST)
    return sheet


@dataclass
class CollectSummary:
    """A whole run: files saved per label, what each sheet gave (none for live runs), the contact sheet."""

    saved: dict[str, list[Path]]
    sheets: list[SheetResult]
    contact_sheet: Path | None

    @property
    def total(self) -> int:
        return sum(len(paths) for paths in self.saved.values())

    def describe(self) -> str:
        """The one line a run ends with."""
        counts = ", ".join(f"{label}: {len(paths)}" for label, paths in self.saved.items() if paths)
        text = f"saved {self.total} digits ({counts or 'none'})"
        empty = sum(len(sheet.empty_cells) for sheet in self.sheets)
        if empty:
            text += f"; {empty} empty cells skipped"
        if self.contact_sheet:
            text += f"; check them in {self.contact_sheet}"
        return text
