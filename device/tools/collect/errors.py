"""The one error type of ``device collect``: every module raises it, the command prints it as one line."""

from __future__ import annotations


class CollectError(Exception):
    """One-line, user-facing problem (no grid found, unreadable image, unwritable folder)."""
