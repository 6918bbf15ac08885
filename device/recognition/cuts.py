"""Where a mark too wide for one digit can be cut: columns of the frame that hold none of its certain ink.

Small digits written a few pixels apart (12-17 px tall, 2-3 px gaps at 640x480) run together at half resolution
and in the closed weak mask (the closing joins strokes broken by a pixel or two). At full resolution their certain
ink (the strong mask, never closed) still has empty columns between them. ``segment`` cuts a part wider than it
is tall there, and judges each piece as any part (a dash between digits is too flat, a stray bit is a fragment).
A mark without such a gap (a dash, a ruling's remnant, touching digits) stays whole.
"""

from __future__ import annotations

import numpy as np


def column_runs(certain: np.ndarray) -> list[tuple[int, int, int, int, int]]:
    """Runs of columns of a boolean mask that hold ink: (first column, end column (exclusive), first row,
    last row (inclusive), ink pixels), left to right. One run: nothing to cut."""
    inked = np.flatnonzero(certain.any(axis=0))
    if inked.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(inked) > 1)
    starts = np.concatenate([[inked[0]], inked[breaks + 1]])
    ends = np.concatenate([inked[breaks], [inked[-1]]]) + 1
    runs = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        piece = certain[:, a:b]
        rows = np.flatnonzero(piece.any(axis=1))
        runs.append((a, b, int(rows[0]), int(rows[-1]), int(np.count_nonzero(piece))))
    return runs
